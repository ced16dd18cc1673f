"""Saving and loading models and runs, safely.

Models are saved atomically (a temporary `.keras` file in the same folder, then a rename), so a crash
mid-save never replaces a good file with a broken one. Loading always uses Keras safe mode: a file
holding a Lambda layer or other arbitrary code is refused, never run.
"""

import zipfile
from pathlib import Path

import keras

from vaekit import config as config_lib
from vaekit.atomic import atomic_path
from vaekit.errors import ModelFileError
from vaekit.keras_compat import tensorflow_unprobed

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.toml"


def save_model(model, path):
    """`model.save(path)` through a temporary file and an atomic rename. Returns the path."""
    path = Path(path)
    with atomic_path(path, suffix=".keras") as tmp, tensorflow_unprobed():
        model.save(tmp)
    return path


def resolve_model_path(path):
    """The model file of a run directory, or the file itself; ModelFileError if there is none."""
    path = Path(path)
    if path.is_dir():
        candidate = path / MODEL_FILE
        if not candidate.is_file():
            raise ModelFileError(
                f"No {MODEL_FILE} in run directory {path}; expected a finished run."
            )
        return candidate
    if not path.exists():
        raise ModelFileError(
            f"Model path {path} does not exist; expected a run directory or a .keras file."
        )
    return path


def load_model(path, compile=False):
    """Load a vaekit model from a `.keras` file or a run directory, in safe mode.

    Raises:
        ModelFileError: the path is missing, not a Keras archive, not a vaekit VAE, or would run code.
    """
    from vaekit.model import VAE  # registers the serializable classes before loading

    path = resolve_model_path(path)
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a Keras model archive; expected a .keras file saved by vaekit."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path} is not a readable Keras archive: {exc}.") from None
    if "config.json" not in names:
        raise ModelFileError(
            f"{path} holds no config.json; expected a .keras file saved by vaekit."
        )
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad archives; all mean "not loadable"
        reason = " ".join(str(exc).split())[:300]
        if "safe_mode" in reason or "Lambda" in reason:
            raise ModelFileError(
                f"Refused to load {path}: it contains code (e.g. a Lambda layer) that safe mode will not run."
            ) from None
        raise ModelFileError(f"Cannot load {path} as a vaekit model: {reason}") from None
    if not isinstance(model, VAE):
        raise ModelFileError(
            f"{path} holds a {type(model).__name__}, not a vaekit VAE; expected a model saved by vaekit."
        )
    return model


def load_run_config(path):
    """The RunConfig of a run directory (or of the directory holding a model file), or None."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    file = folder / CONFIG_FILE
    return config_lib.load(file) if file.is_file() else None
