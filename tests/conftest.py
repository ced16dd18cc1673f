"""Shared fixtures. The backend comes from KERAS_BACKEND (default: JAX) and is fixed before Keras loads."""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir():
    """The directory with the real dataset files: $VAEKIT_DATA_DIR, else ../shared/data."""
    path = Path(os.environ.get("VAEKIT_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (path / "binarized_mnist").is_dir():
        pytest.fail(f"Expected the shared dataset files in {path}; set VAEKIT_DATA_DIR to them.")
    return path


@pytest.fixture(scope="session")
def data_dir():
    return shared_data_dir()


@pytest.fixture(scope="session", autouse=True)
def _compile_cache(tmp_path_factory):
    # CLI runs in subprocesses keep compiled programs here, not in the user's ~/.cache.
    os.environ["VAEKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("compile-cache"))


@pytest.fixture(autouse=True)
def _data_dir_env(monkeypatch):
    # Every test reads datasets from the shared files, never from the network.
    monkeypatch.setenv("VAEKIT_DATA_DIR", str(shared_data_dir()))


@pytest.fixture
def binary_images():
    rng = np.random.default_rng(0)
    return (rng.random((256, 8, 8, 1)) < 0.3).astype("float32")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run directory from one short CLI training on `shapes`, shared by the read-only tests."""
    from vaekit.cli import main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    rc = main(
        [
            "train",
            "--dataset",
            "shapes",
            "--limit",
            "512",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--seed",
            "3",
            "--out",
            str(out),
            "--verbose",
            "0",
        ]
    )
    assert rc == 0
    return out
