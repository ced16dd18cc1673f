"""Training: a config in, a run directory out.

A run directory holds everything needed to reproduce or reuse the run: `config.toml` (the resolved
config), `model.keras`, `history.csv` (one row per epoch), `metrics.json` (final validation and test
figures, timings, backend) and `samples.png` (a grid decoded from prior draws).
"""

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import vaekit
from vaekit import config as config_lib
from vaekit.data import load_dataset
from vaekit.errors import VaekitError
from vaekit.keras_compat import set_seed
from vaekit.model import build_vae
from vaekit.plots import save_image_grid
from vaekit.saving import CONFIG_FILE, MODEL_FILE, save_model

HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.png"
EVAL_BATCH_SIZE = 500  # evaluation holds no gradients, so bigger batches only save dispatch time


@dataclass
class TrainResult:
    """What `train` returns: where the run lives, the trained model, and its figures."""

    run_dir: Path
    model: "keras.Model"
    history: dict  # metric name -> list of per-epoch values
    metrics: dict  # the contents of metrics.json


class DynamicBinarization(keras.utils.PyDataset):
    """Batches of grey images re-binarized every epoch: x_bin ~ Bernoulli(x), shuffled each epoch.

    Draws are seeded by (seed, epoch, batch), so they do not depend on worker scheduling.
    """

    def __init__(self, x, batch_size, seed, **kwargs):
        super().__init__(**kwargs)
        self.x, self.batch_size, self.seed = x, batch_size, seed
        self.epoch = 0
        self._order()

    def _order(self):
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        idx = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.x[np.sort(idx)]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return (rng.random(batch.shape, dtype=np.float32) < batch).astype(np.float32)

    def on_epoch_end(self):
        self.epoch += 1
        self._order()


def binarize_once(x, seed):
    """One fixed Bernoulli draw of grey images (how validation and test are scored under dynamic)."""
    return (np.random.default_rng(seed).random(x.shape, dtype=np.float32) < x).astype(np.float32)


def check_run_dir(out_dir, overwrite=False):
    """Refuse a run directory that is a file, or non-empty without `overwrite`; create nothing."""
    run_dir = Path(out_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise VaekitError(
            f"Run directory {run_dir} is a file; expected a directory path for --out."
        )
    if run_dir.is_dir() and any(run_dir.iterdir()) and not overwrite:
        raise VaekitError(
            f"Run directory {run_dir} already exists and is not empty; pass --overwrite to replace "
            f"its files or choose another --out."
        )
    return run_dir


def create_run_dir(run_dir):
    """Create the run directory and check it is writable."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise VaekitError(
            f"Cannot write to run directory {run_dir}: {exc.strerror or exc}."
        ) from None
    return run_dir


def write_text_atomic(path, text):
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def train(config=None, out_dir="runs/latest", *, overwrite=False, verbose="auto", callbacks=()):
    """Train a VAE as `config` says and write a run directory.

    Args:
        config: A `RunConfig` (default: the seed model on the `shapes` data).
        out_dir: The run directory to write; must be new or empty unless `overwrite`.
        overwrite: Allow writing into a non-empty run directory.
        verbose: Keras `fit` verbosity.
        callbacks: Extra Keras callbacks.

    Returns:
        A `TrainResult`.
    """
    config = (config or config_lib.RunConfig()).validate()
    run_dir = check_run_dir(out_dir, overwrite)
    tc = config.train
    data = load_dataset(
        config.data.dataset,
        val_fraction=config.data.val_fraction,
        binarize=config.data.binarize,
        limit=config.data.limit,
        seed=tc.seed,
    )
    set_seed(tc.seed)
    model = build_vae(data.shape, config.model, seed=tc.seed)
    create_run_dir(run_dir)  # only now: bad data or options leave no empty run behind
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=tc.learning_rate),
        steps_per_execution=tc.steps_per_execution,
    )
    write_text_atomic(run_dir / CONFIG_FILE, config_lib.to_toml(config))

    x_val, x_test = data.x_val, data.x_test
    if config.data.binarize == "dynamic":
        train_data = DynamicBinarization(data.x_train, tc.batch_size, tc.seed)
        x_val, x_test = binarize_once(x_val, tc.seed + 1), binarize_once(x_test, tc.seed + 2)
        fit_kwargs = {}
    else:
        train_data = data.x_train
        fit_kwargs = {"batch_size": tc.batch_size, "shuffle": True}

    start = time.perf_counter()
    history = model.fit(
        train_data,
        epochs=tc.epochs,
        validation_data=(x_val,),
        callbacks=[keras.callbacks.CSVLogger(str(run_dir / HISTORY_FILE)), *callbacks],
        verbose=verbose,
        **fit_kwargs,
    )
    train_seconds = time.perf_counter() - start
    save_model(model, run_dir / MODEL_FILE)

    metrics = {
        "dataset": data.name,
        "shape": list(data.shape),
        "n": {"train": len(data.x_train), "val": len(x_val), "test": len(x_test)},
        "epochs": tc.epochs,
        "train_seconds": round(train_seconds, 3),
        "backend": keras.backend.backend(),
        "vaekit_version": vaekit.__version__,
    }
    for split, x in (("val", x_val), ("test", x_test)):
        if len(x):
            scores = model.evaluate(x, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
            metrics[split] = {k: float(v) for k, v in scores.items()}
    write_text_atomic(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    save_image_grid(model.sample(100, seed=tc.seed), run_dir / SAMPLES_FILE, ncols=10)
    return TrainResult(run_dir, model, dict(history.history), metrics)
