"""Tables from the command line: train on a CSV, sample rows, score, embed, impute, refuse bad input."""

import csv

import numpy as np
import pytest

from vaekit.cli import main

SMALL = ["--latent-dim", "2", "--hidden-units", "16", "--batch-size", "16", "--verbose", "0"]

HEADER = "size,colour,ok,count,id\n"


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    lines = [HEADER]
    for i in range(n):
        size = "" if i % 7 == 3 else f"{rng.normal(2, 0.5):.2f}"
        colour = rng.choice(["red", "blue", "=green"])  # a category that looks like a formula
        ok = "" if i % 11 == 5 else rng.choice(["yes", "no"])
        lines.append(f"{size},{colour},{ok},{rng.integers(1, 9)},{-i}\n")
    return "".join(lines)


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    (folder / "t.csv").write_text(_table(), encoding="utf-8")
    out = folder / "run"
    argv = ["train", "--dataset", folder / "t.csv", "--model", "tabular", "--ignore", "id"]
    assert main([str(a) for a in [*argv, "--epochs", "2", *SMALL, "--out", out]]) == 0
    return out


def test_a_table_run_writes_sample_rows_in_the_tables_own_form(table_run, capsys, tmp_path):
    rows = _read(table_run / "samples.csv")
    assert len(rows) == 100 and list(rows[0]) == ["size", "colour", "ok", "count"]
    assert {r["colour"] for r in rows} <= {"red", "blue", "'=green"}  # neutralised in CSV
    assert {r["ok"] for r in rows} <= {"yes", "no"}
    assert all(1 <= int(r["count"]) <= 8 for r in rows)
    assert all(len(r["size"].partition(".")[2]) <= 2 for r in rows)  # the file's 2 decimals
    target = tmp_path / "synth.csv"
    rc, out, _ = run_cli(capsys, "sample", table_run, "--num", "5", "--out", target)
    assert rc == 0 and len(_read(target)) == 5 and f"Wrote 5 rows to {target}" in out
    before = target.read_bytes()
    rc, _, err = run_cli(capsys, "sample", table_run, "--num", "7", "--out", target)
    assert rc == 2 and "already exists" in err and target.read_bytes() == before


def test_impute_fills_only_the_missing_cells(table_run, capsys, tmp_path):
    source = table_run.parent / "t.csv"
    target = tmp_path / "filled.csv"
    rc, out, _ = run_cli(capsys, "impute", table_run, "--dataset", source, "--out", target)
    assert rc == 0 and "Filled 14 missing cells of 60 rows" in out  # 9 sizes, 5 oks
    original, filled = _read(source), _read(target)
    assert list(filled[0]) == ["size", "colour", "ok", "count", "id"]
    for before, after in zip(original, filled, strict=True):
        for name in ("size", "ok"):
            if before[name]:
                assert float(after[name]) == float(before[name]) if name == "size" else True
                assert name == "size" or after[name] == before[name]
            else:
                assert after[name] != ""
        assert after["id"] == before["id"]  # -5 stays a number, not neutralised text


def test_score_names_the_columns_behind_each_score(table_run, capsys, tmp_path):
    target = tmp_path / "scores.csv"
    rc, _, _ = run_cli(
        capsys, "score", table_run, "--dataset", table_run.parent / "t.csv", "-k", "8",
        "--out", target, "--verbose", "0",
    )  # fmt: skip
    rows = _read(target)
    assert rc == 0 and len(rows) == 60
    assert [k for k in rows[0] if k.startswith("nll_")] == [
        "nll_size", "nll_colour", "nll_ok", "nll_count",
    ]  # fmt: skip
    assert float(rows[3]["nll_size"]) == 0.0  # row 3's size is missing: no term


def test_info_shows_the_schema_and_image_commands_refuse(table_run, capsys):
    rc, out, _ = run_cli(capsys, "info", table_run)
    assert rc == 0 and "table schema: size (numeric), colour (categorical)" in out
    rc, _, err = run_cli(capsys, "traverse", table_run)
    assert rc == 2 and "expected an image model" in err


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("a,b\n1,2\n3\n", [], "line 3 has 1 fields"),
        (HEADER + "1.0,red,yes,2,0\n" * 5, [], "holds one value"),
        (_table(10), ["--label", "nope"], "has no column 'nope'"),
        (_table(10), ["--model", "seed"], "Expected a likelihood for table"),
    ],
)
def test_bad_tables_exit_2_with_one_line_and_no_run(tmp_path, capsys, content, extra, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "run"
    argv = ["train", "--dataset", path, "--model", "tabular", *extra, "--out", out, *SMALL]
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_conditional_run_samples_rows_of_one_value(table_run, capsys, tmp_path):
    out = tmp_path / "cond"
    argv = ["train", "--dataset", table_run.parent / "t.csv", "--model", "tabular"]
    argv += ["--ignore", "id", "--condition", "colour", "--epochs", "1", *SMALL, "--out", out]
    assert run_cli(capsys, *argv)[0] == 0
    target = tmp_path / "blue.csv"
    rc, _, _ = run_cli(capsys, "sample", out, "--condition", "blue", "--num", "9", "--out", target)
    assert rc == 0 and {r["colour"] for r in _read(target)} == {"blue"}
    rc, _, err = run_cli(capsys, "sample", out, "--condition", "pink", "--out", tmp_path / "p.csv")
    assert rc == 2 and "Expected a value of the condition 'colour'" in err and "'pink'" in err
    other = tmp_path / "other.csv"
    rc, _, err = run_cli(capsys, "sample", table_run, "--condition", "blue", "--out", other)
    assert rc == 2 and "--condition needs a conditional model" in err and not other.exists()


def test_report_shows_rows_and_the_latent_map(table_run, capsys, tmp_path):
    out = tmp_path / "report.html"
    rc, _, _ = run_cli(capsys, "report", table_run, "--out", out)
    page = out.read_text(encoding="utf-8")
    assert rc == 0 and 'id="samples"' in page and 'id="latent-map"' in page
    assert "<th>colour</th>" in page and "reconstruction" in page and 'id="traversals"' not in page
