"""The layer and model contract, checked in one place for every vaekit layer and model test.

The idea is Keras' own `keras.src.testing.TestCase.run_layer_test`, written small for vaekit:

- `check_config(obj)`: `type(obj).from_config(obj.get_config())`, and Keras' registered
  serialize / deserialize, give an object of the same class with an equal config (layers,
  priors, likelihoods, initializers).
- `check_layer(layer, *inputs)`: the outputs have the expected shapes, and the symbolic call (and
  `compute_output_shape`, where the layer has it) agrees with them; the config round trips; saved
  in a model (a model: as itself) and reloaded by `keras.saving.load_model(path, safe_mode=True)`,
  it has the same layer classes, the same weights and, when deterministic, the same outputs;
  optionally one train step gives a finite loss and moves its trainable weights.
- `check_model(model, x, tmp_path)`: the vaekit VAE contract. The config round trips; the model
  saved with `vaekit.models.saving.save_model` and loaded with `vaekit.models.saving.load_model`
  (safe mode) has the same class, attributes, config, weights and deterministic outputs (posterior
  means and log-variances, the decoding of fixed latents, seeded prior samples, and in this process
  the log weights of fixed noise); the loaded model takes one train step with a finite loss.

`check_model` always loads in this process (the test gets the loaded model back). With
`new_process=True` it also loads (by `vaekit.load_model`) in a fresh Python process on the same
`KERAS_BACKEND`, and with `other_backends` on those: proof that the file needs nothing the saving
process holds in memory. That costs about 5 s a process, so the tests use it where they always
loaded in a subprocess, and for one model of each kind (`VAE` in test_model.py, `HierarchicalVAE`
in test_hierarchical.py); elsewhere the in-process safe-mode load is the check. The fresh process
runs this file as a script.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
from keras import ops

from vaekit.backends.keras_compat import tensorflow_unprobed

NUM_DRAWS = 2  # importance draws per example in the compared log weights


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def _shapes(outputs):
    return [tuple(numpy(t).shape) for t in keras.tree.flatten(outputs)]


def _assert_close(expected, got, rtol, atol, what):
    flat_e, flat_g = keras.tree.flatten(expected), keras.tree.flatten(got)
    assert len(flat_e) == len(flat_g), what
    for e, g in zip(flat_e, flat_g, strict=True):
        np.testing.assert_allclose(numpy(g), numpy(e), rtol=rtol, atol=atol, err_msg=what)


# --- config -----------------------------------------------------------------------------------------
def check_config(obj, serialize=True):
    """`obj`'s config round trips, by `from_config` and by Keras' serialization; returns the clone.

    Both give an object of `obj`'s class whose `get_config()` equals `obj`'s. `serialize=False`
    skips the second (`check_layer` and `check_model` save the object, which serializes it).
    """
    config = obj.get_config()
    with tensorflow_unprobed():
        clone = type(obj).from_config(copy.deepcopy(config))  # some from_config pop keys
        assert type(clone) is type(obj)
        assert clone.get_config() == config
        if serialize:
            serialized = keras.saving.serialize_keras_object(obj)
            json.dumps(serialized)  # plain JSON
            again = keras.saving.deserialize_keras_object(serialized)
            assert type(again) is type(obj), (type(again), type(obj))
            assert again.get_config() == config
    return clone


# --- layers -----------------------------------------------------------------------------------------
def check_layer(
    layer,
    *inputs,
    expected_shape=None,
    tmp_path=None,
    deterministic=True,
    train=None,
    rtol=0.0,
    atol=0.0,
):
    """Check `layer` (a layer, or a model) against the layer contract; returns its config clone.

    Args:
        layer: The layer, or a `keras.Model` (saved as itself rather than wrapped).
        *inputs: Numpy inputs, batch first, for one call.
        expected_shape: The output's shape, or a list of shapes for several outputs (optional).
        tmp_path: Folder for the saved `.keras` file (a temporary one if None).
        deterministic: Compare the reloaded model's outputs with the original's. False for a
            layer that draws random numbers (a reloaded seeded layer starts again from its seed).
        train: Take one train step (SGD on an MSE to zero targets; a model is compiled for it):
            a finite loss, and every trainable weight moves. None: when the layer has trainable
            weights.
        rtol, atol: Tolerances of the output comparison (exact by default: same ops, same weights).
    """
    with tensorflow_unprobed():
        outputs = layer(*inputs)
        shapes = _shapes(outputs)
        if expected_shape is not None:
            expected = expected_shape if isinstance(expected_shape, list) else [expected_shape]
            assert shapes == [tuple(s) for s in expected], (shapes, expected_shape)
        try:
            promised = layer.compute_output_shape(*(x.shape for x in inputs))
        except NotImplementedError:
            promised = None
        if promised is not None and not isinstance(layer, keras.Model):
            several = promised and isinstance(promised[0], tuple | list)
            promised = [tuple(s) for s in promised] if several else [tuple(promised)]
            assert promised == shapes, (promised, shapes)

        clone = check_config(layer, serialize=False)

        if isinstance(layer, keras.Model):
            model = layer
        else:
            symbolic = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in inputs]
            model = keras.Model(symbolic if len(inputs) > 1 else symbolic[0], layer(*symbolic))
        if getattr(model, "outputs", None):  # a functional model: symbolic shapes agree
            symbolic_shapes = [tuple(t.shape[1:]) for t in keras.tree.flatten(model.outputs)]
            assert symbolic_shapes == [s[1:] for s in shapes], (symbolic_shapes, shapes)

        with tempfile.TemporaryDirectory() as folder:
            path = Path(tmp_path or folder) / f"{layer.name}.keras"
            model.save(path)
            loaded = keras.saving.load_model(path, safe_mode=True)
        assert type(loaded) is type(model)
        if hasattr(model, "layers"):
            assert [type(x) for x in loaded.layers] == [type(x) for x in model.layers]
        assert len(loaded.weights) == len(model.weights)
        for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
            np.testing.assert_array_equal(b, a)
        if deterministic:
            args = list(inputs) if len(inputs) > 1 else inputs[0]
            _assert_close(model(args), loaded(args), rtol, atol, "reloaded outputs")

        if train is None:
            train = bool(layer.trainable_weights)
        if train:
            _train_step(model, inputs)
    return clone


def _train_step(model, inputs):
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = list(inputs) if len(inputs) > 1 else inputs[0]
    targets = keras.tree.map_structure(lambda t: np.zeros(t.shape, "float32"), model(x))
    before = [numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, targets)
    assert np.all(np.isfinite(keras.tree.flatten(loss))), loss
    for w, old in zip(model.trainable_weights, before, strict=True):
        assert not np.array_equal(numpy(w), old), w.path


# --- models -----------------------------------------------------------------------------------------
def model_inputs(model, x):
    """The fixed inputs the compared outputs take: data, latents, and N(0, I) noise."""
    n = len(x)
    z = np.linspace(-2, 2, n * model.latent_dim, dtype="float32").reshape(n, model.latent_dim)
    noise = np.random.default_rng(0).standard_normal((n * NUM_DRAWS, model.noise_dim))
    return {"x": np.asarray(x, "float32"), "z": z, "noise": noise.astype("float32")}


def model_record(model, inputs, samples=True, scores=True):
    """What a VAE must give back after saving and loading: attributes, config, weights, outputs.

    The outputs: the posterior of `x`, the decoding of latents `z` (a conditional model's with the
    conditions of `x`), seeded prior samples (unless `samples=False`), and (unless `scores=False`) the log weights of `x` with fixed noise.
    """
    x, z = inputs["x"], inputs["z"]
    mean, log_var = model.encode(x)
    condition = model.condition_of(x)  # a conditional model decodes with x's conditions
    outputs = {
        "mean": mean,
        "log_var": log_var,
        "decoded": model.decode(z, condition=condition),
        "params": model.decode(z, return_params=True, condition=condition),
    }
    if samples:  # seeded draws repeat on one backend, not across backends
        outputs["samples"] = model.sample(len(x), seed=0, condition=condition)
    if scores:
        log_px, kl = model.log_weights(x, NUM_DRAWS, noise=inputs["noise"])
        outputs |= {"log_px": numpy(log_px), "kl": numpy(kl)}
    attributes = {
        "cls": type(model).__name__,
        "beta": model.beta,
        "latent_dim": model.latent_dim,
        "data_shape": list(model.data_shape),
        "likelihood": model.likelihood.kind,
        "prior": model.prior.kind,
    }
    return {
        "attributes": attributes,
        "config": json.loads(json.dumps(model.get_config())),
        "weights": {w.path: numpy(w) for w in model.weights},
        "outputs": outputs,
    }


def _compare_records(expected, got, rtol, atol, where):
    assert got["attributes"] == expected["attributes"], where
    assert got["config"] == expected["config"], where
    assert list(got["weights"]) == list(expected["weights"]), where
    for name, value in expected["weights"].items():
        np.testing.assert_array_equal(got["weights"][name], value, err_msg=f"{where}: {name}")
    assert set(got["outputs"]) == set(expected["outputs"]), where
    for name, value in expected["outputs"].items():
        np.testing.assert_allclose(
            got["outputs"][name], value, rtol=rtol, atol=atol, err_msg=f"{where}: {name}"
        )


def _write_record(record, path):
    arrays = {f"outputs/{k}": v for k, v in record["outputs"].items()}
    arrays |= {f"weights/{i}": v for i, v in enumerate(record["weights"].values())}
    meta = {k: record[k] for k in ("attributes", "config")} | {"paths": list(record["weights"])}
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def _read_record(path):
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        outputs = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("outputs/")}
        weights = {p: data[f"weights/{i}"] for i, p in enumerate(meta["paths"])}
    return {**meta, "outputs": outputs, "weights": weights}


def check_model(
    model, x, tmp_path, *, new_process=False, other_backends=(), train=True, rtol=1e-5, atol=1e-6
):
    """Check a vaekit VAE against the model contract; returns the model loaded in this process.

    Args:
        model: A built VAE (any subclass). It is saved, never changed.
        x: A small batch of data: the compared outputs encode it, the train step trains on it.
        tmp_path: Folder for `model.keras`.
        new_process: Also load the file in a fresh Python process on this `KERAS_BACKEND`, and
            compare what it gives there.
        other_backends: Also load it in a fresh process on each of these backends (seeded samples,
            which differ between backends, are not compared there). The fresh processes run at
            once, beside this process's own checks.
        train: The loaded model takes one train step (`train_on_batch(x)`) with finite logs. A
            model that has trained is loaded with its optimizer, whose step count must carry on;
            another is compiled with Adam. The returned model has taken that step.
        rtol, atol: Tolerances of the output comparison.
    """
    with tensorflow_unprobed():
        return _check_model(model, x, tmp_path, new_process, other_backends, train, rtol, atol)


def _check_model(model, x, tmp_path, new_process, other_backends, train, rtol, atol):
    from vaekit.models.saving import load_model, save_model

    check_config(model, serialize=False)

    folder = Path(tmp_path)
    path = save_model(model, folder / "model.keras")
    inputs = model_inputs(model, x)
    here = keras.backend.backend()
    backends = [here] * bool(new_process) + [b for b in other_backends if b != here]
    if backends:
        np.savez(folder / "inputs.npz", **inputs)
    procs = {}  # the fresh processes run while this one checks
    for backend in backends:
        with open(folder / f"stderr-{backend}.txt", "w") as stderr:
            procs[backend] = subprocess.Popen(
                [sys.executable, __file__, str(path), str(folder / "inputs.npz"), here],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "KERAS_BACKEND": backend},
            )
    try:
        expected = model_record(model, inputs)
        optimizer = getattr(model, "optimizer", None)
        trained = optimizer is not None and optimizer.built  # it has state to save
        loaded = load_model(path, compile=trained)
        got = model_record(loaded, inputs)
        _compare_records(expected, got, rtol, atol, "loaded in this process")
        if train:
            if trained:  # the optimizer comes back with its state: training carries on
                steps = int(numpy(optimizer.iterations))
                assert steps > 0 and int(numpy(loaded.optimizer.iterations)) == steps
            else:
                loaded.compile(optimizer="adam")
            logs = loaded.train_on_batch(x, return_dict=True)
            assert {"loss", "reconstruction", "kl"} <= set(logs), logs
            assert all(np.isfinite(v) for v in logs.values()), logs
        for proc in procs.values():
            proc.wait(timeout=300)
    finally:
        for proc in procs.values():  # only after a failure here or a timeout
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for backend, proc in procs.items():
        stderr = (folder / f"stderr-{backend}.txt").read_text()
        assert proc.returncode == 0, f"on {backend}: {stderr[-3000:]}"
        skip = {"log_px", "kl"} | ({"samples"} if backend != here else set())
        outputs = {k: v for k, v in expected["outputs"].items() if k not in skip}
        got = _read_record(folder / f"record-{backend}.npz")
        where = f"loaded in a new process on {backend}"
        _compare_records({**expected, "outputs": outputs}, got, rtol, atol, where)
    return loaded


def _load_and_record(model_path, inputs_path, saving_backend):
    """In a fresh process: load `model_path` by the public `vaekit.load_model` (safe mode), and
    write what it gives beside it."""
    import vaekit

    with np.load(inputs_path, allow_pickle=False) as data:
        inputs = {k: data[k] for k in data.files}
    backend = keras.backend.backend()
    with tensorflow_unprobed():
        model = vaekit.load_model(model_path)
        record = model_record(model, inputs, samples=backend == saving_backend, scores=False)
    _write_record(record, Path(inputs_path).parent / f"record-{backend}.npz")


if __name__ == "__main__":
    _load_and_record(*sys.argv[1:4])
