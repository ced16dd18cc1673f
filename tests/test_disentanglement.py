"""Disentanglement metrics (MIG, SAP, FactorVAE, DCI) on codes with known answers, and the command.

Factors are drawn as `shapes` draws them: a shape id (4 classes), then scale, rotation and x/y
position, continuous. Codes built from them have known answers: the factors themselves (or a
permuted, rescaled, monotone copy) are perfectly disentangled, independent noise not at all, and
a rotated pair of factors sits in between.
"""

import json
import math
import sys

import numpy as np
import pytest

import vaekit
from vaekit.cli import main
from vaekit.errors import VaekitError
from vaekit.evaluation import disentanglement as dis

N = 1000  # examples: enough for the histograms of MIG (its plug-in bias shrinks as 1/N)
FEW_TREES = {"n_estimators": 30}  # DCI: a third of the default, plenty for these codes


def make_factors(n=N, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.random((n, 5))
    return np.stack(
        [np.floor(4 * u[:, 0]), 0.6 + 0.4 * u[:, 1], 2 * np.pi * u[:, 2], u[:, 3], u[:, 4]],
        axis=1,
    )  # (n, 5): shape, scale, rotation, pos_x, pos_y


FACTORS = make_factors()
PERMUTATION = [3, 0, 4, 1, 2]


def standardised(f):
    return (f - f.mean(axis=0)) / f.std(axis=0)


def rotated_positions(f, angle=math.pi / 4):
    """The factors with pos_x and pos_y mixed by a rotation: two dimensions share two factors."""
    z = standardised(f)
    c, s = math.cos(angle), math.sin(angle)
    z[:, 3], z[:, 4] = c * z[:, 3] - s * z[:, 4], s * z[:, 3] + c * z[:, 4]
    return z


CODES = {
    "aligned": FACTORS,
    "permuted_rescaled": (FACTORS * [2.0, -0.5, 3.0, 1.5, -4.0] + 1.0)[:, PERMUTATION],
    "monotone": np.stack(
        [
            np.exp(FACTORS[:, 0]),
            FACTORS[:, 1] ** 3,
            np.tanh((FACTORS[:, 2] - 3) / 4),
            np.sqrt(FACTORS[:, 3] + 0.1),
            -(FACTORS[:, 4] ** 2),
        ],
        axis=1,
    )[:, PERMUTATION],
    "noise": np.random.default_rng(1).normal(size=(N, 6)),
    "mixed": rotated_positions(FACTORS),
}


def all_scores(codes, factors=FACTORS, seed=0):
    gap = dis.mig(codes, factors)
    votes = dis.factor_vae_score(codes, factors, seed=seed)
    dci = dis.dci(codes, factors, seed=seed, **FEW_TREES)
    return {
        "mig": gap["mig"],
        "mig_per_factor": gap["per_factor"],
        "sap": dis.sap(codes, factors, seed=seed)["sap"],
        "factor_vae": votes["factor_vae"],
        "dci_disentanglement": dci["disentanglement"],
        "dci_completeness": dci["completeness"],
        "dci_informativeness": dci["informativeness"],
    }


@pytest.fixture(scope="module")
def scores():
    return {name: all_scores(codes) for name, codes in CODES.items()}


def test_the_factors_themselves_score_near_one(scores):
    s = scores["aligned"]
    # Observed at N=1000: MIG 0.939 (the plug-in MI of independent dimensions is ~0.06 of H),
    # SAP 0.989, FactorVAE 1.0, DCI 1.0 / 1.0 / 0.998.
    assert s["mig"] > 0.9
    assert s["sap"] > 0.95
    assert s["factor_vae"] == 1.0
    assert s["dci_disentanglement"] > 0.95 and s["dci_completeness"] > 0.95
    assert s["dci_informativeness"] > 0.95


def test_a_permuted_rescaled_copy_keeps_its_scores(scores):
    a, b = scores["aligned"], scores["permuted_rescaled"]
    for name in ("mig", "sap", "factor_vae"):  # histograms, correlations and votes: exactly
        assert b[name] == pytest.approx(a[name], abs=1e-9), name
    for name in ("dci_disentanglement", "dci_completeness", "dci_informativeness"):
        assert b[name] == pytest.approx(a[name], abs=0.01), name  # trees break ties at random


def test_a_monotone_copy_scores_high(scores):
    s = scores["monotone"]
    # Observed: MIG 0.783 (equal-width bins of a curved code no longer line up with the factor's:
    # histogram MIG is invariant to affine maps only), SAP 0.973, FactorVAE 1.0, DCI 1.0 / 1.0.
    assert s["mig"] > 0.7 and s["mig_per_factor"]["factor_0"] > 0.9  # the discrete factor
    assert s["sap"] > 0.9 and s["factor_vae"] > 0.99
    assert s["dci_disentanglement"] > 0.95 and s["dci_completeness"] > 0.95


def test_independent_noise_scores_near_zero_or_chance(scores):
    s = scores["noise"]
    # Observed: MIG 0.002, SAP 0.001, FactorVAE 0.209 (chance 0.2), DCI 0.020 / 0.021 / 0.049.
    assert s["mig"] < 0.05 and s["sap"] < 0.05
    assert abs(s["factor_vae"] - 1 / 5) < 0.1
    assert s["dci_disentanglement"] < 0.1 and s["dci_completeness"] < 0.1
    assert s["dci_informativeness"] < 0.15  # shape: 4-class accuracy ~0.25; R^2 ~0 elsewhere


def test_mixing_two_factors_scores_lower_than_aligned(scores):
    aligned, mixed = scores["aligned"], scores["mixed"]
    # Observed: MIG 0.570, SAP 0.605, FactorVAE 0.794, DCI 0.828 / 0.828 (informativeness 0.991);
    # the MIG of pos_x and pos_y falls from 0.93 to 0.007.
    for name in ("mig", "sap", "factor_vae", "dci_disentanglement", "dci_completeness"):
        assert mixed[name] < aligned[name] - 0.1, name
    assert mixed["dci_informativeness"] > 0.95  # the information is all there, only mixed
    per_factor = mixed["mig_per_factor"]
    assert per_factor["factor_3"] < 0.3 and per_factor["factor_4"] < 0.3
    assert per_factor["factor_0"] > 0.9  # the untouched factors keep their gap


def test_dci_with_lasso():
    aligned = dis.dci(FACTORS[:, 1:], FACTORS[:, 1:], regressor="lasso")  # continuous factors
    mixed = dis.dci(rotated_positions(FACTORS)[:, 1:], FACTORS[:, 1:], regressor="lasso")
    # Observed: 1.0 / 1.0 / informativeness 1.0 aligned (Lasso zeroes the other weights); the
    # mixed pair 0.708 / 0.708.
    assert aligned["disentanglement"] > 0.95 and aligned["completeness"] > 0.95
    assert aligned["informativeness"] > 0.95
    assert mixed["disentanglement"] < aligned["disentanglement"] - 0.1
    assert np.shape(aligned["importance"]) == (4, 4)


def test_the_same_seed_gives_the_same_scores():
    codes = CODES["mixed"]
    first = dis.factor_vae_score(codes, FACTORS, seed=3)
    again = dis.factor_vae_score(codes, FACTORS, seed=3)
    other = dis.factor_vae_score(codes, FACTORS, seed=4)
    assert first == again and other != first
    assert dis.sap(codes, FACTORS, seed=3) == dis.sap(codes, FACTORS, seed=3)
    assert dis.dci(codes, FACTORS, seed=3, n_estimators=5) == dis.dci(
        codes, FACTORS, seed=3, n_estimators=5
    )


def test_one_discrete_factor_class_labels():
    labels = FACTORS[:, 0].astype("int64")  # (n,) class ids, as MNIST's labels
    codes = np.stack(
        [labels + 0.1 * np.random.default_rng(2).normal(size=N), CODES["noise"][:, 0]], 1
    )
    assert dis.mig(codes, labels)["mig"] > 0.9  # observed 0.975
    assert dis.sap(codes, labels)["sap"] > 0.95  # observed 1.0
    votes = dis.factor_vae_score(codes, labels)
    assert (
        votes["factor_vae"] is None and votes["chance"] == 1.0
    )  # one factor: nothing to tell apart
    result = dis.dci(codes, labels, n_estimators=10, factor_names=["class"])
    assert result["disentanglement"] is None and result["completeness"] > 0.95
    assert list(result["per_factor"]) == ["class"]


def with_one(array, value):
    array = array.copy()
    array[5, 1] = value
    return array


@pytest.mark.parametrize(
    "codes, factors, options, match",
    [
        (FACTORS[:-1], FACTORS, {}, "as many codes as factor rows"),
        (with_one(FACTORS, np.nan), FACTORS, {}, "finite codes"),
        (FACTORS, with_one(FACTORS, np.inf), {}, "finite factors"),
        (FACTORS[:1], FACTORS[:1], {}, "at least 10 examples"),
        (FACTORS, np.c_[FACTORS, np.ones(N)], {}, "factor 'factor_5' constant at 1"),
        (FACTORS[:, 0], FACTORS, {}, r"codes of shape \(n, d\) with d >= 2"),
        (FACTORS[:, :1], FACTORS, {}, "d >= 2"),
        (FACTORS.astype(str), FACTORS, {}, "numeric codes"),
        (FACTORS, FACTORS, {"discrete": [True]}, "one bool per factor"),
        (FACTORS, FACTORS, {"factor_names": ["a", "a", "b", "c", "d"]}, "5 distinct factor names"),
    ],
)
@pytest.mark.parametrize("metric", [dis.mig, dis.sap, dis.factor_vae_score, dis.dci])
def test_bad_input_is_a_clear_error(metric, codes, factors, options, match):
    with pytest.raises(VaekitError, match=match):
        metric(codes, factors, **options)


def test_bad_options_are_clear_errors():
    with pytest.raises(VaekitError, match="regressor='gbt' or 'lasso'"):
        dis.dci(FACTORS, FACTORS, regressor="forest")
    with pytest.raises(VaekitError, match="group_size to be an integer >= 2"):
        dis.factor_vae_score(FACTORS, FACTORS, group_size=1)
    with pytest.raises(VaekitError, match=r"test_fraction in \(0, 1\)"):
        dis.sap(FACTORS, FACTORS, test_fraction=1.5)


def test_dci_without_scikit_learn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)  # import fails as if absent
    with pytest.raises(VaekitError, match=r"pip install 'vaekit\[metrics\]'"):
        dis.dci(FACTORS, FACTORS)


