"""Export a trained model so it runs without vaekit: ONNX files or TensorFlow SavedModels.

`export_model` writes one folder:

| file                        | what it holds                                                     |
|-----------------------------|-------------------------------------------------------------------|
| `encoder.onnx` / `encoder/` | `x` -> `mean`, `log_var`: the posterior, log_var clipped as `VAE.posterior` clips it |
| `decoder.onnx` / `decoder/` | `z` (and `condition`) -> `params`, as `decode(z, return_params=True)` gives them |
| `manifest.json`             | both networks' names, shapes and dtypes; the data's kind and codec; the likelihood, and how its parameters become data |

The batch size is dynamic in every artifact. Keras does the conversion (`Model.export`, whose ONNX
path uses jax2onnx on JAX, tf2onnx on TensorFlow and PyTorch's TorchScript exporter on PyTorch, and
whose SavedModel path uses jax2tf on JAX); on PyTorch a SavedModel needs torch_xla and is refused.
A SavedModel written on JAX holds XLA code lowered for the platform it was written on (jax2tf's
native serialization): write it on a CPU to serve it on CPUs.
Inputs and outputs are then given stable names (`x`, `z`, `condition`, `mean`, `log_var`, `params`)
whatever the converter called them. A `HierarchicalVAE` exports its top latent, as `encode` and
`decode` use it: q(z2 | x), and z2 decoded with z1 at the mean of p(z1 | z2).

Nothing takes the folder's name unchecked: the artifacts are written into a temporary sibling,
loaded in their own runtime (onnxruntime, TensorFlow), run on a probe batch and compared with the
model; only then is the folder renamed into place. A failed export leaves nothing behind.

Refused, with one line (`ExportError`): a model whose likelihood has weights of its own (an
autoregressive decoder over pixels or tokens: its parameters alone are not a distribution), a
format the backend cannot write, a missing converter package, and an output folder that holds
anything but a previous export.
"""

import contextlib
import importlib.util
import io
import json
import logging
import os
import shutil
import sys
import uuid
import warnings
from pathlib import Path

import keras
import numpy as np

import vaekit
from vaekit import atomic
from vaekit.backends.keras_compat import prepare_onnx_export
from vaekit.errors import VaekitError
from vaekit.export.manifest import describe_artifact
from vaekit.export.manifest import manifest as build_manifest
from vaekit.pictures.outputs import kind_of

FORMATS = ("onnx", "tf_saved_model")
MANIFEST_FILE = "manifest.json"
ARTIFACTS = ("encoder", "decoder")
SERVING_SIGNATURE = "serving_default"  # the SavedModel signature that runs the network
CHECK_TOLERANCE = 1e-3  # |artifact - model| <= tol * (1 + |model|) on the probe batch
PROBE_BATCH = 3  # rows of the check; the converters trace with 1 (or a symbolic batch)

# The Python modules each format needs, per backend, and the extra that installs each.
REQUIRED = {
    "onnx": {
        "jax": ("onnx", "onnxruntime", "jax2onnx"),
        "tensorflow": ("onnx", "onnxruntime", "tf2onnx"),
        "torch": ("onnx", "onnxruntime"),
    },
    "tf_saved_model": {"jax": ("tensorflow",), "tensorflow": ("tensorflow",)},
}
EXTRAS = {"tensorflow": "export,tensorflow"}  # the others come with vaekit[export]
REFUSED_FORMATS = {
    ("torch", "tf_saved_model"): (
        "Keras writes a SavedModel from PyTorch only through torch_xla; use --format onnx, or "
        "--backend jax or tensorflow (a saved model loads on any backend)"
    ),
}


class ExportError(VaekitError):
    """A model, format or output folder that cannot be exported to."""


