"""The network spec: layer definitions, their validation and shape inference.

A net is a JSON list of layer dicts. This module turns any accepted spelling of that list
(ours, PyTorch-like, or ConvNetJS's `layer_defs`) into one canonical form, checks it, and
infers every layer's output volume without allocating a single weight. Both backends, the
summary, the snapshots and the app read the canonical form produced here.

What does not live here: weights (layers.py), kernels, the per-layer table (summary.py).

Canonical layer dicts (shapes are (C, H, W), shown to users as HxWxC):
    {"type": "input", "name": "input", "shape": [H, W, C]}   (as users write it)
    {"type": "conv", "name": "conv1", "out_channels": F, "kernel_size": K, "stride": S, "padding": P}
    {"type": "pool", "name": "pool1", "kernel_size": K, "stride": S, "padding": 0}
    {"type": "relu" | "tanh" | "sigmoid", "name": ...}
    {"type": "fc", "name": "fc1", "out_features": M}
    {"type": "dropout", "name": ..., "p": 0.5}
    {"type": "softmax", "name": "softmax", "num_classes": K}
"""

from __future__ import annotations

import json

from .errors import SpecError

ACTIVATIONS = ("relu", "tanh", "sigmoid")
PARAM_TYPES = ("conv", "fc")
LAYER_TYPES = ("input", "conv", "pool", "fc", "dropout", "softmax") + ACTIVATIONS

# ConvNetJS's layer_defs spell things differently; these map its keys onto ours.
_ALIASES = {
    "conv": {"filters": "out_channels", "sx": "kernel_size", "pad": "padding"},
    "pool": {"sx": "kernel_size", "pad": "padding"},
    "fc": {"num_neurons": "out_features"},
    "softmax": {},
    "dropout": {"drop_prob": "p"},
}
_ALLOWED = {
    "input": {"shape", "out_sx", "out_sy", "out_depth", "width", "height", "depth"},
    "conv": {"out_channels", "kernel_size", "stride", "padding", "sy", "activation"},
    "pool": {"kernel_size", "stride", "padding", "sy"},
    "fc": {"out_features", "activation"},
    "dropout": {"p"},
    "softmax": {"num_classes"},
    "relu": set(),
    "tanh": set(),
    "sigmoid": set(),
}
# Keys that are harmless to carry along (ConvNetJS extras, comments, our own bookkeeping).
_IGNORED = {
    "name",
    "type",
    "layer_type",
    "bias_pref",
    "l1_decay_mul",
    "l2_decay_mul",
    "comment",
    "in_shape",
    "out_shape",
}


def _where(i, layer_type):
    return "layer %d (%s)" % (i, layer_type)


def _int(layer, key, where, default=None, minimum=1):
    value = layer.get(key, default)
    if value is None:
        raise SpecError("%s: missing '%s'" % (where, key))
    # value != value: NaN; the float check before int() keeps infinity from raising OverflowError
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != value
        or abs(value) == float("inf")
        or int(value) != value
    ):
        raise SpecError("%s: '%s' must be a whole number, got %r" % (where, key, value))
    value = int(value)
    if value < minimum:
        raise SpecError("%s: '%s' must be at least %d, got %d" % (where, key, minimum, value))
    return value


def load_spec(source):
    """A spec from a JSON string, a file path, a list of dicts or {"layers": [...]}."""
    if isinstance(source, str):
        text = source
        if not source.lstrip().startswith(("[", "{")):
            try:
                with open(source) as f:
                    text = f.read()
            except OSError as e:
                raise SpecError("cannot read spec file %s: %s" % (source, e.strerror)) from None
        try:
            source = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError("spec is not valid JSON: %s (line %d, column %d)" % (e.msg, e.lineno, e.colno)) from None
    if isinstance(source, dict) and "layers" in source:
        source = source["layers"]
    if not isinstance(source, list):
        raise SpecError("a spec is a JSON list of layer objects, got %s" % type(source).__name__)
    return source


