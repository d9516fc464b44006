"""ConvNet Playground's engine: specs, summaries, layers, two kernel backends, optimizers,
snapshots and the training loop. Knows nothing of Panel or the web.

    from engine import Net, Optimizer, Trainer, summarize, get_preset
    net = Net(get_preset("convnetjs-cifar10"), backend="numba", seed=0)

What a ConvNet computes reads in spec.py, layers.py, kernels_numpy.py, net.py, optim.py and
train.py. What exists only for speed (the Numba backend, thread pools, fusion, allocator
tuning) is engine.fast, whose one call for applications is
engine.fast.share_cores_with_a_server(). This file names the public API and does nothing else.
"""

from .errors import SnapshotError, SpecError
from .fit import check_classes, class_mismatch, fit_spec
from .net import DEFAULT_PREPROCESS, Net, available_backends, get_kernels
from .optim import DEFAULTS as OPTIMIZER_DEFAULTS
from .optim import Optimizer, make_optimizer
from .presets import PRESETS, get_preset
from .snapshot import load_snapshot, read_snapshot, save_snapshot, snapshot_bytes
from .snapshot_format import Snapshot
from .spec import ACTIVATIONS, format_shape, load_spec, normalize, to_json
from .summary import format_table, human_bytes, human_count, summarize
from .train import Trainer

__all__ = [
    "DEFAULT_PREPROCESS",
    "Net",
    "get_kernels",
    "available_backends",
    "OPTIMIZER_DEFAULTS",
    "Optimizer",
    "make_optimizer",
    "PRESETS",
    "get_preset",
    "Snapshot",
    "SnapshotError",
    "load_snapshot",
    "read_snapshot",
    "save_snapshot",
    "snapshot_bytes",
    "SpecError",
    "check_classes",
    "class_mismatch",
    "fit_spec",
    "format_shape",
    "load_spec",
    "normalize",
    "to_json",
    "ACTIVATIONS",
    "format_table",
    "human_bytes",
    "human_count",
    "summarize",
    "Trainer",
]
