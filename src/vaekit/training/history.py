"""A run's `history.csv`: one row per epoch, rewritten from the checkpoint state after every epoch."""

import csv
from pathlib import Path

from vaekit import atomic
from vaekit.errors import VaekitError
from vaekit.run_dir import HISTORY_FILE


def write_history_csv(path, history):
    """Write {metric: [per-epoch values]} as CSV with an `epoch` column, atomically."""
    keys = sorted(history)
    rows = ["epoch," + ",".join(keys)]
    epochs = max((len(v) for v in history.values()), default=0)
    for i in range(epochs):
        rows.append(",".join([str(i), *(repr(history[k][i]) for k in keys)]))
    atomic.write_text(path, "\n".join(rows) + "\n")


def read_history(run_dir):
    """A run's history.csv as {metric: [per-epoch values]}; VaekitError when there is none."""
    path = Path(run_dir) / HISTORY_FILE
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        history = {
            k: [float(row[k]) for row in rows] for k in (rows[0] if rows else {}) if k != "epoch"
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VaekitError(
            f"Cannot read training history {path}: {exc}; expected a vaekit run directory."
        ) from None
    if not history:
        raise VaekitError(f"Training history {path} has no epochs yet.")
    return history
