import json

import numpy as np
import pytest

from vaekit import config as config_lib
from vaekit.errors import VaekitError
from vaekit.training import DynamicBinarization, binarize_once, check_run_dir, train


def test_dynamic_binarization_resamples_each_epoch():
    x = np.full((10, 4, 4, 1), 0.5, "float32")
    ds = DynamicBinarization(x, batch_size=4, seed=0)
    assert len(ds) == 3 and [len(ds[i]) for i in range(3)] == [4, 4, 2]
    first = np.concatenate([ds[i] for i in range(len(ds))])
    assert set(np.unique(first)) == {0.0, 1.0}
    assert abs(first.mean() - 0.5) < 0.1
    np.testing.assert_array_equal(ds[0], ds[0])  # a batch is fixed within an epoch
    ds.on_epoch_end()
    second = np.concatenate([ds[i] for i in range(len(ds))])
    assert not np.array_equal(first, second)
    # Grey values are probabilities: 0 and 1 stay put.
    edges = DynamicBinarization(
        np.stack([np.zeros((4, 4, 1)), np.ones((4, 4, 1))]).astype("float32"), 2, 1
    )
    np.testing.assert_array_equal(np.sort(edges[0].reshape(2, -1).mean(axis=1)), [0.0, 1.0])


def test_binarize_once_is_seeded():
    x = np.random.default_rng(0).random((5, 3, 3, 1)).astype("float32")
    np.testing.assert_array_equal(binarize_once(x, 1), binarize_once(x, 1))
    assert not np.array_equal(binarize_once(x, 1), binarize_once(x, 2))


def test_train_with_dynamic_binarization_and_python_api(tmp_path):
    cfg = config_lib.RunConfig()
    cfg.data.limit, cfg.data.binarize = 256, "dynamic"
    cfg.train.epochs, cfg.train.batch_size = 2, 64
    cfg.model.latent_dim = 2
    result = train(cfg, tmp_path / "run", verbose=0)
    assert (
        len(result.history["loss"]) == 2 and result.history["loss"][1] < result.history["loss"][0]
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics == result.metrics and metrics["n"]["train"] == 256
    assert result.model.latent_dim == 2
    assert config_lib.load(tmp_path / "run" / "config.toml") == cfg


def test_run_directory_rules(tmp_path):
    assert check_run_dir(tmp_path / "new") == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(VaekitError, match="--overwrite"):
        check_run_dir(tmp_path / "full")
    assert check_run_dir(tmp_path / "full", overwrite=True) == tmp_path / "full"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(VaekitError, match="is a file"):
        check_run_dir(tmp_path / "afile")
