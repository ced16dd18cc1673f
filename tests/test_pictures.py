"""End-to-end tests of the picture commands and the run report, on grey (shapes) and RGB runs."""

import html
import re

import numpy as np
import pytest
from PIL import Image

from vaekit.cli import main
from vaekit.models.saving import load_model
from vaekit.pictures import generation


@pytest.fixture(scope="session")
def rgb_run(tmp_path_factory):
    """A run on a small folder of generated colour images (coloured squares on grey, 12x12)."""
    root = tmp_path_factory.mktemp("rgb")
    folder = root / "images"
    rng = np.random.default_rng(0)
    for cls, colour in enumerate([(255, 40, 40), (40, 200, 40), (40, 80, 255)]):
        sub = folder / f"class{cls}"
        sub.mkdir(parents=True)
        for i in range(40):
            img = np.full((12, 12, 3), 90, np.uint8)
            r, c = rng.integers(0, 6, 2)
            img[r : r + 6, c : c + 6] = colour
            Image.fromarray(img).save(sub / f"{i}.png")
    out = root / "run"
    rc = main(
        [
            "train",
            "--dataset",
            str(folder),
            "--epochs",
            "15",
            "--learning-rate",
            "0.003",
            "--batch-size",
            "16",
            "--latent-dim",
            "3",
            "--hidden-units",
            "32",
            "--out",
            str(out),
            "--verbose",
            "0",
        ]
    )
    assert rc == 0
    return out


def _png(path):
    with Image.open(path) as im:
        im.load()
        return im.mode, im.size, np.asarray(im.convert("RGB")).astype(int)


COMMANDS = [
    ("sample", ["--num", "16"]),
    ("reconstruct", ["--num", "6"]),
    ("interpolate", ["--pairs", "2", "--steps", "5"]),
    ("traverse", ["--steps", "5"]),
    ("manifold", ["--n", "6"]),
    ("latent", ["--num", "200"]),
    ("curves", []),
]


@pytest.mark.parametrize("command, extra", COMMANDS, ids=[c for c, _ in COMMANDS])
@pytest.mark.parametrize("which", ["grey", "rgb"])
def test_picture_commands_write_real_pictures(
    command, extra, which, tiny_run, rgb_run, tmp_path, capsys
):
    run = tiny_run if which == "grey" else rgb_run
    out = tmp_path / f"{command}.png"
    rc = main([command, str(run), *extra, "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    assert str(out) in stdout
    mode, (w, h), pixels = _png(out)
    assert w >= 60 and h >= 40
    assert pixels.std() > 10  # not blank
    if which == "rgb" and command == "reconstruct":
        # Colour data give colour pictures: the originals' red, green and blue squares show.
        assert np.abs(pixels[..., 0] - pixels[..., 1]).max() > 100


def test_traversal_ranks_an_idle_dimension_last_and_it_changes_nothing():
    import keras

    from vaekit.models.build import build_vae

    keras.utils.set_random_seed(0)
    model = build_vae((8, 8, 1), "seed", latent_dim=3, hidden_units=[16], seed=0)
    idle = 1
    # Dimension 1 is idle: its posterior is exactly the prior (KL 0) and the decoder ignores it.
    for head in ("z_mean", "z_log_var"):
        kernel, bias = model.encoder.get_layer(head).get_weights()
        kernel[:, idle], bias[idle] = 0.0, 0.0
        model.encoder.get_layer(head).set_weights([kernel, bias])
    first = model.decoder.layers[1]  # the Dense right after the latent input
    kernel, bias = first.get_weights()
    kernel[idle] = 0.0
    first.set_weights([kernel, bias])
    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    t = generation.traverse(model, x, values=np.linspace(-3, 3, 5))
    assert list(t.kl) == sorted(t.kl, reverse=True) and t.dims[-1] == idle
    assert t.kl[-1] == pytest.approx(0.0, abs=1e-6) and t.kl[0] > 0.01
    np.testing.assert_allclose(t.images[-1], t.images[-1][:1].repeat(5, axis=0), atol=1e-6)
    assert np.abs(t.images[0][-1] - t.images[0][0]).max() > 1e-3  # an active one does change it


def test_interpolation_ends_decode_the_ends(tiny_run):
    from vaekit.data import load_dataset

    model = load_model(tiny_run)
    x = load_dataset("shapes", limit=64, seed=3).x_test
    mean, _ = model.encode(x[:2])
    for method in ("linear", "slerp"):
        path = generation.interpolate(model, x[0], x[1], steps=6, method=method)
        np.testing.assert_allclose(path[0], model.decode(mean[:1])[0], atol=1e-5)
        np.testing.assert_allclose(path[-1], model.decode(mean[1:2])[0], atol=1e-5)
    z = generation.slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.5]))
    np.testing.assert_allclose(np.linalg.norm(z), 1.0, rtol=1e-6)  # stays on the circle


