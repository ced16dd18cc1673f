"""What a trained model shows: samples, reconstructions, interpolations, traversals, manifolds, maps.

Every function takes a model and numpy arrays and returns numpy arrays (images are float32
`(..., H, W, C)` in [0, 1]); `vaekit.pictures.plots` draws them. Decoding is batched: a 30x30 manifold is one
decoder call per 1024 latents, not 900 predict calls.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from vaekit.errors import VaekitError


def prior_samples(model, num, seed=0, temperature=1.0):
    """`num` images decoded from prior draws; `temperature` scales the draws (< 1: typical images)."""
    if temperature < 0:
        raise VaekitError(f"Expected temperature >= 0. Received: {temperature}")
    return model.sample(int(num), seed=seed, temperature=temperature)


def prior_sentences(model, num, seed=0, temperature=1.0, greedy=False):
    """`num` sentences of a text model from prior draws of z, each written token by token: drawn
    from the softmax at `temperature`, or the most likely token at each step (`greedy`)."""
    from keras import ops

    from vaekit.pictures.outputs import as_sentences

    if temperature < 0:
        raise VaekitError(f"Expected temperature >= 0. Received: {temperature}")
    z = ops.convert_to_numpy(model.prior.sample(int(num), model.latent_dim, seed=seed))
    params = model.decode(z, return_params=True)
    ids = model.likelihood.generate(params, greedy=greedy, temperature=temperature, seed=seed)
    return as_sentences(model, ids)


def reconstruct_sentences(model, x):
    """Token ids `x` of a text model, each re-written greedily from its posterior mean: what the
    latent code keeps of a sentence. A list of strings."""
    from vaekit.pictures.outputs import as_sentences

    mean, _ = model.encode(x)
    params = model.decode(mean, return_params=True)
    return as_sentences(model, model.likelihood.generate(params, greedy=True))


def prior_rows(model, num, seed=0, condition=None, temperature=1.0, batch_size=1024):
    """`num` synthetic rows of a table model: z from the prior (scaled by `temperature`), then
    each cell drawn from the decoder's distribution (a mean would flatten every column to its
    average). Encoded rows `(num, size)`, numpy, for `model_codec(model).decode`.

    A conditional model takes `condition`: values `(num, width)`, or one row `(width,)` for all
    (`TableSchema.encode_condition`); without it, each row's condition is drawn as often as it
    was in the training rows."""
    from keras import ops

    from vaekit.pictures.outputs import kind_of, model_codec

    if kind_of(model) != "table":
        raise VaekitError(f"Expected a table model. Received a {kind_of(model)} model.")
    if temperature < 0:
        raise VaekitError(f"Expected temperature >= 0. Received: {temperature}")
    z = ops.convert_to_numpy(model.prior.sample(int(num), model.latent_dim, seed=seed))
    z = z * float(temperature)
    if condition is None and model.conditioned:
        codec = model_codec(model)
        counts = codec.condition_counts()
        picks = np.random.default_rng(seed).choice(
            len(counts), size=len(z), p=counts / counts.sum()
        )
        values = codec.condition_values()
        condition = codec.encode_condition([values[k] for k in picks])
    if condition is not None:
        condition = np.broadcast_to(
            np.asarray(condition, "float32"), (len(z), model.likelihood.condition_width)
        )
    params = model.decode(z, batch_size=batch_size, return_params=True, condition=condition)
    rows = model.likelihood.sample(params, seed=seed)
    if condition is not None:
        rows = model.likelihood.place_condition(rows, ops.convert_to_tensor(condition))
    return ops.convert_to_numpy(rows)


def reconstructions(model, x):
    """Decoded posterior means of `x`."""
    return model.reconstruct(_images(model, x))


def slerp(a, b, t):
    """Spherical interpolation between vectors `a` and `b` (rows), at fractions `t` (1-d)."""
    a, b, t = np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(t, np.float64)
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = math.acos(float(np.clip(cos, -1.0, 1.0)))
    if omega < 1e-6:  # (nearly) parallel: the straight line is the arc
        return ((1 - t)[:, None] * a + t[:, None] * b).astype(np.float32)
    s = math.sin(omega)
    weights_a, weights_b = np.sin((1 - t) * omega) / s, np.sin(t * omega) / s
    return (weights_a[:, None] * a + weights_b[:, None] * b).astype(np.float32)


def interpolate(model, x_a, x_b, steps=10, method="linear"):
    """Decode a path between the posterior means of two inputs.

    Args:
        x_a: The input at the start of the path, `(H, W, C)`.
        x_b: The input at the end of the path, `(H, W, C)`.
        steps: Points on the path, both ends included.
        method: `"linear"` or `"slerp"` (spherical: keeps the norm typical of prior draws).

    Returns:
        `(steps, H, W, C)` images.
    """
    if method not in ("linear", "slerp"):
        raise VaekitError(f"Expected method 'linear' or 'slerp'. Received: {method!r}")
    if steps < 2:
        raise VaekitError(f"Expected at least 2 interpolation steps. Received: {steps}")
    mean, _ = model.encode(_images(model, np.stack([x_a, x_b])))
    t = np.linspace(0.0, 1.0, steps)
    if method == "slerp":
        z = slerp(mean[0], mean[1], t)
    else:
        z = ((1 - t)[:, None] * mean[0] + t[:, None] * mean[1]).astype(np.float32)
    return model.decode(z)


def interpolate_sentences(model, ids_a, ids_b, steps=8, method="linear"):
    """Bowman et al.'s homotopy: sentences decoded greedily along the path between the posterior
    means of two sentences of a text model (token ids `(T,)` each). A list of `steps` strings, both
    ends included."""
    from vaekit.pictures.outputs import as_sentences

    if method not in ("linear", "slerp"):
        raise VaekitError(f"Expected method 'linear' or 'slerp'. Received: {method!r}")
    if steps < 2:
        raise VaekitError(f"Expected at least 2 interpolation steps. Received: {steps}")
    mean, _ = model.encode(np.stack([ids_a, ids_b]))
    t = np.linspace(0.0, 1.0, steps)
    if method == "slerp":
        z = slerp(mean[0], mean[1], t)
    else:
        z = ((1 - t)[:, None] * mean[0] + t[:, None] * mean[1]).astype(np.float32)
    params = model.decode(z, return_params=True)
    return as_sentences(model, model.likelihood.generate(params, greedy=True))


def kl_per_dimension(model, x, batch_size=1024):
    """Average KL(q(z_d|x) || N(0, 1)) of each latent dimension over `x`, `(latent_dim,)` nats.

    Dimensions the model does not use sit at ~0; the informative ones carry the KL. (For priors
    other than the standard normal this is the KL to N(0, 1), used only to rank dimensions.)
    """
    mean, log_var = model.encode(_images(model, x), batch_size=batch_size)
    kl = 0.5 * (np.exp(log_var) + mean**2 - 1.0 - log_var)  # (n, latent)
    return kl.mean(axis=0)


@dataclass
class Traversal:
    """Latent traversals: `images[i, j]` decodes `base` with dimension `dims[i]` set to `values[j]`."""

    images: np.ndarray  # (len(dims), len(values), H, W, C)
    dims: np.ndarray  # latent dimensions, most informative first
    kl: np.ndarray  # their average KL (nats)
    values: np.ndarray  # the values each dimension sweeps


def traverse(model, x, num_dims=None, values=None, base=None, batch_size=1024):
    """Sweep each latent dimension over `values`, the others fixed at `base`, most informative first.

    Args:
        x: Data used to rank dimensions by average KL (and, without `base`, the first image's
            posterior mean is the fixed point).
        num_dims: How many dimensions to show (default: all).
        values: The values swept (default: 9 points from -3 to 3, in prior standard deviations).
        base: The latent point held fixed, `(latent_dim,)`.
    """
    x = _images(model, x)
    kl = kl_per_dimension(model, x, batch_size=batch_size)
    order = np.argsort(-kl, kind="stable")[: num_dims or model.latent_dim]
    values = np.linspace(-3.0, 3.0, 9) if values is None else np.asarray(values, np.float32)
    if base is None:
        base = model.encode(x[:1])[0][0]
    base = np.asarray(base, np.float32)
    z = np.repeat(base[None, None, :], len(order) * len(values), axis=0).reshape(
        len(order), len(values), -1
    )  # (dims, values, latent)
    for i, d in enumerate(order):
        z[i, :, d] = values
    images = model.decode(z.reshape(-1, model.latent_dim), batch_size=batch_size)
    return Traversal(
        images.reshape(len(order), len(values), *images.shape[1:]), order, kl[order], values
    )


def manifold(model, dims=None, n=20, x=None, quantiles=(0.05, 0.95)):
    """Decode an `n x n` grid over two latent dimensions (others at 0), in one batched call.

    The grid is evenly spaced in prior probability (Gaussian quantiles), as in Kingma & Welling's
    figure. `dims` defaults to the two most informative dimensions on `x` (or 0 and 1 without `x`).

    Returns:
        `(images (n, n, H, W, C), dims, values)`: row i has the first dimension at `values[i]`...
        `images[i, j]` decodes z[dims[0]] = values[j] (left to right) and z[dims[1]] = values[n-1-i]
        (top to bottom, so "up" is larger, as on a plot).
    """
    if model.latent_dim < 2:
        raise VaekitError(
            f"A 2-D manifold needs a latent of >= 2 dimensions; this one has {model.latent_dim}."
        )
    if dims is None:
        dims = (
            (0, 1)
            if x is None
            else tuple(int(d) for d in np.argsort(-kl_per_dimension(model, x))[:2])
        )
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2 or len(set(dims)) != 2 or not all(0 <= d < model.latent_dim for d in dims):
        raise VaekitError(
            f"Expected two different latent dimensions in [0, {model.latent_dim}). Received: {dims}"
        )
    values = np.array([NormalDist().inv_cdf(p) for p in np.linspace(*quantiles, n)], np.float32)
    z = np.zeros((n, n, model.latent_dim), np.float32)
    z[:, :, dims[0]] = values[None, :]
    z[:, :, dims[1]] = values[::-1, None]
    images = model.decode(z.reshape(-1, model.latent_dim))
    return images.reshape(n, n, *images.shape[1:]), dims, values


def latent_map(model, x, batch_size=1024, progress=False):
    """Posterior means of `x` in 2-D: the means themselves for a 2-d latent, else their PCA.

    Returns:
        `(points (n, 2), explained)`: `explained` is the share of variance the 2-D view keeps (1.0
        when no projection was needed).
    """
    mean, _ = model.encode(_images(model, x), batch_size=batch_size, progress=progress)
    if mean.shape[1] == 1:
        return np.concatenate([mean, np.zeros_like(mean)], axis=1), 1.0
    if mean.shape[1] == 2:
        return mean, 1.0
    centred = mean - mean.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    explained = float((s[:2] ** 2).sum() / max((s**2).sum(), 1e-12))
    return (centred @ vt[:2].T).astype(np.float32), explained


def _images(model, x):
    x = np.asarray(x, np.float32)
    if x.ndim == len(model.data_shape):
        x = x[None]
    if tuple(x.shape[1:]) != tuple(model.data_shape):
        raise VaekitError(
            f"Expected images of shape {tuple(model.data_shape)}. Received: {tuple(x.shape[1:])}"
        )
    return x


def impute(model, x, batch_size=1024):
    """Rows of a table model with their missing cells filled from the posterior: each row is
    encoded (the encoder sees which cells are missing), its posterior mean decoded, and the
    decoder's expected value put in each missing cell (for a category, its probabilities: the
    codec decodes the most likely one). Observed cells are kept as they are; every flag becomes 1.
    numpy `(n, size)`, ready for `model_codec(model).decode`."""
    if not hasattr(model.likelihood, "impute"):
        raise ValueError(
            f"Expected a model whose likelihood fills missing cells (a table model). Received: "
            f"likelihood {model.likelihood.kind!r}"
        )
    x = np.asarray(x, dtype="float32")
    mean, _ = model.encode(x, batch_size=batch_size)
    parts = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        params = model.decode(
            mean[start : start + batch_size], return_params=True, condition=model.condition_of(xb)
        )
        parts.append(model.likelihood.impute(x[start : start + batch_size], params))
    return np.concatenate(parts) if parts else x.copy()
