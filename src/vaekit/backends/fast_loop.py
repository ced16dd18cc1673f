"""The training engine: many training steps per compiled call, with the data on the device.

Keras' `fit` pays, for every step, Python dispatch, its data adapter and a host-to-device copy. For
a model as small as a VAE on a CPU that overhead is most of the time. `fit_fast` puts the training
set on the device once, sends one epoch's batch order (integers) per epoch, and runs many steps per
compiled call with each backend's own means:

- JAX: a `jax.jit`-compiled `lax.fori_loop` over the epoch's batches;
- TensorFlow: an XLA-compiled `tf.function` loop (convolutional models: one `tf.function` step per
  batch, without XLA);
- PyTorch: a loop replaying a `torch.jit.trace` of the forward pass and loss.

On JAX and TensorFlow each step is Keras' own `train_step`, so the loss, the optimizer update and the
metrics are those of `fit`; on PyTorch the traced step computes the same things (tests hold the
weights equal). The batches are those of `EpochBatches` (the data order depends only on seed, epoch
and batch index). Loop bounds are runtime values and an epoch's smaller last batch runs padded to
full size with zero-weighted rows, so one compilation serves the whole run.

Callbacks are honoured at call granularity: `on_train_batch_end` after each call (the progress bar,
the NaN check and Ctrl-C act there), `on_epoch_end` with validation figures after each epoch.
"""

import math

import keras
import numpy as np

from vaekit import backends
from vaekit.backends import distribution as distribution_lib

CALLS_PER_EPOCH = 10  # progress updates (and Ctrl-C checks) per epoch when steps_per_call is auto
VALIDATION_BATCH_SIZE = 500  # scoring keeps no gradients: big batches only save dispatch time


def fit_fast(
    model,
    batches,
    *,
    epochs,
    initial_epoch=0,
    validation_data=None,
    callbacks=(),
    verbose="auto",
    steps_per_call=0,
    distribution=None,
):
    """Train `model` (compiled) on `batches` (an `EpochBatches`) like `model.fit`, only faster.

    Args:
        model: A compiled Keras model whose `train_step` takes `(x,)` batches.
        batches: The training data and its order (`vaekit.data.order.EpochBatches`).
        epochs: Train up to this epoch (exclusive count, as in `fit`).
        initial_epoch: The first epoch to run (a resumed run's completed epochs).
        validation_data: `(x_val,)` scored after each epoch as `val_*` logs, or None.
        callbacks: Keras callbacks.
        verbose: 0 silent, 1 or "auto" a progress bar, 2 one line per epoch.
        steps_per_call: Training steps per compiled call; 0 picks about a tenth of an epoch.
        distribution: A `keras.distribution.DataParallel` (JAX) the model was built under, or None:
            the optimizer's variables are made under it and each batch is split over its devices.
            Validation and callbacks run without it, on the replicated variables.

    Returns:
        The `keras.callbacks.History` of the run.
    """
    steps = len(batches)
    full_steps = len(batches.x) // batches.batch_size
    if not steps_per_call:
        steps_per_call = max(1, math.ceil(full_steps / CALLS_PER_EPOCH))
    with distribution_lib.scope(distribution):
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        runner = _runner(model)
    verbose = 1 if verbose == "auto" else verbose
    callbacks = keras.callbacks.CallbackList(
        list(callbacks),
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
        model=model,
    )
    model.stop_training = False
    callbacks.on_train_begin()
    x_device = None if batches.binarize else runner.put(_flat(batches.x))
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        model.reset_metrics()
        if batches.binarize:  # fresh binary draws each epoch: send the epoch's batches in order
            x_epoch = np.concatenate(list(batches.epoch(epoch)))
            x_device, index = runner.put(_flat(x_epoch)), np.arange(len(x_epoch), dtype="int32")
        else:
            index = np.concatenate(batches.indices(epoch)).astype("int32")  # the batches, in order
        index, weights, last = _batch_matrix(index, batches.batch_size, runner.pads_last_batch)
        index_device, weights_device = runner.put(index), runner.put(weights)
        logs, ran = {}, 0
        for start in range(0, full_steps, steps_per_call):
            stop = min(start + steps_per_call, full_steps)
            callbacks.on_train_batch_begin(start)
            runner.run(x_device, index_device, weights_device, start, stop)
            logs, ran = _metrics(model), stop
            callbacks.on_train_batch_end(stop - 1, logs)
            if model.stop_training:
                break
        if steps > full_steps and not model.stop_training:
            callbacks.on_train_batch_begin(full_steps)
            if last is None:
                # The smaller last batch runs padded to full size with zero weights, so the
                # compiled loop serves it too (a second shape would compile it all again). Its
                # weighted loss is the mean over its real examples; only Keras' loss tracker
                # counts the padded size, and is set right here.
                real = int(weights[-1].sum())
                with _loss_tracker_counts(model, real=real, padded=len(weights[-1])):
                    runner.run(x_device, index_device, weights_device, full_steps, steps)
            else:
                ones = np.ones((1, len(last)), "float32")
                runner.run(x_device, runner.put(last[None]), runner.put(ones), 0, 1)
            logs, ran = _metrics(model), steps
            callbacks.on_train_batch_end(steps - 1, logs)
        epoch_logs = dict(logs)
        # A whole epoch is validated even when a stop was asked for during its last steps (Ctrl-C):
        # its checkpoint then has every metric an epoch has. A partial epoch is never checkpointed.
        if validation_data is not None and ran == steps:
            scores = model.evaluate(
                validation_data[0],
                batch_size=VALIDATION_BATCH_SIZE,
                verbose=0,
                return_dict=True,
            )
            epoch_logs.update({f"val_{k}": float(v) for k, v in scores.items()})
        callbacks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs)
    return model.history


