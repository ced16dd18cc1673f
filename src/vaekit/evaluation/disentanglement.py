"""Disentanglement metrics: does each ground-truth factor live in one latent dimension of its own?

Four metrics from the literature, written from their papers and, where a paper leaves a choice
open, as disentanglement_lib (Locatello et al. 2019) makes it; each docstring states its choices:

- `mig`: the Mutual Information Gap (Chen et al. 2018);
- `factor_vae_score`: the majority-vote accuracy of Kim & Mnih (2018);
- `dci`: disentanglement, completeness and informativeness (Eastwood & Williams 2018);
- `sap`: the Separated Attribute Predictability score (Kumar et al. 2018);
- `disentanglement_scores`: all four for a model, from its posterior means.

Each metric takes `codes` `(n, d)` (a model's posterior means, or any representation) and
`factors`: `(n, K)` ground-truth factors, or `(n,)` class labels (one discrete factor). A factor
is discrete when all its values are integers and it takes at most `factors.MAX_CLASSES` of them (shapes'
`shape`, a class label), else continuous (pass `discrete=[...]` to say otherwise). All of them
are numpy in, numbers out, and return plain dicts (floats, lists, `None`) that `json.dumps` takes.
The same `seed` gives the same result. MIG, SAP and FactorVAE need numpy only; DCI fits
scikit-learn's models (`pip install 'vaekit[metrics]'`).
"""

import numpy as np

from vaekit.errors import VaekitError
from vaekit.evaluation import factors as factors_lib

NUM_BINS = 20  # histogram bins of a continuous code or factor (disentanglement_lib's default)
PRUNE_STD = 0.05  # FactorVAE: a code dimension with a smaller std has collapsed to the prior
KEYS_PER_BLOCK = 1_000_000  # FactorVAE: random keys drawn at once to pick groups (8 MB)


def mig(codes, factors, *, discrete=None, factor_names=None, num_bins=NUM_BINS):
    """The Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in
    Variational Autoencoders").

    For each factor v_k, the mutual information I(z_j; v_k) with every code dimension, divided by
    the factor's entropy H(v_k); the factor's MIG is the gap between the two largest; the score is
    the average over factors. 1: each factor is carried by one dimension alone; 0: by none, or
    by two equally.

    Choices the paper leaves open (as disentanglement_lib): each code dimension is discretised into
    `num_bins` equal-width bins over its range, and so is each continuous factor (the paper uses
    the encoder's sampling distribution on dSprites' discrete grid instead); mutual information
    and entropy are the plug-in estimates of the discretised values, in nats. The plug-in estimate
    is biased upwards by about `(bins - 1)^2 / 2n` nats, so independent dimensions score a little
    above 0 on few examples.

    Args:
        codes: `(n, d)` representations, `d >= 2`.
        factors: `(n, K)` ground-truth factors or `(n,)` class labels.
        discrete: one bool per factor, or None to infer it (see the module).
        factor_names: one name per factor (default `factor_0`, ...).
        num_bins: histogram bins per continuous code dimension and factor.

    Returns:
        `{"mig": float, "per_factor": {name: float}}`.
    """
    codes, factors, discrete, names = factors_lib.prepare(codes, factors, discrete, factor_names)
    code_bins = [factors_lib.discretise(c, num_bins) for c in codes.T]
    gaps = {}
    for name, column, is_discrete in zip(names, factors.T, discrete, strict=True):
        labels = (
            factors_lib.classes(column) if is_discrete else factors_lib.discretise(column, num_bins)
        )
        info = sorted((factors_lib.mutual_information(z, labels) for z in code_bins), reverse=True)
        gaps[name] = (info[0] - info[1]) / factors_lib.entropy(labels)
    return {"mig": float(np.mean(list(gaps.values()))), "per_factor": gaps}


