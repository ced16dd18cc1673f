"""Writing files so that a crash, a power loss or a full disk never leaves a half-written file in
place of a good one.

Every file vaekit writes (models, configs, metrics, pictures, downloads) goes through `atomic_path`:
the content is written to a temporary file in the destination's folder, flushed to the storage device
(`fsync`), and only then renamed over the destination; the folder is flushed after the rename, so the
new name survives a power loss too. Rename within a folder is atomic on POSIX and Windows.

A write that fails for lack of space or on read-only storage raises `StorageError` (one line: what
could not be written, and the space left); the temporary file is removed and the destination keeps
its previous content.
"""

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from vaekit.errors import StorageError

FSYNC = (
    True  # flush every write to the device before it takes its final name (benchmarks turn it off)
)
STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG}


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside `path`; on success make it durable and rename it to `path`, on
    error delete it.

    Args:
        path: the destination file.
        suffix: the temporary file's suffix (default: the destination's, since some writers,
            like `keras.Model.save`, choose the format from it).

    Raises:
        StorageError: the storage is full or read-only (the destination is left as it was).

    Example:
    >>> with atomic_path("runs/x/model.keras") as tmp:
    ...     model.save(tmp)
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent
        )
    except OSError as exc:
        raise _storage_error(exc, path) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file gets 0666 - umask
        if FSYNC:
            _fsync(tmp)
        os.replace(tmp, path)
        if FSYNC:
            _fsync(path.parent, directory=True)
    except OSError as exc:
        raise _storage_error(exc, path) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text):
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def copy(source, path):
    """Copy the file `source` to `path` atomically: a saved model copied instead of saved again
    (an archive of a few MB copies in milliseconds; `keras.Model.save` takes 0.1-0.2 s)."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)


def _fsync(path, directory=False):
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some systems cannot open a folder: the rename itself is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if not (directory and exc.errno in (errno.EINVAL, errno.EBADF)):  # folders unsyncable
            raise
    finally:
        os.close(fd)


def _storage_error(exc, path):
    """`exc` itself, or a one-line `StorageError` when the storage is full or read-only."""
    code = exc.errno
    if code is None and isinstance(exc.__cause__, OSError):  # a writer may wrap its OSError
        code = exc.__cause__.errno
    if code not in STORAGE_ERRNOS:
        return exc
    try:
        free = f"{shutil.disk_usage(path.parent).free / 1e6:.1f} MB free"
    except OSError:
        free = "free space unknown"
    reason = "read-only storage" if code == errno.EROFS else f"{os.strerror(code).lower()}"
    return StorageError(f"Could not write {path}: {reason} ({free}).", errno=code)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
