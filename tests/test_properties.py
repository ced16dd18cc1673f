"""Property-based tests: random arrays, files, configs and command lines give a valid result or a
clean error (DataError, ConfigError, exit status 2 with one line), never anything else."""

import contextlib
import gzip
import io
import math
import struct
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import vaekit
from vaekit import config as config_lib
from vaekit.cli import main
from vaekit.data import load_dataset
from vaekit.errors import ConfigError, DataError

FAST = settings(max_examples=120, deadline=None)
SLOW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def mostly(usual, other):
    """`usual` nine times in ten, else `other`."""
    return st.integers(0, 9).flatmap(lambda i: usual if i else other)


# --- arrays and data files ---------------------------------------------------------------------------
DTYPES = ["uint8", "int16", "int64", "float16", "float32", "float64", "bool", "object"]
IN_RANGE = {  # values a valid dataset holds, per dtype kind
    "u": st.integers(0, 255),
    "i": st.integers(0, 255),
    "b": st.booleans(),
}


@st.composite
def arrays(draw, max_rank=5):
    """A random array: dtype from DTYPES, rank 0..max_rank with small sizes, and values either all
    in range or anything the dtype holds (NaN, infinities, negatives, huge)."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=max_rank)))
    if len(shape) >= 3 and draw(st.booleans()):  # often image-like: n >= 3, C in {1, 3}
        channels = (draw(st.sampled_from([1, 3])),) if len(shape) >= 4 else ()
        shape = (draw(st.integers(3, 8)), *shape[1:3], *channels)
    if dtype.kind == "O":
        values = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))
        items = draw(st.lists(values, min_size=math.prod(shape), max_size=math.prod(shape)))
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array.reshape(shape)
    if dtype.kind == "f":
        in_range = st.floats(0, 1, width=dtype.itemsize * 8)
    else:
        in_range = IN_RANGE[dtype.kind]
    anything = hnp.from_dtype(dtype)
    elements = in_range if draw(st.booleans()) else st.one_of(in_range, anything)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def check_dataset(data):
    """What every Dataset promises."""
    h, w, c = data.shape
    assert c in (1, 3) and h >= 1 and w >= 1
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        assert x.dtype == np.float32 and x.shape[1:] == (h, w, c) and len(x) >= 1
        assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
        assert y is None or len(y) == len(x)
        if y is not None and y.dtype == np.int64:
            assert y.ndim == 1 and (y >= 0).all()
        elif y is not None:
            assert y.dtype == np.float32 and y.ndim == 2 and np.isfinite(y).all()


def load_or_data_error(path):
    """load_dataset(path): a valid Dataset, or DataError. Anything else fails the test."""
    try:
        data = load_dataset(str(path))
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        event("DataError")
        return None
    check_dataset(data)
    event("loaded")
    return data


@FAST
@given(array=arrays())
def test_random_npy_arrays_load_or_raise_data_error(array):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.npy"
        np.save(path, array, allow_pickle=True)
        data = load_or_data_error(path)
        if array.dtype == object:
            assert data is None  # never unpickled


NPZ_KEYS = ["x", "y", "x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "label_names"]
LAYOUTS = [["x"], ["x", "y"], ["x_train", "x_test"], ["x_train", "y_train", "x_val", "y_val"]]


@st.composite
def npz_contents(draw):
    """Arrays under the layouts vaekit reads (with labels that may or may not fit), or any keys."""
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from([*NPZ_KEYS, "junk"]), max_size=5, unique=True))
        return {key: draw(arrays(max_rank=4)) for key in keys}
    contents, n = {}, draw(st.integers(3, 6))
    for key in draw(st.sampled_from(LAYOUTS)):
        if key.startswith("x"):
            contents[key] = draw(arrays(max_rank=4) | hnp.arrays(np.uint8, (n, 3, 3)))
        else:
            labels = st.integers(-1, 9) if draw(st.booleans()) else st.floats()
            contents[key] = np.array(draw(st.lists(labels, min_size=n - 1, max_size=n + 1)))
    if draw(st.booleans()):
        contents["label_names"] = np.array(draw(st.lists(st.text(max_size=4), max_size=4)))
    return contents


@FAST
@given(contents=npz_contents())
def test_random_npz_archives_load_or_raise_data_error(contents):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.npz"
        np.savez(path, **contents)
        load_or_data_error(path)


@FAST
@given(array=arrays(max_rank=4), suffix=st.sampled_from([".npy", ".npz"]), data=st.data())
def test_truncated_and_corrupted_numpy_files_raise_data_error(array, suffix, data):
    buffer = io.BytesIO()
    if suffix == ".npy":
        np.save(buffer, array, allow_pickle=True)
    else:
        np.savez(buffer, x=array)
    raw = bytearray(buffer.getvalue())
    cut = data.draw(st.integers(0, len(raw)))
    for i in data.draw(st.lists(st.integers(0, max(len(raw) - 1, 0)), max_size=3)):
        raw[i] ^= 0xFF
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        path.write_bytes(bytes(raw[:cut]) + data.draw(st.binary(max_size=8)))
        load_or_data_error(path)


@FAST
@given(
    dims=st.lists(st.integers(0, 6), min_size=3, max_size=3),
    magic=mostly(st.just(0x0803), st.sampled_from([0x0801, 0x0804, 0x0903, 0])),
    extra=mostly(st.just(0), st.integers(-20, 5)),
    labels=st.sampled_from(["none", "match", "other"]),
    gz=st.booleans(),
    cut=mostly(st.none(), st.integers(0, 60)),
)
def test_random_idx_folders_load_or_raise_data_error(dims, magic, extra, labels, gz, cut):
    n = math.prod(dims)
    labels = {"none": None, "match": dims[0], "other": dims[0] + 1}[labels]
    body = bytes(range(256)) * (n // 256 + 1)
    images = struct.pack(">I3I", magic, *dims) + body[: max(n + extra, 0)]
    files = {"train-images-idx3-ubyte": images}
    if labels is not None:
        files["train-labels-idx1-ubyte"] = struct.pack(">II", 0x0801, labels) + bytes(labels)
    with tempfile.TemporaryDirectory() as folder:
        for name, content in files.items():
            if gz:
                content, name = gzip.compress(content), f"{name}.gz"
            if cut is not None:
                content = content[:cut]
            (Path(folder) / name).write_bytes(content)
        load_or_data_error(folder)


NAMES = [*[f"{i}.png" for i in range(6)], "b.PNG", "c.jpg", "d.txt", ".hidden.png", "e.jpeg"]


@st.composite
def image_files(draw, size):
    """(name, bytes) of an image in a random mode, mostly of `size`, or of garbage."""
    name = draw(st.sampled_from(NAMES))
    if draw(st.integers(0, 9)) == 0:
        return name, draw(st.binary(max_size=40))
    mode = draw(mostly(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "LA"]), st.just("I;16")))
    size = draw(mostly(st.just(size), st.tuples(st.integers(1, 5), st.integers(1, 5))))
    image = Image.new(mode, size, color=draw(st.integers(0, 255)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG" if name.endswith(("jpg", "jpeg")) and mode in ("L", "RGB") else "PNG")
    return name, buffer.getvalue()


@FAST
@given(
    files=st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
        lambda size: st.lists(
            st.tuples(
                mostly(st.just(""), st.sampled_from(["cat/", "dog/", "cat/deep/"])),
                image_files(size),
            ),
            max_size=8,
        )
    )
)
def test_random_image_folders_load_or_raise_data_error(files):
    with tempfile.TemporaryDirectory() as folder:
        for sub, (name, content) in files:
            path = Path(folder) / sub / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        load_or_data_error(folder)


# --- configs -----------------------------------------------------------------------------------------
NAME = st.text(min_size=1, max_size=8)  # any string, control characters and quotes included
PLAUSIBLE = {  # per key: mostly valid values, sometimes just out of range
    "dataset": mostly(NAME | st.sampled_from(["shapes", "mnist"]), st.just("")),
    "val_fraction": mostly(st.floats(0.01, 0.5), st.floats(-0.1, 1.0)),
    "binarize": mostly(st.sampled_from(config_lib.BINARIZE_MODES), NAME),
    "limit": mostly(st.integers(1, 100), st.integers(-2, 0)),
    "name": mostly(st.just("seed"), NAME),
    "architecture": NAME,
    "latent_dim": mostly(st.integers(1, 1 << 16), st.integers(-1, 1 << 20)),
    "hidden_units": mostly(
        st.lists(st.integers(1, 1 << 16), min_size=1, max_size=3),
        st.lists(st.integers(-1, 1 << 20), max_size=3),
    ),
    "activation": NAME,
    "likelihood": NAME,
    "likelihood_options": st.dictionaries(
        mostly(st.sampled_from(["window", "scale"]), NAME),
        st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.text(max_size=4)),
        max_size=3,
    ),
    "prior": NAME,
    "beta": mostly(st.floats(0, 10), st.floats()),
    "epochs": mostly(st.integers(1, 100), st.integers(-(2**70), 2**70)),
    "batch_size": mostly(st.integers(1, 1000), st.integers(-1, 0)),
    "learning_rate": mostly(st.floats(1e-6, 1), st.floats()),
    "seed": mostly(st.integers(0, 2**32 - 1), st.integers(-(2**70), 2**70)),
    "steps_per_execution": mostly(st.integers(1, 10), st.integers(-1, 0)),
}
JUNK = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),  # NaN and infinities included
    st.text(max_size=8),  # control characters and quotes included
    st.booleans(),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=2), st.booleans()), max_size=3),
    st.dates(),
    st.datetimes(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
KEYS = [*PLAUSIBLE, *PLAUSIBLE, "epochz", "", "Dataset"]


@st.composite
def table(draw):
    """A config section: random keys, each with a plausible value (mostly) or junk."""
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=6, unique=True))
    return {k: draw(mostly(PLAUSIBLE[k], JUNK) if k in PLAUSIBLE else JUNK) for k in keys}


@settings(max_examples=400, deadline=None)
@given(
    values=st.dictionaries(
        mostly(st.sampled_from(["data", "model", "train"]), st.sampled_from(["trian", ""])),
        mostly(table(), JUNK),
        max_size=4,
    )
)
def test_random_configs_validate_or_raise_config_error(values):
    try:
        cfg = config_lib.from_dict(values)
    except ConfigError as exc:
        assert str(exc)
        event("ConfigError")
        return
    event("valid")
    assert cfg.validate() is cfg
    # What is accepted is written as TOML that reads back to the same config (run directories).
    assert config_lib.from_dict(tomllib.loads(config_lib.to_toml(cfg))) == cfg


# --- command lines -----------------------------------------------------------------------------------
VALUES = st.one_of(
    st.sampled_from(
        ["0", "1", "-1", "2", "0.5", "nan", "inf", "-inf", "1e309", "8,8", "", "none", "static"]
        + ["window=5", "scale=nan", "\u03c0=1", "a=", "=1", "x=true"]
        + ["jax", "torch", "tensorflow", "seed", "shapes", "4294967296", "99999999999999999999"]
    ),
    st.integers(-(2**40), 2**70).map(str),
    st.floats().map(repr),
    st.text(max_size=10),
).filter(lambda v: not v.startswith("--"))  # a value, not another flag
TRAIN_FLAGS = [
    "--config", "--dataset", "--model", "--epochs", "--batch-size", "--learning-rate",
    "--latent-dim", "--hidden-units", "--activation", "--beta", "--seed", "--val-fraction",
    "--binarize", "--limit", "--steps-per-execution", "--out", "--resume", "--verbose",
    "--likelihood-option", "--backend", "--nope",
]  # fmt: skip
SAMPLE_FLAGS = ["--num", "--seed", "--temperature", "--ncols", "--backend", "--nope"]


def run_cli(argv, capsys):
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc in (0, 2), f"exit status {rc} for {argv}: {err}"
    event(f"exit {rc}")
    if rc == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in err, err
    return rc, out


@settings(SLOW, max_examples=150)
@given(
    flags=st.lists(st.tuples(st.sampled_from(TRAIN_FLAGS), VALUES), max_size=5),
    switches=st.lists(st.sampled_from(["--overwrite", "--debug"]), max_size=2),
)
def test_random_train_flags_print_a_config_or_exit_2(flags, switches, capsys):
    argv = ["train", "--print-config", *switches, *[part for pair in flags for part in pair]]
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        rc, out = run_cli(argv, capsys)
        assert list(Path(folder).iterdir()) == []  # printing a config writes nothing
    if rc == 0:
        config_lib.from_dict(tomllib.loads(out))  # and what it prints is a valid config


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.keras"
    vaekit.save_model(vaekit.build_vae((8, 8, 1), "seed", latent_dim=2, hidden_units=[8]), path)
    return path


@SLOW
@given(
    target=st.sampled_from(["model", "model", "missing", "folder", "text"]),
    out=st.sampled_from(["new.png", "existing.png", "folder", "blocker/s.png", "s.jpg", None]),
    overwrite=st.booleans(),
    flags=st.lists(st.tuples(st.sampled_from(SAMPLE_FLAGS), VALUES), max_size=3),
)
def test_random_sample_commands_write_a_picture_or_exit_2(
    target, out, overwrite, flags, tiny_model, capsys
):
    with tempfile.TemporaryDirectory() as name, contextlib.chdir(name):
        folder = Path(name)
        (folder / "model.keras").write_bytes(tiny_model.read_bytes())
        (folder / "text.keras").write_text("not a model")
        (folder / "folder").mkdir()
        (folder / "existing.png").write_bytes(b"precious")
        (folder / "blocker").write_bytes(b"a file")
        targets = {"model": "model.keras", "missing": "gone.keras", "text": "text.keras"}
        argv = ["sample", targets.get(target, "folder"), *[p for pair in flags for p in pair]]
        argv += ["--out", out] if out else []
        argv += ["--overwrite"] if overwrite else []
        rc, stdout = run_cli(argv, capsys)
        written = out or f"sample-seed{int(dict(flags).get('--seed', 0))}.png" if rc == 0 else out
        if rc == 0:
            assert f"to {written}" in stdout and (folder / written).stat().st_size > 100
        if not (rc == 0 and written == "existing.png"):
            assert (folder / "existing.png").read_bytes() == b"precious"
