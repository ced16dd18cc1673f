"""How much a model's latents say about its data: the mutual information I(x; z) under q.

With x drawn from the data and z ~ q(z | x) (Hoffman & Johnson 2016, the estimator of Fu et al. 2019
and He et al. 2019):

    I(x; z) = E_x E_q(z|x) [log q(z | x)] - E_z [log q(z)],   q(z) = (1/N) sum_i q(z | x_i),

the aggregate posterior taken over the N examples scored. It is at most log N, and 0 when every x
has the same posterior (a collapsed text VAE). It needs only the encoder, so it holds for every kind
of data and likelihood.
"""

import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)
ELEMENTS_PER_BLOCK = 4_000_000  # float64 values per block of log q(z_j | x_i): bounds memory


def mutual_information(model, x, seed=0):
    """I(x; z) in nats over the examples `x` (numpy), one posterior draw each, seeded."""
    mean, log_var = model.encode(x)
    return posterior_mutual_information(mean, log_var, seed=seed)


def posterior_mutual_information(mean, log_var, seed=0):
    """I(x; z) from diagonal Gaussian posteriors `(n, d)`: their means and log-variances."""
    mean, log_var = np.asarray(mean, "float64"), np.asarray(log_var, "float64")
    n, d = mean.shape
    if n < 2:
        return None
    noise = np.random.default_rng(seed).standard_normal((n, d))
    z = mean + np.exp(0.5 * log_var) * noise  # (n, d): one draw per example
    log_q_own = -0.5 * np.sum(noise**2 + log_var + LOG_2PI, axis=1)  # log q(z_j | x_j)
    precision = np.exp(-log_var)  # (n, d)
    norm = -0.5 * np.sum(log_var + LOG_2PI, axis=1)  # (n,)
    rows = max(1, ELEMENTS_PER_BLOCK // (n * d))
    log_q_aggregate = np.empty(n)
    for start in range(0, n, rows):
        block = z[start : start + rows, None, :] - mean[None]  # (rows, n, d)
        log_q = norm[None] - 0.5 * np.sum(block**2 * precision[None], axis=2)  # log q(z_j | x_i)
        top = log_q.max(axis=1, keepdims=True)
        log_q_aggregate[start : start + rows] = (
            top[:, 0] + np.log(np.exp(log_q - top).sum(axis=1)) - math.log(n)
        )
    return float(np.mean(log_q_own) - np.mean(log_q_aggregate))