def normalize(spec):
    """The canonical, validated list of layer dicts for any accepted spelling of a spec.

    Expands `activation` keys into their own layers and puts an fc layer in front of a
    softmax that does not already follow an fc of the right size. (ConvNetJS always inserts
    that fc; here an explicit fc of num_classes outputs is taken as the scores layer, so that
    a spec written out layer by layer means what it says.) Error messages number layers as
    the user wrote them.
    """
    raw = load_spec(spec)
    if not raw:
        raise SpecError("the spec is empty: it needs at least an input layer and a softmax")
    out = []
    origin = []  # for each canonical layer, its index in the list the user wrote
    for i, layer in enumerate(raw):
        if not isinstance(layer, dict):
            raise SpecError('layer %d: expected an object like {"type": "conv", ...}, got %r' % (i, layer))
        kind = layer.get("type", layer.get("layer_type"))
        if kind not in LAYER_TYPES:
            raise SpecError("layer %d: unknown type %r — use one of %s" % (i, kind, ", ".join(LAYER_TYPES)))
        where = _where(i, kind)
        aliases = _ALIASES.get(kind, {})
        layer = {aliases.get(k, k): v for k, v in layer.items()}
        unknown = set(layer) - _ALLOWED[kind] - _IGNORED
        if unknown:
            raise SpecError(
                "%s: unknown key(s) %s — allowed: %s"
                % (where, ", ".join(sorted(unknown)), ", ".join(sorted(_ALLOWED[kind])) or "none")
            )
        if (i == 0) != (kind == "input"):
            raise SpecError("%s: the first layer, and only the first, must be of type 'input'" % where)
        canon = {"type": kind}
        if "name" in layer:
            if not isinstance(layer["name"], str) or not layer["name"]:
                raise SpecError("%s: 'name' must be a non-empty string" % where)
            canon["name"] = layer["name"]
        if kind == "input":
            if "shape" in layer:
                shape = layer["shape"]
                if not (isinstance(shape, list) and len(shape) == 3):
                    raise SpecError("%s: 'shape' must be [height, width, channels]" % where)
                h, w, c = (_int({"v": v}, "v", where + " shape") for v in shape)
            else:
                w = _int(layer, "out_sx" if "out_sx" in layer else "width", where)
                h = _int(layer, "out_sy" if "out_sy" in layer else "height", where, default=w)
                c = _int(layer, "out_depth" if "out_depth" in layer else "depth", where)
            canon["shape"] = [h, w, c]
        elif kind == "conv":
            canon["out_channels"] = _int(layer, "out_channels", where)
            canon["kernel_size"] = _int(layer, "kernel_size", where)
            canon["stride"] = _int(layer, "stride", where, default=1)
            canon["padding"] = _int(layer, "padding", where, default=0, minimum=0)
        elif kind == "pool":
            canon["kernel_size"] = _int(layer, "kernel_size", where)
            # ConvNetJS's pool defaults to stride 2; our spelling defaults to the kernel size.
            default_stride = 2 if "sx" in raw[i] else canon["kernel_size"]
            canon["stride"] = _int(layer, "stride", where, default=default_stride)
            canon["padding"] = _int(layer, "padding", where, default=0, minimum=0)
            if canon["padding"]:
                raise SpecError("%s: pool padding is not supported — use padding 0" % where)
        elif kind == "fc":
            canon["out_features"] = _int(layer, "out_features", where)
        elif kind == "dropout":
            p = layer.get("p", 0.5)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise SpecError("%s: 'p' (drop probability) must be in [0, 1), got %r" % (where, p))
            canon["p"] = float(p)
        elif kind == "softmax":
            canon["num_classes"] = _int(layer, "num_classes", where, minimum=2)
            prev = out[-1] if out else None
            if not (prev and prev["type"] == "fc" and prev["out_features"] == canon["num_classes"]):
                out.append({"type": "fc", "out_features": canon["num_classes"]})
                origin.append(i)
        if kind in ("conv", "pool") and layer.get("sy", layer.get("kernel_size")) != layer.get("kernel_size"):
            raise SpecError("%s: only square kernels are supported (sx == sy)" % where)
        out.append(canon)
        origin.append(i)
        act = layer.get("activation")
        if act is not None:
            if act not in ACTIVATIONS:
                raise SpecError("%s: unknown activation %r — use %s" % (where, act, ", ".join(ACTIVATIONS)))
            out.append({"type": act})
            origin.append(i)
    if out[-1]["type"] != "softmax":
        raise SpecError('the last layer must be a softmax (the loss); add {"type": "softmax", "num_classes": 10}')
    for j, layer in enumerate(out[:-1]):
        if layer["type"] == "softmax":
            raise SpecError("%s: softmax must be the last layer" % _where(j, "softmax"))
    _name_layers(out)
    infer_shapes(out, origin)
    return out


