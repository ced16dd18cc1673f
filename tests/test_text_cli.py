"""Text from the command line: train a sentence VAE, sample sentences, evaluate, refuse image commands."""

import json

import pytest

from vaekit.cli import main
from vaekit.data import load_dataset
from vaekit.models.saving import load_model
from vaekit.pictures.outputs import model_codec

SMALL = ["--latent-dim", "4", "--hidden-units", "16", "--likelihood-option", "hidden=16"]
SMALL += ["--likelihood-option", "embedding_dim=8", "--batch-size", "32", "--verbose", "0"]


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text") / "run"
    argv = ["train", "--dataset", "sentences", "--model", "sentence", "--limit", "256"]
    argv += ["--epochs", "2", "--kl-cycles", "2", "--max-length", "12", *SMALL]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def test_a_text_run_keeps_its_vocabulary_and_writes_sentences(text_run):
    lines = (text_run / "samples.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 100 and all(isinstance(line, str) for line in lines)
    metrics = json.loads((text_run / "metrics.json").read_text())
    assert metrics["samples_file"] == "samples.txt" and not (text_run / "samples.png").exists()
    data = load_dataset("sentences", limit=256, max_length=12)
    assert model_codec(load_model(text_run)) == data.codec  # the codec travels with the model
    words = set(data.codec.tokens)
    assert all(set(line.split()) <= words for line in lines)


def test_sample_prints_sentences_greedy_or_drawn(text_run, capsys, tmp_path):
    rc, out, _ = run_cli(capsys, "sample", text_run, "--num", "4", "--seed", "1")
    assert rc == 0 and len(out.splitlines()) == 4
    rc, again, _ = run_cli(capsys, "sample", text_run, "--num", "4", "--seed", "1")
    assert again == out  # the same seed, the same sentences
    rc, greedy, _ = run_cli(capsys, "sample", text_run, "--num", "3", "--greedy")
    assert rc == 0 and len(greedy.splitlines()) == 3
    target = tmp_path / "s.txt"
    rc, out, _ = run_cli(capsys, "sample", text_run, "--num", "3", "--out", target)
    assert rc == 0 and len(target.read_text(encoding="utf-8").splitlines()) == 3
    assert f"Wrote 3 sentences to {target}" in out
    rc, _, err = run_cli(capsys, "sample", text_run, "--num", "3", "--out", target)
    assert rc == 2 and "already exists" in err  # never overwritten without --overwrite


def test_evaluate_reports_perplexity_and_info_the_vocabulary(text_run, capsys):
    rc, out, _ = run_cli(
        capsys, "evaluate", text_run, "--importance-samples", "8", "--limit", "40", "--json"
    )
    result = json.loads(out.splitlines()[-1])
    assert rc == 0 and result["perplexity"] > 1 and result["bits_per_dim"] > 0
    rc, out, _ = run_cli(capsys, "info", text_run)
    assert rc == 0 and "word level" in out and "max length 12 tokens" in out


@pytest.mark.parametrize("command", ["traverse", "manifold"])
def test_picture_commands_refuse_a_text_model_in_one_line(text_run, capsys, command):
    rc, _, err = run_cli(capsys, command, text_run)
    assert rc == 2 and "expected an image model" in err and len(err.splitlines()) == 1


def test_text_options_on_the_wrong_data_are_one_line_errors(capsys, tmp_path, tiny_run):
    rc, _, err = run_cli(capsys, "sample", tiny_run, "--greedy", "--out", tmp_path / "x.png")
    assert rc == 2 and "--greedy decodes text" in err
    argv = ["train", "--dataset", "shapes", "--model", "sentence", "--limit", "64"]
    rc, _, err = run_cli(capsys, *argv, "--out", tmp_path / "r")
    assert rc == 2 and "Expected a likelihood for images" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()
    argv = ["train", "--dataset", "sentences", "--snapshot-every", "1", "--limit", "64"]
    rc, _, err = run_cli(capsys, *argv, "--model", "sentence", "--out", tmp_path / "s")
    assert rc == 2 and "Snapshots are pictures" in err and not (tmp_path / "s").exists()


def test_report_shows_sentences(text_run, capsys, tmp_path):
    out = tmp_path / "report.html"
    rc, _, _ = run_cli(capsys, "report", text_run, "--out", out, "--num", "50")
    page = out.read_text(encoding="utf-8")
    assert rc == 0 and 'id="samples"' in page and "-&gt; " in page and 'id="latent-map"' in page


def test_reconstruct_and_interpolate_print_sentences(text_run, capsys, tiny_run):
    sentence = "the small dog chased a red ball"
    rc, out, _ = run_cli(capsys, "reconstruct", text_run, "--text", sentence)
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 2 and lines[1].startswith("-> ")
    rc, out, _ = run_cli(capsys, "reconstruct", text_run, "--num", "3")
    assert rc == 0 and len(out.splitlines()) == 6
    rc, out, _ = run_cli(
        capsys, "interpolate", text_run, "--between", sentence, "a cat ate", "--steps", "5"
    )
    assert rc == 0 and len(out.splitlines()) == 5
    rc, _, err = run_cli(capsys, "interpolate", text_run)
    assert rc == 2 and "Expected --between A B" in err
    rc, _, err = run_cli(capsys, "reconstruct", tiny_run, "--text", sentence)
    assert rc == 2 and "--text takes sentences; expected a text model" in err
