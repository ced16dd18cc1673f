"""Training: a config in, a run directory out.

A run directory holds everything needed to reproduce, resume or reuse the run: `config.toml` (the
resolved config), `model.keras`, `history.csv` (one row per epoch), `metrics.json` (final validation
and test figures, timings, backend), `samples.png` (a grid decoded from prior draws) and
`checkpoints/` (the last and best epochs, see `vaekit.training.checkpoints`).
"""

import contextlib
import dataclasses
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras

import vaekit
from vaekit import atomic
from vaekit import config as config_lib
from vaekit import run_dir as run_files
from vaekit.backends import distribution as distribution_lib
from vaekit.backends.fast_loop import fit_fast
from vaekit.backends.keras_compat import set_seed
from vaekit.data import load_configured
from vaekit.data.order import EpochBatches, scored_split
from vaekit.errors import StorageError, TrainingInterrupted, VaekitError
from vaekit.models.build import build_vae
from vaekit.models.saving import load_model
from vaekit.pictures.generation import prior_rows
from vaekit.pictures.outputs import SAMPLE_SUFFIXES, write_samples
from vaekit.progress import fit_verbosity
from vaekit.run_dir import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SAMPLES_FILE,
    SNAPSHOT_DIR,
    TENSORBOARD_DIR,
    checkpoint_dir,
)
from vaekit.training import optimizers
from vaekit.training.callbacks import (
    EarlyStop,
    InterruptGuard,
    KLCycles,
    KLWarmup,
    NaNGuard,
    Snapshots,
    cosine_decay,
)
from vaekit.training.checkpoints import RunCheckpoint, load_checkpoint, read_state
from vaekit.training.init_from import start_from

EVAL_BATCH_SIZE = 500  # evaluation holds no gradients, so bigger batches only save dispatch time


@dataclass
class TrainResult:
    """What `train` returns: where the run lives, the trained model, and its figures."""

    run_dir: Path
    model: "keras.Model"
    history: dict  # metric name -> list of per-epoch values
    metrics: dict  # the contents of metrics.json


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
    run_files.check_new(out_dir, overwrite)  # early, before a data load; again once claimed
    distribution = distribution_lib.data_parallel(config.train)  # None unless data_parallel
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
    if config.train.snapshot_every and data.kind != "images":
        raise VaekitError(
            f"Snapshots are pictures: expected image data with --snapshot-every. "
            f"Received {data.kind} data ({data.name})."
        )
    set_seed(config.train.seed)
    with distribution_lib.scope(distribution):  # its variables replicated on the devices
        model = build_vae(data.shape, config.model, seed=config.train.seed, codec=data.codec)
    if trained is not None:
        start_from(model, trained, config.train.init_from)
        del trained
    # Claimed only now, so bad data or options leave no empty run behind; held to the end.
    with run_files.claim(out_dir, overwrite) as run_dir:
        shutil.rmtree(checkpoint_dir(run_dir), ignore_errors=True)  # an overwritten run's
        _compile(model, config)
        atomic.write_text(run_dir / CONFIG_FILE, config_lib.to_toml(config))
        return _fit(model, data, config, run_dir, None, verbose, callbacks, distribution)


def _compile(model, config):
    model.compile(
        optimizer=optimizers.get(config.train.optimizer, config.train.learning_rate),
        # The fast engine compiles its own multi-step loop; plain fit takes Keras' option.
        steps_per_execution=config.train.steps_per_execution
        if config.train.engine == "keras"
        else 1,
    )


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
    with run_files.lock(run_dir, "vaekit train --resume"):
        return _resume(run_dir, epochs, verbose, callbacks)


def _resume(run_dir, epochs, verbose, callbacks):
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
    distribution = distribution_lib.data_parallel(config.train)
    data = _load_data(config)
    with distribution_lib.scope(distribution):
        model = load_checkpoint(run_dir, state)
    return _fit(model, data, config, run_dir, state, verbose, callbacks, distribution)


def _load_data(config):
    return load_configured(config.data, config.train.seed)


def _fit(model, data, config, run_dir, state, verbose, callbacks, distribution=None):
    """Fit from `state` (None: from scratch) to `config.train.epochs`, then write the run's files.

    `distribution` (data_parallel) reaches only the training steps; evaluation, sampling and
    saving use the replicated variables on their own."""
    tc = config.train
    verbose = fit_verbosity(verbose)  # a log or a pipe gets plain lines, not a redrawn bar
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
    if tc.kl_cycles:
        schedule.append(KLCycles(tc.kl_cycles, tc.epochs))
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
    with interrupt, _resumable_on_full_storage(checkpoint, run_dir):
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
                distribution=distribution,
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
        "devices": len(distribution.device_mesh.devices.flat) if distribution else 1,
        "snapshot_seconds": round(snapshots.seconds, 3) if snapshots else None,
        "snapshot_seconds_each": [round(t, 4) for t in snapshots.times] if snapshots else None,
        "backend": keras.backend.backend(),
        "vaekit_version": vaekit.__version__,
    }
    for split, x in (("val", x_val), ("test", x_test)):
        if len(x):
            scores = model.evaluate(x, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
            metrics[split] = {k: float(v) for k, v in scores.items()}
    samples = Path(SAMPLES_FILE).with_suffix(SAMPLE_SUFFIXES[data.kind]).name
    drawn = (
        prior_rows(model, 100, seed=tc.seed)  # a table's rows: cells drawn, not averaged
        if data.kind == "table"
        else model.sample(100, seed=tc.seed)
    )
    write_samples(model, drawn, run_dir / samples)
    metrics["samples_file"] = samples
    atomic.write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    return TrainResult(run_dir, model, checkpoint.state["history"], metrics)


@contextlib.contextmanager
def _resumable_on_full_storage(checkpoint, run_dir):
    """A checkpoint that could not be written (full disk, read-only storage) stops the run with one
    line that says what is intact and how to go on; the previous checkpoint is untouched."""
    try:
        yield
    except StorageError as exc:
        done = checkpoint.state["epochs_done"]
        then = (
            f"the run is checkpointed at the end of epoch {done}: free some space and resume "
            f"with: vaekit train --resume {run_dir}"
            if done
            else "no epoch was checkpointed: free some space and train again with --overwrite"
        )
        raise StorageError(f"{exc} Training stopped; {then}.", errno=exc.errno) from None
