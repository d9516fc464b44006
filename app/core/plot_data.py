"""The dashboard's pictures as plain data: the arrays and dicts its Bokeh sources hold.

Pure NumPy (no Bokeh, no Panel, no runner): the server's figures (app/plots.py) and the static
site's worker (static/cp_worker.py) both fill their sources from these functions, so the two
front ends show the same pixels. Colours are computed here, in Python, so a browser needs no
colour mapping. Activations and filters are grey (the first conv layer's filters in colour),
scaled to the layer's min..max; gradients are blue-white-red around zero.

- network:     network_data(probe layers, image) -> (images rows, captions rows, width, height):
               every layer's activation maps (H, W, C), their gradients and the conv filters
               (F, C, K, K), as image_rgba mosaics placed in one figure (app/plots.network_figure).
- predictions: prediction_data(items, classes) -> (images rows, bars rows) for
               app/plots.prediction_figure; item `id` goes to slot id % slots.
- image:       image_data(picture) -> one row for app/plots.image_source.
"""

from __future__ import annotations

import numpy as np

GREEN, RED, BLUE = "#3c9d4e", "#c9453b", "#4a78b5"  # a prediction's bar: right, wrong, no label
SLOT_W, SLOT_H, IMG = 230, 64, 56  # one prediction: a 56px image and three bars, in screen pixels
BAR_X, BAR_W, BAR_H = 64, 160, 15