def _name_layers(layers):
    counts = {}
    seen = set()
    for layer in layers:
        kind = layer["type"]
        counts[kind] = counts.get(kind, 0) + 1
        if "name" not in layer:
            layer["name"] = kind if kind in ("input", "softmax") else "%s%d" % (kind, counts[kind])
        if layer["name"] in seen:
            raise SpecError("two layers are named %r — names must be unique" % layer["name"])
        seen.add(layer["name"])


def conv_output_size(size, kernel_size, stride, padding):
    """Output height (or width) of a conv/pool window sweep; floor division as in PyTorch."""
    return (size + 2 * padding - kernel_size) // stride + 1


def infer_shapes(layers, origin=None):
    """Annotate canonical layers in place with `in_shape` and `out_shape` (C, H, W)."""
    shape = None
    for i, layer in enumerate(layers):
        kind = layer["type"]
        where = "layer %d (%s)" % (origin[i] if origin else i, layer.get("name", kind))
        if kind == "input":
            h, w, c = layer["shape"]
            out = (c, h, w)
        elif kind in ("conv", "pool"):
            c, h, w = shape
            k, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
            if k > h + 2 * p or k > w + 2 * p:
                hint = (
                    "use padding %d or a smaller kernel" % ((k - min(h, w) + 1) // 2)
                    if kind == "conv"
                    else "use a smaller kernel"
                )
                raise SpecError(
                    "%s: kernel %dx%d does not fit a %dx%d input with padding %d — %s" % (where, k, k, h, w, p, hint)
                )
            f = layer["out_channels"] if kind == "conv" else c
            out = (f, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p))
        elif kind == "fc":
            out = (layer["out_features"], 1, 1)
        elif kind == "softmax":
            if shape[0] * shape[1] * shape[2] != layer["num_classes"]:
                raise SpecError(
                    "%s: num_classes %d does not match the %d values coming in"
                    % (where, layer["num_classes"], shape[0] * shape[1] * shape[2])
                )
            out = shape
        else:
            out = shape
        layer["in_shape"] = list(shape) if shape is not None else list(out)
        layer["out_shape"] = list(out)
        shape = out
    return layers


def param_shapes(layer):
    """{"weight": shape, "bias": shape} of a canonical layer ({} when it has none).

    conv weights are (F, C, HH, WW) and fc weights (out, in), as in PyTorch.
    """
    if layer["type"] == "conv":
        c = layer["in_shape"][0]
        k = layer["kernel_size"]
        return {"weight": (layer["out_channels"], c, k, k), "bias": (layer["out_channels"],)}
    if layer["type"] == "fc":
        c, h, w = layer["in_shape"]
        return {"weight": (layer["out_features"], c * h * w), "bias": (layer["out_features"],)}
    return {}


def to_json(layers):
    """The canonical spec without inferred fields, ready for json.dumps."""
    return [{k: v for k, v in layer.items() if k not in ("in_shape", "out_shape")} for layer in layers]


def format_shape(shape):
    """(C, H, W) as the slides write it: HxWxC."""
    c, h, w = shape
    return "%dx%dx%d" % (h, w, c)
