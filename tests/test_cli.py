"""End-to-end tests of the `vaekit` command: real training on a small slice, real files, bad input."""

import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
import tomllib
import typing

import numpy as np
import pytest
from PIL import Image

from vaekit import config as config_lib
from vaekit.cli import main
from vaekit.data import load_dataset
from vaekit.models.build import build_vae
from vaekit.models.saving import load_model


def tile(grid, row, col, size=28, pad=2, scale=2):
    """One image of a PNG grid written by vaekit.pictures.plots (tiles of `size` px, `pad` apart, scaled)."""
    top, left = pad + row * (size + pad), pad + col * (size + pad)
    return grid[
        top * scale : (top + size) * scale : scale, left * scale : (left + size) * scale : scale
    ]


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_train_writes_a_complete_run_directory(tiny_run):
    names = {p.name for p in tiny_run.iterdir()}
    assert {"config.toml", "model.keras", "history.csv", "metrics.json", "samples.png"} <= names
    cfg = config_lib.load(tiny_run / "config.toml")
    assert (cfg.data.dataset, cfg.data.limit, cfg.train.epochs, cfg.train.seed) == (
        "shapes",
        512,
        2,
        3,
    )
    with open(tiny_run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"loss", "reconstruction", "kl", "val_loss"} <= set(rows[0])
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["n"]["train"] == metrics["n"]["test"] == 512 and 0 < metrics["n"]["val"] <= 512
    for split in ("val", "test"):
        m = metrics[split]
        assert np.isfinite(m["loss"]) and m["loss"] == pytest.approx(
            m["reconstruction"] + m["kl"], rel=1e-3
        )
    with Image.open(tiny_run / "samples.png") as im:
        assert im.size == (
            (10 * 30 + 2) * 2,
            (10 * 30 + 2) * 2,
        )  # 10x10 grid of 28 px tiles, scale 2
        assert np.asarray(im).std() > 5


def test_sample_command(tiny_run, capsys, tmp_path):
    out = tmp_path / "s.png"
    rc, stdout, err = run_cli(
        capsys, "sample", tiny_run, "--num", 12, "--ncols", 4, "--seed", 1, "--out", out
    )
    assert rc == 0, err
    assert str(out) in stdout
    with Image.open(out) as im:
        assert im.size == ((4 * 30 + 2) * 2, (3 * 30 + 2) * 2)
        first = np.asarray(im)
    tiles = [tile(first, r, c) for r in range(3) for c in range(4)]
    assert all(t.std() > 5 for t in tiles)  # each sample has structure
    assert (
        np.mean([np.abs(tiles[0].astype(int) - t).mean() for t in tiles[1:]]) > 1
    )  # and they differ
    # Same seed, same picture; an existing file is not replaced without --overwrite.
    rc, _, err = run_cli(
        capsys, "sample", tiny_run, "--num", 12, "--ncols", 4, "--seed", 1, "--out", out
    )
    assert rc == 2 and "already exists" in err
    rc, _, _ = run_cli(
        capsys,
        "sample",
        tiny_run / "model.keras",
        "--num",
        12,
        "--ncols",
        4,
        "--seed",
        1,
        "--out",
        out,
        "--overwrite",
    )
    assert rc == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), first)


def test_reconstruct_command(tiny_run, capsys, tmp_path, data_dir):
    out = tmp_path / "r.png"
    rc, stdout, err = run_cli(capsys, "reconstruct", tiny_run, "--num", 8, "--out", out)
    assert rc == 0, err
    with Image.open(out) as im:
        assert im.size == ((8 * 30 + 2) * 2, (2 * 30 + 2) * 2)
        grid = np.asarray(im)
    # The picture holds the run's first test images above the model's reconstructions of them.
    cfg = config_lib.load(tiny_run / "config.toml")
    data = load_dataset(cfg.data.dataset, limit=cfg.data.limit, seed=cfg.train.seed)
    x = data.x_test[np.linspace(0, len(data.x_test) - 1, 8).round().astype(int)]  # spread out
    recon = load_model(tiny_run).reconstruct(x)
    for c in range(8):
        np.testing.assert_allclose(tile(grid, 0, c) / 255, x[c, ..., 0], atol=1 / 255 + 1e-6)
        np.testing.assert_allclose(tile(grid, 1, c) / 255, recon[c, ..., 0], atol=1 / 255 + 1e-6)
    # Another dataset of the same image shape: the MNIST test set in IDX files.
    out2 = tmp_path / "r2.png"
    rc, _, err = run_cli(
        capsys,
        "reconstruct",
        tiny_run,
        "--dataset",
        data_dir / "mnist",
        "--num",
        5,
        "--split",
        "val",
        "--out",
        out2,
    )
    assert rc == 0, err
    assert out2.is_file()


