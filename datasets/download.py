"""Downloading the official CIFAR-10 archive into the cache directory, verified and resumable.

pooch does the bookkeeping: it downloads into a temporary file beside the target, checks the
MD5 and only then moves it into place, so a bad download never sits where a good one should.
Our downloader adds resuming: bytes arrive in `<archive>.part`, which survives an interrupted
transfer; the next attempt asks the server for the rest (HTTP Range) and starts over if the
server cannot do that. The URL and MD5 are parameters so tests can use a local server.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from .core import CACHE_ENV, DATA_ENV, DataError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
TIMEOUT = 60  # seconds without a byte before giving up on a connection


def how_to_fix(cache_dir: Path) -> str:
    """The advice every 'no data' message ends with."""
    return (
        "Put a copy of %s in %s (the cache directory; %s changes it), or pass "
        "--data PATH (or set %s=PATH), where PATH is that archive, its extracted "
        "cifar-10-batches-py/ folder, or an image folder with train/<class>/ and test/<class>/."
        % (ARCHIVE_NAME, cache_dir, CACHE_ENV, DATA_ENV)
    )


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_cifar10(cache_dir: Path, *, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5, progress: bool = True) -> Path:
    """Return `cache_dir/cifar-10-python.tar.gz`, downloading it if absent or failing its MD5.

    Raises DataError when offline, interrupted or corrupt: what happened, and where to put a
    copy instead. A checksum mismatch leaves no file behind; an interruption leaves only the
    `.part` file the next call resumes from.
    """
    import pooch
    import requests

    cache_dir = Path(cache_dir)
    part = cache_dir / (ARCHIVE_NAME + ".part")
    downloader = _ResumingDownloader(part, progress)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        got = pooch.retrieve(
            url,
            known_hash="md5:" + md5,
            fname=ARCHIVE_NAME,
            path=str(cache_dir),
            downloader=downloader,
        )
    except ValueError as e:  # pooch: hash mismatch (its temporary file is already gone)
        _remove(part)
        raise DataError(
            "The file downloaded from %s is corrupt: %s Nothing was kept; run again to retry. %s"
            % (url, e, how_to_fix(cache_dir))
        ) from None
    except requests.exceptions.HTTPError as e:
        raise DataError("Could not download CIFAR-10: %s. %s" % (e, how_to_fix(cache_dir))) from None
    except requests.exceptions.RequestException as e:
        kept = part.stat().st_size if part.exists() else 0
        if downloader.started:
            what = "The download from %s was interrupted (%s); %.1f MB are kept in %s. Run again to resume it." % (
                url,
                e,
                kept / 1e6,
                part,
            )
        else:
            what = "Could not download CIFAR-10 from %s (%s: %s); are you offline?" % (url, type(e).__name__, e)
        raise DataError("%s %s" % (what, how_to_fix(cache_dir))) from None
    except OSError as e:
        raise DataError(
            "Could not save the download in %s (%s). Set %s to a writable directory." % (cache_dir, e, CACHE_ENV)
        ) from None
    return Path(got)


class _ResumingDownloader:
    """A pooch downloader that keeps partial bytes in `part` and resumes with HTTP Range."""

    def __init__(self, part: Path, progress: bool):
        self.part = part
        self.progress = progress
        self.started = False  # did the server answer? (tells "offline" from "interrupted")

    def __call__(self, url, output_file, pooch, check_only=False):
        import requests

        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Range": "bytes=%d-" % have} if have else {}
        with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as r:
            if r.status_code == 416 and have:  # nothing left to send: .part is complete (MD5 will tell)
                os.replace(str(self.part), str(output_file))
                return
            r.raise_for_status()
            self.started = True
            resumed = r.status_code == 206 and r.headers.get("Content-Range", "").startswith("bytes %d-" % have)
            if not resumed:
                have = 0  # the server sent the whole file: start the .part over
            total = have + int(r.headers.get("Content-Length", 0))
            bar = _bar(total, have, self.progress)
            try:
                with open(self.part, "ab" if resumed else "wb") as f:
                    for chunk in r.iter_content(chunk_size=1 << 16):
                        f.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        # Hand the complete file to pooch, which checks the MD5 before moving it into place.
        os.replace(str(self.part), str(output_file))


def _bar(total, initial, progress):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        print("Downloading %.0f MB..." % (total / 1e6), file=sys.stderr)
        return None
    return tqdm(total=total or None, initial=initial, unit="B", unit_scale=True, desc=ARCHIVE_NAME, file=sys.stderr)


def _remove(path: Path):
    try:
        path.unlink()
    except OSError:
        pass
