"""The per-layer table of a net, computed from its spec alone (no weights are allocated).

For every layer: output volume, weights, biases, params, activations per image and bytes;
totals; and, for a batch size and an optimizer, the memory of a training step. This is the
table of the lecture's AlexNet and VGG slides, so every number is exact integer arithmetic.
"""

from __future__ import annotations

from .spec import format_shape, normalize, param_shapes

BYTES_PER_VALUE = 4  # float32
# Arrays of optimizer state per parameter (velocities, running averages).
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "adadelta": 2, "adam": 2}


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def summarize(spec, batch=1, optimizer="adadelta", net_name=None):
    """A dict in the shape of `python -m engine summary --json` (docs/ARCHITECTURE.md,
    "Contracts").

    Per layer: `activations` counts the values of its output for one image; `bytes` is the
    float32 memory of those activations plus the layer's parameters.
    """
    layers = normalize(spec)
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError("unknown optimizer %r — choose one of %s" % (optimizer, ", ".join(OPTIMIZER_STATE)))
    rows = []
    for layer in layers:
        shapes = param_shapes(layer)
        weights = _prod(shapes["weight"]) if shapes else 0
        biases = _prod(shapes["bias"]) if shapes else 0
        acts = _prod(layer["out_shape"])
        c, h, w = layer["out_shape"]
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
                "bytes": BYTES_PER_VALUE * (acts + weights + biases),
            }
        )
    total_params = sum(r["params"] for r in rows)
    total_acts = sum(r["activations"] for r in rows)
    c, h, w = layers[0]["out_shape"]
    b = BYTES_PER_VALUE
    # The input batch holds no gradient we need; every other output does during backprop.
    grad_acts = total_acts - rows[0]["activations"]
    memory = {
        "batch": batch,
        "optimizer": optimizer,
        "activations": b * batch * total_acts,
        "activation_grads": b * batch * grad_acts,
        "params": b * total_params,
        "param_grads": b * total_params,
        "optimizer_state": b * total_params * OPTIMIZER_STATE[optimizer],
    }
    memory["total"] = sum(v for k, v in memory.items() if k not in ("batch", "optimizer"))
    return {
        "net": net_name,
        "input": [h, w, c],
        "layers": rows,
        "total_params": total_params,
        "total_activations": total_acts,
        "bytes": b * (total_acts + total_params),
        "memory": memory,
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
    head = "%-10s %-8s %12s %12s %12s %12s" % ("layer", "type", "output", "params", "activations", "memory")
    lines = [head, "-" * len(head)]
    for r in summary["layers"]:
        lines.append(
            "%-10s %-8s %12s %12s %12s %12s"
            % (
                r["name"],
                r["type"],
                r["output_text"],
                "{:,}".format(r["params"]),
                "{:,}".format(r["activations"]),
                human_bytes(r["bytes"]),
            )
        )
    lines.append("-" * len(head))
    lines.append(
        "%-10s %-8s %12s %12s %12s %12s"
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
        "training memory at batch %d with %s: activations %s, their gradients %s, "
        "params %s, gradients %s, optimizer state %s; total %s"
        % (
            m["batch"],
            m["optimizer"],
            human_bytes(m["activations"]),
            human_bytes(m["activation_grads"]),
            human_bytes(m["params"]),
            human_bytes(m["param_grads"]),
            human_bytes(m["optimizer_state"]),
            human_bytes(m["total"]),
        )
    )
    return "\n".join(lines)
