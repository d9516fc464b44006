"""Atomic file writes: a file is either its old self or completely the new one, never half.

`write_atomic(path, data)` writes to a temp file in the same folder (a rename is atomic only
within one file system), flushes it to disk (fsync), renames it over `path`, and fsyncs the
folder so that the rename itself survives a power cut. On any error, Ctrl-C included, the
temp file is removed and `path` is left as it was. Snapshots, checkpoints and exports all
write through here. Standard library only (the browser's engine imports it too).
"""

from __future__ import annotations

import os
import tempfile


def _read_umask():
    # os.umask can only be read by setting it: done once, at import, not while threads write
    # files. Where there is none to read (a browser's file system), the usual 022.
    try:
        mask = os.umask(0o022)
        os.umask(mask)
    except (AttributeError, OSError):
        return 0o022
    return mask


_UMASK = _read_umask()


def write_atomic(path, data, mode=None):
    """Write bytes `data` to `path` atomically (see the module docstring); `mode`: the file's
    permissions (0o600 for a secret), else the usual ones under the umask."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, (0o666 & ~_UMASK) if mode is None else mode)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _write_all(f, data):
    """The one place bytes reach the temp file (tests make it fail halfway)."""
    f.write(data)


def _fsync_folder(folder):
    """Make the rename durable; not every platform can open a folder (Windows cannot)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
