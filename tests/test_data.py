"""Tests for vaekit.data: every source, the shared splitting / binarization, and bad inputs."""

import collections
import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaekit.data import DATASETS, Dataset, load_dataset, make_shapes, render_shapes
from vaekit.data import binarized_mnist as bm
from vaekit.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[1]
FIRST_TRAIN_SUM = 123  # ones on the first line of binarized_mnist_train.amat, counted once


@pytest.fixture(scope="module")
def shared_data():
    """The real data files: $VAEKIT_DATA_DIR, else ../shared/data beside the repository."""
    env = os.environ.get("VAEKIT_DATA_DIR")
    path = Path(env).resolve() if env else REPO_ROOT.parent / "shared" / "data"
    if not (path / "binarized_mnist").is_dir() or not (path / "mnist").is_dir():
        pytest.skip(f"the shared data folder was not found at {path}")
    return path


@pytest.fixture(scope="module")
def static_mnist(shared_data):
    """binarized_mnist loaded once, through VAEKIT_DATA_DIR like a user would."""
    with pytest.MonkeyPatch.context() as m:
        m.setenv("VAEKIT_DATA_DIR", str(shared_data))
        return load_dataset("binarized_mnist", val_fraction=0.5, binarize="static")


def write_idx(path, array, magic=None):
    """Writes an IDX file of unsigned bytes (gzipped when the name ends in .gz)."""
    array = np.asarray(array, np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    data = struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()
    Path(path).write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)
    return path


def write_amat(path, images):
    lines = [" ".join(str(int(v)) for v in row.ravel()) for row in images]
    Path(path).write_text("\n".join(lines) + "\n")


