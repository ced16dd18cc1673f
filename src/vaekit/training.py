"""Training: a config in, a run directory out.

A run directory holds everything needed to reproduce, resume or reuse the run: `config.toml` (the
resolved config), `model.keras`, `history.csv` (one row per epoch), `metrics.json` (final validation
and test figures, timings, backend), `samples.png` (a grid decoded from prior draws) and
`checkpoints/` (the last and best epochs, see `vaekit.checkpoints`).
"""

import dataclasses
import importlib.util
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import vaekit
from vaekit import atomic, optimizers
from vaekit import config as config_lib
from vaekit.callbacks import EarlyStop, InterruptGuard, KLWarmup, NaNGuard, Snapshots, cosine_decay
from vaekit.checkpoints import (
    HISTORY_FILE,
    RunCheckpoint,
    checkpoint_dir,
    load_checkpoint,
    read_state,
    start_from,
)
from vaekit.data import load_dataset
from vaekit.data.dataset import sample_binary
from vaekit.engine import fit_fast
from vaekit.errors import TrainingInterrupted, VaekitError
from vaekit.keras_compat import set_seed
from vaekit.model import build_vae
from vaekit.plots import save_image_grid
from vaekit.saving import CONFIG_FILE, MODEL_FILE, load_model

METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.png"
SNAPSHOT_DIR = "snapshots"
TENSORBOARD_DIR = "tensorboard"
EVAL_BATCH_SIZE = 500  # evaluation holds no gradients, so bigger batches only save dispatch time


@dataclass
class TrainResult:
    """What `train` returns: where the run lives, the trained model, and its figures."""

    run_dir: Path
    model: "keras.Model"
    history: dict  # metric name -> list of per-epoch values
    metrics: dict  # the contents of metrics.json


class EpochBatches:
    """Shuffled training batches whose content depends only on (seed, epoch, batch index).

    vaekit owns the data order (Keras' own shuffling differs between backends and lives in global
    random state), so a resumed run sees exactly the batches an uninterrupted one would. With
    `binarize=True`, grey images are re-binarized every epoch: x_bin ~ Bernoulli(x), seeded by
    (seed, epoch, batch) ("dynamic binarization").

    `stream(epoch)` feeds `fit` as a generator: the k-th batch it yields is batch k % len(self) of
    epoch `epoch + k // len(self)`, however far ahead a backend prefetches.

    Args:
        x: Training images `(n, H, W, C)`.
        batch_size: Images per batch; the last batch of an epoch may be smaller.
        seed: Seed of the orders (and the binarization draws).
        binarize: Re-binarize every epoch.
    """

    def __init__(self, x, batch_size, seed, binarize=False):
        self.x, self.batch_size, self.seed, self.binarize = x, batch_size, seed, binarize

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def order(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def indices(self, epoch):
        """The example indices of each batch of one epoch, in order (sorted within a batch)."""
        order = self.order(epoch)
        size = self.batch_size
        return [np.sort(order[i * size : (i + 1) * size]) for i in range(len(self))]

    def epoch(self, epoch):
        """The batches of one epoch, in order."""
        for index, idx in enumerate(self.indices(epoch)):
            batch = self.x[idx]  # (batch, H, W, C)
            if self.binarize:
                batch = sample_binary(batch, np.random.default_rng([self.seed, epoch, index]))
            yield batch

    def stream(self, epoch=0):
        """`(batch,)` tuples, as `fit` takes them: epoch `epoch`, then the next, forever."""
        while True:
            for batch in self.epoch(epoch):
                yield (batch,)
            epoch += 1


def binarize_once(x, seed):
    """One fixed Bernoulli draw of grey images (how validation and test are scored under dynamic)."""
    return sample_binary(x, np.random.default_rng(seed))


SCORED_SPLIT_SEED_OFFSETS = {"train": 0, "val": 1, "test": 2}


def scored_split(x, split, seed):
    """A split as a dynamically binarized run scores it: one fixed draw, seeded per split."""
    return binarize_once(x, seed + SCORED_SPLIT_SEED_OFFSETS[split])


def check_run_dir(out_dir, overwrite=False):
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
    if entries and not overwrite:
        raise VaekitError(
            f"Run directory {run_dir} already exists and is not empty; pass --overwrite to replace "
            f"its files or choose another --out."
        )
    if entries and not entries & {CONFIG_FILE, MODEL_FILE}:
        raise VaekitError(
            f"Refusing to overwrite {run_dir}: it is not a vaekit run directory (no {CONFIG_FILE} or "
            f"{MODEL_FILE}); choose a new or empty --out."
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


def train(config=None, out_dir="runs/latest", *, overwrite=False, verbose="auto", callbacks=()):
    """Train a VAE as `config` says and write a run directory.

    Args:
        config: A `RunConfig` (default: the seed model on the `shapes` data).
        out_dir: The run directory to write; must be new or empty unless `overwrite`.
        overwrite: Allow replacing an earlier vaekit run in `out_dir`.
        verbose: Keras `fit` verbosity.
        callbacks: Extra Keras callbacks.

    Returns:
        A `TrainResult`.

    Raises:
        TrainingInterrupted: Ctrl-C stopped the run; its checkpoints let `resume` continue it.
        VaekitError: bad options or data, or the loss diverged (no model is saved then).
    """
    config = (config or config_lib.RunConfig()).validate()
    run_dir = check_run_dir(out_dir, overwrite)
    needs = ("tensorflow", "tensorboard")
    if config.train.tensorboard and None in map(importlib.util.find_spec, needs):
        raise VaekitError(
            "TensorBoard logs need TensorFlow and TensorBoard: pip install 'vaekit[tensorboard]'."
        )
    trained = None
    if config.train.init_from:  # checked before the data load (perhaps a download)
        source = os.path.abspath(config.train.init_from)  # the run records where it started
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, init_from=source)
        )
        trained = load_model(source)
    data = _load_data(config)
    set_seed(config.train.seed)
    model = build_vae(data.shape, config.model, seed=config.train.seed)
    if trained is not None:
        start_from(model, trained, config.train.init_from)
        del trained
    create_run_dir(run_dir)  # only now: bad data or options leave no empty run behind
    shutil.rmtree(checkpoint_dir(run_dir), ignore_errors=True)  # an overwritten run's checkpoints
    model.compile(
        optimizer=optimizers.get(config.train.optimizer, config.train.learning_rate),
        # The fast engine compiles its own multi-step loop; plain fit takes Keras' option.
        steps_per_execution=config.train.steps_per_execution
        if config.train.engine == "keras"
        else 1,
    )
    atomic.write_text(run_dir / CONFIG_FILE, config_lib.to_toml(config))
    return _fit(model, data, config, run_dir, None, verbose, callbacks)


