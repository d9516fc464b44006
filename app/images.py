"""Uploaded images -> the net's input, defensively: anything a browser can send is handled.

decode_upload() refuses, with a message fit for the page (ImageError): empty or oversized
files, files Pillow cannot identify as one of the allowed formats, pictures over MAX_PIXELS
(checked from the header, before any pixel is decoded — decompression bombs included: Pillow's
own limit is set explicitly and its DecompressionBombWarning/Error are turned into ImageError),
and corrupt or truncated data. What is left is centre-cropped to the input's aspect ratio and
resized to the input (e.g. 32x32x3). No Panel here.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Decimal MB, as browsers and file managers count file sizes.
MAX_UPLOAD_BYTES = 100 * 1000 * 1000
MAX_PIXELS = 40_000_000
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")

# Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that, while opening the header.
# Set explicitly: our own check (with the picture's size in the message) refuses anything over
# MAX_PIXELS, and Pillow's (warnings turned into errors below) whatever is over twice that.
PILLOW_LIMIT = 2 * MAX_PIXELS
Image.MAX_IMAGE_PIXELS = PILLOW_LIMIT


class ImageError(ValueError):
    """An upload that cannot be used as an input image; the message says why and what to do."""


def megabytes(n):
    """100_000_000 -> '100 MB' (decimal, as MAX_UPLOAD_BYTES); 1_234_567 -> '1.2 MB'."""
    return "%d MB" % (n // 1_000_000) if n % 1_000_000 == 0 else "%.1f MB" % (n / 1e6)


def decode_upload(data, shape, name="the file"):
    """uint8 (H, W, C) for a net taking (H, W, C) inputs, and a dict describing the original.

    data: the uploaded bytes. Raises ImageError (see the module docstring)."""
    h, w, c = shape
    if not data:
        raise ImageError("%s is empty" % name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            "%s is %s; the limit is %s — use a smaller image"
            % (name, megabytes(len(data)), megabytes(MAX_UPLOAD_BYTES))
        )
    allowed = ", ".join(FORMATS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=FORMATS)
        except UnidentifiedImageError:
            raise ImageError("%s is not an image this app can read (%s)" % (name, allowed)) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageError(
                "%s declares more than %d megapixels and is refused before decoding (the limit is %d; "
                "it may be a decompression bomb): %s" % (name, PILLOW_LIMIT // 1_000_000, MAX_PIXELS // 1_000_000, e)
            ) from None
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageError("%s is corrupt or truncated, or not an image: %s" % (name, e)) from None
        width, height = im.size  # from the header; nothing is decoded yet
        if width < 1 or height < 1:
            raise ImageError("%s declares an empty picture (%dx%d)" % (name, width, height))
        if width * height > MAX_PIXELS:
            raise ImageError(
                "%s is %dx%d = %.1f megapixels; the limit is %d megapixels — scale it down first"
                % (name, width, height, width * height / 1e6, MAX_PIXELS // 1_000_000)
            )
        info = {"width": width, "height": height, "format": im.format, "mode": im.mode}
        try:
            if im.format == "JPEG":
                im.draft("RGB", (w * 4, h * 4))  # decode at a reduced scale: plenty for a 32x32 input
            im.seek(0)
            im.load()
            im = ImageOps.exif_transpose(im)
            im = _flatten(im, c)
            im = ImageOps.fit(im, (w, h), Image.LANCZOS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageError("%s is refused: %s" % (name, e)) from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
            raise ImageError("%s is corrupt or truncated (%s)" % (name, e)) from None
    arr = np.asarray(im, dtype=np.uint8)
    if c == 1:
        arr = arr[..., None]
    return np.ascontiguousarray(arr.reshape(h, w, c)), info


def _flatten(im, channels):
    """RGB (or L for one channel) with any transparency composited onto white."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert("L" if channels == 1 else "RGB")
