"""Honest evaluation: the negative ELBO and the importance-sampled negative log-likelihood.

The NLL estimate is the IWAE bound (Burda et al. 2015) with K samples from the encoder:

    log p(x) >= log (1/K) sum_k p(x, z_k) / q(z_k | x),   z_k ~ q(z | x),

which tightens towards log p(x) as K grows (K = 5000 is the field's standard). It is written once,
in terms of the model's `log_weights` (the likelihood's `log_prob`, the prior's `log_prob` and
log q), so it holds for every architecture, prior and likelihood vaekit offers. The K samples are
drawn in chunks whose running log-sum-exp is kept, so memory stays bounded for any K; each chunk
is one call of a compiled function (JAX `jit`, TensorFlow XLA, PyTorch without autograd).

The same `seed` gives the same numbers on the same backend.
"""

import math

import numpy as np
from keras import ops

from vaekit import backends
from vaekit.backends.keras_compat import eager_backend
from vaekit.evaluation.information import mutual_information
from vaekit.progress import progress_bar

ROWS_PER_CHUNK = 2_500  # decoder rows per call (images x samples): bounds memory for any K; about
# the fastest size for the compiled (XLA) scorers here
# PyTorch scores eagerly, and Keras' layer calls cost milliseconds of Python per call whatever its
# size: 10,000 rows ran 1.3-1.4x as fast as 2,500 (the seed model, one process, alternating)
EAGER_ROWS_PER_CHUNK = 10_000
ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al.: a unit is active if Cov_x(E_q[z_u]) > 0.01


def importance_sampled(model, x, num_samples=5000, *, seed=0, progress=False):
    """Per-example estimates over `x`: IWAE log-likelihood and the ELBO's terms.

    Args:
        model: A `vaekit.VAE` (or subclass).
        x: Data `(n, *data_shape)`, numpy.
        num_samples: K, importance samples per example.
        seed: Seed of the draws; the same seed gives the same numbers. The noise is drawn with
            NumPy, so every backend sees the same draws and agrees to float tolerance.
        progress: Show a progress bar over the data.

    Returns:
        A dict of float64 numpy arrays `(n,)`: `log_likelihood` (the IWAE estimate of log p(x)),
        `elbo` (the mean of the K log weights: a K-sample Monte Carlo ELBO), `reconstruction`
        (-E_q log p(x|z)) and `kl` (E_q[log q(z|x) - log p(z)]).
    """
    k = int(num_samples)
    if k < 1:
        raise ValueError(f"Expected num_samples >= 1. Received: num_samples={num_samples}")
    rows = rows_per_call()
    chunk = min(k, rows)  # samples per call
    batch_size = max(1, rows // chunk)  # images per call
    step = _compiled(model)
    rng = np.random.default_rng(seed)
    out = {name: [] for name in ("log_likelihood", "elbo", "reconstruction", "kl")}
    bar = progress_bar(len(x), unit_name="example") if progress and len(x) else None

    def calls():  # every call in order: (first image, images, its pending result, last of them?)
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size]
            for done in range(0, k, chunk):
                c = min(chunk, k - done)
                noise = rng.standard_normal((len(xb) * c, model.noise_dim), dtype="float32")
                yield start, len(xb), step(xb, noise, c), done + c == k

    # Each call is issued before the previous one is read, so the backend computes (JAX and
    # TensorFlow dispatch asynchronously) while the host draws noise and sums results.
    pending = calls()
    previous = next(pending, None)
    lse = sum_log_px = sum_kl = None
    while previous is not None:
        current = next(pending, None)
        start, n, result, last = previous
        if lse is None:  # the first call of a batch of images
            lse, sum_log_px, sum_kl = np.full(n, -np.inf), np.zeros(n), np.zeros(n)
        log_px, kl = (ops.convert_to_numpy(t).astype("float64") for t in result)
        lse = np.logaddexp(lse, np.logaddexp.reduce(log_px - kl, axis=1))  # running over chunks
        sum_log_px += log_px.sum(axis=1)
        sum_kl += kl.sum(axis=1)
        if last:
            out["log_likelihood"].append(lse - math.log(k))
            out["elbo"].append((sum_log_px - sum_kl) / k)
            out["reconstruction"].append(-sum_log_px / k)
            out["kl"].append(sum_kl / k)
            lse = sum_log_px = sum_kl = None
            if bar is not None:
                bar.update(start + n)
        previous = current
    return {name: np.concatenate(v) if v else np.zeros(0, "float64") for name, v in out.items()}


def rows_per_call():
    """Decoder rows (images x samples) per scoring call on the current backend."""
    return EAGER_ROWS_PER_CHUNK if eager_backend() else ROWS_PER_CHUNK


def _compiled(model):
    """The model's compiled `log_weights` step, kept on it so later evaluations reuse it."""
    cached = getattr(model, "_vaekit_scorer", None)
    if cached is None:
        cached = backends.current().compile_scorer(model)
        model._vaekit_scorer = cached
    return cached


def evaluate(model, x, num_samples=5000, *, seed=0, progress=False):
    """Dataset figures for `x`: negative ELBO and IWAE NLL (positive nats per example, lower is
    better), their terms, active units and, for discrete likelihoods, bits per dimension.

    Returns:
        A JSON-ready dict: `elbo`, `nll`, `nll_standard_error`, `reconstruction`, `kl`, `k`, `n`,
        `active_units`, `latent_dim`, `bits_per_dim` (None unless the likelihood is a pmf) and
        `perplexity` (per token, for sequence likelihoods; else None) and `mutual_information`
        (I(x; z) in nats over `x`, `vaekit.evaluation.information`).
    """
    scores = importance_sampled(model, x, num_samples, seed=seed, progress=progress)
    n = len(x)
    nll = -scores["log_likelihood"]
    values = int(model.likelihood.values_scored(x).sum())  # pixels, or tokens with <eos>
    discrete = getattr(model.likelihood, "is_discrete", False)
    per_token = getattr(model.likelihood, "per_token", False)
    return {
        "elbo": float(-scores["elbo"].mean()) if n else None,
        "nll": float(nll.mean()) if n else None,
        "nll_standard_error": float(nll.std(ddof=1) / math.sqrt(n)) if n > 1 else None,
        "reconstruction": float(scores["reconstruction"].mean()) if n else None,
        "kl": float(scores["kl"].mean()) if n else None,
        "bits_per_dim": float(nll.sum() / (values * math.log(2))) if n and discrete else None,
        "perplexity": float(math.exp(nll.sum() / values)) if n and per_token else None,
        "active_units": active_units(model, x) if n > 1 else None,
        "mutual_information": mutual_information(model, x, seed=seed) if n > 1 else None,
        "latent_dim": int(model.latent_dim),
        "k": int(num_samples),
        "n": int(n),
        "seed": int(seed),
    }


def active_units(model, x, threshold=ACTIVE_UNIT_THRESHOLD):
    """How many latent units the data move: Cov_x(E_q[z_u | x]) > `threshold` (Burda et al.)."""
    mean, _ = model.encode(x)
    return int(np.sum(np.var(mean.astype("float64"), axis=0) > threshold))
