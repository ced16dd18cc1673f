"""What the disentanglement metrics share: checked codes and factors, discretisation, and the
small estimators (histogram mutual information and entropy, held-out splits, R², binned
accuracy, scikit-learn's models for DCI), each written once."""

import math

import numpy as np

from vaekit.errors import VaekitError

MAX_CLASSES = 20  # an integer-valued factor with at most this many values is discrete
MIN_EXAMPLES = 10  # fewer examples say nothing about a representation


def prepare(codes, factors, discrete, factor_names):
    """Checked float64 codes `(n, d)` and factors `(n, K)`, a bool per factor, the names."""
    codes, factors = checked_array("codes", codes), checked_array("factors", factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise VaekitError(
            "Expected codes of shape (n, d) with d >= 2 dimensions. "
            f"Received: codes.shape={codes.shape}"
        )
    if factors.ndim != 2 or not factors.shape[1]:
        raise VaekitError(
            "Expected factors of shape (n, K) or class labels of shape (n,). "
            f"Received: factors.shape={factors.shape}"
        )
    if len(codes) != len(factors):
        raise VaekitError(
            f"Expected as many codes as factor rows. Received: len(codes)={len(codes)}, "
            f"len(factors)={len(factors)}"
        )
    if len(codes) < MIN_EXAMPLES:
        raise VaekitError(
            f"Expected at least {MIN_EXAMPLES} examples to measure disentanglement. "
            f"Received: n={len(codes)}"
        )
    names = factor_names_of(factor_names, factors.shape[1])
    for name, column in zip(names, factors.T, strict=True):
        if column.min() == column.max():
            raise VaekitError(
                f"Expected every factor to vary over the examples. Received: factor {name!r} "
                f"constant at {column[0]:g}"
            )
    if discrete is None:
        discrete = [looks_discrete(column) for column in factors.T]
    elif np.ndim(discrete) != 1 or len(discrete) != factors.shape[1]:
        raise VaekitError(
            f"Expected discrete to hold one bool per factor ({factors.shape[1]}). "
            f"Received: discrete={discrete!r}"
        )
    return codes, factors, [bool(d) for d in discrete], names


def checked_array(name, value):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise VaekitError(f"Expected numeric {name}. Received: {name} of dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise VaekitError(f"Expected finite {name}. Received: {name} with NaN or infinite values")
    return array


def factor_names_of(factor_names, count):
    if factor_names is None:
        return [f"factor_{k}" for k in range(count)]
    names = [str(name) for name in factor_names]
    if len(names) != count or len(set(names)) != count:
        raise VaekitError(
            f"Expected {count} distinct factor names. Received: factor_names={factor_names!r}"
        )
    return names


def check_count(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise VaekitError(f"Expected {name} to be an integer >= {low}. Received: {name}={value!r}")


def looks_discrete(column):
    return bool(np.all(column == np.round(column)) and len(np.unique(column)) <= MAX_CLASSES)


def classes(column):
    """Class ids 0..C-1 of a discrete factor's values."""
    return np.unique(column, return_inverse=True)[1].reshape(-1)


def discretise(values, num_bins):
    """Bin ids 0..num_bins-1 of `num_bins` equal-width bins over the values' range."""
    edges = np.histogram_bin_edges(values, num_bins)
    return np.digitize(values, edges[1:-1])


def mutual_information(a, b):
    """Plug-in mutual information (nats) of two integer label arrays."""
    width = b.max() + 1
    joint = np.bincount(a * width + b, minlength=(a.max() + 1) * width).reshape(-1, width)
    p = joint / len(a)  # (values of a, values of b)
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    nonzero = p > 0
    return float(np.sum(p[nonzero] * np.log(p[nonzero] / outer[nonzero])))


def entropy(labels):
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def entropy_rows(matrix, base):
    """Entropy (log base `base`) of each row normalised to sum 1; an all-zero row is uniform."""
    sums = matrix.sum(axis=1, keepdims=True)
    p = np.where(sums > 0, matrix / np.where(sums > 0, sums, 1.0), 1.0 / matrix.shape[1])
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=1) / math.log(base)


def split(n, test_fraction, seed):
    if not 0 < test_fraction < 1:
        raise VaekitError(
            f"Expected test_fraction in (0, 1). Received: test_fraction={test_fraction!r}"
        )
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(n - 2, max(2, round(test_fraction * n)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def r_squared(z, y):
    if z.std() == 0:
        return 0.0
    return float(np.corrcoef(z, y)[0, 1] ** 2)


def binned_accuracy(z, labels, train, test, num_bins):
    """Chance-adjusted balanced test accuracy of `num_bins` bins of z, each voting its majority."""
    num_classes = labels.max() + 1
    edges = np.histogram_bin_edges(z[train], num_bins)
    bins = np.digitize(z, edges[1:-1])  # (n,) in 0..num_bins-1; test values beyond clip to the ends
    counts = np.zeros((num_bins, num_classes), np.int64)
    np.add.at(counts, (bins[train], labels[train]), 1)
    guess = np.where(
        counts.sum(axis=1) > 0, counts.argmax(axis=1), np.bincount(labels[train]).argmax()
    )
    truth, predicted = labels[test], guess[bins[test]]
    present = np.unique(truth)
    if len(present) < 2:
        return 0.0
    balanced = np.mean([np.mean(predicted[truth == c] == c) for c in present])
    chance = 1.0 / len(present)
    return float(max(0.0, (balanced - chance) / (1.0 - chance)))


def fit_gbt(x, y, is_discrete, n_estimators, alpha, seed):
    ensemble = sklearn("ensemble")
    if is_discrete and np.all(y == y[0]):  # one class among the training examples: no trees
        return np.zeros(x.shape[1]), lambda codes: np.full(len(codes), y[0])
    kind = (
        ensemble.GradientBoostingClassifier if is_discrete else ensemble.GradientBoostingRegressor
    )
    model = kind(n_estimators=n_estimators, random_state=seed).fit(x, y)
    return np.abs(model.feature_importances_), model.predict


def fit_lasso(x, y, is_discrete, n_estimators, alpha, seed):
    lasso = sklearn("linear_model").Lasso(alpha=alpha, random_state=seed)
    if is_discrete:
        lasso.fit(x, np.eye(y.max() + 1)[y])  # one-hot classes (n, C)
        return np.abs(lasso.coef_).sum(axis=0), lambda codes: np.argmax(
            lasso.predict(codes), axis=1
        )
    mean, std = y.mean(), (y.std() or 1.0)
    lasso.fit(x, (y - mean) / std)
    return np.abs(lasso.coef_), lambda codes: lasso.predict(codes) * std + mean


def sklearn(module):
    import importlib

    try:
        return importlib.import_module(f"sklearn.{module}")
    except ImportError:
        raise VaekitError(
            "The DCI metric needs scikit-learn; install it with: pip install 'vaekit[metrics]'."
        ) from None
