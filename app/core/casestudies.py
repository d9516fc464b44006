"""The talk's case studies (LeNet-5, AlexNet, VGG-16) as the slides tabulate them.

Every figure comes from engine.summarize; nothing here is typed in except what the slides and
papers *claim* (SLIDE_CLAIMS), which check_claims() holds against the engine's figures. Rows
follow the slides: an activation that follows a conv or fc folds into that row ("CONV3-64"
means conv + ReLU), "memory" is the activations of one image, and params are shown as weights
and biases separately (the VGG slide counts weights only). One row the slides leave out: the
softmax's probabilities, which the engine keeps for the loss's gradient, so that the table's
total memory is the engine's own (`python -m engine summary` gives the same figure).

What does not live here: HTML (teaching_fragments.py) and widgets (app/teaching/explain_views.py).
"""

from __future__ import annotations

import math
import re

from engine import ACTIVATIONS, SpecError, get_preset, human_bytes, human_count, normalize, summarize, to_json

CASE_STUDIES = {"lenet5": "LeNet-5", "alexnet": "AlexNet", "vgg16": "VGG-16"}
BYTES_PER_VALUE = 4
SWITCH_TYPES = ("conv", "pool", "fc", "dropout") + ACTIVATIONS
DEFAULTS = {  # what a row switched to a new type starts with
    "conv": {"out_channels": 64, "kernel_size": 3, "stride": 1, "padding": 1},
    "pool": {"kernel_size": 2, "stride": 2},
    "fc": {"out_features": 4096},
    "dropout": {"p": 0.5},
    "input": {"shape": [224, 224, 3]},
}
_KEYS = {k: tuple(v) for k, v in DEFAULTS.items()}


def _spec_of(net):
    """A raw spec for a preset name, or the spec itself."""
    return get_preset(net) if isinstance(net, str) else net


def _product_expr(dims):
    return "*".join(str(d) for d in dims)


def _label(layer):
    """The slide's name for a row: CONV3-64, POOL2, FC, INPUT."""
    kind = layer["type"]
    if kind == "conv":
        return "CONV%d-%d" % (layer["kernel_size"], layer["out_channels"])
    if kind == "pool":
        return "POOL%d" % layer["kernel_size"]
    return kind.upper()


def _detail(layer):
    """What the row does, in the words of the AlexNet slide."""
    kind = layer["type"]
    k = layer.get("kernel_size")
    if kind == "conv":
        return "%d %dx%d filters at stride %d, pad %d" % (
            layer["out_channels"],
            k,
            k,
            layer["stride"],
            layer["padding"],
        )
    if kind == "pool":
        return "max %dx%d at stride %d" % (k, k, layer["stride"])
    if kind == "fc":
        return "%d neurons" % layer["out_features"]
    if kind == "dropout":
        return "drop p=%g" % layer["p"]
    if kind == "softmax":
        return "class probabilities, kept for the loss's gradient (the slides stop at the scores)"
    return ""


def _weights_expr(layer):
    """The slide's way of writing a weight count: (3*3*3)*64 for a conv, 7*7*512*4096 for fc."""
    c, h, w = layer["in_shape"]
    if layer["type"] == "conv":
        k = layer["kernel_size"]
        return "(%d*%d*%d)*%d" % (k, k, c, layer["out_channels"])
    if layer["type"] == "fc":
        dims = [d for d in (h, w) if d != 1] + [c, layer["out_features"]]
        return _product_expr(dims)
    return "0"


