"""JAX: the fast loop's training runner (steps under one `jax.jit`) and the NLL scorer."""

from functools import partial

import keras
import numpy as np

from vaekit.backends import has_convolutions


class Runner:
    """Steps under one `jax.jit`: `fori_loop` over rows of the batch-index matrix.

    A model with convolutions runs one compiled step per row instead: XLA on the CPU runs
    convolutions inside a loop 13-17x slower than the same convolutions alone (a `conv` step took
    3.2 s in a `fori_loop` or `scan`, 0.19 s alone), and such a step is long enough that the Python
    between steps costs nothing.
    """

    pads_last_batch = True  # one compiled shape for every batch (so it splits over devices too)

    def __init__(self, model):
        import jax

        self.jax, self.model = jax, model
        shape = (-1, *model.data_shape)
        # Under a distribution (`keras.distribution.DataParallel`): the data and index arrays are
        # put replicated on its devices, and each batch is constrained to be split over them along
        # its first axis; XLA then runs each device's share and sums the gradients across them.
        distribution = keras.distribution.distribution()
        self.mesh = distribution.device_mesh if distribution is not None else None

        def split(batch):
            if distribution is None:
                return batch
            layout = distribution.get_data_layout(batch.shape).backend_layout
            return jax.lax.with_sharding_constraint(batch, layout)

        def step(i, state, x, index, weights):
            batch = jax.numpy.take(x, index[i], axis=0).reshape(shape)  # (batch, *data_shape)
            batch, weight = split(batch), split(weights[i])
            _, state = model.train_step(state, (batch, None, weight))
            return state

        def run(state, x, index, weights, start, stop):
            body = lambda i, state: step(i, state, x, index, weights)  # noqa: E731
            return jax.lax.fori_loop(start, stop, body, state)

        self.per_step = has_convolutions(model)
        if self.per_step:
            self._step = jax.jit(step, donate_argnums=1)
        else:
            self._run = jax.jit(run)

    def put(self, array):
        if self.mesh is None:
            return self.jax.device_put(array)
        layout = keras.distribution.TensorLayout([None] * array.ndim, self.mesh)  # replicated
        return self.jax.device_put(array, layout.backend_layout)

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


def compile_scorer(model):
    """`(x, noise, k) -> model.log_weights(x, k, noise=noise)` under one `jax.jit` (k static)."""
    import jax

    variables = model.variables

    @partial(jax.jit, static_argnums=3)
    def pure(values, x, noise, k):
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return model.log_weights(x, k, noise=noise)

    return lambda x, noise, k: pure([v.value for v in variables], x, noise, k)
