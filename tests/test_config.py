import numpy as np
import pytest

from vaekit import config as config_lib
from vaekit.errors import ConfigError


def test_defaults_are_the_seed_recipe():
    cfg = config_lib.RunConfig()
    assert (cfg.model.name, cfg.model.latent_dim, cfg.model.hidden_units) == ("seed", 10, [128, 64])
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.learning_rate) == (10, 32, 1e-3)
    assert cfg.model.beta == 1.0


def test_toml_round_trip(tmp_path):
    cfg = config_lib.RunConfig()
    cfg.data.dataset, cfg.data.limit, cfg.model.beta = "binarized_mnist", 500, 0.1
    cfg.model.hidden_units = [256, 128, 64]
    cfg.model.likelihood_options = {"window": 5, "scale": 0.05, "flag": True, "mode": 'a "b"'}
    path = tmp_path / "c.toml"
    path.write_text(config_lib.to_toml(cfg))
    assert config_lib.load(path) == cfg


@pytest.mark.parametrize(
    "text, message",
    [
        ("[train]\nepochz = 3\n", "Unknown key.*epochz"),
        ("[trian]\nepochs = 3\n", "Unknown section.*trian"),
        ("[train]\nepochs = 'ten'\n", "train.epochs to be of type int"),
        ("[train]\nepochs = 2.5\n", "train.epochs to be of type int"),
        ("[train]\nepochs = true\n", "train.epochs to be of type int"),
        ("[train]\nepochs = 0\n", "train.epochs >= 1"),
        ("[train]\nlearning_rate = -1\n", "learning_rate"),
        ("[train]\nlearning_rate = nan\n", "learning_rate"),
        ("[model]\nbeta = -0.5\n", "beta"),
        ("[model]\nhidden_units = [128, 0]\n", "hidden_units"),
        ("[model]\nhidden_units = 128\n", "model.hidden_units to be a list"),
        ("[model]\nname = 'resnet9000'\n", "Unknown model 'resnet9000'"),
        ("[data]\nval_fraction = 0.9\n", "val_fraction"),
        ("[data]\nbinarize = 'sometimes'\n", "binarize"),
        ("[data]\nlimit = 0\n", "limit"),
        ("[model]\nlikelihood_options = 5\n", "likelihood_options to be a table"),
        ("[model]\nlikelihood_options = {window = [5]}\n", "likelihood_options.window to be a"),
        ("[model]\nlikelihood_options = {scale = nan}\n", "likelihood_options.scale to be a"),
        ("[model]\nlikelihood_options = {'a b' = 1}\n", "keys to be names"),
        ("[model]\nlikelihood_options = {'\u03c0' = 1}\n", "keys to be names"),
        ("train = 3\n", r"Expected \[train\] to be a table"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_bad_configs_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        config_lib.load(path)


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read config file"):
        config_lib.load(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        config_lib.load(tmp_path / "bin.toml")


def test_ints_are_accepted_for_floats_and_partial_files_keep_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[model]\nbeta = 1\nlatent_dim = 2\n")
    cfg = config_lib.load(path)
    assert cfg.model.beta == 1.0 and isinstance(cfg.model.beta, float)
    assert cfg.model.latent_dim == 2 and cfg.train.epochs == 10


def test_likelihood_options_set_from_python_are_checked_and_written_as_toml(tmp_path):
    cfg = config_lib.RunConfig()
    cfg.model.likelihood_options = {"window": np.int64(5), "scale": np.float32(0.5)}
    cfg.validate()
    assert cfg.model.likelihood_options == {"window": 5, "scale": 0.5}
    assert type(cfg.model.likelihood_options["window"]) is int
    path = tmp_path / "c.toml"
    path.write_text(config_lib.to_toml(cfg))
    assert config_lib.load(path) == cfg
    for options in ({1: 2}, {"window": None}, {"scale": np.float64("nan")}, [("window", 5)]):
        cfg.model.likelihood_options = options
        with pytest.raises(ConfigError, match="model.likelihood_options"):
            cfg.validate()
