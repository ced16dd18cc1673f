"""`train.distribute = "data_parallel"`: Keras' DataParallel on JAX over virtual CPU devices.

JAX fixes its device count when it starts, so the distributed runs happen in one subprocess with
`XLA_FLAGS=--xla_force_host_platform_device_count=4`: the same tiny run on 1 device (no
distribution), and split over 2 and 4 devices, and a 4-device run cut after its first epoch and resumed.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from runs import small_config
from vaekit.backends.distribution import check_backend, check_batch_size
from vaekit.cli import main
from vaekit.errors import ConfigError

TESTS = Path(__file__).parent
SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, sys
    import keras
    sys.path.insert(0, sys.argv[1])
    from runs import small_config
    from vaekit.cli import main
    from vaekit.errors import ConfigError
    from vaekit.training.run import resume, train

    out, devices, report = sys.argv[2], keras.distribution.list_devices(), {}
    assert len(devices) == 4, devices

    def run(name, n, epochs=2, **train_options):
        cfg = small_config(epochs)
        if n:
            cfg.train.distribute = "data_parallel"
            keras.distribution.list_devices = lambda device_type=None: devices[:n]
        for key, value in train_options.items():
            setattr(cfg.train, key, value)
        return train(cfg, f"{out}/{name}", verbose=0)

    for name, n in (("one", 0), ("two", 2), ("four", 4)):
        result = run(name, n)
        report[name] = {**result.history, "devices": result.metrics["devices"]}
        report[name]["test_loss"] = result.metrics["test"]["loss"]
    assert keras.distribution.distribution() is None  # each run restores the one before
    run("cut", 4, epochs=1)
    report["resumed"] = resume(f"{out}/cut", epochs=2, verbose=0).history
    try:
        run("odd", 4, batch_size=30)
    except ConfigError as exc:
        report["odd"] = str(exc)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["train", "--distribute", "data_parallel", "--batch-size", "6", "--limit",
                     "8", "--verbose", "0", "--out", f"{out}/cli"])
    report["cli"] = [code, err.getvalue()]
    print(json.dumps(report))
    """
)
JAX_SUITE = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="a JAX subprocess on virtual devices; the same test runs in the JAX suite",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
    }
    out = tmp_path_factory.mktemp("distribute")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(TESTS), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@JAX_SUITE
def test_data_parallel_over_2_and_4_devices_gives_the_losses_of_one(report):
    one = report["one"]
    assert (one["devices"], report["two"]["devices"], report["four"]["devices"]) == (1, 2, 4)
    for name in ("two", "four"):
        for metric in ("loss", "val_loss", "reconstruction", "kl", "test_loss"):
            # Sums split over devices add up in another order: float32 rounding, no more.
            np.testing.assert_allclose(report[name][metric], one[metric], rtol=1e-6)


@JAX_SUITE
def test_a_cut_data_parallel_run_resumes_to_the_uninterrupted_history(report):
    for metric in ("loss", "val_loss"):
        np.testing.assert_allclose(report["resumed"][metric], report["four"][metric], rtol=1e-6)


@JAX_SUITE
def test_a_batch_size_indivisible_by_the_devices_is_refused(report):
    assert "batch_size divisible by the 4 devices" in report["odd"]
    assert "Received: batch_size=30" in report["odd"]
    code, err = report["cli"]
    assert code == 2 and "vaekit train: error: Expected train.batch_size divisible" in err
    assert len(err.strip().splitlines()) == 1


def test_other_backends_are_refused_in_one_line(tmp_path):
    if keras.backend.backend() == "jax":  # the check itself, as another backend would call it
        with pytest.raises(ConfigError, match="Keras implements distribution on JAX") as caught:
            check_backend("data_parallel", "torch")
        assert "Received: backend='torch'" in str(caught.value)
        check_backend("none", "torch")
    else:  # the run and the CLI, on this backend
        cfg = small_config(1)
        cfg.train.distribute = "data_parallel"
        from vaekit.training.run import train

        with pytest.raises(ConfigError, match=f"backend='{keras.backend.backend()}'"):
            train(cfg, tmp_path / "run", verbose=0)
        argv = ["train", "--distribute", "data_parallel", "--out", str(tmp_path / "cli")]
        assert main(argv) == 2
    with pytest.raises(ConfigError, match="divisible by the 3 devices"):
        check_batch_size(32, 3)
    check_batch_size(32, 4)


def test_data_parallel_needs_the_fast_engine():
    cfg = small_config(1)
    cfg.train.distribute, cfg.train.engine = "data_parallel", "keras"
    with pytest.raises(ConfigError, match="train.engine = 'fast' with train.distribute"):
        cfg.validate()