def case_table(net, batch=1):
    """The slide table of a net (preset name or spec): {"rows", "totals", "summary", ...}.

    Row keys: name (the engine's layer name), layers (names folded in), type, label, detail,
    output ("55x55x96"), memory (activations per image), memory_expr ("55*55*96"),
    weights, weights_expr, biases, params. Raises engine.SpecError for an invalid spec.
    """
    spec = _spec_of(net)
    layers = normalize(spec)
    # one summary row per layer (the ReLU rows too) to fold here as the slides do
    summary = summarize(spec, batch=batch, net_name=net if isinstance(net, str) else None, relu_rows=True)
    rows = []
    for layer, srow in zip(layers, summary["layers"]):
        kind = layer["type"]
        if kind in ACTIVATIONS and rows and rows[-1]["type"] in ("conv", "fc") and not rows[-1]["activation"]:
            rows[-1]["activation"] = kind
            rows[-1]["layers"].append(layer["name"])
            continue
        h, w, c = srow["output"]
        rows.append(
            {
                "index": len(rows),
                "name": layer["name"],
                "layers": [layer["name"]],
                "type": kind,
                "activation": None,
                "label": _label(layer),
                "detail": _detail(layer),
                "output": srow["output_text"],
                "memory": srow["activations"],
                "memory_expr": _product_expr([h, w, c]) if (h, w) != (1, 1) else str(c),
                "weights": srow["weights"],
                "weights_expr": _weights_expr(layer),
                "biases": srow["biases"],
                "params": srow["params"],
            }
        )
    memory = sum(r["memory"] for r in rows)
    totals = {
        "memory": memory,
        "weights": sum(r["weights"] for r in rows),
        "biases": sum(r["biases"] for r in rows),
        "params": sum(r["params"] for r in rows),
        "forward_bytes": BYTES_PER_VALUE * memory,
        # What this engine keeps per image (engine/summary.py): the same figure as "memory",
        # since a conv or fc and its ReLU count once in both and the softmax row is listed here.
        "engine_activations": summary["total_activations"],
    }
    name = net if isinstance(net, str) else None
    return {
        "net": name,
        "title": CASE_STUDIES.get(name, "custom net"),
        "spec": to_json(layers),
        "rows": rows,
        "totals": totals,
        "summary": summary,
    }


def switch_layer(net, name, **changes):
    """A new raw spec with layer `name` changed: its type and/or its keys (kernel_size, ...).

    Changing the type keeps what still applies (a conv's kernel_size for a pool) and fills
    the rest from DEFAULTS. The input row takes a new shape=[H, W, C]. Raises SpecError for an unknown layer or type; the returned spec
    may still be invalid (summarize it to find out).
    """
    layers = to_json(normalize(_spec_of(net)))
    names = [layer["name"] for layer in layers]
    if name not in names:
        raise SpecError("no layer named %r — choose one of %s" % (name, ", ".join(names)))
    i = names.index(name)
    old = layers[i]
    kind = changes.pop("type", None) or old["type"]
    if old["type"] == "softmax" or (old["type"] == "input") != (kind == "input"):
        raise SpecError("layer %s (%s) cannot be switched to %r — change another row" % (name, old["type"], kind))
    if kind not in SWITCH_TYPES + ("input",):
        raise SpecError("a row can become one of %s, not %r" % (", ".join(SWITCH_TYPES), kind))
    new = {"type": kind, "name": name}
    for key in _KEYS.get(kind, ()):
        new[key] = old.get(key, DEFAULTS[kind][key])
    for key, value in changes.items():
        if key not in _KEYS.get(kind, ()):
            raise SpecError(
                "layer %s (%s) has no '%s' — it takes %s"
                % (name, kind, key, ", ".join(_KEYS.get(kind, ())) or "nothing")
            )
        new[key] = value
    layers[i] = new
    return layers


def try_switch(net, name, **changes):
    """(table, None) for a valid switch, (None, the engine's message) for an invalid one."""
    try:
        return case_table(switch_layer(net, name, **changes)), None
    except SpecError as e:
        return None, str(e)


