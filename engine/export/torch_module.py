"""Export to PyTorch: a readable model.py, the weights as .safetensors, and train_ddp.py.

    model.py              an nn.Module written out from the spec, one line per layer with the
                          output shape in a comment; NCHW, as PyTorch is; preprocess() turns
                          uint8 (N, H, W, C) images into its input the way the playground does
    weights.safetensors   the parameters under our (= the module's) state-dict keys, written
                          with safetensors' NumPy API (no torch needed to export); fc layers
                          that take a volume have their columns in (C, H, W) order (layout.py);
                          the metadata carries the spec, class names, preprocessing and the
                          run's settings, so that `import-torch` and `eval` read it back alone
    train_ddp.py          continues the run with DistributedDataParallel under torchrun; its
                          defaults are the run's optimizer settings (ddp_template.py)

The generated code is formatted as ruff formats it (88 columns, double quotes) and passes
`ruff check`; tests/test_export_torch.py runs both on it.
"""

from __future__ import annotations

import json
import keyword
from pathlib import Path

import numpy as np

from ..spec import normalize
from .layout import steps, torch_arrays

WIDTH = 88  # ruff's (and black's) default line length: the user's tools will use it
TEMPLATE = Path(__file__).with_name("ddp_template.py")
CLASS = "ConvNet"


# -- model.py ---------------------------------------------------------------------------
def _shape(shape, flat):
    c, h, w = shape
    return "(N, %d)" % c if flat else "(N, %d, %d, %d)" % (c, h, w)


def _module(step):
    """The nn.Module constructor call of a step, PyTorch's defaults left out."""
    layer = step.layer
    if step.kind == "conv":
        args = [str(step.in_shape[0]), str(layer["out_channels"]), str(layer["kernel_size"])]
        if layer["stride"] != 1:
            args.append("stride=%d" % layer["stride"])
        if layer["padding"]:
            args.append("padding=%d" % layer["padding"])
        return "nn.Conv2d", args
    if step.kind == "pool":
        return "nn.MaxPool2d", [str(layer["kernel_size"]), "stride=%d" % layer["stride"]]
    if step.kind in ("relu", "tanh", "sigmoid"):
        return {"relu": "nn.ReLU", "tanh": "nn.Tanh", "sigmoid": "nn.Sigmoid"}[step.kind], []
    if step.kind == "dropout":
        return "nn.Dropout", ["p=%r" % layer["p"]]
    if step.kind == "flatten":
        return "nn.Flatten", []
    if step.kind == "unflatten":
        return "nn.Unflatten", ["1", "(%d, %d, %d)" % step.out_shape]
    if step.kind == "fc":
        return "nn.Linear", [str(int(np.prod(step.in_shape))), str(layer["out_features"])]
    raise ValueError(step.kind)


# nn.Sequential's public attributes (torch 2.x): a submodule cannot take one of these names.
_TAKEN = set(
    "T_destination add_module append apply bfloat16 buffers call_super_init children compile cpu "
    "cuda double dump_patches eval extend extra_repr float forward get_buffer get_extra_state "
    "get_parameter get_submodule half insert ipu load_state_dict modules mtia named_buffers "
    "named_children named_modules named_parameters parameters pop register_backward_hook "
    "register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook "
    "register_full_backward_pre_hook register_load_state_dict_post_hook "
    "register_load_state_dict_pre_hook register_module register_parameter "
    "register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state "
    "set_submodule share_memory state_dict to to_empty train training type xpu zero_grad".split()
)


def _attribute(name):
    """How __init__ names a submodule: `self.conv1 = ...`, or add_module for a name that is
    not a Python identifier. Names PyTorch refuses are an ExportError."""
    if "." in name or name.startswith("_") or name in _TAKEN:
        from ..errors import ExportError

        raise ExportError(
            "layer name %r cannot name a PyTorch module (it %s) — rename the layer in the spec"
            % (name, "holds a '.'" if "." in name else "is taken by nn.Module")
        )
    if name.isidentifier() and not keyword.iskeyword(name):
        return "self.%s = " % name, ""
    return "self.add_module(%s, " % json.dumps(name), ")"


def _line(indent, code, comment=None):
    """Lines of one statement as ruff formats it: the comment beside it when it fits, else
    above; a call that does not fit is split after its opening parenthesis."""
    pad = " " * indent
    if comment and len(pad + code + "  # " + comment) <= WIDTH:
        return [pad + code + "  # " + comment]
    lines = [pad + "# " + comment] if comment else []
    if len(pad + code) <= WIDTH:
        return lines + [pad + code]
    head, _, args = code.partition("(")
    args, tail = args.rsplit(")", 1)
    inner = " " * (indent + 4)
    if len(inner + args) <= WIDTH:
        return lines + [pad + head + "(", inner + args, pad + ")" + tail]
    parts = _split_args(args)
    return lines + [pad + head + "("] + [inner + a + "," for a in parts] + [pad + ")" + tail]


