import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from runs import small_config
from vaekit import config as config_lib
from vaekit.data.order import EpochBatches, binarize_once
from vaekit.errors import VaekitError
from vaekit.run_dir import check_new as check_run_dir
from vaekit.training.checkpoints import load_checkpoint
from vaekit.training.history import read_history
from vaekit.training.run import resume, train


def test_epoch_batches_depend_only_on_seed_epoch_and_index():
    x = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)
    batches = EpochBatches(x, batch_size=4, seed=0)
    epoch0 = list(batches.epoch(0))
    assert len(batches) == 3 and [len(b) for b in epoch0] == [4, 4, 2]
    flat0 = np.concatenate(epoch0).ravel()
    assert sorted(flat0) == list(range(10))  # every image once per epoch
    flat1 = np.concatenate(list(batches.epoch(1))).ravel()
    assert sorted(flat1) == list(range(10)) and not np.array_equal(flat0, flat1)
    # The stream runs through the epochs in order; one resumed at epoch 1 sees epoch 1's batches.
    stream = batches.stream(0)
    streamed = np.concatenate([next(stream)[0] for _ in range(6)]).ravel()
    np.testing.assert_array_equal(streamed, np.concatenate([flat0, flat1]))
    resumed = batches.stream(1)
    np.testing.assert_array_equal(
        np.concatenate([next(resumed)[0] for _ in range(3)]).ravel(), flat1
    )


def test_dynamic_binarization_resamples_each_epoch():
    x = np.full((10, 4, 4, 1), 0.5, "float32")
    batches = EpochBatches(x, batch_size=4, seed=0, binarize=True)
    first = np.concatenate(list(batches.epoch(0)))
    assert set(np.unique(first)) == {0.0, 1.0}
    assert abs(first.mean() - 0.5) < 0.1
    np.testing.assert_array_equal(first, np.concatenate(list(batches.epoch(0))))  # reproducible
    assert not np.array_equal(first, np.concatenate(list(batches.epoch(1))))
    # Grey values are probabilities: 0 and 1 stay put.
    edges = np.stack([np.zeros((4, 4, 1)), np.ones((4, 4, 1))]).astype("float32")
    batch = next(EpochBatches(edges, 2, 1, binarize=True).epoch(0))
    np.testing.assert_array_equal(np.sort(batch.reshape(2, -1).mean(axis=1)), [0.0, 1.0])


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
    with pytest.raises(VaekitError, match="not a vaekit run directory"):
        check_run_dir(tmp_path / "full", overwrite=True)
    (tmp_path / "full" / "config.toml").write_text("")
    assert check_run_dir(tmp_path / "full", overwrite=True) == tmp_path / "full"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(VaekitError, match="is a file"):
        check_run_dir(tmp_path / "afile")


