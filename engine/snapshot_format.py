"""The snapshot format: what a snapshot holds (`Snapshot`), its metadata and their checks.

A snapshot is a net's spec, preprocessing, weights and optimizer state. On disk it is one
plain NumPy archive (.npz, loaded with allow_pickle=False): every parameter under its
state-dict name ("conv1.weight"), optimizer slots under "optim.<param>.<slot>", and one uint8
array "__meta__" holding UTF-8 JSON: {"format", "version", "spec", "preprocess", "optimizer",
"classes", "info"} (docs/ARCHITECTURE.md, "Snapshot format").

Reading and writing files is snapshot.py's; importing ConvNetJS's `net.toJSON()` is
convnetjs.py's. Both make their Snapshot here.
"""

from __future__ import annotations

import numpy as np

from .errors import SnapshotError, SpecError
from .net import Net
from .spec import normalize, param_shapes

FORMAT = "convnet-playground-snapshot"
VERSION = 1


def make_meta(spec, preprocess, optimizer=None, classes=None, info=None):
    """The "__meta__" dict of a snapshot of this format and version."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "spec": spec,
        "preprocess": preprocess,
        "optimizer": optimizer,
        "classes": list(classes) if classes is not None else None,
        "info": info or {},
    }


class Snapshot:
    """What a snapshot holds, before it is turned into a net."""

    def __init__(self, meta, arrays):
        self.meta = meta
        self.arrays = arrays

    @property
    def spec(self):
        return self.meta["spec"]

    @property
    def classes(self):
        return self.meta.get("classes")

    def check_shapes(self):
        _check_shapes(self.spec, self.arrays)

    def build(self, backend="numpy", optimizer=None, dtype=np.float32):
        """A Net with these weights (and, if given and matching, the optimizer's state)."""
        self.check_shapes()
        try:
            net = Net(self.spec, backend=backend, dtype=dtype, preprocess=self.meta.get("preprocess"))
        except SpecError as e:
            raise SnapshotError("the snapshot's spec is invalid: %s" % e) from None
        params = {k: v for k, v in self.arrays.items() if not k.startswith("optim.")}
        try:
            net.load_params(params)
        except ValueError as e:
            raise SnapshotError("the snapshot's weights do not fit its spec: %s" % e) from None
        opt_config = self.meta.get("optimizer")
        if optimizer is not None and opt_config and opt_config.get("name") == optimizer.name:
            try:
                optimizer.load_state_dict(opt_config, self.arrays)
            except (ValueError, TypeError) as e:
                raise SnapshotError("the snapshot's optimizer state is unusable: %s" % e) from None
        return net


def _check_shapes(spec, arrays):
    """Every parameter the spec declares is there, in its shape: checked before Net allocates
    them, so a spec of a huge net beside small arrays costs nothing."""
    try:
        layers = normalize(spec)
    except SpecError as e:
        raise SnapshotError("the snapshot's spec is invalid: %s" % e) from None
    wanted = {}
    for layer in layers:
        for kind, shape in param_shapes(layer).items():
            wanted["%s.%s" % (layer["name"], kind)] = tuple(shape)
    for key, shape in wanted.items():
        have = arrays.get(key)
        if have is None:
            raise SnapshotError("the snapshot's weights do not fit its spec: %s is missing" % key)
        if tuple(have.shape) != shape:
            raise SnapshotError(
                "the snapshot's weights do not fit its spec: %s has shape %s, the spec needs %s"
                % (key, tuple(have.shape), shape)
            )
    extra = sorted(k for k in arrays if k not in wanted and not k.startswith("optim."))
    if extra:
        raise SnapshotError("the snapshot's weights do not fit its spec: unexpected arrays %s" % ", ".join(extra))


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def check_meta(meta):
    """Refuse malformed metadata now, with a SnapshotError, rather than fail later."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "spec" not in meta:
        raise SnapshotError("this .npz is not a ConvNet Playground snapshot (unknown format)")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotError("the snapshot's metadata is corrupt: version %r is not a whole number" % (version,))
    if version > VERSION:
        raise SnapshotError("the snapshot is from a newer version (%s); upgrade ConvNet Playground" % version)
    if not isinstance(meta["spec"], list):
        raise SnapshotError("the snapshot's metadata is corrupt: its spec is not a list of layers")
    pre = meta.get("preprocess")
    if pre is not None and not (isinstance(pre, dict) and _number(pre.get("scale")) and _number(pre.get("shift"))):
        raise SnapshotError("the snapshot's metadata is corrupt: preprocess needs numeric 'scale' and 'shift'")
    opt = meta.get("optimizer")
    if opt is not None and not (isinstance(opt, dict) and isinstance(opt.get("name"), str)):
        raise SnapshotError("the snapshot's metadata is corrupt: optimizer state has no name")
    classes = meta.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise SnapshotError("the snapshot's metadata is corrupt: classes must be a list of names")
    run = meta.get("run")
    if run is not None and not isinstance(run, dict):
        raise SnapshotError("the snapshot's metadata is corrupt: its run state is not an object")
