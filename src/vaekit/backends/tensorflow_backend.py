"""TensorFlow: the fast loop's training runner (an XLA-compiled `tf.function` loop) and the NLL
scorer."""

from vaekit.backends import has_convolutions


class Runner:
    """Steps in one XLA-compiled `tf.function` loop over rows of the batch-index matrix.

    A model with convolutions runs one `tf.function` step per row, without XLA: XLA's CPU loops make
    convolutions 10x slower here too (see `vaekit.backends.jax_backend.Runner`), and XLA's compile
    of one conv training step took 2-6 minutes on a 2-core CPU, where TensorFlow's own kernels train
    as fast (measured on the CPU only; BENCHMARKS.md).
    """

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

        self.per_step = has_convolutions(model)
        self._run = run
        self._step = tf.function(step, jit_compile=False, reduce_retracing=True)

    def put(self, array):
        return self.tf.convert_to_tensor(array)

    def run(self, x, index, weights, start, stop):
        if self.per_step:
            for i in range(start, stop):
                self._step(x, index, weights, self.tf.constant(i))
        else:
            self._run(x, index, weights, self.tf.constant(start), self.tf.constant(stop))


def compile_scorer(model):
    """`(x, noise, k) -> model.log_weights(x, k, noise=noise)`, XLA-compiled once per k."""
    import tensorflow as tf

    compiled = {}

    def run(x, noise, k):
        if k not in compiled:
            compiled[k] = tf.function(
                lambda x, noise: model.log_weights(x, k, noise=noise),
                jit_compile=True,
                reduce_retracing=True,
            )
        return compiled[k](tf.convert_to_tensor(x), tf.convert_to_tensor(noise))

    return run
