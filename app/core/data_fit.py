"""A net for newly loaded data: the running net's layers, sized to the data's classes and images.

When data arrive (at start, or when the user switches data) and the running net does not fit
them (another class count or image size), the Runner trains a fresh net of the same layers with
its input and classifier sized to the data (engine.fit_spec), so a 3-class folder never trains a
silent 10-way head. If those layers cannot take the new image size, the default preset, sized
the same way, trains instead. The note says what happened when the user loses something they
chose (a snapshot's weights, an edited spec); a fresh default net is resized without a word.
"""

from __future__ import annotations

import engine

DEFAULT_PRESET = "convnetjs-cifar10"


def fitted_net(net, ds, hyper, reason, was_fresh):
    """(a new engine.Net for `ds`, a note for the page, "" when there is nothing to say).

    net: the running net; reason: the SpecError that says why it does not fit; was_fresh: the
    running net is an untrained default (nothing of the user's is replaced)."""
    n, shape = len(ds.classes), [int(s) for s in ds.train_x.shape[1:]]
    try:
        layers = engine.fit_spec(net.spec(), n, shape)
        what = "a fresh net of the same layers"
    except engine.SpecError:
        layers = engine.fit_spec(engine.get_preset(DEFAULT_PRESET), n, shape)
        what = "a fresh %s net" % DEFAULT_PRESET
    new = engine.Net(engine.to_json(layers), backend=hyper["backend"], seed=hyper["seed"])
    if was_fresh and what.startswith("a fresh net"):
        return new, ""
    return new, "%s; training %s sized to the data (%d classes, %s images)" % (
        reason,
        what,
        n,
        "x".join(map(str, shape)),
    )