def resume(run_dir, *, epochs=None, verbose="auto", callbacks=()):
    """Continue a run from its last checkpoint, exactly where it stopped.

    Weights, optimizer state, completed epochs, data order and the sampler's random state come back,
    so the resumed run ends where an uninterrupted one would have.

    Args:
        run_dir: A run directory written by `train`.
        epochs: A new total number of epochs (default: the run's own).
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise VaekitError(
            f"Cannot resume {run_dir}: it has no {CONFIG_FILE}; expected a vaekit run directory."
        )
    config = config_lib.load(run_dir / CONFIG_FILE)
    state = read_state(run_dir)
    if state is None:
        raise VaekitError(
            f"Cannot resume {run_dir}: no checkpoint yet (it stopped before its first epoch ended); "
            f"start it again with --overwrite."
        )
    if epochs is not None:
        config.train = config_lib.update_section(config.train, "train", {"epochs": epochs})
        config.validate()
        atomic.write_text(run_dir / CONFIG_FILE, config_lib.to_toml(config))
    if state["epochs_done"] >= config.train.epochs:
        raise VaekitError(
            f"Run {run_dir} has already trained {state['epochs_done']} of {config.train.epochs} "
            f"epochs; pass a larger --epochs to train on."
        )
    data = _load_data(config)
    model = load_checkpoint(run_dir, state)
    return _fit(model, data, config, run_dir, state, verbose, callbacks)


def _load_data(config):
    return load_dataset(
        config.data.dataset,
        val_fraction=config.data.val_fraction,
        binarize=config.data.binarize,
        limit=config.data.limit,
        seed=config.train.seed,
    )


def _fit(model, data, config, run_dir, state, verbose, callbacks):
    """Fit from `state` (None: from scratch) to `config.train.epochs`, then write the run's files."""
    tc = config.train
    dynamic = config.data.binarize == "dynamic"
    x_val, x_test = data.x_val, data.x_test
    if dynamic:  # scored on one fixed draw, so validation losses compare across epochs
        x_val, x_test = scored_split(x_val, "val", tc.seed), scored_split(x_test, "test", tc.seed)
    initial_epoch = state["epochs_done"] if state else 0
    batches = EpochBatches(data.x_train, tc.batch_size, tc.seed, binarize=dynamic)
    checkpoint = RunCheckpoint(run_dir, run_dir / HISTORY_FILE, state)
    nan_guard = NaNGuard()
    extra = []
    if tc.tensorboard:  # scalars; snapshot images go beside them
        extra.append(
            keras.callbacks.TensorBoard(log_dir=str(run_dir / TENSORBOARD_DIR), write_graph=False)
        )
    snapshots = None
    if tc.snapshot_every:
        tb_images = run_dir / TENSORBOARD_DIR / "snapshots" if tc.tensorboard else None
        snapshots = Snapshots(
            run_dir / SNAPSHOT_DIR,
            x_val[:10],
            every=tc.snapshot_every,
            seed=tc.seed,
            tensorboard_dir=tb_images,
        )
        extra.append(snapshots)
    schedule = []
    if tc.kl_warmup_epochs:
        schedule.append(KLWarmup(tc.kl_warmup_epochs))
    if tc.learning_rate_schedule == "cosine":
        schedule.append(
            keras.callbacks.LearningRateScheduler(
                cosine_decay(tc.learning_rate, tc.epochs), verbose=0
            )
        )
    stopper = EarlyStop(checkpoint, tc.patience) if tc.patience else None
    interrupt = InterruptGuard()
    run_callbacks = [*schedule, nan_guard, checkpoint, *([stopper] if stopper else [])]
    run_callbacks += [interrupt, *extra, *callbacks]
    start = time.perf_counter()
    with interrupt:
        if tc.engine == "fast":
            fit_fast(
                model,
                batches,
                epochs=tc.epochs,
                initial_epoch=initial_epoch,
                validation_data=(x_val,),
                callbacks=run_callbacks,
                verbose=verbose,
                steps_per_call=tc.steps_per_call,
            )
        else:
            model.fit(
                batches.stream(initial_epoch),
                steps_per_epoch=len(batches),
                shuffle=False,  # the stream is shuffled already, reproducibly
                epochs=tc.epochs,
                initial_epoch=initial_epoch,
                validation_data=(x_val,),
                callbacks=run_callbacks,
                verbose=verbose,
            )
    train_seconds = time.perf_counter() - start
    if nan_guard.epoch is not None:
        raise VaekitError(nan_guard.message(tc.learning_rate))
    if interrupt.interrupted:
        done = checkpoint.state["epochs_done"]
        raise TrainingInterrupted(
            f"Interrupted; the run is checkpointed at the end of epoch {done} of {tc.epochs}. "
            f"Resume with: vaekit train --resume {run_dir}"
        )
    # The run's model is a checkpoint already on disk, copied rather than saved again: the last
    # epoch's, or with early stopping the best epoch's (by validation loss).
    kept = "best" if stopper is not None else "last"
    if checkpoint.state[kept] != checkpoint.state["last"]:
        model.set_weights(load_checkpoint(run_dir, checkpoint.state, kept).get_weights())
    atomic.copy(checkpoint_dir(run_dir) / checkpoint.state[kept], run_dir / MODEL_FILE)

    metrics = {
        "dataset": data.name,
        "shape": list(data.shape),
        "n": {"train": len(data.x_train), "val": len(x_val), "test": len(x_test)},
        "epochs": tc.epochs,
        "train_seconds": round(train_seconds, 3),
        "resumed_from_epoch": initial_epoch or None,
        "best_epoch": checkpoint.state["best_epoch"],
        "stopped_early_at_epoch": stopper.stopped_epoch if stopper else None,
        "engine": tc.engine,
        "snapshot_seconds": round(snapshots.seconds, 3) if snapshots else None,
        "snapshot_seconds_each": [round(t, 4) for t in snapshots.times] if snapshots else None,
        "backend": keras.backend.backend(),
        "vaekit_version": vaekit.__version__,
    }
    for split, x in (("val", x_val), ("test", x_test)):
        if len(x):
            scores = model.evaluate(x, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
            metrics[split] = {k: float(v) for k, v in scores.items()}
    atomic.write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    save_image_grid(model.sample(100, seed=tc.seed), run_dir / SAMPLES_FILE, ncols=10)
    return TrainResult(run_dir, model, checkpoint.state["history"], metrics)
