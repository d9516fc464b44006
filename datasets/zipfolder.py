"""Unpacking a user's .zip of an image folder, safely: `extract_image_zip(data, dest)`.

The app lets a page upload a .zip of `train/<class>/...` (and optionally `test/<class>/...`);
the zip comes from a browser, so nothing in it is trusted. Everything is checked from the
zip's directory before a byte is written, and again while writing:
- the upload's size (MAX_ZIP_BYTES) and its member count (MAX_MEMBERS);
- every member's name: no absolute path, no drive letter, no `..`, no backslash tricks, no
  symbolic link (a zip can carry one, and a later member could write through it);
- a zip bomb: the declared total (MAX_TOTAL_BYTES) and each member's compression ratio
  (MAX_RATIO, for members above RATIO_FLOOR bytes), and, since declared sizes can lie, the
  bytes actually inflated are counted and the member refused past its declared size;
- members that are not .png/.jpg/.jpeg images (a README, `__MACOSX/` resource forks,
  `.DS_Store`) are skipped and counted.
The folder may sit at the zip's top (`train/...`) or inside one top folder (`birds/train/...`).
Whether the result is a usable image folder (two classes at least, none empty) is folder.py's
to say (scan()); this module only unpacks. Any refusal is a DataError that says what and why.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .core import DataError
from .folder import IMAGE_SUFFIXES

MAX_ZIP_BYTES = 200 * 1024 * 1024  # the upload itself
MAX_MEMBERS = 50_000  # files and folders listed in it
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # declared uncompressed total
MAX_RATIO = 200  # uncompressed / compressed, per member; PNG and JPEG barely compress
RATIO_FLOOR = 1024 * 1024  # tiny members may compress well (a flat PNG): only judge large ones
_CHUNK = 1 << 16


def extract_image_zip(data, dest):
    """Unpack the image members of a zip (bytes or a path) under `dest` (created).

    Returns (root, skipped): the folder holding train/ (dest: a top folder is dropped) and the
    number of members skipped as not images. DataError for anything refused (see above)."""
    size = len(data) if isinstance(data, (bytes, bytearray)) else os.path.getsize(data)
    if size > MAX_ZIP_BYTES:
        raise DataError(
            "the zip is %s; the limit is %s — upload fewer or smaller images" % (_mb(size), _mb(MAX_ZIP_BYTES))
        )
    try:
        z = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError("not a readable .zip file (%s)" % e) from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_MEMBERS:
            raise DataError("the zip lists %d files; the limit is %d" % (len(infos), MAX_MEMBERS))
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            raise DataError(
                "the zip would unpack to %s; the limit is %s (a zip bomb?)" % (_mb(total), _mb(MAX_TOTAL_BYTES))
            )
        parts = [_safe_parts(i) for i in infos]
        for info in infos:
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise DataError(
                    "%s: compressed %d times (a zip bomb?); images barely compress — refused"
                    % (info.filename, info.file_size // max(info.compress_size, 1))
                )
        prefix = _folder_prefix(parts)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        skipped = 0
        for info, p in zip(infos, parts):
            if p[: len(prefix)] != prefix or len(p) <= len(prefix):
                skipped += 0 if info.is_dir() else 1
                continue
            rel = p[len(prefix) :]
            if rel[0] not in ("train", "test") or any(s.startswith(".") or s == "__MACOSX" for s in rel):
                skipped += 0 if info.is_dir() else 1
                continue
            target = dest.joinpath(*rel)
            if info.is_dir():
                if len(rel) == 2:  # a class folder, kept even when empty: scan() then names it
                    target.mkdir(parents=True, exist_ok=True)
                continue
            if len(rel) != 3 or not rel[-1].lower().endswith(IMAGE_SUFFIXES):
                skipped += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                _copy_member(z, info, target)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
                raise DataError("%s: cannot be unpacked (%s) — the zip is damaged" % (info.filename, e)) from None
    root = dest  # members were written without the top folder
    if not (root / "train").is_dir():
        raise DataError(
            "the zip holds no train/<class>/ folders of .png/.jpg/.jpeg images (skipped %d other "
            "files); zip the folder that holds train/ (and test/, if any)" % skipped
        )
    return root, skipped


def _safe_parts(info):
    """The member's path as a tuple of names; DataError for anything that could escape dest."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DataError("%s: the zip holds a symbolic link; links are refused — zip the files themselves" % name)
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\x00" in name:
        raise DataError("%s: an absolute or malformed path in the zip — refused" % name)
    p = PurePosixPath(name)
    if any(s == ".." for s in p.parts):
        raise DataError("%s: a path leading out of the folder (..) in the zip — refused" % name)
    return tuple(s for s in p.parts if s not in ("", "."))


def _folder_prefix(parts):
    """() when train/ sits at the top, (top,) when it sits inside one top folder."""
    tops = {p[0] for p in parts if p and p[0] not in ("__MACOSX",) and not p[0].startswith(".")}
    if "train" in tops:
        return ()
    nested = {p[0] for p in parts if len(p) > 1 and p[1] == "train"}
    return (sorted(nested)[0],) if len(nested) == 1 else ()


def _copy_member(z, info, target):
    """Inflate one member, refusing it past its declared size (declared sizes can lie)."""
    written = 0
    with z.open(info) as src, open(target, "wb") as out:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > info.file_size:
                raise DataError("%s: inflates beyond its declared size (a zip bomb?) — refused" % info.filename)
            out.write(chunk)


def _mb(n):
    return "%.0f MB" % (n / 1e6) if n >= 1e6 else "%.1f MB" % (n / 1e6)