def _split_args(args):
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        depth += ch in "([" and 1 or (ch in ")]" and -1 or 0)
        if ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    parts.append(args[start:].strip())
    return [p for p in parts if p]


def _list_literal(indent, name, items):
    """`NAME = [...]` of strings, on one line when it fits, else one item per line."""
    text = "%s = [%s]" % (name, ", ".join(json.dumps(c, ensure_ascii=False) for c in items))
    if len(text) <= WIDTH:
        return [text]
    return ["%s = [" % name] + ["    %s," % json.dumps(c, ensure_ascii=False) for c in items] + ["]"]


def _docstring(text, indent=0):
    """A docstring of wrapped paragraphs (blank-line separated; lines starting with 4 spaces
    are kept as they are)."""
    import textwrap

    pad = " " * indent
    out = []
    for para in text.strip("\n").split("\n\n"):
        if para.startswith("    ") or "\n    " in para:
            out += [(pad + line).rstrip() for line in para.split("\n")]
        else:
            out += textwrap.wrap(" ".join(para.split()), WIDTH - indent, initial_indent=pad, subsequent_indent=pad)
        out.append("")
    out = out[:-1]
    out[0] = pad + '"""' + out[0][len(pad) :]
    if len(out) == 1 and len(out[0]) + 3 <= WIDTH:
        return [out[0] + '"""']
    return out + [pad + '"""']


def model_source(snap, name="net"):
    """The text of model.py for a Snapshot."""
    spec = snap.spec
    layers = normalize(spec)
    h, w, c = layers[0]["shape"]
    pre = snap.meta.get("preprocess") or {"scale": 1.0 / 255.0, "shift": -0.5}
    plan = steps(spec)
    fcs = [st for st, before in zip(plan[1:], plan) if st.kind == "fc" and before.kind == "flatten"]
    k = plan[-1].out_shape[0]
    flatten_note = ""
    if fcs:
        names = ", ".join(st.name for st in fcs)
        flatten_note = (
            "\n\nFlattening: the playground's activations are channels-last, (N, H, W, C), and "
            "it flattens a volume in (H, W, C) order; nn.Flatten here flattens (N, C, H, W) in "
            "(C, H, W) order. The export reordered the weight columns of %s to match, so this "
            "module computes exactly the playground's forward (`python -m engine import-torch` "
            "reorders them back)." % names
        )
    doc = (
        "%s as a PyTorch module, exported by ConvNet Playground.\n\n"
        "Written out from the net's spec by `python -m engine export SNAPSHOT --to pytorch`; "
        "the weights are weights.safetensors beside this file:\n\n"
        "    from model import load, probabilities\n\n"
        "    model = load()  # ConvNet() with the exported weights, in eval mode\n"
        "    probs = probabilities(model, images)  # images: uint8 (N, %d, %d, %d)\n\n"
        "Layout: the module takes float (N, C, H, W) tensors, as PyTorch does; preprocess() "
        "makes them from uint8 (N, H, W, C) pixels the way the playground feeds its net, "
        "x * SCALE + SHIFT. The module's output is the class scores (logits): "
        "nn.CrossEntropyLoss trains on them and a softmax turns them into the probabilities "
        "(the playground's softmax layer).%s\n\n"
        "train_ddp.py continues training this module on many processes or machines."
    ) % (name, h, w, c, flatten_note)
    out = _docstring(doc)
    out += ["", "from pathlib import Path", "", "import torch", "from torch import nn", ""]
    classes = snap.classes
    if classes:
        out += _list_literal(0, "CLASSES", classes)
    else:
        out += ["CLASSES = None  # the snapshot names no classes: class i is just i"]
    out += [
        "INPUT_SHAPE = (%d, %d, %d)  # height, width, channels of one image" % (h, w, c),
        "SCALE = %r  # preprocessing: x * SCALE + SHIFT" % float(pre["scale"]),
        "SHIFT = %r" % float(pre["shift"]),
        'WEIGHTS = Path(__file__).with_name("weights.safetensors")',
        "",
        "",
        "class %s(nn.Sequential):" % CLASS,
    ]
    out += _docstring(
        "%s: one module per layer; nn.Sequential's forward runs them in the order written. "
        "Each comment gives the layer's output shape." % name,
        indent=4,
    )
    out += ["", "    def __init__(self):", "        super().__init__()"]
    out += _line(8, "# input: %s" % _shape((c, h, w), False))
    flat = False
    for st in plan:
        if st.kind == "softmax":
            out += _line(8, "# softmax: nn.CrossEntropyLoss and probabilities() apply it")
            continue
        ctor, args = _module(st)
        flat = st.kind == "flatten" or (flat and st.kind != "unflatten")
        comment = _shape(st.out_shape, flat)
        if st.kind == "flatten":
            comment += " in (C, H, W) order"
        elif st is plan[-2] and st.kind == "fc":
            comment += " class scores"
        head, tail = _attribute(st.name)
        code = "%s%s(%s)%s" % (head, ctor, ", ".join(args), tail)
        if len(code) + 8 > WIDTH and not tail:  # a long name: add_module's call splits, `self.x =` cannot
            code = "self.add_module(%s, %s(%s))" % (json.dumps(st.name), ctor, ", ".join(args))
        out += _line(8, code, comment)
    out += [
        "",
        "",
        "def preprocess(images):",
        '    """uint8 images (N, H, W, C) -> float inputs (N, C, H, W), as the playground."""',
        "    x = torch.as_tensor(images).to(torch.float32) * SCALE + SHIFT",
        "    return x.permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)",
        "",
        "",
        "def load(weights=WEIGHTS):",
        '    """%s() with the weights of a .safetensors file, in eval mode."""' % CLASS,
        "    from safetensors.torch import load_file",
        "",
        "    model = %s()" % CLASS,
        "    model.load_state_dict(load_file(str(weights)))",
        "    return model.eval()",
        "",
        "",
        "def probabilities(model, images):",
        '    """Class probabilities (N, %d) of uint8 images (N, H, W, C)."""' % k,
        "    with torch.no_grad():",
        "        return torch.softmax(model(preprocess(images)), dim=1)",
        "",
        "",
        'if __name__ == "__main__":',
        "    model = %s()" % CLASS,
        "    print(model)",
        '    print(f"{sum(p.numel() for p in model.parameters())} parameters")',
    ]
    return "\n".join(out) + "\n"