def test_a_diverging_run_is_stopped_and_saves_no_model(tmp_path):
    cfg = config_lib.RunConfig()
    cfg.data.limit, cfg.train.epochs, cfg.train.batch_size = 128, 3, 64
    cfg.train.learning_rate = 1e30  # Adam steps of 1e30: the logits overflow within a few batches
    with pytest.raises(
        VaekitError, match=r"diverged.* in epoch 1, batch \d+\. Likely causes: a learning"
    ):
        train(cfg, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run" / "model.keras").exists()
    assert not (tmp_path / "run" / "checkpoints" / "state.json").exists()  # no diverged checkpoint


@contextlib.contextmanager
def _cwd(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _weights(model):
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights]


def test_checkpoints_keep_last_and_best_and_resume_matches_an_uninterrupted_run(tmp_path):
    full = train(small_config(epochs=3), tmp_path / "full", verbose=0)
    state = json.loads((tmp_path / "full" / "checkpoints" / "state.json").read_text())
    assert state["epochs_done"] == 3 and state["last"] == "epoch-0003.keras"
    assert state["best"] == f"best-{state['best_epoch']:04d}.keras"
    names = sorted(p.name for p in (tmp_path / "full" / "checkpoints").iterdir())
    assert names == sorted({"state.json", state["last"], state["best"]})  # older ones removed
    assert len(state["history"]["loss"]) == 3
    assert len(state["history"]["epoch_seconds"]) == 3
    # The run's model is the last checkpoint, copied (early stopping is off).
    model_bytes = (tmp_path / "full" / "model.keras").read_bytes()
    assert model_bytes == (tmp_path / "full" / "checkpoints" / state["last"]).read_bytes()
    assert all(0 < s < full.metrics["train_seconds"] for s in state["history"]["epoch_seconds"])

    # The same run cut after 2 epochs, then resumed to 3, as a run an older vaekit began (its
    # history has no epoch_seconds, and its sampler state is one sampler's, not a list of them):
    # the new column is NaN for the epochs it did not time.
    train(small_config(epochs=2), tmp_path / "cut", verbose=0)
    path = tmp_path / "cut" / "checkpoints" / "state.json"
    cut = json.loads(path.read_text())
    del cut["history"]["epoch_seconds"]
    (cut["sampler_state"],) = cut["sampler_state"]
    path.write_text(json.dumps(cut))
    resumed = resume(tmp_path / "cut", epochs=3, verbose=0)
    assert resumed.metrics["resumed_from_epoch"] == 2
    assert len(resumed.history["loss"]) == 3
    seconds = read_history(tmp_path / "cut")["epoch_seconds"]
    assert np.isnan(seconds[:2]).all() and seconds[2] > 0
    # state.json stays strict JSON: the untimed epochs are null there, not NaN.
    strict = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"state has {c}"))
    assert strict["history"]["epoch_seconds"][:2] == [None, None]
    for a, b in zip(_weights(full.model), _weights(resumed.model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert resumed.history["loss"][-1] == pytest.approx(full.history["loss"][-1], rel=1e-5)
    with pytest.raises(VaekitError, match="already trained 3 of 3"):
        resume(tmp_path / "cut", verbose=0)
    with pytest.raises(VaekitError, match="no config.toml"):
        resume(tmp_path / "nothing", verbose=0)
    # ... and reads back as NaN: resuming once more keeps the two untimed epochs untimed.
    resume(tmp_path / "cut", epochs=4, verbose=0)
    seconds = np.asarray(read_history(tmp_path / "cut")["epoch_seconds"])
    assert len(seconds) == 4 and np.isnan(seconds[:2]).all() and (seconds[2:] > 0).all()


@pytest.mark.parametrize("layers", [1, 2])
def test_init_from_starts_a_run_from_a_trained_models_weights(tmp_path, layers):
    """Fine-tuning: a run on another bound (IWAE, K = 2) starts at a trained run's weights."""
    cfg = small_config(epochs=2)
    cfg.model.stochastic_layers = layers
    source = train(cfg, tmp_path / "source", verbose=0)
    cfg.model.iw_samples, cfg.train.epochs = 2, 1
    cfg.train.init_from = str(tmp_path / "source")
    cfg.train.learning_rate = 1e-9  # Adam moves each weight by about this much a step
    tuned = train(cfg, tmp_path / "tuned", verbose=0)
    trainable = lambda m: [keras.ops.convert_to_numpy(v) for v in m.trainable_weights]  # noqa: E731
    for a, b in zip(trainable(source.model), trainable(tuned.model), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # A fresh start of the same run ends far from the trained weights.
    cfg.train.init_from = ""
    fresh = train(cfg, tmp_path / "fresh", verbose=0)
    pairs = zip(trainable(source.model), trainable(fresh.model), strict=True)
    assert max(np.abs(a - b).max() for a, b in pairs) > 1e-2
    assert config_lib.load(tmp_path / "tuned" / "config.toml").train.init_from == str(
        tmp_path / "source"
    )
    # Weights that do not fit (other hidden units) are refused before a run folder is made.
    cfg.model.hidden_units, cfg.train.init_from = [8], str(tmp_path / "source")
    misfit = r"Cannot start from .*: its weight \S+ has shape \(\d+, 16\) where .* has \(\d+, 8\)"
    with pytest.raises(VaekitError, match=misfit):
        train(cfg, tmp_path / "misfit", verbose=0)
    # ... and so are weights of the same shapes made for another likelihood or activation.
    cfg.model.hidden_units, cfg.model.likelihood = [16], "gaussian"
    with pytest.raises(VaekitError, match="its likelihood differs"):
        train(cfg, tmp_path / "misfit", verbose=0)
    cfg.model.likelihood, cfg.model.activation = "bernoulli", "tanh"
    with pytest.raises(VaekitError, match=r"its layers differ \(Dense\(relu\) where .*tanh"):
        train(cfg, tmp_path / "misfit", verbose=0)
    assert not (tmp_path / "misfit").exists()
    # A relative path is recorded as the absolute one it meant.
    cfg.model.activation, cfg.train.init_from = "relu", "source"
    with _cwd(tmp_path):
        train(cfg, tmp_path / "relative", verbose=0)
    recorded = config_lib.load(tmp_path / "relative" / "config.toml").train.init_from
    assert recorded == str(tmp_path / "source")


def test_a_hierarchical_run_resumes_where_an_uninterrupted_run_ends(tmp_path):
    """Both layers' samplers come back with their random states (Keras saves neither)."""

    def two_layers(epochs):
        cfg = small_config(epochs)
        cfg.model.stochastic_layers = 2
        return cfg

    full = train(two_layers(3), tmp_path / "full", verbose=0)
    train(two_layers(2), tmp_path / "cut", verbose=0)
    resumed = resume(tmp_path / "cut", epochs=3, verbose=0)
    for a, b in zip(_weights(full.model), _weights(resumed.model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_early_stopping_keeps_the_best_epochs_model(tmp_path):
    cfg = small_config(epochs=6)
    # A large rate: the loss jumps about, and on JAX and TensorFlow the best epoch is not the last.
    cfg.train.patience, cfg.train.learning_rate = 6, 0.2
    result = train(cfg, tmp_path / "run", verbose=0)
    state = json.loads((tmp_path / "run" / "checkpoints" / "state.json").read_text())
    assert state["best_epoch"] == 1 + int(np.argmin(result.history["val_loss"]))
    best = (tmp_path / "run" / "checkpoints" / state["best"]).read_bytes()
    assert (tmp_path / "run" / "model.keras").read_bytes() == best
    kept = load_checkpoint(tmp_path / "run", state, "best")
    for a, b in zip(_weights(result.model), _weights(kept), strict=True):
        np.testing.assert_array_equal(a, b)


TRAIN_ARGS = [
    "--dataset",
    "shapes",
    "--limit",
    "256",
    "--latent-dim",
    "2",
    "--hidden-units",
    "32",
    "--batch-size",
    "16",
    "--seed",
    "7",
    "--verbose",
    "0",
]


def _cli(*args, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "vaekit", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _wait_for_epochs(run, epochs, proc, timeout=240):
    deadline = time.monotonic() + timeout
    state = run / "checkpoints" / "state.json"
    while time.monotonic() < deadline:
        if state.is_file() and json.loads(state.read_text())["epochs_done"] >= epochs:
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("training did not reach its checkpoint in time")


def _final_weights(run):
    from vaekit.models.saving import load_model

    return _weights(load_model(run / "model.keras"))


def test_sigkill_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    epochs = 16
    whole = _cli("train", *TRAIN_ARGS, "--epochs", epochs, "--out", tmp_path / "whole")
    assert whole.wait(timeout=600) == 0, whole.communicate()
    # The same run, killed without warning at a random moment: after a random epoch's checkpoint,
    # plus a random delay (mid-epoch or mid-checkpoint-write).
    rng = np.random.default_rng()
    killed = _cli("train", *TRAIN_ARGS, "--epochs", epochs, "--out", tmp_path / "killed")
    _wait_for_epochs(tmp_path / "killed", int(rng.integers(1, epochs // 2)), killed)
    time.sleep(rng.uniform(0, 0.2))
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "model.keras").exists(), "the kill came after the run ended"
    resumed = _cli("train", "--resume", tmp_path / "killed")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    for a, b in zip(
        _final_weights(tmp_path / "whole"), _final_weights(tmp_path / "killed"), strict=True
    ):
        # CPU runs of one program are bitwise deterministic on all three backends here.
        np.testing.assert_array_equal(a, b)
    history = (tmp_path / "killed" / "history.csv").read_text().splitlines()
    assert len(history) == epochs + 1  # header + one row per epoch, none twice


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    proc = _cli("train", *TRAIN_ARGS, "--epochs", 50, "--out", run)
    _wait_for_epochs(run, 1, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"vaekit train --resume {run}" in err and "Traceback" not in err
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert 1 <= state["epochs_done"] < 50
    assert (run / "checkpoints" / state["last"]).is_file()
    assert not (run / "model.keras").exists()  # the run is not finished
    # It resumes (here with a shorter total, to keep the test quick).
    resumed = _cli("train", "--resume", run, "--epochs", state["epochs_done"] + 1)
    assert resumed.wait(timeout=600) == 0, resumed.communicate()
    assert (run / "model.keras").is_file()


def test_the_cyclical_kl_schedule_ramps_over_the_first_half_of_each_cycle():
    from vaekit.training.callbacks import KLCycles

    assert [KLCycles(2, 10).scale(e) for e in range(10)] == pytest.approx(
        [1 / 3, 2 / 3, 1, 1, 1, 1 / 3, 2 / 3, 1, 1, 1]
    )
    # Three cycles of 3 epochs; the last one takes the leftover epoch.
    assert [KLCycles(3, 10).scale(e) for e in range(10)] == [0.5, 1, 1, 0.5, 1, 1, 0.5, 1, 1, 1]
    cfg = small_config(epochs=4)
    cfg.train.kl_cycles, cfg.train.kl_warmup_epochs = 2, 2
    with pytest.raises(config_lib.ConfigError, match="one KL schedule"):
        cfg.validate()
    cfg.train.kl_warmup_epochs, cfg.train.kl_cycles = 0, 5
    with pytest.raises(config_lib.ConfigError, match="kl_cycles <= train.epochs"):
        cfg.validate()
