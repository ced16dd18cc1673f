"""A run directory: the name of every file in it, how one is claimed, and its one writer at a time.

    RUN/
      config.toml        the resolved config (CONFIG_FILE)
      model.keras        the trained model (MODEL_FILE)
      history.csv        one row per epoch (HISTORY_FILE)
      metrics.json       final figures, timings, backend (METRICS_FILE)
      samples.png        prior samples of the trained model (SAMPLES_FILE; samples.txt for text)
      checkpoints/       the last and best epochs and state.json (CHECKPOINT_DIR, STATE_FILE)
      snapshots/         pictures every N epochs (SNAPSHOT_DIR); tensorboard/ (TENSORBOARD_DIR)
      .vaekit.lock       the writer's lock (LOCK_FILE)

**One writer at a time.** Whatever writes into a run (training, resuming, a picture or an evaluation
written inside it) holds an exclusive advisory lock (`fcntl.flock`) on `.vaekit.lock` while it writes.
The kernel releases the lock when its process ends, however it ends, so a killed run leaves no stale
lock; a second writer is refused at once with the holder's process id and command. Readers take no
lock: every file is replaced by an atomic rename (`vaekit.atomic`), so they never see half a file.

**Claiming a new run** is atomic too: `claim` makes the folder with `mkdir`, which fails when it
exists, and checks an existing folder only once it holds the lock.
"""

import contextlib
import os
from pathlib import Path

from vaekit.errors import VaekitError

try:
    import fcntl
except ImportError:  # not POSIX: runs are not locked (a documented limitation)
    fcntl = None

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.png"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"  # in CHECKPOINT_DIR: the checkpoints' commit point
SNAPSHOT_DIR = "snapshots"
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = ".vaekit.lock"
RUN_MARKERS = (CONFIG_FILE, MODEL_FILE)  # a folder holding either is a vaekit run

_held = {}  # real path of a locked run -> [file descriptor, depth]: re-entrant within a process


def checkpoint_dir(run_dir):
    return Path(run_dir) / CHECKPOINT_DIR


def is_run(folder):
    """Whether `folder` is a vaekit run directory (it holds a config, a model or a writer's lock)."""
    folder = Path(folder)
    return any((folder / name).exists() for name in (*RUN_MARKERS, LOCK_FILE))


def check_new(out_dir, overwrite=False):
    """Refuse a run directory that is a file, or non-empty without `overwrite`; create nothing.

    `overwrite` replaces only vaekit runs (folders holding a config.toml or model.keras): a
    mistyped `--out ~ --overwrite` must not write over a user's own files.
    """
    run_dir = Path(out_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise VaekitError(
            f"Run directory {run_dir} is a file; expected a directory path for --out."
        )
    try:
        entries = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    except OSError as exc:
        raise VaekitError(f"Cannot read run directory {run_dir}: {exc.strerror or exc}.") from None
    entries.discard(LOCK_FILE)  # a lock alone (a run that stopped before writing) is no run yet
    if entries and not overwrite:
        raise VaekitError(
            f"Run directory {run_dir} already exists and is not empty; pass --overwrite to replace "
            f"its files or choose another --out."
        )
    if entries and not entries & set(RUN_MARKERS):
        raise VaekitError(
            f"Refusing to overwrite {run_dir}: it is not a vaekit run directory (no {CONFIG_FILE} or "
            f"{MODEL_FILE}); choose a new or empty --out."
        )
    return run_dir


@contextlib.contextmanager
def claim(out_dir, overwrite=False, command="vaekit train"):
    """Create (or, with `overwrite`, take over) a run directory and hold its lock within the block.

    The folder is made with `mkdir`, which fails if another process made it first; an existing folder
    is checked (`check_new`) only once its lock is held, so two runs can never both claim it.
    """
    run_dir = Path(out_dir)
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    except FileExistsError:
        pass  # checked below, under the lock
    except OSError as exc:
        raise VaekitError(
            f"Cannot create run directory {run_dir}: {exc.strerror or exc}."
        ) from None
    with lock(run_dir, command):
        check_new(run_dir, overwrite)
        yield run_dir


@contextlib.contextmanager
def lock(run_dir, command="vaekit"):
    """Hold the exclusive writer's lock of `run_dir` within the block (re-entrant in one process).

    Raises:
        VaekitError: another process holds it (the message names its process id and command), or
            the folder cannot be written.
    """
    run_dir = Path(run_dir)
    key = os.path.realpath(run_dir)
    if key in _held:
        _held[key][1] += 1
        try:
            yield run_dir
        finally:
            _release(key)
        return
    if fcntl is None:
        yield run_dir
        return
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise VaekitError(
            f"Cannot write to run directory {run_dir}: {exc.strerror or exc}."
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise VaekitError(
            f"Run directory {run_dir} is in use by {holder}; wait for it to finish or choose "
            f"another run directory."
        ) from None
    except OSError as exc:
        os.close(fd)
        raise VaekitError(f"Cannot lock run directory {run_dir}: {exc.strerror or exc}.") from None
    try:  # who holds it, for the message a refused writer prints (best effort: a full disk is fine)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
    except OSError:
        pass
    _held[key] = [fd, 1]
    try:
        yield run_dir
    finally:
        _release(key)


def lock_if_run(folder, command="vaekit"):
    """`lock(folder)` when `folder` is a run directory (an output written inside a run), else a
    no-op: a picture written anywhere else needs no lock."""
    return lock(folder, command) if is_run(folder) else contextlib.nullcontext(folder)


def _release(key):
    entry = _held[key]
    entry[1] -= 1
    if entry[1] == 0:
        del _held[key]
        os.close(entry[0])  # closing the descriptor releases the flock


def _holder(fd):
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, command = text.partition(" ")
    if not pid.isdigit():
        return "another process"
    return f"process {pid} ({command})" if command else f"process {pid}"