def factor_vae_score(
    codes,
    factors,
    *,
    discrete=None,
    factor_names=None,
    group_size=64,
    num_train=10_000,
    num_eval=5_000,
    num_bins=NUM_BINS,
    prune_std=PRUNE_STD,
    test_fraction=1 / 3,
    seed=0,
):
    """The FactorVAE score (Kim & Mnih 2018, "Disentangling by Factorising").

    Each vote: pick a factor k at random, take a group of examples that share its value, divide
    every code dimension by its std over all the data, and vote for the pair (k, the dimension of
    least variance within the group). A majority-vote classifier maps each dimension to the factor
    it was most often voted with on `num_train` votes; the score is its accuracy on `num_eval`
    other votes. 1: fixing any factor stills exactly one dimension of its own; the chance level
    is `1 / K` (with one factor, the score means nothing and is None).

    Choices: the groups come from the labelled data, not from a simulator (any labelled data
    set works, and for `shapes` the groups need no rendering): a vote's fixed value is the value
    (discrete factor) or the `num_bins` equal-width bin (continuous factor: within 1/20 of its
    range) of a random example, and the group is `group_size` examples (64, as in
    disentanglement_lib's studies; fewer when fewer share the value) drawn without replacement
    among those sharing it, the other factors varying as in the data. The held-out votes draw
    their groups from a held-out `test_fraction` of the examples (a third, as
    disentanglement_lib's 10,000 training and 5,000 evaluation votes), so that they share no
    example with the training votes. Dimensions whose std over the data is below `prune_std` have
    collapsed to the prior and are left out (0.05, the threshold of disentanglement_lib's
    studies, in the units of the codes: a VAE's prior has std 1); with none left the score is 0.
    Within-group variances use `ddof=1`; ties go to the lower index.

    Returns:
        `{"factor_vae": float or None, "train_accuracy": float or None, "active_dims": int,
        "chance": float}`.
    """
    codes, factors, discrete, _ = factors_lib.prepare(codes, factors, discrete, factor_names)
    factors_lib.check_count("group_size", group_size, 2)
    factors_lib.check_count("num_train", num_train, 1)
    factors_lib.check_count("num_eval", num_eval, 1)
    num_factors = factors.shape[1]
    std = codes.std(axis=0)
    active = np.flatnonzero(std >= prune_std)
    result = {"active_dims": len(active), "chance": 1.0 / num_factors}
    if num_factors == 1:
        return {"factor_vae": None, "train_accuracy": None, **result}
    if not len(active):
        return {"factor_vae": 0.0, "train_accuracy": 0.0, **result}
    scaled = codes[:, active] / std[active]  # (n, active): unit variance over the data
    halves = factors_lib.split(
        len(codes), test_fraction, seed
    )  # train votes, held-out votes: own examples
    groups = ([], [])  # per half, per factor: the index arrays of examples sharing a value
    for column, is_discrete in zip(factors.T, discrete, strict=True):
        labels = (
            factors_lib.classes(column) if is_discrete else factors_lib.discretise(column, num_bins)
        )
        for half, index in zip(groups, halves, strict=True):
            order = index[np.argsort(labels[index], kind="stable")]
            members = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
            members = [m for m in members if len(m) >= 2]
            sizes = np.array([len(m) for m in members], np.float64)
            half.append((members, sizes / max(1.0, sizes.sum())))  # a value drawn as in the data
    rng = np.random.default_rng([seed, 1])  # not the split's stream

    def votes(groups, count):
        table = np.zeros((num_factors, len(active)), np.int64)  # (factor, dimension) counts
        factor_of_vote = rng.integers(num_factors, size=count)
        for k, (candidates, p) in enumerate(groups):
            if not candidates:  # no two of these examples share a value of this factor
                continue
            chosen = rng.choice(len(candidates), size=int(np.sum(factor_of_vote == k)), p=p)
            for g, reps in zip(*np.unique(chosen, return_counts=True), strict=True):
                members, size = candidates[g], min(group_size, len(candidates[g]))
                rows = max(1, KEYS_PER_BLOCK // len(members))
                for start in range(0, reps, rows):  # the votes on this value, a block at a time
                    keys = rng.random((min(rows, reps - start), len(members)))
                    pick = members[np.argpartition(keys, size - 1, axis=1)[:, :size]]
                    least = np.argmin(scaled[pick].var(axis=1, ddof=1), axis=1)  # (votes,)
                    table[k] += np.bincount(least, minlength=len(active))
        return table

    train, test = votes(groups[0], num_train), votes(groups[1], num_eval)
    classifier = np.argmax(train, axis=0)  # (active,): each dimension's majority factor
    columns = np.arange(len(active))
    return {
        "factor_vae": float(test[classifier, columns].sum() / max(1, test.sum())),
        "train_accuracy": float(train[classifier, columns].sum() / max(1, train.sum())),
        **result,
    }


def dci(
    codes,
    factors,
    *,
    discrete=None,
    factor_names=None,
    regressor="gbt",
    n_estimators=100,
    alpha=0.01,
    test_fraction=0.3,
    seed=0,
):
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018, "A Framework
    for the Quantitative Evaluation of Disentangled Representations").

    One predictor per factor from all code dimensions gives an importance matrix R `(d, K)`.
    Disentanglement: each dimension's `1 - H_K(P_i.)` (entropy, base K, of its importances
    normalised over factors), weighted by its share of all importance; 1 when each dimension
    matters to one factor only. Completeness: each factor's `1 - H_d(P_.j)` (over dimensions),
    weighted likewise; 1 when each factor is read from one dimension only. Informativeness: how
    well the predictors do on held-out examples. With one factor disentanglement means nothing
    and is None.

    Choices: `regressor="gbt"` (default, as disentanglement_lib) fits scikit-learn's
    gradient-boosted trees (`n_estimators` trees of depth 3, otherwise scikit-learn's defaults)
    and takes their impurity-based `feature_importances_`; `"lasso"` (the paper's linear
    predictor) fits `Lasso(alpha)` on standardised codes and factor (a discrete factor: on its
    one-hot classes, predicting the largest) and takes `|coefficients|`. A continuous factor is
    regressed, a discrete one classified. A random `test_fraction` of the examples is held out;
    informativeness is the mean over factors of the held-out accuracy (discrete) or R^2 clipped
    at 0 (continuous), so 1 is perfect (the paper reports the error, 1 minus this). Completeness
    weights factors by their share of importance (as disentanglement_lib; the paper leaves it
    open); if no dimension matters to anything, both scores are 0.

    Returns:
        `{"disentanglement": float or None, "completeness": float, "informativeness": float,
        "informativeness_train": float, "per_factor": {name: {"completeness", "informativeness"}},
        "per_code": [disentanglement of each dimension], "importance": R as lists (d, K)}`.
    """
    codes, factors, discrete, names = factors_lib.prepare(codes, factors, discrete, factor_names)
    if regressor not in ("gbt", "lasso"):
        raise VaekitError(f"Expected regressor='gbt' or 'lasso'. Received: regressor={regressor!r}")
    factors_lib.check_count("n_estimators", n_estimators, 1)
    train, test = factors_lib.split(len(codes), test_fraction, seed)
    mean, std = codes[train].mean(axis=0), codes[train].std(axis=0)
    codes = (codes - mean) / np.where(std > 0, std, 1.0)  # trees do not care; Lasso does
    n_codes, n_factors = codes.shape[1], factors.shape[1]
    importance = np.zeros((n_codes, n_factors))
    scores = np.zeros((2, n_factors))  # (train, test) accuracy or clipped R^2 per factor
    for j, (column, is_discrete) in enumerate(zip(factors.T, discrete, strict=True)):
        y = factors_lib.classes(column) if is_discrete else column
        fit = factors_lib.fit_gbt if regressor == "gbt" else factors_lib.fit_lasso
        importance[:, j], predict = fit(
            codes[train], y[train], is_discrete, n_estimators, alpha, seed
        )
        for row, index in enumerate((train, test)):
            guess = predict(codes[index])
            if is_discrete:
                scores[row, j] = np.mean(guess == y[index])
            else:
                spread = np.sum((y[index] - y[index].mean()) ** 2)
                residual = np.sum((y[index] - guess) ** 2)
                scores[row, j] = max(0.0, 1.0 - residual / spread) if spread > 0 else 0.0
    total = importance.sum()
    if total > 0:
        per_code = 1.0 - factors_lib.entropy_rows(importance, n_factors) if n_factors > 1 else None
        per_factor = 1.0 - factors_lib.entropy_rows(importance.T, n_codes)
        code_weight, factor_weight = importance.sum(axis=1) / total, importance.sum(axis=0) / total
        disentanglement = float(per_code @ code_weight) if n_factors > 1 else None
        completeness = float(per_factor @ factor_weight)
    else:  # nothing predicts anything (e.g. Lasso's alpha too large)
        per_code = np.zeros(n_codes) if n_factors > 1 else None
        per_factor = np.zeros(n_factors)
        disentanglement, completeness = (0.0 if n_factors > 1 else None), 0.0
    return {
        "disentanglement": disentanglement,
        "completeness": completeness,
        "informativeness": float(scores[1].mean()),
        "informativeness_train": float(scores[0].mean()),
        "per_factor": {
            name: {"completeness": float(per_factor[j]), "informativeness": float(scores[1, j])}
            for j, name in enumerate(names)
        },
        "per_code": None if per_code is None else [float(v) for v in per_code],
        "importance": importance.tolist(),
    }


def sap(
    codes,
    factors,
    *,
    discrete=None,
    factor_names=None,
    num_bins=NUM_BINS,
    test_fraction=0.3,
    seed=0,
):
    """The Separated Attribute Predictability score (Kumar et al. 2018, "Variational Inference of
    Disentangled Latent Concepts from Unlabeled Observations").

    A score matrix S `(d, K)` says how well each single code dimension predicts each factor; a
    factor's SAP is the gap between its two best dimensions; the score is the average over
    factors. 1: one dimension predicts the factor perfectly and no other at all.

    Choices: for a continuous factor, S is the R^2 of a linear regression on the one dimension
    (its squared correlation with the factor, over all examples; 0 for a constant dimension), as
    the paper. For a discrete factor the paper fits a classifier with a threshold; a single
    threshold cannot separate more than two classes, so here each dimension is cut into
    `num_bins` equal-width bins over the training examples' range and each bin predicts its most
    frequent class (empty bins: the overall most frequent); S is its balanced accuracy on a held
    out `test_fraction` of the examples, adjusted for chance, `(b - 1/C) / (1 - 1/C)` for C
    classes, and clipped at 0, so that 0 means no information, as R^2 does.

    Returns:
        `{"sap": float, "per_factor": {name: float}}`.
    """
    codes, factors, discrete, names = factors_lib.prepare(codes, factors, discrete, factor_names)
    train, test = factors_lib.split(len(codes), test_fraction, seed)
    gaps = {}
    for name, column, is_discrete in zip(names, factors.T, discrete, strict=True):
        if is_discrete:
            labels = factors_lib.classes(column)
            score = [factors_lib.binned_accuracy(z, labels, train, test, num_bins) for z in codes.T]
        else:
            score = [factors_lib.r_squared(z, column) for z in codes.T]
        top, second = sorted(score, reverse=True)[:2]
        gaps[name] = float(top - second)
    return {"sap": float(np.mean(list(gaps.values()))), "per_factor": gaps}


def disentanglement_scores(model, x, factors, *, factor_names=None, discrete=None, seed=0):
    """All four metrics for a trained model: MIG, SAP, the FactorVAE score and DCI.

    The representation is the model's posterior means (`model.encode(x)`), as in the papers;
    each metric runs with its defaults (see `mig`, `sap`, `factor_vae_score`, `dci`) and `seed`.

    Args:
        model: a trained vaekit model.
        x: `(n, ...)` examples the model reads.
        factors: `(n, K)` ground-truth factors of `x` (`shapes`' labels) or `(n,)` class labels.
        factor_names: one name per factor (default `factor_0`, ...).
        discrete: one bool per factor, or None to infer it.
        seed: seeds the FactorVAE votes and the held-out splits of SAP and DCI.

    Returns:
        A dict: `n`, `latent_dim`, `factors` (names), the scores `mig`, `sap`, `factor_vae`,
        `dci_disentanglement`, `dci_completeness`, `dci_informativeness` (floats; `factor_vae` and
        `dci_disentanglement` are None with a single factor), `factor_vae_chance`,
        `factor_vae_active_dims`, `per_factor` (`{name: {"mig", "sap", "dci_completeness",
        "dci_informativeness"}}`) and `dci_importance` (lists, `(latent_dim, K)`).
    """
    if len(x) != len(factors):
        raise VaekitError(
            f"Expected as many factor rows as examples. Received: len(x)={len(x)}, "
            f"len(factors)={len(factors)}"
        )
    codes = model.encode(x)[0]  # (n, latent_dim) posterior means
    factors = np.asarray(factors)
    names = factors_lib.factor_names_of(factor_names, 1 if factors.ndim == 1 else factors.shape[-1])
    options = {"discrete": discrete, "factor_names": names}
    gap = mig(codes, factors, **options)
    separated = sap(codes, factors, seed=seed, **options)
    votes = factor_vae_score(codes, factors, seed=seed, **options)
    dci_result = dci(codes, factors, seed=seed, **options)
    return {
        "n": len(codes),
        "latent_dim": int(codes.shape[1]),
        "factors": names,
        "mig": gap["mig"],
        "sap": separated["sap"],
        "factor_vae": votes["factor_vae"],
        "factor_vae_chance": votes["chance"],
        "factor_vae_active_dims": votes["active_dims"],
        "dci_disentanglement": dci_result["disentanglement"],
        "dci_completeness": dci_result["completeness"],
        "dci_informativeness": dci_result["informativeness"],
        "per_factor": {
            name: {
                "mig": gap["per_factor"][name],
                "sap": separated["per_factor"][name],
                "dci_completeness": dci_result["per_factor"][name]["completeness"],
                "dci_informativeness": dci_result["per_factor"][name]["informativeness"],
            }
            for name in names
        },
        "dci_importance": dci_result["importance"],
    }
