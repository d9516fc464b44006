"""The per-layer table of a net, computed from its spec alone (no weights are allocated).

For every layer: output volume, weights, biases, params, activations per image and bytes;
totals; and, for a batch size, an optimizer and a backend, the memory of a training step
(step_memory.py). A conv or fc and its ReLU are one row: the engine keeps one array for the pair. This is the
table of the lecture's AlexNet and VGG slides, so every number is exact integer arithmetic.
"""

from __future__ import annotations

from .spec import format_shape, normalize, param_shapes
from .step_memory import BYTES_PER_VALUE, OPTIMIZER_STATE, fused_relus, step_memory

__all__ = ["BYTES_PER_VALUE", "OPTIMIZER_STATE", "format_table", "human_bytes", "human_count", "summarize"]


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def summarize(spec, batch=1, optimizer="adadelta", net_name=None, relu_rows=False, backend="numpy"):
    """A dict in the shape of `python -m engine summary --json` (docs/ARCHITECTURE.md,
    "Contracts").

    Per layer: `activations` counts the values of its output for one image; `bytes` is the
    float32 memory of those activations plus the layer's parameters. A conv or fc and the ReLU
    after it are one row, as on the slides and as the engine keeps them (one array: the ReLU's
    output; the row's `relu` names the ReLU); with relu_rows, each such ReLU also gets its own
    row, `stored` false, counted in no total. `memory`: a training step at `batch` on
    `backend` (step_memory.py).
    """
    layers = normalize(spec)
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError("unknown optimizer %r — choose one of %s" % (optimizer, ", ".join(OPTIMIZER_STATE)))
    fused = fused_relus(layers)
    rows = []
    for i, layer in enumerate(layers):
        if i in fused:
            rows[-1]["relu"] = layer["name"]
            if not relu_rows:
                continue
        shapes = param_shapes(layer)
        weights = _prod(shapes["weight"]) if shapes else 0
        biases = _prod(shapes["bias"]) if shapes else 0
        acts = _prod(layer["out_shape"])
        c, h, w = layer["out_shape"]
        stored = i not in fused
        rows.append(
            {
                "name": layer["name"],
                "type": layer["type"],
                "output": [h, w, c],
                "output_text": format_shape(layer["out_shape"]),
                "weights": weights,
                "biases": biases,
                "params": weights + biases,
                "activations": acts,
                "bytes": BYTES_PER_VALUE * ((acts if stored else 0) + weights + biases),
                "stored": stored,
            }
        )
    total_params = sum(r["params"] for r in rows)
    total_acts = sum(r["activations"] for r in rows if r["stored"])
    c, h, w = layers[0]["out_shape"]
    return {
        "net": net_name,
        "input": [h, w, c],
        "layers": rows,
        "total_params": total_params,
        "total_activations": total_acts,
        "bytes": BYTES_PER_VALUE * (total_acts + total_params),
        "memory": step_memory(layers, total_params, batch, optimizer, backend),
    }


def human_bytes(n):
    """1536 -> '1.5 KB' (powers of 1024, as the slides' MB are)."""
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return "%.1f GB" % n


def human_count(n):
    """138357544 -> '138.4M', as the slides abbreviate."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return "%.1f%s" % (n / div, suffix)
    return str(n)


def format_table(summary):
    """The summary as a plain-text table for the terminal."""
    head = "%-10s %-9s %12s %12s %12s %12s" % ("layer", "type", "output", "params", "activations", "memory")
    lines = [head, "-" * len(head)]
    for r in summary["layers"]:
        kind = r["type"] + "+relu" if r.get("relu") and r["stored"] else r["type"]
        lines.append(
            "%-10s %-9s %12s %12s %12s %12s"
            % (
                r["name"],
                kind,
                r["output_text"],
                "{:,}".format(r["params"]),
                "{:,}".format(r["activations"]),
                human_bytes(r["bytes"]) if r["stored"] else "not stored",
            )
        )
    lines.append("-" * len(head))
    lines.append(
        "%-10s %-9s %12s %12s %12s %12s"
        % (
            "total",
            "",
            "",
            "{:,}".format(summary["total_params"]),
            "{:,}".format(summary["total_activations"]),
            human_bytes(summary["bytes"]),
        )
    )
    m = summary["memory"]
    lines.append("")
    lines.append(
        "training memory at batch %d with %s on the %s backend: activations %s, their gradients %s, "
        "params %s, gradients %s, optimizer state %s, workspace %s; scratch: backward %s, optimizer %s; "
        "total %s"
        % (
            m["batch"],
            m["optimizer"],
            m["backend"],
            human_bytes(m["activations"]),
            human_bytes(m["activation_grads"]),
            human_bytes(m["params"]),
            human_bytes(m["param_grads"]),
            human_bytes(m["optimizer_state"]),
            human_bytes(m["workspace"]),
            human_bytes(m["grad_scratch"]),
            human_bytes(m["optimizer_scratch"]),
            human_bytes(m["total"]),
        )
    )
    return "\n".join(lines)