def idx_folder(root, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir(exist_ok=True)
    data = {}
    for stem, n, ext in (("train", n_train, ""), ("t10k", n_test, ".gz")):
        x = rng.integers(0, 256, (n, 6, 5), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(root / f"{stem}-images-idx3-ubyte{ext}", x)
        write_idx(root / f"{stem}-labels-idx1-ubyte{ext}", y)
        data[stem] = (x, y)
    return data


# --- the Dataset container and options -------------------------------------------------------


def test_dataset_split_shape_and_summary():
    x = np.zeros((4, 5, 6, 1), np.float32)
    data = Dataset("toy", x, x[:2], x[:3], info={"binarize": "dynamic"})
    assert data.shape == (5, 6, 1)
    assert data.split("validation")[0].shape == (2, 5, 6, 1)
    assert data.split("val")[0] is data.x_val and data.split("test")[1] is None
    assert data.summary() == (
        "toy: 5x6x1 images, train 4 / val 2 / test 3, no labels, binarize=dynamic"
    )
    with pytest.raises(DataError, match="Unknown split 'dev'"):
        data.split("dev")


def test_import_does_not_import_keras():
    code = "import sys, vaekit.data; assert 'keras' not in sys.modules, 'keras was imported'"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# --- shapes -------------------------------------------------------------------------------------


def test_make_shapes_is_deterministic_and_in_range():
    x, f = make_shapes(300, seed=7)
    assert x.shape == (300, 28, 28, 1) and x.dtype == np.float32
    assert f.shape == (300, 5) and f.dtype == np.float32
    assert x.min() >= 0 and x.max() == 1.0
    assert np.allclose(x * 255, np.rint(x * 255), atol=1e-4)  # 8-bit grey levels
    assert set(np.unique(f[:, 0])) == {0, 1, 2, 3}
    assert f[:, 1].min() >= 0.5 and f[:, 1].max() <= 1.0
    assert f[:, 2].min() >= 0 and f[:, 2].max() < 2 * np.pi
    assert f[:, 3:].min() >= 0 and f[:, 3:].max() <= 1
    # A black frame: every shape stays inside the image.
    assert x[:, [0, -1]].max() == 0 and x[:, :, [0, -1]].max() == 0
    again, f_again = make_shapes(300, seed=7)
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(f, f_again)
    prefix, _ = make_shapes(50, seed=7)
    np.testing.assert_array_equal(prefix, x[:50])
    assert not np.array_equal(make_shapes(300, seed=8)[0], x)


def test_shapes_have_the_expected_area():
    """Ink per image / radius^2 matches each shape's analytic area (independent of the renderer)."""
    x, f = make_shapes(2000, seed=3)
    areas = [2.0, np.pi * 0.5, 3 * np.sqrt(3) / 4, 2.047]  # square, ellipse, triangle, heart
    for shape_id, area in enumerate(areas):
        keep = f[:, 0] == shape_id
        radius = 0.32 * 28 * f[keep, 1]  # the bounding radius: 0.32 of the image size at scale 1
        ratio = x[keep].sum(axis=(1, 2, 3)) / (area * radius**2)
        assert abs(np.median(ratio) - 1) < 0.01, (shape_id, np.median(ratio))
        assert np.all(np.abs(ratio - 1) < 0.1), shape_id


def test_render_shapes_orientation_and_position():
    def rows_mass(image):  # ink in the top half, bottom half
        return image[:14].sum(), image[14:].sum()

    square, triangle, heart, heart_down, wide, tall, left, right = render_shapes(
        [
            [0, 1, 0, 0.5, 0.5],
            [2, 1, 0, 0.5, 0.5],
            [3, 1, 0, 0.5, 0.5],
            [3, 1, np.pi, 0.5, 0.5],
            [1, 1, 0, 0.5, 0.5],
            [1, 1, np.pi / 2, 0.5, 0.5],
            [0, 0.5, 0, 0, 0.5],
            [0, 0.5, 0, 1, 0.5],
        ]
    )[..., 0]
    top, bottom = rows_mass(triangle)
    assert top < bottom  # apex up
    top, bottom = rows_mass(heart)
    assert top > bottom  # lobes up, point down
    top, bottom = rows_mass(heart_down)
    assert top < bottom
    assert np.any(wide > 0, axis=0).sum() > 1.5 * np.any(wide > 0, axis=1).sum()
    assert np.any(tall > 0, axis=1).sum() > 1.5 * np.any(tall > 0, axis=0).sum()
    np.testing.assert_allclose(square, square[::-1, ::-1], atol=1e-6)  # centred at 14, 14
    centre = (np.arange(28) + 0.5) @ left.sum(axis=0) / left.sum()
    r = 0.32 * 28  # the bounding radius at scale 1
    # pos_x=0 puts the centre r + 1 pixels from the left (3x3 supersampling: within 0.15 px)
    assert abs(centre - (r + 1)) < 0.15
    centre = (np.arange(28) + 0.5) @ right.sum(axis=0) / right.sum()
    assert abs(centre - (28 - r - 1)) < 0.15


def test_load_shapes_sizes_labels_and_seed():
    data = load_dataset("shapes")
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (18000, 2000, 2000)
    assert data.y_train.shape == (18000, 5) and data.y_train.dtype == np.float32
    assert data.info["label_names"] == ["shape", "scale", "rotation", "pos_x", "pos_y"]
    assert data.info["shape_names"] == ["square", "ellipse", "triangle", "heart"]
    assert data.info["eight_bit"] and not data.info["binary"]
    small = load_dataset("shapes", limit=100)
    assert (len(small.x_train), len(small.x_val), len(small.x_test)) == (100, 11, 100)
    assert not np.array_equal(small.x_train, load_dataset("shapes", limit=100, seed=1).x_train)
    np.testing.assert_array_equal(small.x_test, data.x_test[:100])  # a prefix of the same stream


# --- binarized MNIST ------------------------------------------------------------------------------


def test_binarized_mnist_official_split(static_mnist, shared_data):
    data = static_mnist
    assert data.name == "binarized_mnist"
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (50000, 10000, 10000)
    assert data.shape == (28, 28, 1) and data.x_train.dtype == np.float32
    for x in (data.x_train, data.x_val, data.x_test):
        assert set(np.unique(x)) == {0.0, 1.0}
    assert data.y_train is None and data.info["label_names"] is None
    assert data.info["binary"] and data.info["binarize"] == "static"
    with gzip.open(shared_data / "binarized_mnist" / "binarized_mnist_train.amat.gz") as f:
        first = np.array(f.readline().split(), dtype=np.float32)  # an independent parse
    assert first.sum() == FIRST_TRAIN_SUM == data.x_train[0].sum()
    np.testing.assert_array_equal(data.x_train[0].ravel(), first)
    with gzip.open(shared_data / "binarized_mnist" / "binarized_mnist_test.amat.gz") as f:
        last = np.array(f.read().split()[-784:], dtype=np.float32)
    np.testing.assert_array_equal(data.x_test[-1].ravel(), last)


def test_amat_plain_and_gzip_read_the_same(tmp_path):
    images = np.random.default_rng(0).integers(0, 2, (3, 784))
    write_amat(tmp_path / "a.amat", images)
    (tmp_path / "b.amat.gz").write_bytes(gzip.compress((tmp_path / "a.amat").read_bytes()))
    np.testing.assert_array_equal(bm.read_amat(str(tmp_path / "a.amat")), images)
    np.testing.assert_array_equal(bm.read_amat(str(tmp_path / "b.amat.gz")), images)


def test_download_file_from_a_file_url(tmp_path):
    source = tmp_path / "published.amat"
    write_amat(source, np.ones((2, 784), int))
    target = tmp_path / "cache" / "binarized_mnist" / "x.amat"
    bm.download_file(source.as_uri(), str(target))
    assert target.read_bytes() == source.read_bytes()
    assert os.listdir(target.parent) == ["x.amat"]  # no temporary file left behind


def test_download_fills_the_data_dir(tmp_path, monkeypatch):
    published = tmp_path / "published"
    published.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("valid", 2), ("test", 3)):
        write_amat(published / f"binarized_mnist_{split}.amat", rng.integers(0, 2, (n, 784)))
    monkeypatch.setattr(bm, "BASE_URL", published.as_uri() + "/")
    monkeypatch.setattr(bm, "SPLIT_SIZES", {"train": 5, "val": 2, "test": 3})
    data = load_dataset("binarized_mnist", data_dir=str(tmp_path / "cache"))
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (5, 2, 3)
    assert sorted(os.listdir(tmp_path / "cache" / "binarized_mnist")) == [
        "binarized_mnist_test.amat",
        "binarized_mnist_train.amat",
        "binarized_mnist_valid.amat",
    ]


def test_failed_downloads_leave_no_partial_file(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "binarized_mnist"
    missing = (tmp_path / "nowhere").as_uri() + "/"
    monkeypatch.setattr(bm, "BASE_URL", missing)
    with pytest.raises(DataError, match=r"missing from .*download from .* failed.*by hand"):
        load_dataset("binarized_mnist", data_dir=str(tmp_path / "cache"))
    assert os.listdir(folder) == []
    with pytest.raises(DataError, match="download=False"):
        load_dataset("binarized_mnist", data_dir=str(tmp_path / "cache"), download=False)

    class Broken:  # a connection that drops after the first block
        def __init__(self):
            self.calls = 0

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

        def read(self, size):
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError("connection reset by peer")
            return b"0 1" * 1000

    monkeypatch.setattr(bm.urllib.request, "urlopen", lambda url, timeout: Broken())
    with pytest.raises(DataError, match="connection reset"):
        bm.download_file("http://example.invalid/x.amat", str(folder / "x.amat"))
    assert os.listdir(folder) == []


# --- Keras datasets (mocked: no network in tests) ------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_keras_datasets(name, monkeypatch):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    y_train, y_test = rng.integers(0, 10, 50, np.uint8), rng.integers(0, 10, 20, np.uint8)
    module = getattr(keras.datasets, name)
    monkeypatch.setattr(module, "load_data", lambda: ((x_train, y_train), (x_test, y_test)))
    data = load_dataset(name, val_fraction=0.2)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (40, 10, 20)
    assert data.y_train.dtype == np.int64 and data.x_test.dtype == np.float32
    np.testing.assert_allclose(data.x_test[..., 0], x_test / 255, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert len(data.info["label_names"]) == 10 and data.info["eight_bit"]
    assert data.info["label_names"][9] == ("9" if name == "mnist" else "Ankle boot")

    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com: no network")

    monkeypatch.setattr(module, "load_data", offline)
    with pytest.raises(DataError, match=f"keras.datasets.{name}.*no network.*IDX"):
        load_dataset(name)


# --- files: IDX, npz / npy, image folders ----------------------------------------------------


def test_real_idx_folder_is_one_pool_matching_an_independent_parse(shared_data):
    folder = shared_data / "mnist"
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    assert struct.unpack(">IIII", raw[:16]) == (0x803, 10000, 28, 28)
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(10000, 784)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    data = load_dataset(str(folder))
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (8100, 900, 1000)
    assert data.info["label_names"] == [str(d) for d in range(10)] and data.info["eight_bit"]
    pairs = collections.Counter()
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        assert y.dtype == np.int64 and len(y) == len(x)
        pixels = np.rint(x.reshape(len(x), 784) * 255).astype(np.uint8)
        pairs.update(zip(map(bytes, pixels), y.tolist(), strict=True))
    assert pairs == collections.Counter(zip(map(bytes, images), labels.tolist(), strict=True))
    again = load_dataset(str(folder), limit=50, seed=3)
    assert (len(again.x_train), len(again.x_val), len(again.x_test)) == (50, 50, 50)
    assert not np.array_equal(again.y_test, load_dataset(str(folder), limit=50).y_test)


def test_idx_folder_with_train_and_test(tmp_path):
    raw = idx_folder(tmp_path / "idx")
    data = load_dataset(str(tmp_path / "idx"), val_fraction=0.2)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (24, 6, 10)
    assert data.shape == (6, 5, 1)
    np.testing.assert_array_equal(data.y_test, raw["t10k"][1])
    np.testing.assert_allclose(data.x_test[..., 0] * 255, raw["t10k"][0], atol=1e-4)
    assert sorted(data.y_train.tolist() + data.y_val.tolist()) == sorted(raw["train"][1])


def test_npz_and_npy_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((40, 64))  # flat 8x8 float images
    np.savez(tmp_path / "pool.npz", x=x, y=np.arange(40) % 4, label_names=np.array(list("abcd")))
    data = load_dataset(str(tmp_path / "pool.npz"), val_fraction=0.25)
    assert data.shape == (8, 8, 1)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (22, 8, 10)
    assert data.info["label_names"] == ["a", "b", "c", "d"] and not data.info["eight_bit"]
    np.savez(
        tmp_path / "split.npz",
        x_train=rng.integers(0, 256, (20, 4, 4, 3), dtype=np.uint8),
        x_val=rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8),
        x_test=rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8),
    )
    data = load_dataset(str(tmp_path / "split.npz"), val_fraction=0.5)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (20, 3, 5)
    assert data.shape == (4, 4, 3) and data.y_train is None and data.info["eight_bit"]
    np.save(tmp_path / "grey.npy", (rng.random((30, 5, 5)) > 0.5).astype(np.float64))
    data = load_dataset(str(tmp_path / "grey.npy"), binarize="dynamic")
    assert data.shape == (5, 5, 1) and data.x_train.dtype == np.float32
    assert data.info["binary"] and data.info["binarize"] == "dynamic"


def test_image_folder_with_classes(tmp_path):
    root = tmp_path / "pets"
    (root / "cat").mkdir(parents=True)
    (root / "dog" / "deep").mkdir(parents=True)
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey, "L").save(root / "cat" / "a.png")
    Image.fromarray(np.full((3, 4, 4), 200, np.uint8), "RGBA").save(root / "cat" / "b.png")
    Image.fromarray(np.full((3, 4, 3), 90, np.uint8), "RGB").save(root / "dog" / "c.jpg")
    Image.fromarray(grey, "L").convert("P").save(root / "dog" / "deep" / "d.png")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "empty").mkdir()
    data = load_dataset(str(root), val_fraction=0.25)
    x = np.concatenate([data.x_train, data.x_val, data.x_test])
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    assert data.shape == (3, 4, 3) and len(x) == 4
    assert data.info["label_names"] == ["cat", "dog"] and sorted(y.tolist()) == [0, 0, 1, 1]
    greys = [img for img in x if np.array_equal(np.rint(img * 255), np.dstack([grey] * 3))]
    assert len(greys) == 2  # the grey PNG and the grey palette PNG, repeated over RGB
    assert any(np.allclose(img, 200 / 255) for img in x)  # RGBA: alpha dropped


