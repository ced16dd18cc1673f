"""`vaekit export`: the encoder and decoder, run in onnxruntime or TensorFlow, give the model's
numbers at any batch size; models and folders that cannot be exported are refused in one line."""

import json

import keras
import numpy as np
import onnxruntime
import pytest

import vaekit
from vaekit import export as export_lib
from vaekit.cli import main
from vaekit.export import ExportError, check_exportable, export_model

BACKEND = keras.backend.backend()
FORMATS = ["onnx"] if BACKEND == "torch" else ["onnx", "tf_saved_model"]
PRESETS = ("seed", "conv", "vampprior")
SHAPE = (16, 16, 1)
LOG_VAR_RANGE = (-0.05, 0.05)  # narrow, so the exported clip is exercised
ATOL = 1e-4
BATCH = 5  # no export traces or checks with 5 rows


def run_cli(capture, *argv):
    rc = main([str(a) for a in argv])
    out, err = capture.readouterr()
    return rc, out, err


def fitted(model, x):
    """`model` after one training step on `x`: weights that are not the initial ones."""
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=1, batch_size=len(x), verbose=0)
    return model


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return (rng.random((16, *SHAPE)) < 0.3).astype("float32")


@pytest.fixture(scope="module")
def models(images):
    """One tiny trained model per preset, shared by the module's tests."""
    options = {"latent_dim": 3, "hidden_units": [8, 8], "log_var_range": LOG_VAR_RANGE}
    return {
        preset: fitted(
            vaekit.build_vae(
                SHAPE,
                preset,
                seed=1,
                **options,
                **({"prior_components": 4} if preset == "vampprior" else {}),
            ),
            images,
        )
        for preset in PRESETS
    }


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    """A conditional table model: rows of a number, a yes/no and a count given their colour."""
    rng = np.random.default_rng(1)
    lines = ["size,colour,ok,count"]
    for i in range(40):
        size = "" if i % 9 == 4 else f"{rng.normal(2, 0.5):.2f}"
        lines.append(
            f"{size},{rng.choice(['red', 'blue', 'green'])},{rng.choice(['yes', 'no'])},{i % 5}"
        )
    path = tmp_path_factory.mktemp("table") / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = vaekit.load_dataset(str(path), condition="colour")
    model = vaekit.build_vae(
        data.shape, "tabular", codec=data.codec, seed=2, latent_dim=2, hidden_units=[8]
    )
    return fitted(model, data.x_train), data.x_test if len(data.x_test) else data.x_val


def run_artifact(folder, network, format, inputs):
    """Run one exported network in its own runtime, as a user without vaekit would."""
    if format == "onnx":
        session = onnxruntime.InferenceSession(str(folder / f"{network}.onnx"))
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, inputs), strict=True))
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder / network)).signatures["serving_default"]
    return {
        k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in inputs.items()}).items()
    }


@pytest.fixture(scope="module", params=[(p, f) for p in PRESETS for f in FORMATS], ids=str)
def exported(request, models, tmp_path_factory):
    preset, format = request.param
    out = tmp_path_factory.mktemp("export") / f"{preset}-{format}"
    manifest = export_model(models[preset], out, format=format)
    return models[preset], out, format, manifest


def test_exported_networks_give_the_models_numbers_at_any_batch_size(exported, images):
    model, out, format, _ = exported
    x = images[:BATCH]
    got = run_artifact(out, "encoder", format, {"x": x})
    mean, log_var = model.encode(x)
    np.testing.assert_allclose(got["mean"], mean, atol=ATOL, rtol=0)
    np.testing.assert_allclose(got["log_var"], log_var, atol=ATOL, rtol=0)
    low, high = LOG_VAR_RANGE  # log_var clipped as VAE.posterior clips it
    assert got["log_var"].min() >= low - 1e-6 and got["log_var"].max() <= high + 1e-6
    assert np.isclose(np.abs(got["log_var"]), high).any()  # the bound is reached
    z = np.random.default_rng(3).standard_normal((BATCH + 2, model.latent_dim)).astype("float32")
    got = run_artifact(out, "decoder", format, {"z": z})
    np.testing.assert_allclose(
        got["params"], model.decode(z, return_params=True), atol=ATOL, rtol=0
    )
    one = run_artifact(out, "decoder", format, {"z": z[:1]})  # a batch of one runs too
    np.testing.assert_allclose(one["params"], got["params"][:1], atol=ATOL, rtol=0)