# -- what the slides and papers claim --------------------------------------------------------
# Sources: VGG-16 — cs231n notes "Convolutional Networks", case study "VGGNet in detail"
# (cs231n.github.io/convolutional-networks/#case) and the talk's VGG slide, rows in order.
# AlexNet — the talk's AlexNet slides (cs231n, simplified single-tower net on 227x227x3);
# Krizhevsky et al. 2012, "ImageNet Classification with Deep CNNs" (abstract: "60 million
# parameters"; section 3.5: "filters the 224x224x3 input image with 96 kernels of size 11x11x3
# with a stride of 4 pixels"). LeNet-5 — LeCun et al. 1998, "Gradient-Based Learning Applied to
# Document Recognition", section II.B.
_VGG_ROWS = [  # (output, memory, weights) as printed on the slide, input through the last FC
    ("224x224x3", "150K", "0"),
    ("224x224x64", "3.2M", "1,728"),
    ("224x224x64", "3.2M", "36,864"),
    ("112x112x64", "800K", "0"),
    ("112x112x128", "1.6M", "73,728"),
    ("112x112x128", "1.6M", "147,456"),
    ("56x56x128", "400K", "0"),
    ("56x56x256", "800K", "294,912"),
    ("56x56x256", "800K", "589,824"),
    ("56x56x256", "800K", "589,824"),
    ("28x28x256", "200K", "0"),
    ("28x28x512", "400K", "1,179,648"),
    ("28x28x512", "400K", "2,359,296"),
    ("28x28x512", "400K", "2,359,296"),
    ("14x14x512", "100K", "0"),
    ("14x14x512", "100K", "2,359,296"),
    ("14x14x512", "100K", "2,359,296"),
    ("14x14x512", "100K", "2,359,296"),
    ("7x7x512", "25K", "0"),
    ("1x1x4096", "4096", "102,760,448"),
    ("1x1x4096", "4096", "16,777,216"),
    ("1x1x1000", "1000", "4,096,000"),
]
SLIDE_CLAIMS = [
    # (net, measure, what the source says, the figure in it, why it may differ). A note that
    # starts with VARIANT marks a figure that is right for the source's own, different net.
    (
        "vgg16",
        "total:memory",
        "TOTAL memory: 24M * 4 bytes ~= 93MB / image",
        "24M",
        "the slide's own rows add up to 1,000 less (the engine also keeps the softmax's"
        " probabilities): 24M is not their sum",
    ),
    (
        "vgg16",
        "total:forward_bytes",
        "TOTAL memory: 24M * 4 bytes ~= 93MB / image",
        "93MB",
        "4 bytes times the true total; note that even 24M * 4 bytes is 96 MB (91.6 MiB), not 93",
    ),
    ("vgg16", "total:params", "TOTAL params: 138M parameters", "138M", ""),
    ("alexnet", "row:conv1:output", "CONV1: 96 11x11 filters at stride 4 => output volume [55x55x96]", "55x55x96", ""),
    ("alexnet", "row:conv1:weights", "CONV1 parameters: (11*11*3)*96 = 35K", "35K", ""),
    ("alexnet", "row:pool1:output", "POOL1: 3x3 filters at stride 2 => output volume 27x27x96", "27x27x96", ""),
    ("alexnet", "row:pool1:params", "POOL1 parameters: 0!", "0", ""),
    (
        "alexnet",
        "total:params",
        "AlexNet: 60M parameters",
        "60M",
        "60M is the paper's two-GPU net, where conv2, conv4 and conv5 see only their own GPU's half "
        "of the channels; the single-tower net on the slide has more",
    ),
    (
        "alexnet",
        "input224:conv1:output",
        "paper: 224x224x3 input, 96 kernels 11x11x3, stride 4 -> 55x55x96",
        "55x55x96",
        "(224-11)/4+1 = 54.25 is not a whole number: the filters do not tile a 224 input; "
        "227 gives exactly 55, which is why the slides use 227x227x3",
    ),
    ("lenet5", "row:conv1:params", "C1 has 156 trainable parameters", "156", ""),
    (
        "lenet5",
        "row:conv2:params",
        "C3 has 1,516 trainable parameters",
        "1,516",
        "VARIANT: C3 connects each map to only some of S2's maps (60 of 96 pairs, Table I); the full "
        "connection every framework uses now gives (5*5*6)*16 + 16",
    ),
    ("lenet5", "row:fc1:params", "C5 has 48,120 trainable connections", "48,120", ""),
    ("lenet5", "row:fc2:params", "F6 has 10,164 trainable parameters", "10,164", ""),
    (
        "lenet5",
        "total:params",
        "LeNet-5 has about 60,000 trainable parameters",
        "60,000",
        "VARIANT: the paper's C3 is sparse and its subsampling layers carry 44 trainable coefficients; this "
        "modern LeNet-5 (full C3, max pool, plain output layer) differs",
    ),
]
for _i, (_out, _mem, _w) in enumerate(_VGG_ROWS):
    SLIDE_CLAIMS.append(("vgg16", "index%d:output" % _i, "row %d: [%s]" % (_i + 1, _out), _out, ""))
    SLIDE_CLAIMS.append(("vgg16", "index%d:memory" % _i, "row %d: memory %s" % (_i + 1, _mem), _mem, ""))
    SLIDE_CLAIMS.append(("vgg16", "index%d:weights" % _i, "row %d: params %s" % (_i + 1, _w), _w, ""))

