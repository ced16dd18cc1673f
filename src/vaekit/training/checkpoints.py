"""Checkpoints that survive crashes, and what is needed to resume a run exactly.

A run directory keeps, under `checkpoints/`:

- `epoch-NNNN.keras`: the model after the last completed epoch, with its optimizer state;
- `best-NNNN.keras`: the model of the epoch with the lowest validation loss so far;
- `state.json`: the commit point. It names those two files and holds the completed epoch count, the
  best validation loss, the sampling layers' random states (Keras saves none) and the history so far.

Every file is written under a new name first (`vaekit.atomic`), and `state.json` is replaced last,
so whatever instant a crash (or SIGKILL) strikes, `state.json` names complete files that describe
one and the same epoch. Files it no longer names are removed only after it has been replaced.
"""

import json
import math
import time
from pathlib import Path

import keras
import numpy as np

from vaekit import atomic
from vaekit.errors import VaekitError
from vaekit.models.saving import load_model, save_model
from vaekit.run_dir import STATE_FILE, checkpoint_dir
from vaekit.training.history import write_history_csv

STATE_VERSION = 1
# The history's wall seconds of each epoch, training and validation (not the checkpoint writes):
# a run trained in parts, with `--resume`, still adds up to its training time.
EPOCH_SECONDS = "epoch_seconds"


def read_state(run_dir):
    """The checkpoint state of a run, or None when it has none; VaekitError when it is unreadable."""
    path = checkpoint_dir(run_dir) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VaekitError(f"Cannot read checkpoint state {path}: {exc}.") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise VaekitError(f"Checkpoint state {path} is not one vaekit {STATE_VERSION} wrote.")
    history = state.get("history")
    if isinstance(history, dict):  # null marks an epoch without a value (see _state_json)
        for values in history.values():
            if isinstance(values, list):
                values[:] = [math.nan if v is None else v for v in values]
    return state


def _state_json(state):
    """`state` as strict JSON: an epoch without a value (NaN in memory) is written as null, so any
    JSON reader can read the file (Python's json alone accepts NaN)."""
    history = {
        k: [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        for k, values in state["history"].items()
    }
    return json.dumps(dict(state, history=history), indent=1, allow_nan=False) + "\n"


def sampler_state(model):
    """The sampling layers' random states, as JSON-able lists (one per layer of `model.samplers`)."""
    return [
        np.asarray(keras.ops.convert_to_numpy(s.seed_generator.state)).tolist()
        for s in model.samplers
    ]


def restore_sampler_state(model, values):
    if values and not isinstance(values[0], list):  # an older checkpoint: the first sampler's only
        values = [values]
    # (an older hierarchical checkpoint has no z1 state: that sampler starts afresh, as it did then)
    for sampler, value in zip(model.samplers, values, strict=False):
        variable = sampler.seed_generator.state
        variable.assign(np.asarray(value, dtype=keras.backend.standardize_dtype(variable.dtype)))


def load_checkpoint(run_dir, state, which="last"):
    """The model of the `which` ("last" or "best") checkpoint, compiled, with its random state."""
    model = load_model(checkpoint_dir(run_dir) / state[which], compile=True)
    restore_sampler_state(model, state["sampler_state"])
    return model


class RunCheckpoint(keras.callbacks.Callback):
    """Saves the last and the best model after every epoch, crash-safely; keeps history.csv.

    Args:
        run_dir: The run directory.
        history_file: Where the per-epoch history is written as CSV (rewritten from the state).
        state: The state to continue from when resuming (None for a new run).
    """

    def __init__(self, run_dir, history_file, state=None):
        super().__init__()
        self.folder = checkpoint_dir(run_dir)
        self.history_file = Path(history_file)
        self.state = state or {
            "version": STATE_VERSION,
            "epochs_done": 0,
            "last": None,
            "best": None,
            "best_epoch": None,
            "best_val_loss": None,
            "sampler_state": None,
            "history": {},
        }

    def on_epoch_begin(self, epoch, logs=None):
        self._steps_done = 0
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._steps_done = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not all(math.isfinite(v) for v in logs.values()):
            return  # a diverged epoch never replaces a good checkpoint (NaNGuard reports it)
        steps = (self.params or {}).get("steps") or 0
        if getattr(self, "_steps_done", steps) < steps:
            return  # stopped mid-epoch (Ctrl-C): the last checkpoint stays the last whole epoch
        start = getattr(self, "_epoch_start", math.nan)
        logs[EPOCH_SECONDS] = time.perf_counter() - start
        self.folder.mkdir(parents=True, exist_ok=True)
        old = {self.state["last"], self.state["best"]}
        state = dict(self.state, history={k: list(v) for k, v in self.state["history"].items()})
        done = self.state["epochs_done"]
        for key, value in logs.items():
            # A key the run's earlier epochs lack (a run begun by an older vaekit has no
            # epoch_seconds) gets NaN for them, so every column has one value per epoch.
            state["history"].setdefault(key, [math.nan] * done).append(value)
        state["epochs_done"] = epoch + 1
        state["last"] = f"epoch-{epoch + 1:04d}.keras"
        save_model(self.model, self.folder / state["last"])
        val_loss = logs.get("val_loss", logs.get("loss"))
        if state["best_val_loss"] is None or val_loss < state["best_val_loss"]:
            state["best"] = f"best-{epoch + 1:04d}.keras"
            state["best_epoch"], state["best_val_loss"] = epoch + 1, val_loss
            atomic.copy(self.folder / state["last"], self.folder / state["best"])  # one model
        state["sampler_state"] = sampler_state(self.model)
        atomic.write_text(self.folder / STATE_FILE, _state_json(state))  # commit
        self.state = state
        write_history_csv(self.history_file, state["history"])
        for name in old - {state["last"], state["best"], None}:
            (self.folder / name).unlink(missing_ok=True)