def test_the_manifest_says_what_each_artifact_reads_and_writes(exported):
    model, out, format, manifest = exported
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == json.loads(
        json.dumps(manifest)
    )
    suffix = ".onnx" if format == "onnx" else ""
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", f"encoder{suffix}", f"decoder{suffix}"]
    )
    assert manifest["format"] == format and manifest["backend"] == BACKEND
    assert manifest["vaekit_version"] == vaekit.__version__
    assert manifest["keras_version"] == keras.__version__
    assert manifest["kind"] == "images" and manifest["data_shape"] == list(SHAPE)
    assert "[0, 1]" in manifest["input"] and manifest["codec"] is None
    assert manifest["latent_dim"] == 3 and manifest["log_var_range"] == list(LOG_VAR_RANGE)
    assert manifest["likelihood"]["name"] == "bernoulli"
    assert manifest["likelihood"]["mean"] == "sigmoid(params)"
    assert "logits" in manifest["likelihood"]["params"]
    assert manifest["prior"]["name"] == model.prior.kind and manifest["condition"] is None
    encoder, decoder = manifest["artifacts"]["encoder"], manifest["artifacts"]["decoder"]
    assert encoder["path"] == f"encoder{suffix}" and decoder["path"] == f"decoder{suffix}"
    assert encoder["inputs"] == [{"name": "x", "shape": [None, *SHAPE], "dtype": "float32"}]
    assert encoder["outputs"] == [
        {"name": "mean", "shape": [None, 3], "dtype": "float32"},
        {"name": "log_var", "shape": [None, 3], "dtype": "float32"},
    ]
    assert decoder["inputs"] == [{"name": "z", "shape": [None, 3], "dtype": "float32"}]
    assert decoder["outputs"] == [{"name": "params", "shape": [None, *SHAPE], "dtype": "float32"}]
    assert all(v < 1e-4 for v in manifest["check"]["max_abs_difference"].values())
    if format == "onnx":  # the runtime sees the same names and a dynamic batch
        session = onnxruntime.InferenceSession(str(out / "encoder.onnx"))
        assert [(i.name, i.shape) for i in session.get_inputs()] == [("x", ["batch", *SHAPE])]
        assert [o.name for o in session.get_outputs()] == ["mean", "log_var"]


@pytest.mark.parametrize("format", FORMATS)
def test_a_conditional_table_model_exports_its_condition_input(table_model, format, tmp_path):
    model, rows = table_model
    manifest = export_model(model, tmp_path / "out", format=format)
    width = model.likelihood.condition_width
    assert manifest["kind"] == "table" and manifest["condition"] == {"name": "colour", "width": 3}
    assert manifest["codec"] == model.likelihood.codec_config  # the schema, to encode rows
    assert manifest["likelihood"]["name"] == "tabular"
    assert "schema" not in manifest["likelihood"]["config"]  # given once, as the codec
    heads = manifest["likelihood"]["columns"]
    assert [(h["name"], h["type"]) for h in heads] == [
        ("size", "numeric"),
        ("ok", "boolean"),
        ("count", "integer"),
    ]
    assert heads[-1]["params"][1] == model.likelihood.param_size  # the heads tile the params
    assert [i["name"] for i in manifest["artifacts"]["decoder"]["inputs"]] == ["z", "condition"]
    got = run_artifact(tmp_path / "out", "encoder", format, {"x": rows[:BATCH]})
    mean, log_var = model.encode(rows[:BATCH])
    np.testing.assert_allclose(got["mean"], mean, atol=ATOL, rtol=0)
    np.testing.assert_allclose(got["log_var"], log_var, atol=ATOL, rtol=0)
    z = np.random.default_rng(4).standard_normal((BATCH, 2)).astype("float32")
    condition = np.eye(width, dtype="float32")[[0, 2, 1, 2, 0]]
    got = run_artifact(tmp_path / "out", "decoder", format, {"z": z, "condition": condition})
    want = model.decode(z, return_params=True, condition=condition)
    np.testing.assert_allclose(got["params"], want, atol=ATOL, rtol=0)
    assert not np.allclose(want[0], want[4])  # same colour, other z; and the colour matters:
    other = model.decode(z, return_params=True, condition=np.roll(condition, 1, axis=1))
    assert np.abs(other - want).max() > 1e-3


