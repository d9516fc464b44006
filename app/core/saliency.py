"""Saliency: which input pixels the chosen class's score is most sensitive to.

engine.Net.saliency(image, class_index) gives |d score_c / d input|, max over channels, an
(H, W) map. Here: running it on a private copy of the live net (it overwrites the net's
activations), normalising it, and turning it (and the input image) into RGBA arrays for
Bokeh's image_rgba. What does not live here: widgets (app/teaching/live_views.py).
"""

from __future__ import annotations

import numpy as np


def saliency_map(net, image, class_index=None, copy=True):
    """(map (H, W) float, class_index, probs (K,)) for one uint8 image (H, W, C).

    class_index None means the net's top prediction. With copy, the net is copied first so
    that the training thread's activations are left alone.
    """
    net = net.copy() if copy else net
    image = np.asarray(image, dtype=np.uint8)
    probs = net.predict(image)[0]
    if class_index is None:
        class_index = int(probs.argmax())
    if not 0 <= class_index < net.num_classes:
        raise ValueError("class %d is outside 0..%d" % (class_index, net.num_classes - 1))
    return net.saliency(image, class_index), int(class_index), probs


def normalize_map(smap, percentile=99.0):
    """Scale a non-negative map to [0, 1], clipping at a high percentile so that one hot
    pixel does not wash out the rest."""
    smap = np.asarray(smap, dtype=np.float64)
    top = np.percentile(smap, percentile) if smap.size else 0.0
    if not np.isfinite(top) or top <= 0:
        top = smap.max() if smap.size and smap.max() > 0 else 1.0
    return np.clip(smap / top, 0.0, 1.0)


def _pack(rgba):
    """(H, W, 4) uint8 -> (H, W) uint32 view, flipped so that row 0 is drawn at the top
    (Bokeh's image origin is bottom-left)."""
    rgba = np.ascontiguousarray(rgba[::-1], dtype=np.uint8)
    return rgba.view(np.uint32).reshape(rgba.shape[:2])


def heat_rgba(values):
    """Values in [0, 1] (H, W) -> (H, W, 4) uint8 on a black-red-yellow-white ramp."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0, 1)
    r = np.clip(3 * v, 0, 1)
    g = np.clip(3 * v - 1, 0, 1)
    b = np.clip(3 * v - 2, 0, 1)
    out = np.empty(v.shape + (4,), dtype=np.uint8)
    out[..., 0] = np.round(255 * r)
    out[..., 1] = np.round(255 * g)
    out[..., 2] = np.round(255 * b)
    out[..., 3] = 255
    return out


def saliency_rgba(smap, percentile=99.0):
    """A saliency map (H, W) as a (H, W) uint32 RGBA image for Bokeh's image_rgba."""
    return _pack(heat_rgba(normalize_map(smap, percentile)))


def image_rgba(image):
    """A uint8 image (H, W, C) with C = 1 or 3 as a (H, W) uint32 RGBA image for image_rgba."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    alpha = np.full(image.shape[:2] + (1,), 255, dtype=np.uint8)
    return _pack(np.concatenate([image[..., :3], alpha], axis=2))
