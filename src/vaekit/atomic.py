"""Writing files so that a crash never leaves a half-written file in place of a good one.

Every file vaekit writes (models, configs, metrics, pictures, downloads) goes through `atomic_path`:
the content is written to a temporary file in the destination's folder, which is renamed over the
destination only once it is complete. Rename within a folder is atomic on POSIX and Windows.
"""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside `path`; on success rename it to `path`, on error delete it.

    Args:
        path: the destination file.
        suffix: the temporary file's suffix (default: the destination's, since some writers,
            like `keras.Model.save`, choose the format from it).

    Example:
    >>> with atomic_path("runs/x/model.keras") as tmp:
    ...     model.save(tmp)
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(
            tmp, 0o666 & ~_umask()
        )  # mkstemp makes 0600; a new file normally gets 0666 - umask
        os.replace(tmp, path)
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


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