def test_models_that_decode_autoregressively_are_refused(tmp_path):
    from test_text_model import _Codec, _config

    text = vaekit.build_vae((6,), _config(), seed=0, codec=_Codec(10))
    pixels = vaekit.build_vae(
        (6, 6, 1), "seed", hidden_units=[8], latent_dim=2, likelihood="local_ar_bernoulli"
    )
    for model, kind in ((text, "text"), (pixels, "images")):
        with pytest.raises(ExportError, match="autoregressively") as info:
            export_model(model, tmp_path / "out")
        assert f"({kind}," in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary folder


def test_tf_saved_model_is_refused_on_torch(models, tmp_path, capsys):
    with pytest.raises(ExportError, match="torch_xla"):
        check_exportable(models["seed"], "tf_saved_model", backend="torch")
    if BACKEND == "torch":  # and through the CLI, where it is the backend in use
        path = vaekit.save_model(models["seed"], tmp_path / "m.keras")
        rc, out, err = run_cli(capsys, "export", path, "--format", "tf_saved_model")
        assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "torch_xla" in err and "--format onnx" in err
        assert not (tmp_path / "export-tf_saved_model").exists()


def test_a_missing_converter_names_the_extra_to_install(models, tmp_path, monkeypatch):
    real = export_lib.importlib.util.find_spec
    monkeypatch.setattr(
        export_lib.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    with pytest.raises(ExportError, match=r"needs onnxruntime.*pip install 'vaekit\[export\]'"):
        export_model(models["seed"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_failed_export_leaves_nothing_behind(models, tmp_path, monkeypatch):
    def disagree(name, outputs, expected):
        raise ExportError(f"The exported {name} disagrees with the model")

    monkeypatch.setattr(export_lib, "_compare", disagree)
    with pytest.raises(ExportError, match="encoder disagrees"):
        export_model(models["seed"], tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_the_cli_writes_beside_the_run_and_never_replaces_a_users_files(models, tmp_path, capfd):
    path = vaekit.save_model(models["seed"], tmp_path / "m.keras")
    rc, out, err = run_cli(capfd, "export", path)
    default = tmp_path / "export-onnx"
    assert rc == 0 and err == ""  # the converters' chatter, C++ logs included, is hidden
    assert f"to {default}" in out and "encoder.onnx, decoder.onnx and manifest.json" in out
    assert json.loads((default / "manifest.json").read_text(encoding="utf-8"))["format"] == "onnx"

    # A folder of the user's: refused without --overwrite, and with it (it is not an export).
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    for extra in ([], ["--overwrite"]):
        rc, out, err = run_cli(capfd, "export", path, "--out", mine, *extra)
        assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "vaekit export: error:" in err and str(mine) in err
        assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
        assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep me"
    rc, _, err = run_cli(capfd, "export", path, "--out", default)
    assert rc == 2 and "--overwrite" in err

    # A previous export is replaced with --overwrite: whole again, and nothing left beside it.
    (default / "decoder.onnx").unlink()
    rc, out, err = run_cli(capfd, "export", path, "--out", default, "--overwrite")
    assert rc == 0, err
    assert sorted(p.name for p in default.iterdir()) == [
        "decoder.onnx",
        "encoder.onnx",
        "manifest.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export-onnx", "m.keras", "mine"]
    session = onnxruntime.InferenceSession(str(default / "decoder.onnx"))
    z = np.zeros((2, 3), "float32")
    (params,) = session.run(None, {"z": z})
    np.testing.assert_allclose(
        params, models["seed"].decode(z, return_params=True), atol=ATOL, rtol=0
    )


def test_the_cli_lists_the_formats_the_library_writes():
    from vaekit.cli import export as export_cli

    assert export_cli.FORMATS == export_lib.FORMATS