def test_info_command(tiny_run, capsys):
    rc, out, err = run_cli(capsys, "info", tiny_run)
    assert rc == 0, err
    assert "[model]" in out and 'name = "seed"' in out and "latent_dim 10" in out
    assert "encoder" in out and "decoder" in out and "Total params" in out


def test_print_config_and_flag_precedence(capsys, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[train]\nepochs = 1\nbatch_size = 16\n[model]\nlatent_dim = 4\n")
    rc, out, _ = run_cli(capsys, "train", "--config", path, "--epochs", 3, "--print-config")
    assert rc == 0
    cfg = config_lib.from_dict(tomllib.loads(out))
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.model.latent_dim) == (3, 16, 4)
    rc, out, _ = run_cli(capsys, "train", "--print-config")
    assert config_lib.from_dict(tomllib.loads(out)) == config_lib.RunConfig()


# A flag's text and the value it gives, for each field with its own parser (config.option(parse=...)).
PARSED_FLAG_SAMPLES = {
    "hidden_units": ("16,8", [16, 8]),
    "log_var_range": ("-6,2", [-6.0, 2.0]),
    "likelihood_options": ("window=5", {"window": 5}),
    "categorical": ("zip,grade", ["zip", "grade"]),
    "ignore": ("id", ["id"]),
}
# By type, a value the fields of that type accept, none of them its default; then the exceptions.
TYPED_FLAG_SAMPLES = {int: ("2", 2), float: ("0.25", 0.25), str: ("x", "x")}
FIELD_FLAG_SAMPLES = {"vocab_size": ("100", 100)}  # at least the 4 special tokens and one more
NON_FIELD_FLAGS = {"--help", "--backend", "--debug", "--config", "--print-config", "--model"}
NON_FIELD_FLAGS |= {"--out", "--resume", "--overwrite", "--verbose"}


def test_every_config_field_has_a_train_flag_that_reaches_it(capsys):
    """Each config field is declared once (config.option): it has its `vaekit train` flag or is
    marked as having none, the flag's value lands in that field, and no flag is declared by hand."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    flags = set(re.findall(r"--[a-z][a-z-]*", capsys.readouterr().out))
    defaults = config_lib.RunConfig()
    field_flags = set()
    for section, cls in config_lib.SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            where = f"{section}.{f.name}"
            assert "cli" in f.metadata, f"{where} is not declared with config.option"
            cli, derived = f.metadata["cli"], "--" + f.name.replace("_", "-")
            if cli["flag"] is False:  # marked as having no flag
                assert derived not in flags, where
                continue
            flag = cli["flag"] or derived
            assert flag in flags and cli["help"], where
            field_flags.add(flag)
            default = getattr(getattr(defaults, section), f.name)
            if cli["parse"] is not None:
                assert f.name in PARSED_FLAG_SAMPLES, f"no sample value for {where}'s {flag}"
                text, expected = PARSED_FLAG_SAMPLES[f.name]
                argv = [f"{flag}={text}"]  # one token: "-6,2" alone would read as an option
            elif hints[f.name] is bool:
                argv, expected = [flag], not default
            elif f.name in FIELD_FLAG_SAMPLES:
                text, expected = FIELD_FLAG_SAMPLES[f.name]
                argv = [flag, text]
            elif cli["choices"]:
                expected = next(c for c in cli["choices"] if c != default)
                argv = [flag, expected]
            else:
                (kind,) = [
                    t
                    for t in TYPED_FLAG_SAMPLES
                    if t in (hints[f.name], *typing.get_args(hints[f.name]))
                ]
                text, expected = TYPED_FLAG_SAMPLES[kind]
                argv = [flag, text]
            rc, out, err = run_cli(capsys, "train", *argv, "--print-config")
            assert rc == 0, (argv, err)
            cfg = config_lib.from_dict(tomllib.loads(out))
            value = getattr(getattr(cfg, section), f.name)
            assert value == expected and value != default, (argv, value)
            assert type(value) is type(expected), (argv, value)
    assert flags == field_flags | NON_FIELD_FLAGS


def test_a_config_field_without_a_declared_flag_is_refused():
    from vaekit.cli.train import config_fields

    @dataclasses.dataclass
    class Section:
        size: int = 1

    with pytest.raises(TypeError, match="Section.size declares no flag"):
        list(config_fields(Section))


def test_vampprior_reference_options_reach_the_config(capsys, tmp_path):
    """The VampPrior code's log-variance clip and optimizer, from flags and from a config file."""
    argv = ["train", "--log-var-range=-6,2", "--optimizer", "adam_normgrad", "--print-config"]
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 0, err
    cfg = config_lib.from_dict(tomllib.loads(out))
    assert cfg.model.log_var_range == [-6.0, 2.0] and cfg.train.optimizer == "adam_normgrad"
    path = tmp_path / "run.toml"
    path.write_text("[model]\nlog_var_range = [-6, 2]\n[train]\noptimizer = 'adam_normgrad'\n")
    rc, out, err = run_cli(capsys, "train", "--config", path, "--print-config")
    assert rc == 0, err
    assert config_lib.from_dict(tomllib.loads(out)) == cfg


