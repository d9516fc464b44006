"""Uploads turned into net inputs, and every kind of bad upload refused with a clear message;
FileDrop (the upload widget) reassembling chunks and refusing what is over its limit."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from app.images import MAX_PIXELS, MAX_UPLOAD_BYTES, ImageError, decode_upload, megabytes
from app.views.dropzone import FileDrop

SHAPE = (32, 32, 3)


def encode(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_claiming(width, height):
    """A tiny valid-looking PNG whose header claims width x height pixels (a decompression bomb's shape)."""
    data = bytearray(encode(Image.new("L", (1, 1))))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_images_become_inputs():
    rgb = Image.new("RGB", (120, 60), (10, 200, 30))
    x, info = decode_upload(encode(rgb, "JPEG"), SHAPE, "photo.jpg")
    assert x.shape == SHAPE and x.dtype == np.uint8 and info["width"] == 120 and info["format"] == "JPEG"
    assert abs(int(x[..., 1].mean()) - 200) < 8
    rgba = Image.new("RGBA", (40, 40), (0, 0, 0, 0))  # fully transparent: composited onto white
    x, _ = decode_upload(encode(rgba), SHAPE)
    assert x.min() == 255
    x, _ = decode_upload(encode(Image.new("L", (33, 33), 77)), (28, 28, 1))
    assert x.shape == (28, 28, 1) and int(x.mean()) == 77
    x, _ = decode_upload(encode(Image.new("P", (9, 9)), "GIF"), SHAPE)
    assert x.shape == SHAPE


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"", "empty"),
        (b"%PDF-1.7 this is not an image", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|not a readable image"),
    ],
)
def test_non_images_are_refused(payload, match):
    with pytest.raises(ImageError, match=match):
        decode_upload(payload, SHAPE, "upload")


def test_a_50_megapixel_image_is_refused_before_decoding():
    big = encode(Image.new("1", (8200, 6100)))  # 50 megapixels, a few kB as a bilevel PNG
    with pytest.raises(ImageError, match=r"8200x6100 = 50\.0 megapixels; the limit is 40"):
        decode_upload(big, SHAPE, "huge.png")


@pytest.mark.parametrize("width, height", [(9000, 5000), (100_000, 100_000)])
def test_decompression_bombs_are_refused(width, height):
    assert width * height > MAX_PIXELS
    with pytest.raises(ImageError, match="megapixel|decompression bomb"):
        decode_upload(png_claiming(width, height), SHAPE, "bomb.png")


def test_corrupt_and_oversized_files():
    jpeg = encode(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(ImageError, match="corrupt or truncated"):
        decode_upload(jpeg[: len(jpeg) // 3], SHAPE, "cut.jpg")
    with pytest.raises(ImageError, match="limit is 100 MB"):
        decode_upload(b"\xff" * (101 * 1024 * 1024), SHAPE, "big.bin")


def test_megabytes_count_as_the_browser_does():
    assert megabytes(MAX_UPLOAD_BYTES) == "100 MB"  # what the drop zone says: "the largest accepted is 100 MB"
    assert megabytes(150_000_000) == "150 MB" and megabytes(1_234_567) == "1.2 MB"


def chunks(widget, name, blob, size):
    """Feed `blob` to the widget as its browser side does: numbered messages of `size` bytes."""
    n = len(blob) // size + 1  # as the zone's script: one more, possibly empty, chunk
    for i in range(n):
        widget._handle_msg({"chunk": i + 1, "total_chunks": n, "name": name, "data": blob[i * size : (i + 1) * size]})


def test_chunked_input_reassembles_uploads():
    w = FileDrop(max_bytes=1000, chunk_bytes=64)
    seen = []
    w.param.watch(lambda e: seen.append((w.filename, e.new)), "value", onlychanged=False)
    blob = bytes(range(256)) * 3
    chunks(w, "a.png", blob, 64)
    chunks(w, "a.png", blob, 100)  # the same file again is a new upload
    assert seen == [("a.png", blob), ("a.png", blob)]
    w._handle_msg("not a chunk")
    w._handle_msg({"chunk": 1, "total_chunks": 1, "name": "b.png", "data": 12})  # not bytes: dropped
    assert w.value == blob and w.filename == "a.png"


def test_chunked_input_drops_what_is_over_the_limit():
    # A client that ignores the browser-side limit: the server stops collecting past max_bytes.
    w = FileDrop(max_bytes=1_000_000, chunk_bytes=100_000)
    assert w.limit == "1 MB"
    refused = []
    w.param.watch(lambda e: refused.append(e.new), "refused", onlychanged=False)
    chunks(w, "big.png", b"\xff" * 1_000_001, 100_000)
    chunks(w, "big.png", b"\xff" * 1_000_001, 100_000)
    assert refused == ["big.png is over 1 MB, the largest file accepted"] * 2  # said again, not once
    assert w.value is None and w._upload is None
    stray = {"chunk": 3, "total_chunks": 3, "name": "x.png", "type": "", "data": b"abc"}
    w._handle_msg(stray)  # no chunk 1: ignored
    assert w.value is None
    chunks(w, "ok.png", b"\x01" * 1_000_000, 100_000)  # exactly the limit is accepted
    assert w.value == b"\x01" * 1_000_000 and w.filename == "ok.png"
