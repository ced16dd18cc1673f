"""Per-example scores (`score_examples`) and the table writers (CSV, Parquet, embeddings)."""

import csv
import math
import sys

import keras
import numpy as np
import pytest
from keras import ops

import vaekit
from vaekit.errors import DataError
from vaekit.evaluation import scores as scores_lib
from vaekit.models.likelihoods import Bernoulli
from vaekit.models.vae import VAE


@keras.saving.register_keras_serializable(package="vaekit_tests")
class TwoColumnBernoulli(Bernoulli):
    """A Bernoulli over flat values read as two columns: the first half of them, and the rest."""

    column_names = ["a", "b"]

    def column_log_probs(self, x, params):
        params = self._flat(params)
        x = self._flat(x, params.dtype)
        terms = x * params - ops.softplus(params)  # log p of each value, (batch, values)
        half = terms.shape[1] // 2
        return ops.stack(
            [ops.sum(terms[:, :half], axis=1), ops.sum(terms[:, half:], axis=1)], axis=1
        )  # (batch, 2)


def tiny_model(likelihood=None):
    model = vaekit.build_vae((8, 8, 1), "seed", latent_dim=2, hidden_units=[16], seed=0)
    if likelihood is None:
        return model
    model = VAE(model.encoder, model.decoder, likelihood=likelihood)
    model.build((None, 8, 8, 1))
    return model


def test_scores_are_the_iwae_nll_of_each_example(binary_images):
    model, x = tiny_model(), binary_images[:40]
    s = vaekit.score_examples(model, x, 16, seed=3)
    assert set(s) == {"score", "reconstruction", "kl"}  # no per-column terms for pixels
    for values in s.values():
        assert values.shape == (40,) and values.dtype == np.float64 and np.isfinite(values).all()
    reference = vaekit.importance_sampled(model, x, 16, seed=3)
    np.testing.assert_allclose(s["score"], -reference["log_likelihood"])
    # The IWAE bound is at least as tight as the ELBO of the same draws: score <= rec + KL.
    assert np.all(s["score"] <= s["reconstruction"] + s["kl"] + 1e-6)
    again = vaekit.score_examples(model, x, 16, seed=3)
    np.testing.assert_array_equal(again["score"], s["score"])
    other = vaekit.score_examples(model, x, 16, seed=4)
    assert not np.array_equal(other["score"], s["score"])


def test_column_terms_when_the_likelihood_offers_them(binary_images, monkeypatch):
    model, x = tiny_model(TwoColumnBernoulli(event_ndim=3)), binary_images[:30]
    s = vaekit.score_examples(model, x, 8, seed=1)
    assert list(s["columns"]) == ["a", "b"]
    for values in s["columns"].values():
        assert values.shape == (30,) and np.isfinite(values).all() and np.all(values > 0)
    again = vaekit.score_examples(model, x, 8, seed=1)["columns"]
    other = vaekit.score_examples(model, x, 8, seed=2)["columns"]
    np.testing.assert_array_equal(again["a"], s["columns"]["a"])
    assert not np.array_equal(other["a"], s["columns"]["a"])
    # Decoded a few examples at a time, the draws and so the terms are the same.
    monkeypatch.setattr(scores_lib, "EXAMPLES_PER_CALL", 7)
    chunked = scores_lib.column_terms(model, x, seed=1)
    for name in ("a", "b"):
        np.testing.assert_allclose(chunked[name], s["columns"][name], rtol=1e-5)
    empty = vaekit.score_examples(model, x[:0], 8)
    assert empty["score"].shape == (0,) and empty["columns"]["b"].shape == (0,)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_csv_numbers_stay_numbers_and_text_cannot_be_a_formula(tmp_path):
    path = tmp_path / "t.csv"
    texts = ["=SUM(A1:A2)", "+1", "-2", "@cmd", "\tx", "\rx", "plain", "a,b"]
    n = len(texts)
    vaekit.write_table(
        {
            "text": texts,
            "float64": np.array([-1.5, 1 / 3, 0.1, 1e-300, np.nan, -np.inf, 2.0, 0.0]),
            "float32": np.array([0.1, -1.5, np.nan, 3.4e38, 1e-8, 0, 1, -2], "float32"),
            "int": np.arange(-3, n - 3),
            "mixed": [None, -7, 2.5, float("nan"), True, np.int64(-4), np.float64(-0.25), "x"],
            "=cmd": ["y"] * n,
        },
        path,
    )
    rows = read_csv(path)
    assert rows[0] == ["text", "float64", "float32", "int", "mixed", "'=cmd"]
    assert len(rows) == n + 1
    columns = list(zip(*rows[1:], strict=True))
    assert list(columns[0]) == [
        "'=SUM(A1:A2)",
        "'+1",
        "'-2",
        "'@cmd",
        "'\tx",
        "'\rx",
        "plain",
        "a,b",
    ]
    assert columns[1][:4] == ("-1.5", repr(1 / 3), "0.1", "1e-300")
    assert columns[1][4:6] == ("", "-inf")
    assert float(columns[1][1]) == 1 / 3  # every digit kept
    assert columns[2][:3] == ("0.1", "-1.5", "")  # float32's own shortest digits
    assert np.float32(columns[2][3]) == np.float32(3.4e38)
    assert columns[3] == tuple(str(i) for i in range(-3, n - 3))
    assert columns[4] == ("", "-7", "2.5", "", "True", "-4", "-0.25", "x")
    assert b'"\'\rx"' in path.read_bytes()  # a \r inside a cell is quoted, not a line end


