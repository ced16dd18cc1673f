"""The CLI's bad-input contract, in one place: exit status 2, one line on stderr, nothing lost.

Each case builds one bad input in a fresh folder and runs the real `vaekit` command in-process on it.
Every case must exit with status 2 and write exactly one non-empty line to stderr, with no traceback
and a fragment saying what was wrong. It must print nothing on stdout, raise no Python warning (a
user would see it as a second line) and leave its folder exactly as it was: nothing created, changed
or removed. Pickled payloads create a file when unpickled, so that check also proves that vaekit
never unpickles them. The narrower unit tests of each loader live in test_data.py / test_config.py.
"""

import base64
import gzip
import hashlib
import io
import json
import pickle
import shutil
import stat
import struct
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vaekit
from vaekit.backends.keras_compat import tensorflow_unprobed
from vaekit.cli import main
from vaekit.models import saving

SENTINEL = "UNPICKLED"  # the file a pickled payload creates if anything ever unpickles it


# --- running the command and checking the contract ---------------------------------------------------
def run_cli(argv):
    """`main(argv)` as the shell would see it: the exit status, argparse's SystemExit included."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def shown_to_users():
    """Warning filters as a plain `python` run has them (pytest's own are wider): every warning
    is shown, except the kinds Python hides from users by default."""
    warnings.resetwarnings()
    warnings.simplefilter("always")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category)


def snapshot(root):
    """Every file and folder under `root` with a digest of its bytes."""
    state = {}
    for path in sorted(Path(root).rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink() or not path.is_file():
            state[key] = "<dir>" if path.is_dir() else "<other>"
        else:
            state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@dataclass
class Ctx:
    """What a case builder gets: its own folder, a copy of a tiny valid model, and monkeypatch."""

    tmp: Path
    model: Path
    monkeypatch: pytest.MonkeyPatch


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A valid vaekit model file for 8x8 grey images (untrained: loading is all that matters)."""
    path = tmp_path_factory.mktemp("model") / "m.keras"
    vaekit.save_model(vaekit.build_vae((8, 8, 1), "seed", latent_dim=2, hidden_units=[8]), path)
    return path


@pytest.fixture
def ctx(tmp_path, tiny_model, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default output path would land here, inside the snapshot
    shutil.copy(tiny_model, tmp_path / "m.keras")
    return Ctx(tmp_path, tmp_path / "m.keras", monkeypatch)


# --- building bad inputs -----------------------------------------------------------------------------
def images(n=12, size=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def idx_bytes(array, magic=None, dims=None):
    array = np.asarray(array, np.uint8)
    dims = array.shape if dims is None else dims
    magic = (0x0800 | len(dims)) if magic is None else magic
    return struct.pack(f">I{len(dims)}I", magic, *dims) + array.tobytes()


def idx_folder(tmp, images_data=None, labels_data=None, gz=True):
    """A folder with one MNIST IDX set; `*_data` are the files' bytes (default: valid ones)."""
    folder = tmp / "idx"
    folder.mkdir()
    ext = ".gz" if gz else ""
    if images_data is None:
        images_data = idx_bytes(images())
    if labels_data is None:
        labels_data = idx_bytes(np.arange(12) % 10)
    if gz:
        images_data, labels_data = gzip.compress(images_data), gzip.compress(labels_data)
    (folder / f"train-images-idx3-ubyte{ext}").write_bytes(images_data)
    (folder / f"train-labels-idx1-ubyte{ext}").write_bytes(labels_data)
    return folder


def raw_idx_folder(tmp, images_file_bytes, name="train-images-idx3-ubyte.gz"):
    """A folder with one images file of exactly these bytes (already compressed or not)."""
    folder = tmp / "idx"
    folder.mkdir()
    (folder / name).write_bytes(images_file_bytes)
    return folder


def png_folder(tmp, sizes=((8, 8),) * 4, extra=()):
    folder = tmp / "pngs"
    folder.mkdir()
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(np.full((h, w), 40 * i, np.uint8)).save(folder / f"{i}.png")
    for name, data in extra:
        (folder / name).write_bytes(data)
    return folder


def png_bytes(array=None):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8) if array is None else array).save(buffer, "PNG")
    return buffer.getvalue()


class Touch:
    """Unpickling this creates the sentinel file: proof that something unpickled it."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def payload(tmp):
    return Touch(tmp / SENTINEL)


def touch_pickle(c):
    return pickle.dumps(payload(c.tmp))


def npy(tmp, array, name="x.npy"):
    np.save(tmp / name, array, allow_pickle=True)
    return tmp / name


def npz(tmp, name="x.npz", **arrays):
    np.savez(tmp / name, **arrays)
    return tmp / name


def forged_npy(shape):
    """The bytes of an .npy file whose header declares `shape` but which holds 64 bytes."""
    buffer = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 64


def put(path, data=b"precious bytes"):
    """Write `data` (bytes or text) to `path`; returns the path."""
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def zip_of(path, members):
    """A zip file of (name, bytes) members; returns its path."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return path


def write_truncated(path, keep):
    return put(path, path.read_bytes()[:keep])


def rename(path, name):
    return path.rename(path.with_name(name))


def corrupt_gzip(data):
    """A gzip stream with its deflate data overwritten in the middle (zlib error or bad CRC)."""
    packed = bytearray(gzip.compress(data))
    middle = len(packed) // 2
    packed[middle : middle + 8] = b"\xff" * 8
    return bytes(packed)


def rezip(src, dst, drop=(), replace=None, add=()):
    """Copy the archive `src` to `dst`, leaving out `drop`, with new bytes for `replace`'s members,
    and extra members `add`: (name or ZipInfo, bytes) pairs."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename not in drop:
                zout.writestr(info, replace.get(info.filename, zin.read(info)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about duplicate names, on purpose here
            for name, data in add:
                zout.writestr(name, data)
    return dst


def edit_config(src, dst, edit):
    """Copy a model archive with its config.json changed by `edit(config_dict)`."""
    with zipfile.ZipFile(src) as z:
        config = json.loads(z.read("config.json"))
    edit(config)
    return rezip(src, dst, replace={"config.json": json.dumps(config).encode()})


def keras_sequential(tmp, name, *layers):
    import keras

    path = tmp / name
    with tensorflow_unprobed():  # Keras' save would import TensorFlow on every backend (4 s)
        keras.Sequential([keras.Input((4,)), *layers]).save(path)
    return path


def sequential(c):
    import keras

    return keras_sequential(c.tmp, "other.keras", keras.layers.Dense(2))


def lambda_layer(c):
    import keras

    return keras_sequential(c.tmp, "lambda.keras", keras.layers.Lambda(lambda x: x * 2))


def lambda_activation(c):
    """A Dense layer whose activation is a serialized Python lambda (marshalled bytecode)."""
    import keras

    src = keras_sequential(c.tmp, "plain.keras", keras.layers.Dense(2))

    def edit(config):
        dense = config["config"]["layers"][-1]["config"]
        dense["activation"] = {
            "module": "builtins",
            "class_name": "__lambda__",
            "config": {"value": ["4wEAAAAAAAAA", None, None]},
            "registered_name": None,
        }

    out = edit_config(src, c.tmp / "lambda_activation.keras", edit)
    src.unlink()
    return out


def torch_module(c):
    """A Keras TorchModuleWrapper layer: its config holds a pickle that torch.load would run."""
    import keras

    src = keras_sequential(c.tmp, "plain.keras", keras.layers.Dense(2))

    def edit(config):
        config["config"]["layers"][-1] = {
            "module": "keras.layers",
            "class_name": "TorchModuleWrapper",
            "config": {"module": base64.b64encode(touch_pickle(c)).decode(), "name": "torch"},
            "registered_name": None,
        }

    out = edit_config(src, c.tmp / "torch_module.keras", edit)
    src.unlink()
    return out


def renamed_class(module, class_name, registered_name):
    def build(c):
        def edit(config):
            config.update(module=module, class_name=class_name, registered_name=registered_name)

        return edit_config(c.model, c.tmp / "custom.keras", edit)

    return build


def with_member(name, data=b"x", **info):
    """The tiny model plus one extra member, given as a ZipInfo (name kept exactly as written)."""

    def build(c):
        member = zipfile.ZipInfo(name)
        for key, value in info.items():
            setattr(member, key, value)
        return rezip(c.model, c.tmp / "extra.keras", add=[(member, data)])

    return build


def truncated_model(c):
    (c.tmp / "cut.keras").write_bytes(c.model.read_bytes()[: c.model.stat().st_size // 2])
    return c.tmp / "cut.keras"


def flipped_weights(c):
    """The weights member with one byte changed: the zip CRC no longer matches."""
    data = bytearray(c.model.read_bytes())
    start = data.find(b"\x89HDF")  # the stored (uncompressed) HDF5 weights
    data[start + 4000] ^= 0xFF
    (c.tmp / "flipped.keras").write_bytes(bytes(data))
    return c.tmp / "flipped.keras"


def mismatched_weights(c):
    """config.json of one architecture beside weights of another."""
    other = c.tmp / "other_vae.keras"
    vaekit.save_model(vaekit.build_vae((8, 8, 1), "seed", latent_dim=3, hidden_units=[8]), other)
    with zipfile.ZipFile(other) as z:
        config = z.read("config.json")
    other.unlink()
    return rezip(c.model, c.tmp / "mixed.keras", replace={"config.json": config})


# --- the cases ---------------------------------------------------------------------------------------
# Each case is (build, expected fragment of the error line); build(ctx) returns the argv.
def train_on(make_dataset):
    return lambda c: ["train", "--dataset", make_dataset(c.tmp), "--out", c.tmp / "run"]


DATASET_CASES = {
    # MNIST IDX folders
    "idx-gzip-truncated": (
        lambda t: raw_idx_folder(t, gzip.compress(idx_bytes(images()))[:300]),
        "end-of-stream",
    ),
    "idx-gzip-corrupt": (
        lambda t: raw_idx_folder(t, corrupt_gzip(idx_bytes(images()))),
        "Could not read",
    ),
    "idx-gzip-not-gzip": (lambda t: raw_idx_folder(t, b"hello, world"), "Not a gzipped file"),
    "idx-gzip-empty-file": (lambda t: raw_idx_folder(t, b""), "only 0 bytes"),
    "idx-wrong-magic": (
        lambda t: idx_folder(t, images_data=idx_bytes(images(), magic=0x00000804, dims=(12, 8, 8))),
        "magic number 0x00000804",
    ),
    "idx-wrong-magic-labels": (
        lambda t: idx_folder(t, labels_data=idx_bytes(np.zeros(12), magic=0x0803, dims=(12,))),
        "magic number 0x00000803",
    ),
    "idx-dims-larger-than-data": (
        lambda t: idx_folder(t, images_data=idx_bytes(images(), dims=(13, 8, 8))),
        "(the file is truncated)",
    ),
    "idx-dims-smaller-than-data": (
        lambda t: idx_folder(t, images_data=idx_bytes(images(), dims=(11, 8, 8)), gz=False),
        "longer than its header says",
    ),
    "idx-header-cut": (
        lambda t: raw_idx_folder(t, b"\x00\x00\x08\x03\x00\x00", "train-images-idx3-ubyte"),
        "expected a 16-byte IDX header",
    ),
    "idx-label-count": (
        lambda t: idx_folder(t, labels_data=idx_bytes(np.arange(11) % 10)),
        "has 11 labels: expected 12",
    ),
    "idx-labels-without-images": (
        lambda t: raw_idx_folder(t, idx_bytes(np.arange(12)), "train-labels-idx1-ubyte"),
        "has no matching images file",
    ),
    # image folders
    "folder-empty": (lambda t: (t / "empty").mkdir() or t / "empty", "holds no images"),
    "folder-non-image-files-only": (
        lambda t: png_folder(t, sizes=(), extra=[("notes.txt", b"hi"), ("x.csv", b"1,2\n")]),
        "holds no images",
    ),
    "folder-mixed-sizes": (lambda t: png_folder(t, sizes=((8, 8), (8, 8), (9, 8))), "mixed sizes"),
    "folder-corrupt-png": (
        lambda t: png_folder(t, extra=[("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)]),
        "Could not read image",
    ),
    "folder-truncated-png": (
        lambda t: png_folder(t, extra=[("cut.png", png_bytes(images(1)[0])[:60])]),
        "Could not read image",
    ),
    "folder-text-named-png": (
        lambda t: png_folder(t, extra=[("fake.png", b"not a picture")]),
        "Could not read image",
    ),
    "folder-16-bit-png": (
        lambda t: png_folder(t, extra=[("deep.png", png_bytes(np.zeros((8, 8), np.uint16)))]),
        "16/32-bit",
    ),
    # .npy files
    "npy-nan": (lambda t: npy(t, np.full((12, 8, 8), np.nan, np.float32)), "NaN"),
    "npy-inf": (
        lambda t: npy(t, np.where(images() > 128, np.inf, 0.5).astype(np.float32)),
        "NaN or infinite",
    ),
    "npy-minus-inf": (
        lambda t: npy(t, np.full((12, 8, 8), -np.inf, np.float64)),
        "NaN or infinite",
    ),
    "npy-above-one": (lambda t: npy(t, images() / 100.0), "values in [0, 2.55]"),
    "npy-negative-float": (lambda t: npy(t, images() / 255.0 - 0.5), "values in [-0.5"),
    "npy-negative-int": (lambda t: npy(t, images().astype(np.int16) - 3), "integers in [-3"),
    "npy-int-above-255": (lambda t: npy(t, images().astype(np.int64) + 100), "integers in [100"),
    "npy-object-pickled": (
        lambda t: npy(t, np.array([payload(t)] * 3, dtype=object)),
        "pickled Python objects",
    ),
    "npy-empty": (lambda t: npy(t, np.zeros((0, 8, 8), np.uint8)), "is empty"),
    "npy-scalar": (lambda t: npy(t, np.float32(0.5)), "has shape ()"),
    "npy-rank-5": (
        lambda t: npy(t, np.zeros((2, 2, 2, 2, 2), np.uint8)),
        "has shape (2, 2, 2, 2, 2)",
    ),
    "npy-two-channels": (lambda t: npy(t, np.zeros((12, 8, 8, 2), np.uint8)), "C=1 or 3"),
    "npy-flat-not-square": (lambda t: npy(t, np.zeros((12, 10), np.uint8)), "perfect square"),
    "npy-too-few-images": (lambda t: npy(t, images(2)), "too few"),
    "npy-strings": (lambda t: npy(t, np.array([["a"] * 4] * 4)), "expected numeric images"),
    "npy-complex": (lambda t: npy(t, np.zeros((12, 8, 8), np.complex64)), "expected numeric"),
    "npy-truncated": (
        lambda t: write_truncated(npy(t, images()), keep=300),
        "but only 172 bytes follow",
    ),
    "npy-forged-header": (lambda t: put(t / "x.npy", forged_npy((10**12, 8, 8))), "is truncated"),
    "npy-text": (lambda t: put(t / "x.npy", "1,2,3"), "not a NumPy file"),
    "npy-holding-npz": (lambda t: rename(npz(t, x=images()), "x.npy"), "is an .npz archive"),
    # .npz files
    "npz-label-count": (
        lambda t: npz(t, x=images(), y=np.arange(11)),
        "has 11 labels for 12 images",
    ),
    "npz-test-label-count": (
        lambda t: npz(t, x_train=images(), y_train=np.arange(12), x_test=images(5), y_test=[1]),
        "y_test",
    ),
    "npz-labels-some-splits": (
        lambda t: npz(t, x_train=images(), y_train=np.arange(12), x_test=images(5)),
        "labels for some splits only",
    ),
    "npz-negative-labels": (
        lambda t: npz(t, x=images(), y=np.arange(12) - 1),
        "negative class ids",
    ),
    "npz-nan-factors": (
        lambda t: npz(t, x=images(), y=np.full(12, np.nan)),
        "NaN, infinite or huge (beyond float32) values",
    ),
    "npz-huge-factors": (
        lambda t: npz(t, x=images(), y=np.full(12, 1e300)),
        "huge (beyond float32)",
    ),
    "npz-huge-class-ids": (
        lambda t: npz(t, x=images(), y=np.full(12, 2**64 - 1, np.uint64)),
        "class ids above 2**63 - 1",
    ),
    "npz-labels-without-images": (
        lambda t: npz(t, x_train=images(), y_val=np.arange(3)),
        "without matching images",
    ),
    "npz-no-image-key": (lambda t: npz(t, pictures=images()), "expected 'x' or 'x_train'"),
    "npz-x-and-x-train": (lambda t: npz(t, x=images(), x_train=images()), "has both 'x'"),
    "npz-split-shapes": (
        lambda t: npz(t, x_train=images(), x_test=images(5, size=9)),
        "different image shapes",
    ),
    "npz-object-pickled": (
        lambda t: npz(t, x=np.array([payload(t)] * 3, dtype=object)),
        "pickled Python objects",
    ),
    "npz-label-names-not-strings": (
        lambda t: npz(t, x=images(), y=np.arange(12) % 2, label_names=np.arange(2)),
        "label_names",
    ),
    "npz-truncated": (
        lambda t: write_truncated(npz(t, x=images()), keep=200),
        "Could not read",
    ),
    "npz-forged-header": (
        lambda t: zip_of(t / "x.npz", [("x.npy", forged_npy((10**12, 8, 8)))]),
        "is truncated",
    ),
    "npz-holding-npy": (lambda t: rename(npy(t, images()), "x.npz"), "holds a single .npy array"),
    # names and paths
    "dataset-missing-path": (lambda t: t / "nowhere" / "data.npy", "does not exist"),
    "dataset-unknown-name": (lambda t: "cifar_1000", "Unknown dataset 'cifar_1000'"),
    "dataset-csv-no-header": (lambda t: put(t / "d.csv", "0,1\n"), "expected a header row"),
    "dataset-xlsx-file": (lambda t: put(t / "d.xlsx", "0,1\n"), "Cannot read"),
}


def config_case(text):
    def build(c):
        path = c.tmp / "run.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["train", "--config", path, "--out", c.tmp / "run"]

    return build


CONFIG_CASES = {
    "config-unknown-section": ("[trian]\nepochs = 1\n", "Unknown section(s) trian"),
    "config-unknown-key": ("[train]\nepochz = 1\n", "Unknown key(s) in [train]: epochz"),
    "config-type-string-for-int": ("[train]\nepochs = 'ten'\n", "train.epochs to be of type int"),
    "config-type-float-for-int": ("[model]\nlatent_dim = 2.5\n", "latent_dim to be of type int"),
    "config-type-bool-for-int": ("[train]\nbatch_size = true\n", "batch_size to be of type int"),
    "config-type-int-for-str": ("[data]\nbinarize = 1\n", "data.binarize to be of type str"),
    "config-type-string-for-list": (
        "[model]\nhidden_units = '8,8'\n",
        "hidden_units to be a list",
    ),
    "config-type-list-item": ("[model]\nhidden_units = [8, 'x']\n", "hidden_units[1]"),
    "config-type-date": ("[train]\nseed = 2024-01-01\n", "train.seed to be of type int"),
    "config-section-not-table": ("train = 3\n", "Expected [train] to be a table"),
    "config-model-name-list": ("[model]\nname = [1]\n", "Unknown model [1]"),
    "config-model-name-unknown": ("[model]\nname = 'resnet'\n", "Unknown model 'resnet'"),
    "config-epochs-0": ("[train]\nepochs = 0\n", "train.epochs >= 1"),
    "config-batch-size-negative": ("[train]\nbatch_size = -8\n", "train.batch_size >= 1"),
    "config-learning-rate-0": ("[train]\nlearning_rate = 0\n", "learning_rate to be a finite"),
    "config-learning-rate-nan": ("[train]\nlearning_rate = nan\n", "learning_rate"),
    "config-learning-rate-inf": ("[train]\nlearning_rate = inf\n", "learning_rate"),
    "config-seed-negative": ("[train]\nseed = -1\n", "train.seed in [0, 4294967295]"),
    "config-seed-too-big": ("[train]\nseed = 4294967296\n", "train.seed in [0, 4294967295]"),
    "config-val-fraction": ("[data]\nval_fraction = 0.9\n", "data.val_fraction in (0, 0.5]"),
    "config-limit-0": ("[data]\nlimit = 0\n", "data.limit >= 1"),
    "config-dataset-empty": ("[data]\ndataset = ''\n", "data.dataset"),
    "config-binarize-unknown": ("[data]\nbinarize = 'sometimes'\n", "data.binarize"),
    "config-latent-dim-0": ("[model]\nlatent_dim = 0\n", "model.latent_dim in [1, 65536]"),
    "config-latent-dim-huge": ("[model]\nlatent_dim = 1000000\n", "model.latent_dim"),
    "config-hidden-units-empty": ("[model]\nhidden_units = []\n", "model.hidden_units"),
    "config-hidden-units-0": ("[model]\nhidden_units = [8, 0]\n", "model.hidden_units"),
    "config-beta-negative": ("[model]\nbeta = -1.0\n", "model.beta"),
    "config-not-toml": ("[train\nepochs = 3\n", "is not valid TOML"),
    "config-not-toml-double-equals": ("[train]\nepochs = = 3\n", "is not valid TOML"),
    "config-json": ('{"train": {"epochs": 3}}', "is not valid TOML"),
    "config-not-utf8": (b"[train]\nepochs = 3 # \xff\xfe\n", "is not UTF-8"),
    "config-binary": (bytes(range(256)), "is not UTF-8"),
}


def info_and_sample(make_model):
    """Two cases for a model file: `vaekit sample FILE` and `vaekit info FILE`."""
    return {
        "sample": lambda c: ["sample", make_model(c), "--out", c.tmp / "s.png"],
        "info": lambda c: ["info", make_model(c)],
    }


MODEL_CASES = {
    "model-truncated": (truncated_model, "is not a Keras model archive"),
    "model-empty-file": (lambda c: put(c.tmp / "e.keras", b""), "is not a Keras model archive"),
    "model-text-file": (lambda c: put(c.tmp / "t.keras", "hi\n"), "is not a Keras model archive"),
    "model-hdf5-legacy": (
        lambda c: put(c.tmp / "old.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 100),
        "is not a Keras model archive",
    ),
    "model-zip-not-keras": (
        lambda c: zip_of(c.tmp / "photos.keras", [("readme.txt", "hi")]),
        "holds no config.json",
    ),
    "model-torch-pickle": (  # a PyTorch checkpoint renamed .keras: a zip holding a pickle
        lambda c: zip_of(c.tmp / "torch.keras", [("archive/data.pkl", touch_pickle(c))]),
        "holds no config.json",
    ),
    "model-keras-sequential": (sequential, "holds a Sequential, not a vaekit VAE"),
    "model-lambda-layer": (lambda_layer, "code (a Lambda layer) that safe mode will not run"),
    "model-lambda-activation": (lambda_activation, "(a Python lambda) that safe mode will not"),
    "model-pickled-torch-module": (torch_module, "(a pickled PyTorch module) that safe mode"),
    "model-unregistered-class": (
        renamed_class("evil_toolkit.layers", "Payload", "evil_toolkit>Payload"),
        "names a class 'Payload' that is neither Keras' nor vaekit's",
    ),
    "model-os-system-class": (renamed_class("os", "system", None), "names a class 'system'"),
    "model-non-modeling-keras-api": (
        renamed_class("keras.utils", "get_file", None),
        "not a modeling function",
    ),
    "model-config-not-json": (
        lambda c: rezip(c.model, c.tmp / "j.keras", replace={"config.json": b"{not json"}),
        "holds an unreadable config.json",
    ),
    "model-weights-missing": (
        lambda c: rezip(c.model, c.tmp / "w.keras", drop=("model.weights.h5",)),
        "model.weights.h5",
    ),
    "model-weights-flipped-byte": (flipped_weights, "Bad CRC-32"),
    "model-weights-other-architecture": (mismatched_weights, "objects could not be loaded"),
    "model-member-dotdot": (with_member("../evil.txt"), "'../evil.txt' has a '..' component"),
    "model-member-deep-dotdot": (with_member("assets/../../evil.txt"), "'..' component"),
    "model-member-absolute": (with_member("/tmp/evil.txt"), "is an absolute path"),
    "model-member-backslash": (with_member("..\\evil.txt"), "has a backslash"),
    "model-member-drive-letter": (with_member("C:/evil.txt"), "starts with a drive letter"),
    "model-member-control-char": (with_member("assets/a\x01b"), "control characters"),
    "model-member-duplicate-config": (
        with_member("config.json", b'{"class_name": "Sequential"}'),
        "'config.json' appears twice",
    ),
    "model-member-symlink": (
        with_member("assets/link", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16),
        "is a symbolic link",
    ),
    "model-zip-bomb": (
        with_member("assets/pad.bin", bytes(8 << 20), compress_type=zipfile.ZIP_DEFLATED),
        "looks like a decompression bomb",
    ),
    "model-too-large-in-total": (
        lambda c: c.monkeypatch.setattr(saving, "MAX_TOTAL_BYTES", 20_000) or c.model,
        "bytes uncompressed",
    ),
    "model-too-many-members": (
        lambda c: c.monkeypatch.setattr(saving, "MAX_MEMBERS", 2) or c.model,
        "holds 3 archive members",
    ),
    "model-path-missing": (lambda c: c.tmp / "gone.keras", "does not exist"),
    "model-run-dir-without-model": (
        lambda c: (c.tmp / "run").mkdir() or c.tmp / "run",
        "No model.keras in run directory",
    ),
}


def sample(*argv):
    return lambda c: ["sample", c.model, "--out", c.tmp / "s.png", *argv]


def train(*argv):
    return lambda c: ["train", *argv, "--out", c.tmp / "run"]


def over_data(command, out="x.csv", *argv):
    """`vaekit score` or `embed` on valid data for the tiny model, to `out` in the case's folder."""
    return lambda c: [
        command,
        c.model,
        "--dataset",
        npy(c.tmp, images()),
        *argv,
        "--out",
        c.tmp / out,
    ]


ARGUMENT_CASES = {
    "sample-num-0": (sample("--num", 0), "--num: expected a value in [1, 1000000], received '0'"),
    "sample-num-1e9": (sample("--num", 10**9), "--num: expected a value in [1, 1000000]"),
    "sample-num-images": (sample("--num", 20_000), "Expected --num at most 10000 for images"),
    "sample-num-text": (sample("--num", "many"), "--num: expected int, received 'many'"),
    "sample-temperature-negative": (sample("--temperature", -1), "--temperature"),
    "sample-temperature-nan": (sample("--temperature", "nan"), "--temperature"),
    "sample-temperature-inf": (sample("--temperature", "inf"), "--temperature"),
    "sample-seed-negative": (sample("--seed", -1), "--seed"),
    "sample-seed-2**32": (sample("--seed", 2**32), "--seed: expected a value in [0, 4294967295]"),
    "sample-ncols-0": (sample("--ncols", 0), "--ncols"),
    "sample-ncols-1e9": (sample("--ncols", 10**9), "--ncols: expected a value in [1, 10000]"),
    "sample-unknown-flag": (sample("--frobnicate"), "unrecognized arguments: --frobnicate"),
    "sample-missing-model": (lambda c: ["sample"], "the following arguments are required"),
    "sample-backend-unknown": (sample("--backend", "numpy"), "invalid choice: 'numpy'"),
    "reconstruct-num-0": (
        lambda c: ["reconstruct", c.model, "--num", 0, "--out", c.tmp / "r.png"],
        "--num",
    ),
    "reconstruct-split-unknown": (
        lambda c: ["reconstruct", c.model, "--split", "dev", "--out", c.tmp / "r.png"],
        "invalid choice: 'dev'",
    ),
    "train-epochs-0": (train("--epochs", 0), "train.epochs >= 1"),
    "train-epochs-negative": (train("--epochs", -5), "train.epochs >= 1"),
    "train-epochs-text": (train("--epochs", "ten"), "--epochs: invalid int value"),
    "train-batch-size-0": (train("--batch-size", 0), "train.batch_size >= 1"),
    "train-latent-dim-0": (train("--latent-dim", 0), "model.latent_dim in [1, 65536]"),
    "train-latent-dim-1e6": (train("--latent-dim", 10**6), "model.latent_dim in [1, 65536]"),
    "train-hidden-units-0": (train("--hidden-units", "8,0"), "model.hidden_units"),
    "train-hidden-units-empty": (train("--hidden-units", ","), "--hidden-units"),
    "train-learning-rate-0": (train("--learning-rate", 0), "train.learning_rate"),
    "train-learning-rate-negative": (train("--learning-rate", -0.1), "train.learning_rate"),
    "train-learning-rate-nan": (train("--learning-rate", "nan"), "train.learning_rate"),
    "train-learning-rate-inf": (train("--learning-rate", "inf"), "train.learning_rate"),
    "train-beta-negative": (train("--beta", -1), "model.beta"),
    "train-beta-nan": (train("--beta", "nan"), "model.beta"),
    "train-val-fraction-0.9": (train("--val-fraction", 0.9), "data.val_fraction in (0, 0.5]"),
    "train-val-fraction-0": (train("--val-fraction", 0), "data.val_fraction in (0, 0.5]"),
    "train-limit-0": (train("--limit", 0), "data.limit >= 1"),
    "train-seed-negative": (train("--seed", -1), "train.seed in [0, 4294967295]"),
    "train-seed-2**32": (train("--seed", 2**32), "train.seed in [0, 4294967295]"),
    "train-steps-per-execution-0": (train("--steps-per-execution", 0), "steps_per_execution"),
    "train-binarize-unknown": (train("--binarize", "sometimes"), "invalid choice: 'sometimes'"),
    "train-verbose-3": (train("--verbose", 3), "invalid choice: 3"),
    "train-model-unknown": (train("--model", "resnet"), "Unknown model 'resnet'"),
    "train-dataset-empty": (train("--dataset", ""), "data.dataset"),
    "train-backend-unknown": (train("--backend", "numpy"), "invalid choice: 'numpy'"),
    "train-prior-unknown": (train("--prior", "cauchy", "--limit", 64), "Unknown prior 'cauchy'"),
    "train-likelihood-unknown": (
        train("--likelihood", "poisson", "--limit", 64),
        "Unknown likelihood 'poisson'",
    ),
    "train-likelihood-option-unknown": (
        train("--likelihood-option", "window=5", "--limit", 64),
        "Unknown option(s) window for likelihood 'bernoulli'",
    ),
    "train-likelihood-option-no-value": (
        train("--likelihood-option", "window"),
        "expected NAME=VALUE like window=5",
    ),
    "train-architecture-unknown": (
        train("--architecture", "transformer", "--limit", 64),
        "Unknown architecture",
    ),
    "train-prior-options-for-standard-normal": (
        train("--prior-components", 5, "--limit", 64),
        "Invalid options for prior 'standard_normal'",
    ),
    "train-iw-samples-0": (train("--iw-samples", 0), "model.iw_samples in [1, 5000]"),
    "train-free-bits-negative": (train("--free-bits", -1), "model.free_bits"),
    "train-free-bits-with-iwae": (
        train("--free-bits", 0.5, "--iw-samples", 5),
        "Expected model.free_bits = 0 with model.iw_samples > 1",
    ),
    "train-stochastic-layers-3": (train("--stochastic-layers", 3), "model.stochastic_layers"),
    "train-prior-components-negative": (train("--prior-components", -1), "prior_components"),
    "train-engine-unknown": (train("--engine", "turbo"), "invalid choice: 'turbo'"),
    "train-kl-warmup-negative": (train("--kl-warmup-epochs", -1), "train.kl_warmup_epochs >= 0"),
    "train-patience-negative": (train("--patience", -1), "train.patience >= 0"),
    "evaluate-k-0": (
        lambda c: ["evaluate", c.model, "-k", 0],
        "-k: expected a value in [1, 1000000]",
    ),
    "evaluate-limit-0": (lambda c: ["evaluate", c.model, "--limit", 0], "--limit"),
    "evaluate-split-unknown": (
        lambda c: ["evaluate", c.model, "--split", "dev"],
        "invalid choice: 'dev'",
    ),
    "evaluate-bare-model-without-dataset": (
        lambda c: ["evaluate", c.model, "-k", 2, "--json"],
        "No --dataset given",
    ),
    "evaluate-missing-model": (
        lambda c: ["evaluate", c.tmp / "nope.keras", "--json"],
        "nope.keras",
    ),
    "score-k-0": (over_data("score", "s.csv", "-k", 0), "-k: expected a value in [1, 1000000]"),
    "score-verbose-2": (over_data("score", "s.csv", "--verbose", 2), "invalid choice: 2"),
    "score-bare-model-without-dataset": (
        lambda c: ["score", c.model, "--out", c.tmp / "s.csv"],
        "No --dataset given",
    ),
    "score-dataset-of-another-shape": (
        lambda c: [
            "score",
            c.model,
            "--dataset",
            npy(c.tmp, images(size=9)),
            "--out",
            c.tmp / "s.csv",
        ],
        "has examples of shape (9, 9, 1); the model expects (8, 8, 1)",
    ),
    "embed-bare-model-without-dataset": (
        lambda c: ["embed", c.model, "--out", c.tmp / "e.npy"],
        "No --dataset given",
    ),
    "train-config-missing": (
        lambda c: ["train", "--config", c.tmp / "no.toml"],
        "Cannot read config file",
    ),
    "train-config-is-a-folder": (lambda c: ["train", "--config", c.tmp], "Cannot read config"),
    "train-resume-missing": (lambda c: ["train", "--resume", c.tmp / "nope"], "Cannot resume"),
    "train-init-from-missing": (
        lambda c: ["train", "--limit", 64, "--init-from", c.tmp / "nope", "--out", c.tmp / "run"],
        "nope does not exist",
    ),
    "train-init-from-other-architecture": (  # an 8x8 model's weights for 28x28 images
        lambda c: ["train", "--limit", 64, "--init-from", c.model, "--out", c.tmp / "run"],
        "Cannot start from",
    ),
    "train-resume-with-init-from": (
        lambda c: ["train", "--resume", c.tmp, "--init-from", c.model],
        "drop --init-from",
    ),
    "train-resume-with-options": (
        lambda c: ["train", "--resume", c.tmp, "--latent-dim", 3],
        "drop --latent-dim",
    ),
    "train-resume-with-likelihood-option": (
        lambda c: ["train", "--resume", c.tmp, "--likelihood-option", "window=2"],
        "drop --likelihood-option (only",
    ),
    "train-likelihood-option-event-ndim": (
        train("--likelihood-option", "event_ndim=2", "--limit", 64),
        "Unknown option(s) event_ndim for likelihood 'bernoulli'. It takes none.",
    ),
    "train-likelihood-option-window-too-wide": (
        train(
            "--likelihood",
            "local_ar_bernoulli",
            "--likelihood-option",
            "window=1000",
            "--limit",
            64,
        ),  # fmt: skip
        "Expected `window` <=",
    ),
    "top-backend-unknown": (lambda c: ["--backend", "numpy", "info", c.model], "invalid choice"),
    "top-no-command": (lambda c: [], "the following arguments are required: COMMAND"),
    "top-unknown-command": (lambda c: ["frobnicate"], "invalid choice: 'frobnicate'"),
    "top-nul-in-argument": (
        lambda c: ["train", "--config", "a\0b.toml"],
        "arguments cannot contain NUL characters",
    ),
}


def train_tiny(out):
    """A valid, tiny training run except for its output path `out(ctx)`."""

    def build(c):
        np.save(c.tmp / "d.npy", images())
        data = ["--dataset", c.tmp / "d.npy", "--latent-dim", 2, "--hidden-units", 8]
        return ["train", *data, "--epochs", 1, "--verbose", 0, "--out", out(c)]

    return build


def folder_with(name):
    def build(c):
        (c.tmp / name).mkdir()
        (c.tmp / name / "notes.txt").write_text("mine")
        return c.tmp / name

    return build


OUTPUT_CASES = {
    "sample-out-under-a-file": (
        lambda c: ["sample", c.model, "--out", put(c.tmp / "blocker") / "s.png"],
        "blocker is a file, not a folder",
    ),
    "sample-out-deep-under-a-file": (
        lambda c: ["sample", c.model, "--out", put(c.tmp / "blocker") / "a" / "b" / "s.png"],
        "blocker is a file, not a folder",
    ),
    "sample-out-is-a-directory": (
        lambda c: ["sample", c.model, "--out", c.tmp],
        "is a directory; expected a .png file path",
    ),
    "sample-out-is-a-directory-overwrite": (
        lambda c: ["sample", c.model, "--out", c.tmp, "--overwrite"],
        "is a directory",
    ),
    "sample-out-exists": (
        lambda c: ["sample", c.model, "--out", put(c.tmp / "s.png")],
        "already exists; pass --overwrite",
    ),
    "sample-default-out-exists": (
        lambda c: put(c.tmp / "sample-seed0.png") and ["sample", c.model],  # the default --out
        "sample-seed0.png already exists",
    ),
    "sample-out-not-png": (
        lambda c: ["sample", c.model, "--out", c.tmp / "s.jpg"],
        "ending in .png",
    ),
    "reconstruct-out-exists": (
        lambda c: ["reconstruct", c.model, "--dataset", "shapes", "--out", put(c.tmp / "r.png")],
        "already exists",
    ),
    "score-out-not-a-table": (over_data("score", "s.txt"), "expected a .csv or .parquet file"),
    "score-out-exists": (
        lambda c: put(c.tmp / "s.csv") and over_data("score", "s.csv")(c),
        "s.csv already exists; pass --overwrite",
    ),
    "score-default-out-exists": (
        lambda c: (
            put(c.tmp / "scores.csv") and ["score", c.model, "--dataset", npy(c.tmp, images())]
        ),
        "scores.csv already exists",
    ),
    "embed-out-not-an-array-or-table": (
        over_data("embed", "e.txt"),
        "expected a .npy, .csv or .parquet file",
    ),
    "embed-out-is-a-directory": (
        lambda c: ["embed", c.model, "--dataset", npy(c.tmp, images()), "--out", c.tmp],
        "is a directory; expected a .npy file path",
    ),
    "embed-parquet-without-pyarrow": (
        lambda c: (
            c.monkeypatch.setitem(sys.modules, "pyarrow", None)
            or over_data("embed", "e.parquet")(c)
        ),
        "Writing .parquet needs pyarrow: pip install 'vaekit[tables]'.",
    ),
    "train-out-under-a-file": (
        train_tiny(lambda c: put(c.tmp / "blocker") / "run"),
        "Cannot write to run directory",
    ),
    "train-out-is-a-file": (train_tiny(lambda c: put(c.tmp / "run")), "is a file; expected a"),
    "train-out-is-a-users-folder": (
        train_tiny(folder_with("mine")),
        "already exists and is not empty; pass --overwrite",
    ),
    "train-out-users-folder-overwrite": (
        lambda c: [*train_tiny(folder_with("mine"))(c), "--overwrite"],
        "not a vaekit run directory",
    ),
}


def _params():
    cases = []
    for name, (make, fragment) in DATASET_CASES.items():
        cases.append(pytest.param(train_on(make), fragment, id=name))
    for name, (text, fragment) in CONFIG_CASES.items():
        cases.append(pytest.param(config_case(text), fragment, id=name))
    for name, (make, fragment) in MODEL_CASES.items():
        for command, build in info_and_sample(make).items():
            cases.append(pytest.param(build, fragment, id=f"{name}-{command}"))
    for table in (ARGUMENT_CASES, OUTPUT_CASES):
        cases.extend(pytest.param(build, frag, id=name) for name, (build, frag) in table.items())
    return cases


@pytest.mark.parametrize("build, fragment", _params())
def test_bad_input_exits_2_with_one_line_and_loses_nothing(build, fragment, ctx, capsys):
    argv = build(ctx)
    capsys.readouterr()  # whatever building the input printed (Keras' save) is not the CLI's
    before = snapshot(ctx.tmp)
    with warnings.catch_warnings(record=True) as caught:
        shown_to_users()
        rc = run_cli(argv)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, f"exit status {rc}, stderr: {err}"
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert fragment in lines[0], lines[0]
    assert out == ""
    assert [str(w.message) for w in caught] == []
    assert snapshot(ctx.tmp) == before
    assert not (ctx.tmp / SENTINEL).exists()


# --- the baselines: the same fixtures, minus the fault, succeed ---------------------------------------
def test_baseline_datasets_load(tmp_path):
    from vaekit.data import load_dataset

    folders = [tmp_path / name for name in "abc"]
    for folder in folders:
        folder.mkdir()
    for spec in (
        idx_folder(folders[0]),
        idx_folder(folders[1], gz=False),
        png_folder(folders[2]),
        npy(tmp_path, images()),
        npz(tmp_path, x=images(), y=np.arange(12)),
        npz(
            tmp_path,
            "s.npz",
            x_train=images(),
            y_train=np.arange(12),
            x_test=images(5),
            y_test=[1] * 5,
        ),
    ):
        data = load_dataset(spec)
        assert data.x_train.dtype == np.float32 and data.shape == (8, 8, 1)


def test_baseline_commands_succeed(ctx, capsys):
    rc = run_cli(["sample", ctx.model, "--num", 4, "--out", ctx.tmp / "s.png"])
    assert rc == 0 and (ctx.tmp / "s.png").is_file()
    assert run_cli(["info", ctx.model]) == 0
    assert run_cli(["train", "--print-config", "--config", put(ctx.tmp / "c.toml", "")]) == 0
    argv = train_tiny(lambda c: c.tmp / "run")(ctx)
    assert run_cli(argv) == 0, capsys.readouterr().err
    assert (ctx.tmp / "run" / "model.keras").is_file()
    # A valid model with an extra (pickled) member loads, and the pickle is never read.
    extra = rezip(ctx.model, ctx.tmp / "extra.keras", add=[("assets/p.pkl", touch_pickle(ctx))])
    assert run_cli(["sample", extra, "--num", 2, "--out", ctx.tmp / "s2.png"]) == 0
    assert not (ctx.tmp / SENTINEL).exists()


def test_errors_reach_a_real_terminal_as_one_line(tmp_path):
    """Through `python -m vaekit`, with warnings and native-library logs on the real stderr."""
    import keras

    model = keras_sequential(tmp_path, "lambda.keras", keras.layers.Lambda(lambda x: x + 1))
    before = snapshot(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "vaekit", "sample", str(model), "--out", str(tmp_path / "s.png")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "safe mode will not run" in lines[0], proc.stderr
    assert proc.stdout == "" and snapshot(tmp_path) == before