def test_likelihood_options_come_from_flags_over_the_config_file(capsys, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nlikelihood = 'gaussian'\nlikelihood_options = {scale = 0.2, x = 1}\n")
    argv = ["train", "--config", path, "--likelihood-option", "scale=0.05", "--print-config"]
    rc, out, err = run_cli(capsys, *argv, "--likelihood-option", "mode=a=b")
    assert rc == 0, err
    options = config_lib.from_dict(tomllib.loads(out)).model.likelihood_options
    assert options == {"scale": 0.05, "x": 1, "mode": "a=b"}
    # Another likelihood starts from no options: the file's were the gaussian's.
    rc, out, err = run_cli(capsys, "train", "--config", path, "--likelihood", "bernoulli",
                           "--print-config")  # fmt: skip
    assert rc == 0, err
    assert config_lib.from_dict(tomllib.loads(out)).model.likelihood_options == {}


def test_likelihood_options_build_the_model(capsys, tmp_path):
    """`--likelihood-option window=1` gives local_ar_bernoulli one tap per value in a saved run."""
    argv = ["train", "--dataset", "shapes", "--limit", 64, "--epochs", 1, "--latent-dim", 2,
            "--likelihood", "local_ar_bernoulli", "--likelihood-option", "window=1",
            "--out", tmp_path / "run", "--verbose", 0]  # fmt: skip
    rc, printed, err = run_cli(capsys, *argv)
    assert rc == 0, err
    assert "likelihood=local_ar_bernoulli, likelihood_options=window=1)" in printed
    model = load_model(tmp_path / "run")
    assert model.likelihood.window == 1
    # window 1: the 4 pixels before each one in a 3 x 3 mask
    assert model.likelihood.sources.shape[1] == 4
    rc, printed, err = run_cli(capsys, "info", tmp_path / "run")
    assert rc == 0 and "likelihood local_ar_bernoulli (window=1, hidden=0), prior" in printed, err


def test_model_preset_keeps_the_config_files_model_keys(capsys, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nlatent_dim = 3\nhidden_units = [32]\n")
    rc, out, _ = run_cli(capsys, "train", "--model", "seed", "--config", path, "--print-config")
    assert rc == 0
    cfg = config_lib.from_dict(tomllib.loads(out))
    assert (cfg.model.name, cfg.model.latent_dim, cfg.model.hidden_units) == ("seed", 3, [32])


def test_reconstruct_with_images_of_another_shape_is_a_clean_error(tiny_run, capsys, tmp_path):
    np.save(tmp_path / "rgb.npy", np.random.default_rng(0).random((40, 8, 8, 3)).astype("float32"))
    rc, _, err = run_cli(
        capsys,
        "reconstruct",
        tiny_run,
        "--dataset",
        tmp_path / "rgb.npy",
        "--out",
        tmp_path / "r.png",
    )
    assert rc == 2 and "(8, 8, 3)" in err and "(28, 28, 1)" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r.png").exists()


def test_overwrite_only_replaces_vaekit_runs(capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    rc, _, err = run_cli(
        capsys, "train", "--limit", 64, "--epochs", 1, "--out", mine, "--overwrite"
    )
    assert rc == 2 and "not a vaekit run directory" in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_train_refuses_to_overwrite_a_run(tiny_run, capsys):
    before = (tiny_run / "model.keras").read_bytes()
    rc, _, err = run_cli(capsys, "train", "--limit", 64, "--epochs", 1, "--out", tiny_run)
    assert rc == 2 and "already exists" in err and "--overwrite" in err
    assert (tiny_run / "model.keras").read_bytes() == before


def _bad_inputs(tmp_path):
    """(argv, expected fragment of the error line) for inputs a user can get wrong."""
    nan = np.full((10, 4, 4), np.nan, "float32")
    np.save(tmp_path / "nan.npy", nan)
    imgs = tmp_path / "mixed"
    imgs.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(imgs / "a.png")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(imgs / "b.png")
    (tmp_path / "fake.keras").write_text("hello")
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = tmp_path / "out"
    return [
        (["train", "--dataset", "no_such_set", "--out", out], "no_such_set"),
        (["train", "--model", "no_such_model", "--out", out], "Unknown model"),
        (["train", "--config", tmp_path / "missing.toml", "--out", out], "Cannot read config"),
        (["train", "--dataset", tmp_path / "nan.npy", "--out", out], "NaN"),
        (["train", "--dataset", imgs, "--out", out], "mixed sizes"),
        (["train", "--epochs", 0, "--out", out], "train.epochs >= 1"),
        (["train", "--latent-dim", "abc", "--out", out], "--latent-dim"),
        (["train", "--beta", "-1", "--out", out], "model.beta"),
        (["train", "--latent-dim", 10**6, "--out", out], "model.latent_dim"),
        (["train", "--learning-rate", "nan", "--out", out], "learning_rate"),
        (["train", "--hidden-units", "128,x", "--out", out], "--hidden-units"),
        (["train", "--log-var-range=2,-6", "--out", out], "--log-var-range"),
        (["train", "--log-var-range", "wide", "--out", out], "--log-var-range"),
        (["train", "--optimizer", "sgd", "--out", out], "--optimizer"),
        (["train", "--limit", 32, "--epochs", 1, "--out", blocker / "run"], "Cannot write"),
        (
            ["sample", tmp_path / "fake.keras", "--out", tmp_path / "s.png"],
            "not a Keras model archive",
        ),
        (["sample", tmp_path / "nothing_here", "--out", tmp_path / "s.png"], "does not exist"),
        (["sample", tmp_path / "fake.keras", "--num", 0], "--num"),
        (["frobnicate"], "invalid choice"),
    ]


def test_bad_input_exits_2_with_one_line(capsys, tmp_path):
    for argv, fragment in _bad_inputs(tmp_path):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors
            rc = exc.code
        _, err = capsys.readouterr()
        assert rc == 2, (argv, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], (argv, err)
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written for failed runs


def test_module_entry_point_and_backend_option(tiny_run, tmp_path):
    backend = os.environ["KERAS_BACKEND"]
    out = tmp_path / "s.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaekit",
            "--backend",
            backend,
            "sample",
            str(tiny_run),
            "--num",
            "4",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    proc = subprocess.run(
        [sys.executable, "-m", "vaekit", "info", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr


@pytest.mark.parametrize(
    "bound", [("iw_samples", "2"), ("free_bits", "0.05")], ids=["iwae", "free-bits"]
)
def test_train_with_the_model_family_options(capsys, tmp_path, bound):
    """Every issue-3 option reaches the run: config.toml, the saved model and the run's metrics.

    The IWAE bound and free bits are exclusive (free bits floor the ELBO's KL), so one run each.
    """
    name, value = bound
    out = tmp_path / "family"
    rc, printed, err = run_cli(
        capsys, "train", "--dataset", "shapes", "--limit", "256", "--epochs", "3",
        "--batch-size", "64", "--prior", "mog", "--prior-components", "3",
        f"--{name.replace('_', '-')}", value, "--kl-warmup-epochs", "2",
        "--learning-rate-schedule", "cosine", "--patience", "1", "--engine", "keras",
        "--latent-dim", "3", "--hidden-units", "16", "--out", out, "--verbose", "0",
    )  # fmt: skip
    assert rc == 0, err
    # the report names the preset and what the flags changed in it
    changed = f"latent_dim=3, hidden_units=16, prior=mog, prior_components=3, {name}={value}"
    assert f"Trained seed ({changed}) on shapes" in printed
    cfg = tomllib.loads((out / "config.toml").read_text())
    assert cfg["model"]["prior"] == "mog" and cfg["model"][name] == float(value)
    assert cfg["train"]["engine"] == "keras" and cfg["train"]["kl_warmup_epochs"] == 2
    model = load_model(out / "model.keras")
    assert model.prior.kind == "mog" and model.prior.num_components == 3
    assert getattr(model, name) == float(value)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["engine"] == "keras" and np.isfinite(metrics["test"]["loss"])


def test_grey_images_with_a_discretized_logistic(capsys, tmp_path, data_dir):
    out = tmp_path / "grey"
    rc, _, err = run_cli(
        capsys, "train", "--dataset", data_dir / "mnist", "--limit", "300", "--epochs", "2",
        "--batch-size", "50", "--likelihood", "discretized_logistic", "--latent-dim", "4",
        "--hidden-units", "32", "--out", out, "--verbose", "0",
    )  # fmt: skip
    assert rc == 0, err
    rc, text, _ = run_cli(capsys, "evaluate", out, "-k", "10", "--limit", "20", "--json")
    result = json.loads(text)
    assert rc == 0 and result["bits_per_dim"] is not None
    # A pmf over 256 levels: at most 8 bits per value, and a trained model well below that.
    assert 0 < result["bits_per_dim"] < 8
    assert result["nll"] <= result["elbo"]


def test_compile_cache_location_and_switches(tmp_path, monkeypatch):
    from vaekit.cli import compile_cache_dir

    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    assert compile_cache_dir("jax") == str(tmp_path / "cache" / "xla-jax")
    assert (tmp_path / "cache" / "xla-jax").is_dir()
    assert compile_cache_dir("torch") is None  # eager: nothing to cache
    assert compile_cache_dir("tensorflow") is None  # its XLA cache logs to stderr: kept off
    monkeypatch.setenv("VAEKIT_COMPILE_CACHE", "0")
    assert compile_cache_dir("jax") is None
    monkeypatch.delenv("VAEKIT_COMPILE_CACHE")
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "file"))
    assert compile_cache_dir("jax") is None  # unusable: no cache, no error


def test_the_cli_turns_the_jax_compile_cache_on(tmp_path):
    """A fresh `vaekit` process on JAX points JAX's persistent compilation cache at it."""
    code = (
        "from vaekit.cli import select_backend; select_backend('jax'); "
        "import jax; print(jax.config.jax_compilation_cache_dir)"
    )
    env = {**os.environ, "VAEKIT_CACHE_DIR": str(tmp_path), "KERAS_BACKEND": "jax"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "xla-jax") in proc.stdout


def _likelihood_benchmark():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "benchmarks" / "likelihood.py"
    spec = importlib.util.spec_from_file_location("likelihood_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_likelihood_benchmark_recipes_are_valid_train_commands(capsys):
    """Every recipe of benchmarks/likelihood.py (and its shortened smoke-test form) is a command
    `vaekit train` accepts, with the budgets the recipe names, building the model it describes."""
    import math

    bench = _likelihood_benchmark()
    assert bench.GPU_RECIPES.issubset(bench.RECIPES)
    for name, (_, flags) in bench.RECIPES.items():
        for scale in (1, 0.1):
            argv = [*bench.COMMON, *bench.scaled(flags, scale).split(), "--print-config"]
            rc, out, err = run_cli(capsys, "train", *argv)
            assert rc == 0, (name, err)
            cfg = config_lib.from_dict(tomllib.loads(out))
            # "--flag=value" is one token; "--likelihood-option window=5" keeps its NAME=VALUE.
            tokens = [t for w in flags.split() for t in (w.split("=", 1) if w[:2] == "--" else [w])]
            pairs = list(zip(tokens[::2], tokens[1::2], strict=True))
            named = dict(pairs)
            options = [v.split("=") for f, v in pairs if f == "--likelihood-option"]  # repeatable
            if options:
                expected = {option: int(value) for option, value in options}
                assert cfg.model.likelihood_options == expected, name
            for flag in ("--epochs", "--kl-warmup-epochs", "--patience"):
                if flag not in named:
                    continue
                key = flag[2:].replace("-", "_")
                expected = max(1, math.ceil(int(named[flag]) * scale))
                assert getattr(cfg.train, key) == expected, (name, flag)
            assert cfg.data.dataset == "binarized_mnist", name
        model = build_vae((28, 28, 1), cfg.model)  # names the config cannot check (prior, ...)
        assert model.prior.kind == cfg.model.prior, name
    hvae = config_lib.from_dict(
        tomllib.loads(
            run_cli(capsys, "train", *bench.RECIPES["resconv_hvae_vampprior"][1].split(),
                    "--print-config")[1]
        )
    ).model  # fmt: skip
    assert (hvae.architecture, hvae.stochastic_layers, hvae.prior) == ("resconv", 2, "vampprior")


def test_likelihood_benchmark_times_a_run_trained_in_parts(tmp_path):
    """A whole run's time is metrics.json's; a resumed one's, the sum of its epochs' times."""
    import math

    bench = _likelihood_benchmark()

    def run(resumed_from, seconds):
        (tmp_path / "metrics.json").write_text(
            json.dumps({"train_seconds": 99.0, "resumed_from_epoch": resumed_from})
        )
        rows = [f"{i},{s}" for i, s in enumerate(seconds)]
        (tmp_path / "history.csv").write_text("\n".join(["epoch,epoch_seconds", *rows]) + "\n")
        return bench.existing_train_seconds(tmp_path)

    assert run(None, [1.0, 2.0]) == 99.0
    assert run(1, [1.5, 2.0, 3.0]) == 6.5
    assert math.isnan(run(2, ["nan", "nan", 3.0]))  # begun before vaekit timed epochs
    (tmp_path / "history.csv").write_text("epoch,loss\n0,100.0\n")
    assert math.isnan(bench.existing_train_seconds(tmp_path))


def test_train_report_names_the_preset_and_its_changed_settings():
    from vaekit.cli.train import _model_label

    preset = config_lib.model_preset("resconv_vampprior")
    assert _model_label(preset) == "resconv_vampprior"
    changed = config_lib.update_section(
        preset, "model", {"stochastic_layers": 2, "hidden_units": [16, 8]}
    )
    assert _model_label(changed) == "resconv_vampprior (hidden_units=16,8, stochastic_layers=2)"


def test_train_report_of_an_early_stopped_run_says_what_ran(capsys):
    from types import SimpleNamespace

    from vaekit.cli.train import _report

    scores = {"loss": 92.0, "reconstruction": 65.8, "kl": 26.2}
    metrics = {"dataset": "binarized_mnist", "epochs": 300, "train_seconds": 6196.8,
               "backend": "jax", "val": scores, "test": scores}  # fmt: skip
    cfg = config_lib.RunConfig()
    for stopped, expected in ((None, "for 300 epochs in"), (224, "for 224 of 300 epochs (early")):
        result = SimpleNamespace(
            metrics={**metrics, "stopped_early_at_epoch": stopped, "best_epoch": 194},
            run_dir="runs/x",
        )
        assert _report(result, cfg) == 0
        out = capsys.readouterr().out
        assert expected in out, out
    assert "best epoch's, 194" in out


def test_the_cli_parser_imports_neither_keras_nor_numpy():
    """`vaekit --help` and argument errors answer at once: nothing heavy is imported to build them."""
    code = (
        "import sys, vaekit.cli; vaekit.cli.build_parser(); "
        "heavy = sorted({'keras', 'numpy'} & set(sys.modules)); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
