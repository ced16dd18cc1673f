"""`vaekit score` and `vaekit embed`: every example of a dataset, in order, to a table or an array."""

import csv
import shutil

import numpy as np
import pytest

import vaekit
from test_scores import TwoColumnBernoulli, tiny_model
from vaekit.cli import main


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """40 images the size of the tiny run's, with integer labels, in an .npz file."""
    rng = np.random.default_rng(0)
    x = (rng.random((40, 28, 28, 1)) < 0.2).astype("float32")
    path = tmp_path_factory.mktemp("data") / "labelled.npz"
    np.savez(path, x=x, y=np.arange(40) % 7)
    return path, x


def test_score_writes_one_row_per_example_in_order(tiny_run, labelled, capsys, tmp_path):
    spec, x = labelled
    out = tmp_path / "scores.csv"
    argv = ["score", tiny_run, "--dataset", spec, "-k", 8, "--seed", 2, "--verbose", 0]
    rc, stdout, err = run_cli(capsys, *argv, "--out", out)
    assert rc == 0, err
    assert str(out) in stdout and "n=40" in stdout and "at row" in stdout
    rows = read_rows(out)
    assert list(rows[0]) == ["row", "score", "reconstruction", "kl", "label"]
    assert [int(r["row"]) for r in rows] == list(range(40))
    assert [int(r["label"]) for r in rows] == [i % 7 for i in range(40)]
    expected = vaekit.score_examples(vaekit.load_model(tiny_run), x, 8, seed=2)
    for name in ("score", "reconstruction", "kl"):
        np.testing.assert_allclose([float(r[name]) for r in rows], expected[name], rtol=1e-6)

    # An existing file is kept as it was without --overwrite, and replaced with it.
    before = out.read_bytes()
    rc, _, err = run_cli(capsys, *argv, "--seed", 3, "--out", out)
    assert rc == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == before
    rc, _, err = run_cli(capsys, *argv, "--seed", 3, "--out", out, "--overwrite")
    assert rc == 0, err
    assert out.read_bytes() != before and len(read_rows(out)) == 40


def test_score_refuses_data_of_another_shape(tiny_run, capsys, tmp_path):
    np.save(tmp_path / "small.npy", np.zeros((10, 8, 8, 1), "float32"))
    out = tmp_path / "s.csv"
    rc, stdout, err = run_cli(
        capsys, "score", tiny_run, "--dataset", tmp_path / "small.npy", "--out", out
    )
    assert rc == 2 and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "(8, 8, 1)" in lines[0] and "(28, 28, 1)" in lines[0]
    assert not out.exists()


def test_score_adds_a_column_per_likelihood_column(binary_images, capsys, tmp_path):
    path = vaekit.save_model(tiny_model(TwoColumnBernoulli(event_ndim=3)), tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", binary_images[:12])
    rc, _, err = run_cli(
        capsys, "score", path, "--dataset", tmp_path / "x.npy", "-k", 4, "--verbose", 0
    )
    assert rc == 0, err
    rows = read_rows(tmp_path / "scores.csv")  # the default: beside the model
    assert list(rows[0]) == ["row", "score", "reconstruction", "kl", "nll_a", "nll_b"]
    assert len(rows) == 12 and all(float(r["nll_a"]) > 0 for r in rows)


def test_score_to_parquet(tiny_run, labelled, capsys, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "s.parquet"
    argv = ["score", tiny_run, "--dataset", labelled[0], "-k", 2, "--verbose", 0, "--out", out]
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 0, err
    table = pq.read_table(out).to_pydict()
    assert table["row"] == list(range(40)) and len(table["score"]) == 40


def test_embed_in_each_format(tiny_run, labelled, capsys, tmp_path):
    spec, x = labelled
    mean, log_var = vaekit.load_model(tiny_run).encode(x)
    rc, stdout, err = run_cli(
        capsys, "embed", tiny_run, "--dataset", spec, "--out", tmp_path / "e.npy"
    )
    assert rc == 0, err
    assert str(tmp_path / "e.npy") in stdout
    values = np.load(tmp_path / "e.npy")
    d = mean.shape[1]
    assert values.shape == (40, 2 * d) and values.dtype == np.float32
    np.testing.assert_allclose(values[:, :d], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values[:, d:], log_var, rtol=1e-5, atol=1e-6)
    rc, _, err = run_cli(capsys, "embed", tiny_run, "--dataset", spec, "--out", tmp_path / "e.csv")
    assert rc == 0, err
    rows = read_rows(tmp_path / "e.csv")
    assert len(rows) == 40 and list(rows[0]) == [
        *(f"mean_{i}" for i in range(d)),
        *(f"log_var_{i}" for i in range(d)),
    ]
    np.testing.assert_allclose([float(r["mean_0"]) for r in rows], mean[:, 0], rtol=1e-5)
    # Another suffix is refused at once, in one line, with nothing written.
    rc, _, err = run_cli(capsys, "embed", tiny_run, "--dataset", spec, "--out", tmp_path / "e.txt")
    assert rc == 2 and ".npy, .csv or .parquet" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e.txt").exists()


def test_embed_reads_the_runs_dataset_by_default(tiny_run, capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    rc, stdout, err = run_cli(capsys, "embed", run)
    assert rc == 0, err
    values = np.load(run / "embeddings.npy")  # every image of `shapes`, beside the model
    assert values.shape[0] == len(vaekit.load_examples("shapes")[0]) and "shapes" in stdout
    # A model file without its run's config.toml needs --dataset.
    shutil.copy(run / "model.keras", tmp_path / "bare.keras")
    rc, _, err = run_cli(capsys, "embed", tmp_path / "bare.keras", "--out", tmp_path / "b.npy")
    assert rc == 2 and "No --dataset given" in err and not (tmp_path / "b.npy").exists()
