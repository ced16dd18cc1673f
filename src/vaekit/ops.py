"""Backend-neutral maths for VAEs, written once and used by every model.

Every function takes and returns Keras tensors (`keras.ops`), so the same code runs on JAX, TensorFlow
and PyTorch. Densities are log-densities in nats, summed over the event axis given by `axis`.
"""

import math

from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


def diag_gaussian_log_prob(z, mean, log_var, axis=-1):
    """log N(z; mean, diag(exp(log_var))), summed over `axis`."""
    z, mean, log_var = _tensors(z, mean, log_var)
    sq = ops.square(z - mean) * ops.exp(-log_var)
    return -0.5 * ops.sum(sq + log_var + LOG_2PI, axis=axis)


def standard_normal_log_prob(z, axis=-1):
    """log N(z; 0, I), summed over `axis`."""
    z = ops.convert_to_tensor(z)
    return -0.5 * ops.sum(ops.square(z) + LOG_2PI, axis=axis)


def kl_diag_gaussian_standard_normal(mean, log_var, axis=-1):
    """Analytic KL(N(mean, diag(exp(log_var))) || N(0, I)), summed (not averaged) over `axis`."""
    mean, log_var = _tensors(mean, log_var)
    return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=axis)


def log_mean_exp(x, axis=-1):
    """log(mean(exp(x))) along `axis`, computed stably."""
    x = ops.convert_to_tensor(x)
    n = ops.cast(ops.shape(x)[axis], x.dtype)
    return ops.logsumexp(x, axis=axis) - ops.log(n)


def sum_event(x, event_ndim):
    """Sum over the trailing `event_ndim` axes (the data axes), keeping batch/sample axes."""
    if event_ndim == 0:
        return x
    axes = tuple(range(-event_ndim, 0))
    return ops.sum(x, axis=axes)


def _tensors(*arrays):
    """Backend tensors of one float dtype (numpy inputs would not mix with torch tensors)."""
    first = ops.convert_to_tensor(arrays[0])
    return (first, *(ops.convert_to_tensor(a, dtype=first.dtype) for a in arrays[1:]))
