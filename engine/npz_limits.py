"""How big an .npz may say it is: its arrays' headers are read, and refused, before any is loaded.

An .npy header declares its array's shape and dtype, and numpy.load allocates that array
before reading its bytes: a forged header of a few hundred bytes (shape (10**12,)) ends in a
MemoryError, or in the machine swapping, long before "truncated file" could be said. So each
member of the zip is opened and only its header read (numpy.lib.format's read_magic and
read_array_header_1_0/2_0), and the file is refused when

- a member declares more bytes than the member holds (what np.savez writes stores the array
  right after its header, so an honest header never does), or
- the members together would unpack to more than `limit` bytes (a zip bomb compresses a
  huge run of zeros into a small file; zipfile trusts, and enforces, each member's declared
  size).

The default limit is what the largest preset's snapshot could need, with every optimizer's
state, in float64: a file we write never comes near it. Errors are SnapshotError.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

from .errors import SnapshotError

_fmt = np.lib.format
_limit = None


def default_limit():
    """Bytes: the largest preset's parameters, times (1 + the most optimizer slots), in float64."""
    global _limit
    if _limit is None:
        from .optim import SLOTS
        from .presets import PRESETS, get_preset
        from .spec import normalize, param_shapes

        most = 0
        for name in PRESETS:
            n = 0
            for layer in normalize(get_preset(name)):
                for shape in param_shapes(layer).values():
                    n += int(np.prod(shape))
            most = max(most, n)
        slots = max(len(s) for s in SLOTS.values())
        _limit = most * (1 + slots) * np.dtype(np.float64).itemsize
    return _limit


def _megabytes(n):
    return "%.1f MB" % (n / 1e6)


def declared_bytes(f):
    """(shape, dtype, bytes) an .npy stream's header declares; ValueError if it is no .npy."""
    version = _fmt.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = _fmt.read_array_header_1_0(f)
    else:  # 2.0 and 3.0 share the layout (3.0's header is UTF-8; ours are ASCII)
        shape, _, dtype = _fmt.read_array_header_2_0(f)
    n = 1
    for s in shape:
        n *= int(s)  # Python ints: a forged shape cannot overflow the product
    return shape, dtype, n * dtype.itemsize


def check_npz(data, limit=None):
    """Refuse an .npz (bytes) whose arrays would not fit what it holds, or `limit` bytes."""
    limit = default_limit() if limit is None else limit
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = 0
            for info in zf.infolist():
                total += info.file_size
                if total > limit:
                    raise SnapshotError(
                        "the snapshot would unpack to more than %s (the largest net's snapshot is "
                        "smaller): refused before loading it" % _megabytes(limit)
                    )
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    shape, dtype, nbytes = declared_bytes(f)
                    header = f.tell()
                if dtype.hasobject:
                    raise SnapshotError("the snapshot's array %s holds Python objects" % info.filename[:-4])
                if nbytes > info.file_size - header:
                    raise SnapshotError(
                        "the snapshot is corrupt: its array %s declares shape %s (%s) but the file "
                        "holds %s of it" % (info.filename[:-4], shape, _megabytes(nbytes), _megabytes(info.file_size))
                    )
    except SnapshotError:
        raise
    except Exception as e:  # zipfile, zlib and numpy's header parser: any of them on a damaged file
        raise SnapshotError("the snapshot file is corrupt or truncated (%s)" % e) from None
