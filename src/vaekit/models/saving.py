"""Saving and loading models and runs, safely.

Models are saved atomically (a temporary `.keras` file in the same folder, then a rename), so a crash
mid-save never replaces a good file with a broken one. Loading always uses Keras safe mode: a file
holding a Lambda layer or other arbitrary code is refused, never run. Before Keras opens an archive,
`read_archive_config` refuses member names that could escape an extraction folder and decompression bombs.
"""

import json
import re
import stat
import warnings
import zipfile
from pathlib import Path

import keras

from vaekit import config as config_lib
from vaekit.atomic import atomic_path
from vaekit.backends.keras_compat import tensorflow_unprobed
from vaekit.errors import ModelFileError
from vaekit.models.vae import VAE  # loading a package module registers every vaekit class
from vaekit.run_dir import CONFIG_FILE, MODEL_FILE

# Archive limits. A vaekit model archive holds 3 members stored uncompressed (ratio 1); DEFLATE
# cannot legitimately exceed ~1032:1, so a big member expanding 100x is a bomb, not a model.
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 4 << 30  # 4 GiB uncompressed in all
MAX_RATIO = 100  # uncompressed / compressed, for members above RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 1 << 20  # small members (config.json) may compress well
CODE_CLASSES = {  # serialized Python code or pickles, by Keras class name
    "Lambda": "Lambda layer",
    "__lambda__": "Python lambda",
    "TorchModuleWrapper": "pickled PyTorch module",
}
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    path = resolve_model_path(path)
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a Keras model archive; expected a .keras file saved by vaekit."
        )
    config = read_archive_config(path)
    code = _code_in(config)
    if code is not None:
        raise ModelFileError(
            f"Refused to load {path}: it contains code (a {code}) that safe mode will not run."
        )
    try:
        with warnings.catch_warnings(record=True) as caught:  # shown only if loading succeeds
            model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad archives; all mean "not loadable"
        raise ModelFileError(_load_error(path, exc)) from None
    for w in caught:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not isinstance(model, VAE):
        raise ModelFileError(
            f"{path} holds a {type(model).__name__}, not a vaekit VAE; expected a model saved by vaekit."
        )
    return model


def read_archive_config(path):
    """The parsed config.json of a model archive, opened once and checked to be safe first.

    Refuses (ModelFileError) archives Keras should never open: names that could escape a folder
    the archive is extracted into (absolute paths, `..` components, backslashes, drive letters,
    control characters), duplicate names, symbolic links, encrypted members, more than
    `MAX_MEMBERS` members, more than `MAX_TOTAL_BYTES` uncompressed, members that expand more than
    `MAX_RATIO` times; then archives without a readable config.json.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            check_members(infos, path)
            if "config.json" not in {info.filename for info in infos}:
                raise ModelFileError(
                    f"{path} holds no config.json; expected a .keras file saved by vaekit."
                )
            text = archive.read("config.json")
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ModelFileError(f"{path} is not a readable Keras archive: {exc}.") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ModelFileError(f"{path} holds an unreadable config.json: {reason}.") from None


def _code_in(config):
    """The class name of the first serialized Python code in a model config, or None.

    Keras' safe mode refuses these too; looking first gives a clear message however deeply the
    code is nested (Keras reports nested failures as "could not be deserialized properly").
    """
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") in CODE_CLASSES:
                return CODE_CLASSES[node["class_name"]]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _load_error(path, exc):
    """One line for an exception raised by `keras.saving.load_model`."""
    chain, cause = [], exc
    while cause is not None and len(chain) < 20:
        chain.append(" ".join(str(cause).split()))
        cause = cause.__cause__ or cause.__context__
    if any("safe_mode" in text for text in chain):
        return f"Refused to load {path}: it contains code that safe mode will not run."
    unknown = re.match(r"Could not (?:locate|deserialize) (\w+) '([^']*)'", chain[0])
    if unknown:
        return (
            f"Cannot load {path}: it names a {unknown[1]} {unknown[2]!r} that is neither Keras' "
            f"nor vaekit's; expected a model saved by vaekit."
        )
    return f"Cannot load {path} as a vaekit model: {chain[0][:300]}"


def check_members(infos, path):
    """ModelFileError for the first unsafe member among `zipfile.ZipInfo`s (see `read_archive_config`)."""
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(
            f"Refused to load {path}: it holds {len(infos)} archive members; expected at most "
            f"{MAX_MEMBERS} (a vaekit model holds 3)."
        )
    seen, total = set(), 0
    for info in infos:
        name = info.orig_filename
        reason = _unsafe_name(name)
        if reason is None and name in seen:
            reason = "appears twice"
        if reason is None and stat.S_ISLNK(info.external_attr >> 16):
            reason = "is a symbolic link"
        if reason is None and info.flag_bits & 0x1:
            reason = "is encrypted"
        if reason is not None:
            raise ModelFileError(
                f"Refused to load {path}: archive member {name!r} {reason}; expected plain "
                f"files under relative names, as Keras writes them."
            )
        seen.add(name)
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise ModelFileError(
                f"Refused to load {path}: archive member {name!r} expands from "
                f"{info.compress_size} to {info.file_size} bytes (more than {MAX_RATIO}x); "
                f"it looks like a decompression bomb."
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise ModelFileError(
                f"Refused to load {path}: its members hold more than {MAX_TOTAL_BYTES} bytes "
                f"uncompressed, far more than a vaekit model needs."
            )


def _unsafe_name(name):
    """Why a member name is unsafe to extract, or None."""
    if not name:
        return "has an empty name"
    if _CONTROL.search(name):
        return "has control characters in its name"
    if "\\" in name:
        return "has a backslash in its name"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if ".." in name.split("/"):
        return "has a '..' component that escapes the archive"
    return None


def load_run_config(path):
    """The RunConfig of a run directory (or of the directory holding a model file), or None."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    file = folder / CONFIG_FILE
    return config_lib.load(file) if file.is_file() else None
