"""PyTorch: the fast loop's training runner (a step replayed from a `torch.jit.trace` of forward pass
and loss) and the NLL scorer.

`vaekit.backends.fast_loop.fit_fast` drives it as it drives the JAX and TensorFlow runners (`put` the data on the
device, `run` steps `start` to `stop` of an epoch's batch-index matrix). Kept apart because PyTorch
needs its own means where the other two compile Keras' `train_step` (with XLA, but for TensorFlow's
conv models): a trace of the step, Keras' Adam in fused operations and flushed subnormals. Nothing
here imports torch at module level.
"""

import math

import keras

from vaekit.models.layers import GaussianSampler, is_seed_state


class Runner:
    """A PyTorch loop over device tensors, each step replayed from a `torch.jit.trace` of the model.

    Keras' per-layer Python (about 14,000 calls a step for the seed model) made eager steps 3x
    slower than a plain PyTorch loop. The forward pass and the loss are traced once per batch size
    into a TorchScript graph taking the variables as inputs (a `StatelessScope` maps them), so a
    step replays that graph, back-propagates into the variables and applies Keras' optimizer. The
    noise comes in from the model's own samplers (`training_noise`), so the steps are those of
    `train_step`. For the IWAE bound the trace is of the loss alone: `train_step` also runs a
    forward pass that the bound does not use, whose draws are made and dropped here. Models the
    trace cannot serve exactly (other randomness than the samplers', a loss-scaling optimizer,
    the IWAE bound with state a forward pass updates) run Keras' `train_step`.
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
        seeds = [v for v in model.non_trainable_variables if is_seed_state(v)]
        self.fixed = seeds
        self.carried = [
            *(v for v in model.non_trainable_variables if not is_seed_state(v)),
            *model.metrics_variables,
        ]
        self.lean = TRACE_TORCH and traceable(model)
        self.iw_samples = getattr(model, "iw_samples", 1)

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
            noise = self._noise(batch.shape[0])  # the samplers' draws, seeds advanced
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

    def _noise(self, n):
        """The N(0, I) values `train_step` would draw for a batch of `n`, in its order."""
        if self.iw_samples == 1:
            return self.model.training_noise(n)
        self.model.training_noise(n)  # the unused forward pass's draws, dropped
        return self.model.training_noise(n * self.iw_samples)  # the bound's, row b * K + j

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
                if self.iw_samples > 1:  # the bound draws from the noise itself
                    loss = model.compute_loss(x=x, training=True, noise=noise)
                else:
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
            # Keras' own update (PyTorch's Keras Adam is a subclass; another may change the maths)
            and type(optimizer).update_step is keras.optimizers.Adam.update_step
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


def traceable(model):
    """Whether a traced step reproduces `train_step` exactly for this model."""
    if not hasattr(model, "training_noise"):
        return False
    if getattr(model, "iw_samples", 1) != 1 and any(
        not is_seed_state(v) and v is not getattr(model, "kl_scale", None)
        for v in model.non_trainable_variables
    ):
        return False  # the trace skips train_step's unused forward pass, and its state updates
    if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer):
        return False
    samplers = {
        id(layer.seed_generator.state)
        for layer in model._flatten_layers()
        if isinstance(layer, GaussianSampler)
    }
    seeds = [v for v in model.non_trainable_variables if is_seed_state(v)]
    return all(id(v) in samplers for v in seeds)  # any other random layer would replay one draw


def compile_scorer(model):
    """`(x, noise, k) -> model.log_weights(x, k, noise=noise)`, eager, without autograd."""
    import torch

    def run(x, noise, k):
        with torch.no_grad():
            return model.log_weights(
                keras.ops.convert_to_tensor(x), k, noise=keras.ops.convert_to_tensor(noise)
            )

    return run