def test_image_folder_of_grey_images(tmp_path):
    for i in range(6):
        Image.fromarray(np.full((5, 7), i * 40, np.uint8)).save(tmp_path / f"{i}.png")
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(tmp_path / "zero.jpeg")
    data = load_dataset(str(tmp_path), val_fraction=0.2)
    assert data.shape == (5, 7, 1) and data.y_train is None
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (5, 1, 1)


def test_static_binarization_is_seeded(tmp_path):
    np.save(tmp_path / "grey.npy", np.full((200, 6, 6), 0.3))
    first = load_dataset(str(tmp_path / "grey.npy"), binarize="static", seed=1)
    again = load_dataset(str(tmp_path / "grey.npy"), binarize="static", seed=1)
    other = load_dataset(str(tmp_path / "grey.npy"), binarize="static", seed=2)
    assert first.info["binary"] and first.info["binarize"] == "static"
    assert set(np.unique(first.x_train)) == {0.0, 1.0}
    assert abs(first.x_train.mean() - 0.3) < 0.03
    np.testing.assert_array_equal(first.x_val, again.x_val)
    assert not np.array_equal(first.x_train, other.x_train)


# --- bad inputs -----------------------------------------------------------------------------------


def _truncated_gzip(tmp):
    idx_folder(tmp / "d")
    path = tmp / "d" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    return tmp / "d", {}