def export_model(model, out_dir, format="onnx", overwrite=False):
    """Write `model`'s encoder and decoder as standalone artifacts, and a manifest, to `out_dir`.

    Args:
        model: A trained `VAE` (or `HierarchicalVAE`), e.g. from `vaekit.load_model`.
        out_dir: The folder to write (`encoder`, `decoder`, `manifest.json`); its parent is
            created if missing.
        format: `"onnx"` (`encoder.onnx`, `decoder.onnx`) or `"tf_saved_model"` (`encoder/`,
            `decoder/`, each served by its `serving_default` signature).
        overwrite: Replace `out_dir` if it holds a previous export. A folder holding anything
            else is never replaced.

    Returns:
        The manifest, as written to `out_dir/manifest.json`.

    Raises:
        ExportError: the model, format or folder cannot be exported (one line saying why), a
            converter package is missing, or an artifact disagrees with the model.

    Example:
    >>> manifest = export_model(load_model("runs/demo"), "runs/demo/export-onnx")
    >>> session = onnxruntime.InferenceSession("runs/demo/export-onnx/encoder.onnx")
    >>> mean, log_var = session.run(None, {"x": images})
    """
    out_dir = Path(os.path.abspath(out_dir))  # "." has a name to put a sibling beside
    backend = keras.backend.backend()
    check_exportable(model, format, backend)
    check_out_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(out_dir, "new")
    try:
        artifacts, checks = {}, {}
        for name, network in inference_networks(model).items():
            path = tmp / artifact_name(name, format)
            with _converters_quiet():
                WRITERS[format](network, path)
                outputs = _run_artifact(path, format, network["probe"])
            artifacts[name] = describe_artifact(network, path, format, SERVING_SIGNATURE)
            checks[name] = _compare(name, outputs, network["expected"])
        check = {"rows": PROBE_BATCH, "tolerance": CHECK_TOLERANCE, "max_abs_difference": checks}
        manifest = build_manifest(model, format, backend, artifacts, check)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _move_into_place(tmp, out_dir)
    except OSError as exc:
        raise atomic._storage_error(exc, out_dir) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def artifact_name(network, format):
    """The file (`encoder.onnx`) or folder (`encoder`) name of a network's artifact."""
    return f"{network}.onnx" if format == "onnx" else network


# --- what can be exported ----------------------------------------------------------------------
def check_exportable(model, format, backend=None):
    """ExportError (one line) unless `model` can be exported to `format` on `backend` (default:
    the current Keras backend) with the packages installed here."""
    backend = backend or keras.backend.backend()
    if format not in FORMATS:
        raise ExportError(
            f"Unknown export format {format!r}. Expected one of: {', '.join(FORMATS)}."
        )
    if not isinstance(model, vaekit.VAE):
        raise ExportError(f"Expected a vaekit VAE to export. Received: {type(model).__name__}")
    likelihood = model.likelihood
    if isinstance(likelihood, keras.layers.Layer) and likelihood.weights:
        raise ExportError(
            f"Cannot export this model: its {likelihood.kind!r} likelihood decodes "
            f"autoregressively ({kind_of(model)}, one value at a time, with weights of its own), "
            f"so the decoder's parameters alone do not define p(x | z)."
        )
    reason = REFUSED_FORMATS.get((backend, format))
    if reason is not None:
        raise ExportError(f"Cannot export to {format} on the {backend} backend: {reason}.")
    needed = REQUIRED[format].get(backend, ())
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        extra = EXTRAS.get(missing[0], "export")
        raise ExportError(
            f"Exporting to {format} on the {backend} backend needs {', '.join(missing)}; "
            f"install it with: pip install 'vaekit[{extra}]'"
        )