def to_rgba(img):
    """uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA -> (H, W) uint32 for image_rgba, flipped
    so that row 0 of the picture is at the top (Bokeh draws row 0 at the bottom)."""
    img = np.asarray(img, dtype=np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 3:
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(img[::-1]).view(np.uint32).reshape(img.shape[:2])


def scale_grey(a, lo=None, hi=None):
    """Floats -> uint8 0..255 between lo and hi (default: the array's min and max)."""
    a = np.asarray(a, dtype=np.float32)
    lo = float(a.min()) if lo is None else lo
    hi = float(a.max()) if hi is None else hi
    span = hi - lo if hi > lo else 1.0
    return np.clip((a - lo) * (255.0 / span), 0, 255).astype(np.uint8)


def diverging(a, m=None):
    """Signed floats -> RGB uint8: blue below zero, white at zero, red above (|a| up to m)."""
    a = np.asarray(a, dtype=np.float32)
    m = float(np.abs(a).max()) if m is None else m
    t = np.clip(a / (m if m > 0 else 1.0), -1, 1)[..., None]  # (..., 1)
    white = np.array([255, 255, 255], np.float32)
    red, blue = np.array([200, 40, 40], np.float32), np.array([40, 80, 200], np.float32)
    out = np.where(t >= 0, white + t * (red - white), white - t * (blue - white))
    return out.astype(np.uint8)


def mosaic(tiles, cols, gap=1):
    """Tiles (K, h, w, 3) uint8 -> one RGBA (rows*(h+gap)-gap, cols*(w+gap)-gap, 4) picture,
    transparent between tiles, row-major from the top left."""
    k, h, w = tiles.shape[:3]
    cols = max(1, min(cols, k))
    rows = -(-k // cols)
    out = np.zeros((rows * (h + gap) - gap, cols * (w + gap) - gap, 4), np.uint8)
    for i in range(k):
        r, c = divmod(i, cols)
        y, x = r * (h + gap), c * (w + gap)
        out[y : y + h, x : x + w, :3] = tiles[i]
        out[y : y + h, x : x + w, 3] = 255
    return out


def tile_scale(size, target=56, most=16):
    """Screen pixels per image pixel so a tile of `size` pixels shows about `target` pixels wide."""
    return int(max(1, min(most, round(target / max(1, size)))))


def layer_picture(kind, array, max_width=290):
    """One layer's picture as RGBA uint8 (h, w, 4) and the screen pixels per image pixel.

    kind "act": activations (H, W, C) as C grey maps scaled to the layer's min..max; "image": a
    uint8 (H, W, 3) picture as it is; "grad": activation gradients (H, W, C), blue-white-red
    around zero; "filters": conv weights (F, C, K, K) — three input channels as F colour tiles,
    else a grid of F rows by C grey tiles; "dfilters": their gradients (colour tiles scaled like
    the filters, grey tiles blue-white-red).
    """
    a = np.asarray(array, dtype=np.float32)
    if not np.isfinite(a).all():  # a net on its way to diverging: draw what is finite
        a = np.where(np.isfinite(a), a, np.float32(0))
    if kind in ("act", "grad", "image"):
        h, w, c = a.shape
        if kind == "image":
            tiles = a.astype(np.uint8)[None]  # (1, H, W, 3)
        elif kind == "act":
            tiles = np.repeat(scale_grey(a).transpose(2, 0, 1)[..., None], 3, axis=3)  # (C, H, W, 3)
        else:
            tiles = diverging(a.transpose(2, 0, 1))  # (C, H, W, 3)
        scale = tile_scale(max(h, w), target=48 if kind != "image" else 96)
        cols = max(1, int((max_width // scale + 1) // (w + 1)))
    else:
        f, c, k, _ = a.shape
        colour = c == 3
        if kind == "filters" and colour:
            tiles = scale_grey(a.transpose(0, 2, 3, 1))  # (F, K, K, 3): one colour tile per filter
        elif kind == "filters":
            tiles = np.repeat(scale_grey(a.reshape(f * c, k, k))[..., None], 3, axis=3)  # (F*C, K, K, 3)
        elif colour:  # as ConvNetJS draws them: scaled like the filters
            tiles = scale_grey(a.transpose(0, 2, 3, 1))  # (F, K, K, 3)
        else:
            tiles = diverging(a.reshape(f * c, k, k))  # (F*C, K, K, 3)
        scale = tile_scale(k, target=36 if colour else 11)
        cols = max(1, int((max_width // scale + 1) // (k + 1))) if colour else c
    return mosaic(tiles, cols), scale


def network_data(layers, image=None, col_width=300):
    """The network visualisation of one probe (probe.probe()'s "layers"; `image` the example).

    One row per layer: a caption, then activations | activation gradients | filters and filter
    gradients (conv layers). Returns (images rows, captions rows, width, height) in screen
    pixels for network_figure(): images has image, x, y, dw, dh, layer, kind; captions has
    x, y, name, stats.
    """
    head, gap = 24, 18
    im = {"image": [], "x": [], "y": [], "dw": [], "dh": [], "layer": [], "kind": []}
    cap = {"x": [], "y": [], "name": [], "stats": []}
    placed, top, width = [], 28, 0  # the first 28 px hold the column titles
    for row in layers:
        pics = []
        if row["type"] == "input" and row["act"].shape[-1] == 3 and image is not None:
            pics.append(("activations", 0) + layer_picture("image", image))
        else:
            pics.append(("activations", 0) + layer_picture("act", row["act"]))
        pics.append(("activation gradients", col_width + 10) + layer_picture("grad", row["grad"]))
        if row.get("weight") is not None:
            x0 = 2 * col_width + 20
            wpic, ws = layer_picture("filters", row["weight"], max_width=190)
            pics.append(("filters", x0, wpic, ws))
            dw = row["dweight"] if row.get("dweight") is not None else np.zeros_like(row["weight"])
            pics.append(
                ("filter gradients", x0 + wpic.shape[1] * ws + 12) + layer_picture("dfilters", dw, max_width=190)
            )
        tall = max(p.shape[0] * s for _, _, p, s in pics)
        stats = "activations %.3g … %.3g   gradients %.3g … %.3g" % (
            row["act_min"],
            row["act_max"],
            row["grad_min"],
            row["grad_max"],
        )
        if "w_min" in row:
            stats += "   weights %.3g … %.3g" % (row["w_min"], row["w_max"])
        if row.get("channels", 0) > row["act"].shape[-1]:
            stats += "   (first %d of %d channels)" % (row["act"].shape[-1], row["channels"])
        cap["name"].append("%s  %s" % (row["name"], row["shape_text"]))
        cap["stats"].append(stats)
        cap["x"].append(0)
        placed.append((top, head, pics, row["name"]))
        top += head + tall + gap
        width = max([width] + [x + p.shape[1] * s for _, x, p, s in pics])
    height = top
    for t, h, pics, name in placed:
        cap["y"].append(height - t)
        for kind, x, p, s in pics:
            im["image"].append(to_rgba(p))
            im["x"].append(x)
            im["y"].append(height - t - h - p.shape[0] * s)
            im["dw"].append(p.shape[1] * s)
            im["dh"].append(p.shape[0] * s)
            im["layer"].append(name)
            im["kind"].append(kind)
    return im, cap, int(max(width, 3 * col_width)), int(height)


def image_data(picture):
    """uint8 (H, W, 3|4) or (H, W) picture -> one-row dict for app/plots.image_source()."""
    h, w = picture.shape[:2]
    return {"image": [to_rgba(picture)], "x": [0], "y": [0], "dw": [w], "dh": [h]}


def prediction_data(items, classes, slots=24, cols=3):
    """Prediction dicts (id, index, image uint8 (32, 32, 3), label, top [3 ints], probs [3 floats])
    -> (images rows, bars rows); item `id` goes to slot id % slots, so streaming with rollover
    `slots` (images) and 3 * slots (bars) refills the grid in place."""
    rows = -(-slots // cols)
    im = {"image": [], "x": [], "y": [], "dw": [], "dh": [], "label": [], "index": []}
    br = {"left": [], "right": [], "y": [], "height": [], "color": [], "text": [], "tx": [], "ty": []}
    for p in items:
        r, c = divmod(p["id"] % slots, cols)
        x0, y0 = c * SLOT_W, (rows - 1 - r) * SLOT_H
        im["image"].append(to_rgba(p["image"]))
        im["x"].append(x0 + 2)
        im["y"].append(y0 + 4)
        im["dw"].append(IMG)
        im["dh"].append(IMG)
        im["label"].append(classes[p["label"]] if p.get("label") is not None else "?")
        im["index"].append(p.get("index", -1))
        for j, (k, pr) in enumerate(zip(p["top"], p["probs"])):
            y = y0 + SLOT_H - 14 - j * (BAR_H + 3)
            br["left"].append(x0 + BAR_X)
            br["right"].append(x0 + BAR_X + max(1.0, pr * BAR_W))
            br["y"].append(y)
            br["height"].append(BAR_H)
            right = p.get("label") is not None and k == p["label"]
            br["color"].append(GREEN if right else (RED if p.get("label") is not None else BLUE))
            br["text"].append("%s %.0f%%" % (classes[k], 100 * pr))
            br["tx"].append(x0 + BAR_X + 4)
            br["ty"].append(y)
    return im, br