def _bad_gzip(tmp):
    idx_folder(tmp / "d")
    (tmp / "d" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip data")
    return tmp / "d", {}


def _idx_file(name, array, magic=None, cut=0):
    def build(tmp):
        path = write_idx(tmp / name, array, magic)
        if cut:
            path.write_bytes(path.read_bytes()[:-cut])
        return tmp, {}

    return build


def _idx_label_count(tmp):
    write_idx(tmp / "train-images-idx3-ubyte", np.zeros((5, 4, 4)))
    write_idx(tmp / "train-labels-idx1-ubyte", np.zeros(4))
    return tmp, {}


def _mixed_sizes(tmp):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp / "a.png")
    Image.fromarray(np.zeros((5, 4, 3), np.uint8)).save(tmp / "b.png")
    return tmp, {}


def _corrupt_png(tmp):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp / "a.png")
    (tmp / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    return tmp, {}


def _file(name, content):
    def build(tmp):
        (tmp / name).write_bytes(content)
        return tmp / name, {}

    return build


def _npy(array, **kwargs):
    def build(tmp):
        np.save(tmp / "x.npy", array, allow_pickle=True)
        return tmp / "x.npy", kwargs

    return build


def _npz(**arrays):
    def build(tmp):
        np.savez(tmp / "x.npz", **arrays)
        return tmp / "x.npz", {}

    return build


def _amat(text):
    def build(tmp):
        folder = tmp / "binarized_mnist"
        folder.mkdir()
        for split in ("train", "valid", "test"):
            (folder / f"binarized_mnist_{split}.amat").write_text(text)
        return "binarized_mnist", {"data_dir": str(tmp)}

    return build


def _sixteen_bit_png(tmp):
    Image.fromarray(np.full((4, 4), 1000, np.uint16)).save(tmp / "deep.png")
    return tmp, {}


_ONE_LINE = " ".join(["0"] * 784)
BAD_INPUTS = {
    "truncated gzip": (_truncated_gzip, r"Could not read .*t10k-images-idx3-ubyte\.gz"),
    "bad gzip": (_bad_gzip, r"Could not read .*t10k-labels-idx1-ubyte\.gz"),
    "wrong IDX magic": (
        _idx_file("a-images-idx3-ubyte", np.zeros((2, 3, 3)), magic=0x804),
        "magic number 0x00000804: expected 0x00000803",
    ),
    "IDX size vs dimensions": (
        _idx_file("a-images-idx3-ubyte", np.zeros((2, 3, 3)), cut=5),
        r"has 29 bytes: expected 34 for dimensions 2x3x3 \(the file is truncated\)",
    ),
    "IDX label count": (_idx_label_count, "has 4 labels: expected 5"),
    "empty folder": (lambda tmp: (tmp, {}), "holds no images: expected PNG/JPEG"),
    "mixed image sizes": (_mixed_sizes, r"mixed sizes: expected all 4x4 like a\.png.*5x4 in b"),
    "corrupt png": (_corrupt_png, r"Could not read image .*bad\.png"),
    "16-bit png": (_sixteen_bit_png, "16/32-bit"),
    "NaN in npy": (_npy(np.full((3, 4, 4), np.nan)), "48 NaN or infinite values"),
    "float out of range": (
        _npy(np.linspace(-0.5, 2, 48).reshape(3, 4, 4)),
        r"values in \[-0.5, 2\]: expected values in \[0, 1\] \(or 0..255 integers\)",
    ),
    "integers out of range": (_npy(np.full((3, 2, 2), 300)), r"integers in \[300, 300\]"),
    "bad image shape": (_npy(np.zeros(5)), r"has shape \(5,\): expected"),
    "flat not square": (_npy(np.zeros((3, 10))), "perfect square"),
    "object npy": (_npy(np.array([{"a": 1}, None], dtype=object)), "pickled Python objects"),
    "not a numpy file": (_file("x.npy", b"hello"), "not a NumPy file"),
    "npz label count": (_npz(x=np.zeros((5, 4, 4)), y=np.zeros(4, int)), "4 labels for 5"),
    "npz keys": (_npz(images=np.zeros((5, 4, 4))), r"has keys \['images'\]: expected 'x'"),
    "npz stray labels": (
        _npz(x_train=np.zeros((5, 4, 4)), y_test=np.zeros(5, int)),
        "labels y_test without matching images",
    ),
    "unknown file type": (_file("data.xlsx", b"1,2,3"), r"Cannot read .*data\.xlsx as a dataset"),
    "unknown name": (lambda tmp: ("cifar100", {}), "Unknown dataset 'cifar100': expected one of"),
    "missing path": (lambda tmp: (tmp / "nope" / "x.npz", {}), "does not exist"),
    "amat bad digit": (_amat(_ONE_LINE + "\n" + _ONE_LINE[:-1] + "2\n"), "line 2 has '2'"),
    "amat short line": (_amat(_ONE_LINE[2:] + "\n"), "line 1 has 783 values: expected 784"),
    "val_fraction 0": (_npy(np.zeros((9, 2, 2)), val_fraction=0), "val_fraction in \\(0, 0.5\\]"),
    "val_fraction 0.6": (_npy(np.zeros((9, 2, 2)), val_fraction=0.6), "Received: val_fraction"),
    "bad binarize": (_npy(np.zeros((9, 2, 2)), binarize="yes"), "binarize='yes'"),
    "bad limit": (_npy(np.zeros((9, 2, 2)), limit=0), "limit=0"),
    "too few images": (_npy(np.zeros((2, 2, 2))), "too few to carve"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_raise_data_error(case, tmp_path):
    build, message = BAD_INPUTS[case]
    spec, kwargs = build(tmp_path)
    with pytest.raises(DataError, match=message):
        load_dataset(str(spec), **kwargs)


def test_known_names():
    assert set(DATASETS) == {"shapes", "mnist", "fashion_mnist", "binarized_mnist"}