def check_out_dir(out_dir, overwrite=False):
    """ExportError unless `out_dir` is free: missing, empty, or (with `overwrite`) a previous
    export holding nothing but what an export writes."""
    out_dir = Path(out_dir)
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if not out_dir.is_dir() or out_dir.is_symlink():
        raise ExportError(
            f"Output path {out_dir} exists and is not a folder; choose another --out."
        )
    names = sorted(p.name for p in out_dir.iterdir())
    if not names:
        return
    if not overwrite:
        raise ExportError(
            f"Output folder {out_dir} already exists and is not empty; pass --overwrite to "
            f"replace a previous export or choose another --out."
        )
    ours = {MANIFEST_FILE} | {artifact_name(a, f) for a in ARTIFACTS for f in FORMATS}
    foreign = [n for n in names if n not in ours]
    if foreign or MANIFEST_FILE not in names:
        what = f"{foreign[0]!r}" if foreign else f"no {MANIFEST_FILE}"
        raise ExportError(
            f"Output folder {out_dir} is not a vaekit export (it holds {what}); it is left as "
            f"it is: choose another --out."
        )


def _sibling(out_dir, what):
    """A new hidden folder beside `out_dir` (`.NAME.new-1a2b3c4d`), with the permissions of a
    folder made by the user (the umask applies)."""
    path = out_dir.parent / f".{out_dir.name}.{what}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def _move_into_place(tmp, out_dir):
    """Rename the finished folder `tmp` to `out_dir`, replacing an empty folder or a previous
    export (moved aside first, restored if the rename fails)."""
    for path in tmp.rglob("*"):
        if path.is_file() and atomic.FSYNC:
            atomic._fsync(path)
    old = None
    if out_dir.exists():
        old = _sibling(out_dir, "old")
        os.replace(out_dir, old / out_dir.name)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old is not None:
            os.replace(old / out_dir.name, out_dir)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    if atomic.FSYNC:
        atomic._fsync(out_dir.parent, directory=True)


# --- the networks, as Keras models of their own -------------------------------------------------
def inference_networks(model, probe_batch=PROBE_BATCH, seed=0):
    """The encoder and decoder as functional Keras models with named inputs, and a probe batch.

    The encoder is `model.posterior` (the encoder, log_var clipped to `log_var_range`); the
    decoder is `model.decode_params` (a hierarchical model's top latent decodes through the
    mean of p(z1 | z2); a conditional model's decoder reads the condition beside z).

    Returns:
        `{"encoder": network, "decoder": network}`, each a dict: `inputs` (names to
        `keras.Input`s), `outputs` (names to symbolic tensors), `probe` (names to numpy inputs
        of `probe_batch` rows) and `expected` (names to what the model gives for them).
    """
    rng = np.random.default_rng(seed)
    x = keras.Input(model.data_shape, name="x")
    mean, log_var = model.posterior(x)
    probe_x = rng.random((probe_batch, *model.data_shape), dtype="float32")
    expected_mean, expected_log_var = model.encode(probe_x)
    encoder = {
        "inputs": {"x": x},
        "outputs": {"mean": mean, "log_var": log_var},
        "probe": {"x": probe_x},
        "expected": {"mean": expected_mean, "log_var": expected_log_var},
    }
    z = keras.Input((model.latent_dim,), name="z")
    probe_z = rng.standard_normal((probe_batch, model.latent_dim), dtype="float32")
    inputs, probe, condition = {"z": z}, {"z": probe_z}, None
    if model.conditioned:
        width = model.likelihood.condition_width
        inputs["condition"] = condition = keras.Input((width,), name="condition")
        probe["condition"] = np.eye(width, dtype="float32")[np.arange(probe_batch) % width]
        if width == 1:  # a boolean condition: 0 or 1
            probe["condition"] = (np.arange(probe_batch) % 2).astype("float32")[:, None]
    params = model.decode_params(z, condition)
    decoder = {
        "inputs": inputs,
        "outputs": {"params": params},
        "probe": probe,
        "expected": {
            "params": model.decode(probe_z, return_params=True, condition=probe.get("condition"))
        },
    }
    return {"encoder": encoder, "decoder": decoder}


def _signature(network):
    """Keras' `input_signature` for a network: one structure of named `InputSpec`s."""
    specs = [
        keras.InputSpec(shape=(None, *t.shape[1:]), dtype="float32", name=name)
        for name, t in network["inputs"].items()
    ]
    return [specs[0] if len(specs) == 1 else specs]


