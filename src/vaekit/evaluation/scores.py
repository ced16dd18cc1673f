"""How unusual each example is to a model: its importance-sampled negative log-likelihood.

`score_examples` scores every example on its own, for any kind of data: the score is
-log p(x) from the IWAE estimate of `vaekit.evaluation.nll` (nats; higher is more unusual), with the
ELBO's two terms beside it. A likelihood whose examples are made of named columns (a table) may
offer per-column terms, so a score can be traced to the columns that make it: such a likelihood
has `column_names` (a list of str) and `column_log_probs(x, params)`, which returns log p(x_c | z)
`(batch, columns)` for data `(batch, ...)` and decoder outputs of the same batch.
"""

import numpy as np
from keras import ops

from vaekit.evaluation.nll import importance_sampled

COLUMN_DRAWS = 8  # posterior draws per example behind each per-column term
EXAMPLES_PER_CALL = 1024  # examples decoded at once for the per-column terms (x COLUMN_DRAWS rows)


def score_examples(model, x, num_samples=1000, *, seed=0, progress=False, columns=True):
    """Per-example scores over `x`, in its order.

    Args:
        model: A `vaekit.VAE` (or subclass).
        x: Data `(n, *data_shape)`, numpy.
        num_samples: K, importance samples per example of the IWAE estimate.
        seed: Seed of every draw; the same seed gives the same numbers on the same backend.
        progress: Show a progress bar over the data.
        columns: Also the per-column terms, where the likelihood has them (they cost
            `COLUMN_DRAWS` decoder calls per example more).

    Returns:
        A dict of float64 numpy arrays `(n,)`: `score` (-log p(x), the IWAE estimate in nats),
        `reconstruction` (-E_q log p(x|z)) and `kl` (E_q[log q(z|x) - log p(z)]); and, when the
        model's likelihood offers per-column terms, `columns`: `{column name: (n,) array}` of
        -E_q log p(x_c | z) from `COLUMN_DRAWS` posterior draws per example (a separate
        Monte Carlo estimate: the columns' sum is close to `reconstruction`, not equal to it).

    Example:
    >>> scores = score_examples(model, x_test, 1000)
    >>> x_test[np.argsort(scores["score"])[-10:]]  # the ten most unusual examples
    """
    estimates = importance_sampled(model, x, num_samples, seed=seed, progress=progress)
    result = {
        "score": -estimates["log_likelihood"],
        "reconstruction": estimates["reconstruction"],
        "kl": estimates["kl"],
    }
    if columns and hasattr(model.likelihood, "column_log_probs"):
        result["columns"] = column_terms(model, x, seed=seed)
    return result


def column_terms(model, x, draws=COLUMN_DRAWS, *, seed=0):
    """-E_q log p(x_c | z) for each example of `x` and each column c of the model's likelihood.

    Each example's `draws` latents are z = mean + exp(log_var / 2) * noise, the noise drawn with
    NumPy from `seed`; examples are decoded `EXAMPLES_PER_CALL` at a time, so memory stays bounded.

    Returns:
        `{column name: float64 array (n,)}`, in the likelihood's column order.
    """
    likelihood = model.likelihood
    names = [str(name) for name in likelihood.column_names]
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, len(x), EXAMPLES_PER_CALL):
        xb = np.asarray(x[start : start + EXAMPLES_PER_CALL])
        n = len(xb)
        mean, log_var = model.encode(xb)  # (n, latent) each
        noise = rng.standard_normal((n, draws, mean.shape[1]), dtype="float32")
        z = mean[:, None] + np.exp(0.5 * log_var)[:, None] * noise  # (n, draws, latent)
        condition = model.condition_of(xb)  # a conditional model's, per example (or None)
        if condition is not None:
            condition = np.repeat(condition, draws, axis=0)
        params = model.decode(z.reshape(n * draws, -1), return_params=True, condition=condition)
        x_k = np.repeat(xb, draws, axis=0)  # row b * draws + j is example b, for draw j
        terms = ops.convert_to_numpy(
            likelihood.column_log_probs(ops.convert_to_tensor(x_k), ops.convert_to_tensor(params))
        )  # (n * draws, columns)
        if terms.shape != (n * draws, len(names)):
            raise ValueError(
                f"Expected column_log_probs of shape {(n * draws, len(names))}: one term per "
                f"column name. Received: {terms.shape}"
            )
        log_p = terms.astype("float64").reshape(n, draws, -1).mean(axis=1)  # (n, columns)
        parts.append(0.0 - log_p)  # not -log_p: a term of 0 (a missing cell) stays 0, not -0
    table = np.concatenate(parts) if parts else np.zeros((0, len(names)))
    return {name: table[:, i] for i, name in enumerate(names)}