# -- weights ----------------------------------------------------------------------------
def weights_metadata(snap, name="net"):
    """The .safetensors metadata (strings only): what import-torch needs to read them alone."""
    meta = snap.meta
    return {
        "format": "pt",
        "producer": "ConvNet Playground",
        "layout": LAYOUT,
        "name": name,
        "spec": json.dumps(snap.spec),
        "preprocess": json.dumps(meta.get("preprocess") or {"scale": 1.0 / 255.0, "shift": -0.5}),
        "classes": json.dumps(snap.classes),
        "info": json.dumps(meta.get("info") or {}),
    }


LAYOUT = "torch: NCHW; fc layers that take a volume have their columns in (C, H, W) order"


def weights_bytes(snap, name="net"):
    """The parameters as .safetensors bytes, in the module's layout (layout.py)."""
    from safetensors.numpy import save

    return save(torch_arrays(snap.spec, snap.arrays), metadata=weights_metadata(snap, name))


# -- train_ddp.py -----------------------------------------------------------------------
def ddp_defaults(snap):
    """train_ddp.py's defaults: the settings of the run the snapshot came from."""
    from ..optim import DEFAULTS

    meta = snap.meta
    opt = dict(meta.get("optimizer") or {})
    run = (meta.get("run") or {}).get("args") or {}
    info = meta.get("info") or {}
    name = opt.get("name") or run.get("optimizer") or info.get("optimizer") or "adam"
    hyper = dict(DEFAULTS.get(name, {}))
    hyper.update({k: v for k, v in opt.items() if k != "steps"})
    return {
        "optimizer": name,
        "lr": float(hyper.get("lr", 0.001)),
        "lr_decay": run.get("lr_decay", "none"),
        "momentum": float(hyper.get("momentum", 0.9) or 0.9),
        "weight_decay": float(hyper.get("weight_decay", 0.0)),
        "rho": float(hyper.get("rho", 0.95) or 0.95),
        "eps": float(hyper.get("eps", 1e-8) or 1e-8),
        "beta1": float(hyper.get("beta1", 0.9) or 0.9),
        "beta2": float(hyper.get("beta2", 0.999) or 0.999),
        "batch": int(run.get("batch", info.get("batch", 32))),
        "epochs": int(run.get("epochs", info.get("epochs", 10))),
        "augment": bool(run.get("augment", True)),
        "val_every": int(run.get("val_every", 0)),
        "seed": int(run.get("seed", info.get("seed", 0))),
    }


def ddp_source(snap):
    """The text of train_ddp.py: the template with DEFAULTS written in."""
    text = TEMPLATE.read_text()
    marker = "DEFAULTS = {}  # written by the export from the snapshot's metadata\n"
    if marker not in text:
        raise RuntimeError("ddp_template.py lost its DEFAULTS line")
    lines = ["DEFAULTS = {  # the settings of the run the snapshot came from"]
    lines += ["    %s: %s," % (json.dumps(k), _literal(v)) for k, v in ddp_defaults(snap).items()]
    return text.replace(marker, "\n".join(lines) + "\n}\n")


def _literal(v):
    """A Python literal as ruff formats it (double quotes)."""
    return json.dumps(v) if isinstance(v, str) else repr(v)


def pytorch_files(snap, name="net"):
    """{file name: bytes} of the PyTorch export."""
    return {
        "model.py": model_source(snap, name).encode("utf-8"),
        "weights.safetensors": weights_bytes(snap, name),
        "train_ddp.py": ddp_source(snap).encode("utf-8"),
    }