_FIGURE = re.compile(r"^~?\s*([\d,]+(?:\.\d+)?)\s*([KMG]?)(B?)$")
_SCALE = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}


def figure_matches(claim, true):
    """Does a printed figure ("3.2M", "1,728", "93MB", "55x55x96") agree with the true value?

    Plain integers must be exact. An abbreviated figure (K/M/G) is right when the true value
    rounded to the figure's significant digits (at least two) gives it back: 802,816 is
    "800K", 62.4M is not "60M". Bytes may be read as MB (10^6) or MiB (2^20).
    """
    if isinstance(true, str):
        return claim.replace(" ", "") == true
    m = _FIGURE.match(claim.strip())
    if not m:
        raise ValueError("cannot read the figure %r" % claim)
    digits, suffix, is_bytes = m.groups()
    number = float(digits.replace(",", ""))
    if not suffix:
        return number == true
    mantissa = digits.replace(",", "").replace(".", "").lstrip("0").rstrip("0")
    sig = max(2, len(mantissa))
    scales = [_SCALE[suffix]] + ([2 ** {"K": 10, "M": 20, "G": 30}[suffix]] if is_bytes else [])
    for scale in scales:
        value = true / scale
        if value > 0:
            ndigits = sig - int(math.floor(math.log10(value))) - 1
            if round(value, ndigits) == round(number, ndigits):
                return True
    return False


def measure(table, key):
    """The engine's figure for a claim's measure key (see SLIDE_CLAIMS)."""
    kind, *rest = key.split(":")
    if kind == "total":
        return table["totals"][rest[0]]
    if kind == "row":
        return next(r for r in table["rows"] if r["name"] == rest[0])[rest[1]]
    if kind.startswith("index"):
        return table["rows"][int(kind[5:])][rest[0]]
    if kind == "input224":  # the same net on the paper's 224x224x3 input
        spec = table["spec"]
        spec = [dict(spec[0], shape=[224, 224, spec[0]["shape"][2]])] + spec[1:]
        return measure(case_table(spec), "row:" + ":".join(rest))
    raise ValueError("unknown measure %r" % key)


def alexnet_two_tower_params(table):
    """Params of the paper's two-GPU AlexNet from the single-tower table: conv2, conv4 and
    conv5 were split in two groups, each filter seeing half the input channels."""
    return sum(
        r["params"] - (r["weights"] // 2 if r["name"] in ("conv2", "conv4", "conv5") else 0) for r in table["rows"]
    )


def _show(value):
    if isinstance(value, str):
        return value
    return f"{value:,}"


def check_claims(net):
    """Every claim about a case-study net, checked: dicts with slide, claimed, correct
    (the engine's figure, formatted), ok, variant (right for the source's own, different net)
    and note (why it is off, when it is)."""
    table = case_table(net)
    out = []
    for name, key, slide, claimed, note in SLIDE_CLAIMS:
        if name != net:
            continue
        true = measure(table, key)
        correct = _show(true)
        if key.endswith("bytes"):
            correct = "%s bytes = %.1f MB = %s" % (correct, true / 1e6, human_bytes(true).replace("MB", "MiB"))
        elif not isinstance(true, str) and true >= 1000:
            correct += " (%s)" % human_count(true)
        if key == "total:params" and net == "alexnet":
            note += f" (two-tower count from the same table: {alexnet_two_tower_params(table):,})"
        ok = figure_matches(claimed, true)
        variant = note.startswith("VARIANT: ")
        out.append(
            {
                "net": name,
                "measure": key,
                "slide": slide,
                "claimed": claimed,
                "true": true,
                "correct": correct,
                "ok": ok,
                "variant": variant,
                "note": "" if ok else note[len("VARIANT: ") :] if variant else note,
            }
        )
    return out


def corrections(net=None, variants=False):
    """The claims that are off: "the slide says X, the correct figure is Y" (with variants,
    also the figures that belong to the source's own, different net)."""
    nets = [net] if net else list(CASE_STUDIES)
    return [c for n in nets for c in check_claims(n) if not c["ok"] and (variants or not c["variant"])]
