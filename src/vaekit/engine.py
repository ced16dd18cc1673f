"""The training engine: many training steps per compiled call, with the data on the device.

Keras' `fit` pays, for every step, Python dispatch, its data adapter and a host-to-device copy. For
a model as small as a VAE on a CPU that overhead is most of the time. `fit_fast` puts the training
set on the device once, sends one epoch's batch order (integers) per epoch, and runs many steps per
compiled call with each backend's own means:

- JAX: a `jax.jit`-compiled `lax.fori_loop` over the epoch's batches;
- TensorFlow: an XLA-compiled `tf.function` loop;
- PyTorch: a loop replaying a `torch.jit.trace` of the forward pass and loss (see `_TorchRunner`).

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
):
    """Train `model` (compiled) on `batches` (an `EpochBatches`) like `model.fit`, only faster.

    Args:
        model: A compiled Keras model whose `train_step` takes `(x,)` batches.
        batches: The training data and its order (`vaekit.training.EpochBatches`).
        epochs: Train up to this epoch (exclusive count, as in `fit`).
        initial_epoch: The first epoch to run (a resumed run's completed epochs).
        validation_data: `(x_val,)` scored after each epoch as `val_*` logs, or None.
        callbacks: Keras callbacks.
        verbose: 0 silent, 1 or "auto" a progress bar, 2 one line per epoch.
        steps_per_call: Training steps per compiled call; 0 picks about a tenth of an epoch.

    Returns:
        The `keras.callbacks.History` of the run.
    """
    steps = len(batches)
    full_steps = len(batches.x) // batches.batch_size
    if not steps_per_call:
        steps_per_call = max(1, math.ceil(full_steps / CALLS_PER_EPOCH))
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
        logs = {}
        for start in range(0, full_steps, steps_per_call):
            stop = min(start + steps_per_call, full_steps)
            callbacks.on_train_batch_begin(start)
            runner.run(x_device, index_device, weights_device, start, stop)
            logs = _metrics(model)
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
            logs = _metrics(model)
            callbacks.on_train_batch_end(steps - 1, logs)
        epoch_logs = dict(logs)
        if validation_data is not None and not model.stop_training:
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
    if cached is None or cached.optimizer is not model.optimizer:
        cached = RUNNERS[keras.backend.backend()](model)
        cached.optimizer = model.optimizer
        model._vaekit_runner = cached
    return cached


def _metrics(model):
    return {k: float(v) for k, v in model.get_metrics_result().items()}


class _JaxRunner:
    """Steps under one `jax.jit`: `fori_loop` over rows of the batch-index matrix.

    A model with convolutions runs one compiled step per row instead: XLA on the CPU runs
    convolutions inside a loop 13-17x slower than the same convolutions alone (a `conv` step took
    3.2 s in a `fori_loop` or `scan`, 0.19 s alone), and such a step is long enough that the Python
    between steps costs nothing.
    """

    pads_last_batch = True  # one compiled shape for every batch

    def __init__(self, model):
        import jax

        self.jax, self.model = jax, model
        shape = (-1, *model.data_shape)

        def step(i, state, x, index, weights):
            batch = jax.numpy.take(x, index[i], axis=0).reshape(shape)  # (batch, *data_shape)
            _, state = model.train_step(state, (batch, None, weights[i]))
            return state

        def run(state, x, index, weights, start, stop):
            body = lambda i, state: step(i, state, x, index, weights)  # noqa: E731
            return jax.lax.fori_loop(start, stop, body, state)

        self.per_step = _has_convolutions(model)
        if self.per_step:
            self._step = jax.jit(step, donate_argnums=1)
        else:
            self._run = jax.jit(run)

    def put(self, array):
        return self.jax.device_put(array)

    def run(self, x, index, weights, start, stop):
        model = self.model
        groups = (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
        state = tuple([v.value for v in group] for group in groups)
        if self.per_step:
            # The first step's state is the variables' own arrays: copied, as donation consumes it.
            state = self.jax.tree.map(lambda a: a.copy(), state)
            for i in range(start, stop):
                state = self._step(np.int32(i), state, x, index, weights)
        else:
            state = self._run(state, x, index, weights, np.int32(start), np.int32(stop))
        for group, values in zip(groups, state, strict=True):
            for variable, value in zip(group, values, strict=True):
                variable.assign(value)


class _TensorFlowRunner:
    """Steps in one XLA-compiled `tf.function` loop over rows of the batch-index matrix; for a
    model with convolutions, one `tf.function` step per row, without XLA (see `_JaxRunner`: XLA's
    CPU loops make convolutions 10x slower here too)."""

    pads_last_batch = True

    def __init__(self, model):
        import tensorflow as tf

        self.tf, self.model = tf, model
        shape = (-1, *model.data_shape)

        def step(x, index, weights, i):
            model.train_step((tf.reshape(tf.gather(x, index[i]), shape), None, weights[i]))

        @tf.function(jit_compile=True, reduce_retracing=True)
        def run(x, index, weights, start, stop):
            for i in tf.range(start, stop):
                step(x, index, weights, i)
            return stop

        self.per_step = _has_convolutions(model)
        self._run = run
        # Without XLA: TensorFlow's own kernels train conv models as fast as XLA's here, and XLA's
        # compile of one conv step took 2-6 minutes on this 2-core machine (a few seconds without).
        self._step = tf.function(step, jit_compile=False, reduce_retracing=True)

    def put(self, array):
        return self.tf.convert_to_tensor(array)

    def run(self, x, index, weights, start, stop):
        if self.per_step:
            for i in range(start, stop):
                self._step(x, index, weights, self.tf.constant(i))
        else:
            self._run(x, index, weights, self.tf.constant(start), self.tf.constant(stop))


def _has_convolutions(model):
    """Whether any layer of `model` (nested models included) convolves."""
    from vaekit.layers import SubpixelConv2DTranspose

    kinds = (
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.Conv3DTranspose,
        keras.layers.DepthwiseConv1D,
        keras.layers.DepthwiseConv2D,
        keras.layers.SeparableConv1D,
        keras.layers.SeparableConv2D,
        SubpixelConv2DTranspose,
    )
    return any(isinstance(layer, kinds) for layer in model._flatten_layers(include_self=False))


class _TorchRunner:
    """A PyTorch loop over device tensors, each step replayed from a `torch.jit.trace` of the model.

    Keras' per-layer Python (about 14,000 calls a step for the seed model) made eager steps 3x
    slower than a plain PyTorch loop. The forward pass and the loss are traced once per batch size
    into a TorchScript graph taking the variables as inputs (a `StatelessScope` maps them), so a
    step replays that graph, back-propagates into the variables and applies Keras' optimizer. The
    noise comes in from the model's own samplers (`training_noise`), so the steps are those of
    `train_step`. Models the trace cannot serve exactly (other randomness than the samplers', the
    IWAE bound, a loss-scaling optimizer) run Keras' `train_step`.
    """

    pads_last_batch = False  # a new batch size costs a 0.1 s trace: the last batch keeps its size

    def __init__(self, model):
        import torch

        self.torch, self.model = torch, model
        self.shape = (-1, *model.data_shape)
        self.traced = {}  # batch size -> traced forward + loss
        self.trainable = list(model.trainable_variables)
        # The samplers' seed states are inputs the trace ignores (the noise comes in); every other
        # state (metric totals, kl_scale, a normalisation's statistics) is carried from step to step.
        seeds = [v for v in model.non_trainable_variables if _is_seed_state(v)]
        self.fixed = seeds
        self.carried = [
            *(v for v in model.non_trainable_variables if not _is_seed_state(v)),
            *model.metrics_variables,
        ]
        self.lean = TRACE_TORCH and _traceable(model)

    def put(self, array):
        from keras.src.backend.torch.core import get_device

        return self.torch.as_tensor(array, device=get_device())

    def run(self, x, index, weights, start, stop):
        with _flushed_denormals(self.torch):
            self._steps(x, index, start, stop)

    def _steps(self, x, index, start, stop):
        # No batch is padded here, so every weight is 1 and the steps go without them.
        if not self.lean:
            for i in range(start, stop):
                self.model.train_step((x[index[i]].reshape(self.shape),))
            return
        torch, model = self.torch, self.model
        # The variables' tensors, fetched once per call (Keras assigns in place, so they stay
        # current): metric totals are carried from step to step and written back at the end.
        params = [v.value for v in self.trainable]
        fixed = [v.value for v in self.fixed]
        carried = [v.value for v in self.carried]
        update = _TorchAdam.for_optimizer(model.optimizer, self.trainable)
        for i in range(start, stop):
            batch = x[index[i]].reshape(self.shape)
            noise = model.training_noise(batch.shape[0])  # the samplers' draws, seeds advanced
            traced = self.traced.get(batch.shape[0]) or self._trace(batch, noise)
            with torch.enable_grad():
                loss, *carried = traced(batch, noise, *params, *fixed, *carried)
            for p in params:
                p.grad = None
            loss.backward()
            grads = [p.grad for p in params]
            with torch.no_grad():
                if update is not None and all(g is not None for g in grads):
                    update(params, grads)
                else:  # another optimizer, or a variable the loss does not reach (no gradient)
                    model.optimizer.apply(grads, self.trainable)
        with torch.no_grad():
            for variable, value in zip(self.carried, carried, strict=True):
                variable.value.copy_(value)

    def _trace(self, batch, noise):
        import warnings

        torch, model = self.torch, self.model
        variables = self.trainable + self.fixed + self.carried
        carried = self.carried
        tracker = getattr(model, "_loss_tracker", None)

        def forward(x, noise, *values):
            with keras.StatelessScope(
                state_mapping=list(zip(variables, values, strict=True))
            ) as scope:
                y_pred = model(x, training=True, noise=noise)
                loss = model.compute_loss(x=x, y_pred=y_pred, training=True)
                if tracker is not None:  # as Keras' train_step: the loss, weighted by batch size
                    tracker.update_state(loss, sample_weight=x.shape[0])
                new = [scope.get_current_value(v) for v in carried]
            old = values[len(values) - len(carried) :]
            return (loss, *(o if n is None else n.detach() for n, o in zip(new, old, strict=True)))

        values = [v.value for v in variables]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it fixes
            traced = torch.jit.trace(forward, (batch, noise, *values), check_trace=False)
            # TorchScript's executor profiles a graph's first runs, then runs an optimised one
            # whose last bits can differ. Those first runs happen here, on the same inputs (the
            # graph is pure), so every real step, of a fresh or of a resumed run, is optimised.
            with torch.enable_grad():
                for _ in range(TRACE_WARMUP_RUNS):
                    traced(batch, noise, *values)
        self.traced[batch.shape[0]] = traced
        return traced


class _flushed_denormals:
    """Subnormal floats read and written as zero while training, as XLA does on JAX and TensorFlow.

    Adam's second moments of small gradients decay into subnormal numbers, which x86 CPUs handle in
    microcode at a hundred times the cost: without this a seed step on PyTorch spent a third of its
    time in the optimizer's elementwise passes. The setting is global, so it is restored after.
    """

    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        torch = self.torch
        # PyTorch has no getter: a subnormal times one is zero only while flushing is on.
        self.was_on = bool((torch.tensor([1e-40], dtype=torch.float32) * 1.0 == 0).item())
        self.supported = torch.set_flush_denormal(True)

    def __exit__(self, *exc):
        if self.supported and not self.was_on:
            self.torch.set_flush_denormal(False)


class _TorchAdam:
    """Keras' Adam update on the optimizer's own variables, in PyTorch's fused `_foreach` operations
    and without the per-step Python of `optimizer.apply` (a third of a traced seed step). The maths
    is Keras'; the rounding of the fused operations differs in the last bits.

    Used only for a plain Adam (no AMSGrad, weight decay, clipping, EMA, accumulation, schedule
    object); anything else goes through `optimizer.apply`. The tests hold both paths equal.
    """

    def __init__(self, optimizer, trainable):
        import torch

        self.torch = torch
        index = [optimizer._get_variable_index(v) for v in trainable]
        self.m = [optimizer._momentums[i].value for i in index]
        self.v = [optimizer._velocities[i].value for i in index]
        self.learning_rate = optimizer._learning_rate.value
        self.iterations = optimizer._iterations.value
        self.beta_1, self.beta_2 = optimizer.beta_1, optimizer.beta_2
        self.epsilon = optimizer.epsilon
        self.constrained = [v for v in trainable if v.constraint is not None]  # e.g. pseudo-inputs

    @classmethod
    def for_optimizer(cls, optimizer, trainable):
        plain = (
            isinstance(optimizer, keras.optimizers.Adam)
            and not optimizer.amsgrad
            and not optimizer.weight_decay
            and optimizer.clipnorm is None
            and optimizer.clipvalue is None
            and optimizer.global_clipnorm is None
            and not optimizer.use_ema
            and not optimizer.gradient_accumulation_steps
            and optimizer.loss_scale_factor is None
            and isinstance(getattr(optimizer, "_learning_rate", None), keras.Variable)
            and not any(getattr(v, "overwrite_with_gradient", False) for v in trainable)
        )
        if not plain or any(v.value.device.type != "cpu" for v in trainable):
            return None  # (off the CPU, reading the step count each step would synchronise)
        try:
            return cls(optimizer, trainable)
        except (AttributeError, KeyError, IndexError, TypeError):  # Keras moved its internals
            return None

    def __call__(self, params, grads):
        torch = self.torch
        step = float(self.iterations) + 1
        lr = float(self.learning_rate)
        alpha = lr * math.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step)
        # Keras' update, m += (1 - b1)(g - m), v += (1 - b2)(g^2 - v), p -= alpha m / (sqrt(v) + eps),
        # in fused operations: six passes over each variable's state instead of Keras' eleven.
        torch._foreach_lerp_(self.m, grads, 1 - self.beta_1)
        torch._foreach_mul_(self.v, self.beta_2)
        torch._foreach_addcmul_(self.v, grads, grads, 1 - self.beta_2)
        denominators = torch._foreach_sqrt(self.v)
        torch._foreach_add_(denominators, self.epsilon)
        torch._foreach_addcdiv_(params, self.m, denominators, -alpha)
        for variable in self.constrained:  # as `optimizer.apply`: constraints after the update
            variable.value.copy_(variable.constraint(variable.value))
        self.iterations.add_(1)


TRACE_TORCH = True  # False: PyTorch steps run Keras' `train_step` (the tests compare both)
TRACE_WARMUP_RUNS = 3  # runs TorchScript profiles before it optimises a graph (2), and one more


def _traceable(model):
    """Whether a traced step reproduces `train_step` exactly for this model."""
    from vaekit.layers import GaussianSampler

    if not hasattr(model, "training_noise") or getattr(model, "iw_samples", 1) != 1:
        return False  # the IWAE bound draws its own K samples inside the loss
    if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer):
        return False
    samplers = {
        id(layer.seed_generator.state)
        for layer in model._flatten_layers()
        if isinstance(layer, GaussianSampler)
    }
    seeds = [v for v in model.non_trainable_variables if _is_seed_state(v)]
    return all(id(v) in samplers for v in seeds)  # any other random layer would replay one draw


def _is_seed_state(variable):
    return variable.path.endswith("seed_generator_state")


RUNNERS = {"jax": _JaxRunner, "tensorflow": _TensorFlowRunner, "torch": _TorchRunner}