def _write_onnx(network, path):
    """`Model.export(format="onnx")`, then the graph's inputs and outputs named as ours."""
    inputs = list(network["inputs"].values())
    outputs = list(network["outputs"].values())
    net = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)
    prepare_onnx_export()
    net.export(str(path), format="onnx", verbose=False, input_signature=_signature(network))
    _name_onnx_io(path, network["inputs"], network["outputs"])


def _write_saved_model(network, path):
    """A SavedModel whose `serving_default` signature takes and returns named tensors."""
    net = keras.Model(network["inputs"], network["outputs"])
    archive = keras.export.ExportArchive()
    archive.track(net)
    names = list(network["inputs"])
    specs = _signature(network)[0]
    specs = specs if isinstance(specs, list) else [specs]

    def serve(*tensors):
        return net(dict(zip(names, tensors, strict=True)), training=False)

    archive.add_endpoint("serve", serve, input_signature=specs)
    archive.write_out(str(path), verbose=False)


WRITERS = {"onnx": _write_onnx, "tf_saved_model": _write_saved_model}


def _name_onnx_io(path, inputs, outputs):
    """Give an ONNX graph's inputs and outputs (in order) the names and shapes of `inputs` and
    `outputs` (names to symbolic tensors): the first axis `batch`, the others fixed."""
    import onnx

    proto = onnx.load(str(path))
    graph = proto.graph
    weights = {t.name for t in graph.initializer}
    graph_inputs = [v for v in graph.input if v.name not in weights]
    if len(graph_inputs) != len(inputs) or len(graph.output) != len(outputs):
        raise ExportError(
            f"Expected an ONNX graph with {len(inputs)} inputs and {len(outputs)} outputs. "
            f"Received: {len(graph_inputs)} and {len(graph.output)}"
        )
    wanted = {**inputs, **outputs}
    renames = {v.name: n for v, n in zip(graph_inputs, inputs, strict=True)}
    renames |= {v.name: n for v, n in zip(graph.output, outputs, strict=True)}
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = renames.get(value.name, value.name)
    for value in [*graph_inputs, *graph.output]:
        shape = value.type.tensor_type.shape
        shape.ClearField("dim")
        shape.dim.add().dim_param = "batch"
        for size in wanted[value.name].shape[1:]:
            shape.dim.add().dim_value = int(size)
    onnx.save(proto, str(path))


# --- the check: the artifact in its own runtime, against the model -----------------------------
def _run_artifact(path, format, inputs):
    """Run an artifact on named numpy inputs in its own runtime; returns `{name: numpy}`."""
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs), strict=True))
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures[SERVING_SIGNATURE]
    outputs = serve(**{name: tf.constant(value) for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def _compare(name, outputs, expected):
    """The largest |artifact - model| over the probe batch; ExportError if it is too large."""
    worst = 0.0
    for key, want in expected.items():
        got = outputs.get(key)
        if got is None or got.shape != want.shape:
            raise ExportError(
                f"The exported {name} does not give {key!r} of shape {want.shape}. "
                f"Received: {None if got is None else got.shape}"
            )
        diff = np.abs(got.astype("float64") - want)
        if not np.all(diff <= CHECK_TOLERANCE * (1 + np.abs(want))):
            raise ExportError(
                f"The exported {name} disagrees with the model: {key} differs by up to "
                f"{float(np.nanmax(diff)):.3g}; nothing was written."
            )
        worst = max(worst, float(diff.max()))
    return worst


@contextlib.contextmanager
def _converters_quiet():
    """Hide the converters' warnings, log records, prints and C++ log lines (TensorFlow logs to
    file descriptor 2 when it loads, whatever its log level): the numerical check after each
    conversion says whether it worked, and errors still propagate as exceptions."""
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        logging.disable(disabled)