def _flat(x):
    """Images stored as `(n, values)`: XLA on the CPU gathers and vectorises along the last axis, and
    one-channel images would end in an axis of size 1. Steps reshape their batch back."""
    return np.ascontiguousarray(x.reshape(len(x), -1))


def _batch_matrix(index, batch_size, pad):
    """An epoch's example indices in order -> `(rows, batch_size)` indices, 0/1 weights, and the
    smaller last batch's indices when it is not padded (else None).

    With `pad`, a smaller last batch becomes a last row, filled up with the epoch's first examples
    at weight 0 (real, finite data keep the zero-weighted terms finite).
    """
    steps, rest = divmod(len(index), batch_size)
    if rest and not pad:
        full = index[: steps * batch_size].reshape(steps, batch_size)
        return full, np.ones(full.shape, "float32"), index[steps * batch_size :]
    size = math.ceil(len(index) / batch_size) * batch_size
    filled = np.resize(index, size)  # index, then repeated from its start (a batch may outsize it)
    weights = np.ones(len(filled), "float32")
    weights[len(index) :] = 0.0
    return filled.reshape(-1, batch_size), weights.reshape(-1, batch_size), None


class _loss_tracker_counts:
    """Make Keras' loss tracker count `real` examples for a step that ran on a padded batch.

    Keras weights each step's loss by the batch's leading size; a padded step would count its pad.
    The step's own loss is recovered from the tracker's change, then re-added with the real count.
    """

    def __init__(self, model, real, padded):
        self.tracker, self.real, self.padded = getattr(model, "_loss_tracker", None), real, padded

    def __enter__(self):
        if self.tracker is not None:
            self.before = [float(v.numpy()) for v in (self.tracker.total, self.tracker.count)]

    def __exit__(self, *exc):
        if self.tracker is None or exc[0] is not None:
            return
        total, count = self.before
        added = float(self.tracker.total.numpy()) - total  # loss * padded
        self.tracker.total.assign(total + added * self.real / self.padded)
        self.tracker.count.assign(count + self.real)


def _runner(model):
    """The model's runner, kept on it so repeated calls reuse the compiled loop (as `fit` does)."""
    cached = getattr(model, "_vaekit_runner", None)
    distribution = keras.distribution.distribution()  # a JAX runner splits batches under it
    if (
        cached is None
        or cached.optimizer is not model.optimizer
        or cached.distribution is not distribution
    ):
        cached = backends.current().Runner(model)
        cached.optimizer, cached.distribution = model.optimizer, distribution
        model._vaekit_runner = cached
    return cached


def _metrics(model):
    return {k: float(v) for k, v in model.get_metrics_result().items()}