def test_manifold_is_one_grid_over_two_dimensions(tiny_run):
    model = load_model(tiny_run)
    images, dims, values = generation.manifold(model, dims=(1, 0), n=5)
    assert images.shape == (5, 5, 28, 28, 1) and dims == (1, 0)
    assert values[0] < 0 < values[-1] and np.allclose(values, -values[::-1], atol=1e-5)
    z = np.zeros((1, model.latent_dim), "float32")
    z[0, 1], z[0, 0] = values[0], values[-1]  # left column, top row
    np.testing.assert_allclose(images[0, 0], model.decode(z)[0], atol=1e-5)


def test_latent_map_uses_pca_beyond_two_dimensions(tiny_run):
    from vaekit.data import load_dataset

    model = load_model(tiny_run)
    x = load_dataset("shapes", limit=200, seed=3).x_test
    points, explained = generation.latent_map(model, x)
    assert points.shape == (len(x), 2) and 0 < explained <= 1
    mean, _ = model.encode(x)
    centred = mean - mean.mean(axis=0)
    # The 2-D view keeps exactly the variance it claims.
    assert (points**2).sum() / (centred**2).sum() == pytest.approx(explained, rel=1e-4)


def test_report_is_one_self_contained_page_with_every_section(tiny_run, tmp_path, capsys):
    out = tmp_path / "report.html"
    rc = main(["report", str(tiny_run), "--num", "200", "--out", str(out)])
    _, err = capsys.readouterr()
    assert rc == 0, err
    page = out.read_text(encoding="utf-8")
    for section in (
        "Config",
        "Metrics",
        "Curves",
        "Samples",
        "Reconstructions",
        "Traversals",
        "Latent map",
    ):
        assert f"<h2>{html.escape(section)}</h2>" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 5
    assert "http://" not in page and "https://" not in page  # nothing fetched when opened
    assert 'name = "seed"' in html.unescape(page)


def test_snapshots_during_training_and_their_cost(tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(
        [
            "train",
            "--limit",
            "128",
            "--epochs",
            "3",
            "--batch-size",
            "32",
            "--snapshot-every",
            "1",
            "--out",
            str(run),
            "--verbose",
            "0",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    names = sorted(p.name for p in (run / "snapshots").iterdir())
    assert names == [f"{k}-{e:04d}.png" for k in ("recon", "samples") for e in (1, 2, 3)]
    # Fixed noise: the grids change between epochs only because the model does.
    first, last = (
        _png(run / "snapshots" / "samples-0001.png")[2],
        _png(run / "snapshots" / "samples-0003.png")[2],
    )
    assert first.shape == last.shape and not np.array_equal(first, last)
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 < metrics["snapshot_seconds"] < metrics["train_seconds"]


def test_picture_commands_refuse_bad_input(tiny_run, tmp_path, capsys):
    for argv, fragment in [
        (["manifold", tiny_run, "--dims", "0,0"], "--dims"),
        (
            ["manifold", tiny_run, "--dims", "0,99", "--out", tmp_path / "m.png"],
            "latent dimensions",
        ),
        (["latent", tiny_run, "--color-by", "colour", "--out", tmp_path / "l.png"], "--color-by"),
        (["curves", tmp_path, "--out", tmp_path / "c.png"], "history"),
        (["report", tmp_path / "nothing", "--out", tmp_path / "r.html"], "not a run directory"),
        (["report", tiny_run, "--out", tmp_path / "r.txt"], ".html"),
    ]:
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code
        err = capsys.readouterr().err
        assert rc == 2 and fragment in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_tensorboard_logs_scalars_and_snapshot_images(tmp_path, capsys):
    # TensorFlow is part of the test extra, so this runs on every backend in CI.
    from tensorflow.core.util import event_pb2
    from tensorflow.python.lib.io import tf_record

    run = tmp_path / "run"
    rc = main(
        [
            "train",
            "--limit",
            "64",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--snapshot-every",
            "1",
            "--tensorboard",
            "--out",
            str(run),
            "--verbose",
            "0",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    tags = set()
    for path in (run / "tensorboard").rglob("events.out.tfevents.*"):
        for record in tf_record.tf_record_iterator(str(path)):
            event = event_pb2.Event.FromString(record)
            tags.update(v.tag for v in event.summary.value)
    assert {"epoch_loss", "snapshots/samples", "snapshots/recon"} <= tags, tags