def test_disentanglement_scores_of_a_trained_model(tiny_run):
    model = vaekit.load_model(tiny_run)
    x, factors = vaekit.data.make_shapes(300, seed=7)
    names = vaekit.data.shapes.FACTOR_NAMES
    result = vaekit.disentanglement_scores(model, x, factors, factor_names=names, seed=0)
    assert result["n"] == 300 and result["latent_dim"] == model.latent_dim
    assert result["factors"] == names and list(result["per_factor"]) == names
    for name in ("mig", "sap", "factor_vae", "dci_disentanglement", "dci_completeness"):
        assert 0 <= result[name] <= 1, name
    assert 0 <= result["dci_informativeness"] <= 1
    assert np.shape(result["dci_importance"]) == (model.latent_dim, 5)
    assert json.loads(json.dumps(result)) == result  # plain numbers and lists
    with pytest.raises(VaekitError, match="as many factor rows as examples"):
        vaekit.disentanglement_scores(model, x, factors[:-1])


def test_the_command_prints_and_writes_only_when_asked(tiny_run, capsys, tmp_path):
    before = sorted(p.name for p in tiny_run.iterdir())
    assert main(["disentanglement", str(tiny_run), "--num", "200", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dataset"] == "shapes" and result["n"] == 200
    assert result["factors"] == ["shape", "scale", "rotation", "pos_x", "pos_y"]
    assert sorted(p.name for p in tiny_run.iterdir()) == before  # nothing written

    out = tmp_path / "d.json"
    argv = ["disentanglement", str(tiny_run), "--num", "200", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "MIG" in text and "FactorVAE" in text and "pos_x" in text and f"Wrote {out}" in text
    assert json.loads(out.read_text())["mig"] == result["mig"]  # the same seed, the same scores
    assert main(argv) == 2  # refused before any work
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def test_the_command_refuses_data_without_labels_and_non_image_models(tiny_run, capsys, tmp_path):
    images = tmp_path / "unlabelled.npy"
    np.save(images, np.zeros((20, 28, 28, 1), "float32"))
    assert main(["disentanglement", str(tiny_run), "--dataset", str(images)]) == 2
    err = capsys.readouterr().err
    assert "has no labels" in err and len(err.strip().splitlines()) == 1

    table = tmp_path / "t.csv"
    table.write_text("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(20)), encoding="utf-8")
    data = vaekit.load_dataset(str(table))
    model = vaekit.build_vae(data.shape, "tabular", codec=data.codec, latent_dim=2)
    path = vaekit.save_model(model, tmp_path / "table.keras")
    assert main(["disentanglement", str(path), "--dataset", str(table)]) == 2
    err = capsys.readouterr().err
    assert "expected an image model. Received a table model" in err
    assert len(err.strip().splitlines()) == 1
