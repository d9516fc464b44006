"""Export to ONNX: the net as an ONNX graph built with the `onnx` package (no PyTorch needed).

The model, as Netron and onnxruntime see it:
    input   "image"          uint8 (N, H, W, C): RGB pixels 0-255, channels last (NHWC), the
                             way images come from a decoder and the way the playground feeds them
    graph   Cast -> Mul(scale) -> Add(shift)   the snapshot's own preprocessing, inside the graph
                                               (x/255 - 0.5 for nets trained here or in ConvNetJS)
            Transpose to NCHW, then one node per layer: Conv, Relu/Tanh/Sigmoid, MaxPool,
            Dropout (the identity when running), Flatten + Gemm for fc layers (layout.py says
            why their weight columns are reordered), Softmax
    output  "probabilities"  float32 (N, K): the class probabilities, each row summing to 1
    metadata_props   classes (JSON list of names, when the snapshot has them), spec (JSON),
                     input_layout, preprocess (JSON {"scale", "shift"}), output, source

Opset 17, IR version 8: what onnxruntime, Netron and most other runtimes read today.
Initializers are named like our parameters ("conv1.weight"), nodes like our layers.
"""

from __future__ import annotations

import json

import numpy as np

from .layout import steps, torch_arrays

OPSET = 17
IR_VERSION = 8
INPUT = "image"
OUTPUT = "probabilities"


def _onnx():
    try:
        import onnx
    except ImportError:
        from ..errors import ExportError

        raise ExportError("exporting to ONNX needs the onnx package: pip install onnx") from None
    return onnx


def onnx_model(snap, name="net"):
    """The onnx.ModelProto of a Snapshot (ours or an imported ConvNetJS one); onnx_bytes checks it."""
    _onnx()  # a clear ExportError when the package is missing
    from onnx import TensorProto, helper

    spec = snap.spec
    weights = torch_arrays(spec, snap.arrays)
    pre = snap.meta.get("preprocess") or {"scale": 1.0 / 255.0, "shift": -0.5}
    plan = steps(spec)
    h, w, c = _input_shape(spec)
    classes = snap.classes
    k = plan[-1].out_shape[0]

    nodes, inits = [], {}

    def const(key, array):
        inits[key] = np.asarray(array)  # np.asarray: a 0-d array stays 0-d, an ONNX scalar
        return key

    # Preprocessing as the playground does it, in float32: x * scale + shift (net.prepare).
    nodes.append(helper.make_node("Cast", [INPUT], ["pixels"], name="to_float", to=TensorProto.FLOAT))
    scale = const("preprocess.scale", np.array(pre["scale"], np.float32))
    shift = const("preprocess.shift", np.array(pre["shift"], np.float32))
    nodes.append(helper.make_node("Mul", ["pixels", scale], ["scaled"], name="preprocess_scale"))
    nodes.append(helper.make_node("Add", ["scaled", shift], ["input"], name="preprocess_shift"))
    nodes.append(helper.make_node("Transpose", ["input"], ["input_nchw"], name="to_nchw", perm=[0, 3, 1, 2]))
    x = "input_nchw"
    for st in plan:
        layer, out = st.layer, st.name
        if st.kind == "conv":
            k_, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
            wkey, bkey = const(out + ".weight", weights[out + ".weight"]), const(out + ".bias", weights[out + ".bias"])
            nodes.append(
                helper.make_node(
                    "Conv", [x, wkey, bkey], [out], name=out, kernel_shape=[k_, k_], strides=[s, s], pads=[p, p, p, p]
                )
            )
        elif st.kind == "pool":
            k_, s = layer["kernel_size"], layer["stride"]
            nodes.append(helper.make_node("MaxPool", [x], [out], name=out, kernel_shape=[k_, k_], strides=[s, s]))
        elif st.kind in ("relu", "tanh", "sigmoid"):
            op = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[st.kind]
            nodes.append(helper.make_node(op, [x], [out], name=out))
        elif st.kind == "dropout":
            ratio = const(out + ".ratio", np.array(layer["p"], np.float32))
            nodes.append(helper.make_node("Dropout", [x, ratio], [out], name=out))
        elif st.kind == "flatten":
            nodes.append(helper.make_node("Flatten", [x], [out], name=out, axis=1))
        elif st.kind == "unflatten":
            shape = const(out + ".shape", np.array([-1] + list(st.out_shape), np.int64))
            nodes.append(helper.make_node("Reshape", [x, shape], [out], name=out))
        elif st.kind == "fc":
            wkey, bkey = const(out + ".weight", weights[out + ".weight"]), const(out + ".bias", weights[out + ".bias"])
            nodes.append(helper.make_node("Gemm", [x, wkey, bkey], [out], name=out, transB=1))
        elif st.kind == "softmax":
            out = OUTPUT
            nodes.append(helper.make_node("Softmax", [x], [out], name="softmax", axis=1))
        x = out
    layout = (
        "image: uint8 (N, %d, %d, %d), NHWC, RGB pixels 0-255; the graph applies the preprocessing "
        "x * %r + %r itself and transposes to NCHW" % (h, w, c, pre["scale"], pre["shift"])
    )
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(INPUT, TensorProto.UINT8, ["N", h, w, c])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", k])],
        doc_string="%s, exported by ConvNet Playground. %s." % (name, layout),
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="ConvNet Playground",
        producer_version=_version(),
        doc_string="%s: %s. Output: %s." % (name, layout, _output_doc(k)),
    )
    model.ir_version = IR_VERSION
    # The weights go into the model itself, not through make_graph and make_model, which copy
    # every tensor twice more: for VGG-16's 553 MB that is seconds and gigabytes.
    for key, array in inits.items():
        tensor = model.graph.initializer.add()
        tensor.name = key
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.raw_data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    props = {
        "input_layout": layout,
        "preprocess": json.dumps({"scale": pre["scale"], "shift": pre["shift"]}),
        "output": _output_doc(k),
        "spec": json.dumps(spec),
        "source": json.dumps(snap.meta.get("info") or {}),
    }
    if classes:
        props["classes"] = json.dumps(list(classes))
    helper.set_model_props(model, props)
    return model


def onnx_bytes(snap, name="net"):
    """The serialized ONNX model of a Snapshot, checked with onnx.checker (shapes inferred too).

    The bytes are checked rather than the model: a ModelProto is serialized for every check,
    and for VGG-16's 553 MB that is seconds.
    """
    onnx = _onnx()
    data = onnx_model(snap, name).SerializeToString()
    onnx.checker.check_model(data, full_check=True)
    return data


def _output_doc(k):
    return "probabilities: float32 (N, %d), the softmax class probabilities" % k


def _input_shape(spec):
    from ..spec import normalize

    return tuple(normalize(spec)[0]["shape"])


def _version():
    try:
        from importlib.metadata import version

        return version("convnet-playground")
    except Exception:  # not installed as a package (run from the source folder)
        return "0.1.0"