def test_table_input_errors_write_nothing(tmp_path):
    for columns, fragment in (
        ({}, "at least one column"),
        ({"a": [1, 2], "b": [1]}, "equal length"),
        ({"a": np.zeros((2, 2))}, "one value per row"),
    ):
        with pytest.raises(DataError, match=fragment):
            vaekit.write_table(columns, tmp_path / "t.csv")
    with pytest.raises(DataError, match=r"expected a \.csv or \.parquet file"):
        vaekit.write_table({"a": [1]}, tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_parquet_needs_pyarrow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(DataError, match=r"needs pyarrow: pip install 'vaekit\[tables\]'"):
        vaekit.write_table({"a": [1]}, tmp_path / "t.parquet")
    with pytest.raises(DataError, match="needs pyarrow"):
        vaekit.write_embeddings(np.zeros((1, 2)), np.zeros((1, 2)), tmp_path / "e.parquet")
    assert list(tmp_path.iterdir()) == []


def test_parquet_round_trip(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = vaekit.write_table(
        {
            "row": np.arange(3),
            "score": np.array([1.5, -2.0, np.nan]),
            "name": ["=x", "b", None],
            "n": [np.int64(1), 2, None],
        },
        tmp_path / "t.parquet",
    )
    table = pq.read_table(path).to_pydict()
    assert table["row"] == [0, 1, 2] and table["name"] == ["=x", "b", None]  # typed: kept as is
    assert table["score"][:2] == [1.5, -2.0] and math.isnan(table["score"][2])
    assert table["n"] == [1, 2, None]
    with pytest.raises(DataError, match="values of one type"):
        vaekit.write_table({"a": [1, "x"]}, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()


def test_embeddings_in_each_format(tmp_path):
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)).astype("float32")
    values = np.load(vaekit.write_embeddings(mean, log_var, tmp_path / "e.npy"))
    assert values.dtype == np.float32 and values.shape == (5, 6)
    np.testing.assert_array_equal(values[:, :3], mean.astype("float32"))
    np.testing.assert_array_equal(values[:, 3:], log_var)
    rows = read_csv(vaekit.write_embeddings(mean, log_var, tmp_path / "e.csv"))
    assert rows[0] == ["mean_0", "mean_1", "mean_2", "log_var_0", "log_var_1", "log_var_2"]
    got = np.array(rows[1:], dtype="float64")
    np.testing.assert_array_equal(got[:, :3], mean)  # float64 means, every digit
    np.testing.assert_array_equal(got[:, 3:].astype("float32"), log_var)
    with pytest.raises(DataError, match=r"expected a \.npy, \.csv or \.parquet file"):
        vaekit.write_embeddings(mean, log_var, tmp_path / "e.txt")
    with pytest.raises(DataError, match="same shape"):
        vaekit.write_embeddings(mean, log_var[:, :2], tmp_path / "f.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv", "e.npy"]
