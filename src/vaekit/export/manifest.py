"""The manifest of an export: each artifact's inputs and outputs, and what the numbers mean.

A caller running the artifacts without vaekit reads here how to prepare the encoder's input (image
scaling, a table's encoding, the codec), what the decoder's parameters are for each likelihood and
how they become data, and where each column's head sits in a table decoder's output.
"""

import keras

import vaekit
from vaekit.pictures.outputs import kind_of

# What the decoder's parameters mean, per likelihood name, and how a user gets the data mean.
PARAMETERS = {
    "bernoulli": {
        "params": "logits, one per data value",
        "mean": "sigmoid(params)",
    },
    "gaussian": {
        "params": "means, one per data value (the scale is fixed: config.scale)",
        "mean": "params",
    },
    "gaussian_learned": {
        "params": "[means (C), log-scales (C)] on the last axis",
        "mean": "params[..., :C]",
    },
    "discretized_logistic": {
        "params": "[means (C), log-scales (C)] on the last axis, for data in [0, 1]",
        "mean": "clip(params[..., :C], 0, 1)",
    },
    "tabular": {
        "params": (
            "one head per column in schema order, the condition column skipped (see "
            "likelihood.columns): numeric and integer [mean, log-scale] of the standardised "
            "value, categorical K logits, boolean 1 logit"
        ),
        "mean": (
            "numeric and integer: the head's mean (standardised: times the column's std, plus "
            "its mean, from the codec, gives the column's units); categorical: softmax of the "
            "logits; boolean: sigmoid of the logit"
        ),
    },
}
PRIOR_SAMPLING = {
    "standard_normal": "z ~ N(0, I), latent_dim values; decode z to generate data",
}  # a learned prior's parameters are not exported: draw z with vaekit, or encode data
DATA_INPUT = {
    "images": "images H x W x C (channels last), float32 values scaled to [0, 1]",
    "table": (
        "rows encoded by the codec (a table schema): each column's values (numeric and integer "
        "(v - mean) / std, categorical one-hot, boolean 0 or 1), then one observed flag per "
        "column (1 observed, 0 missing, whose values are 0)"
    ),
}


def describe_artifact(network, path, format, signature=None):
    """The manifest's entry for one artifact: its file, inputs and outputs (and a SavedModel's
    `signature`, or an ONNX file's opset)."""

    def spec(name, tensor):
        shape = [None, *(int(d) for d in tensor.shape[1:])]
        return {"name": name, "shape": shape, "dtype": "float32"}

    entry = {
        "path": path.name,
        "inputs": [spec(n, t) for n, t in network["inputs"].items()],
        "outputs": [spec(n, t) for n, t in network["outputs"].items()],
    }
    if format == "tf_saved_model":
        entry["signature"] = signature
    else:
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
        entry["opset"] = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return entry


def manifest(model, format, backend, artifacts, check):
    """The manifest of an export: what a caller needs to run the artifacts without vaekit.

    Args:
        model: The exported `VAE`.
        format: `"onnx"` or `"tf_saved_model"`.
        backend: The Keras backend that wrote the artifacts.
        artifacts: `{"encoder": entry, "decoder": entry}` (`describe_artifact`).
        check: What the numerical check found (rows, tolerance, largest differences).

    Returns:
        A JSON-able dict.
    """
    likelihood = model.likelihood
    config = dict(likelihood.get_config())
    codec = likelihood.codec_config
    if likelihood.codec_option:
        config.pop(likelihood.codec_option, None)  # the codec is given once, below
    kind = kind_of(model)
    meaning = PARAMETERS.get(
        likelihood.kind, {"params": "see the likelihood's documentation", "mean": None}
    )
    described = {
        "name": likelihood.kind,
        "config": config,
        "params_shape": list(model.likelihood.param_shape(model.data_shape)),
        **meaning,
    }
    if kind == "table":
        described["columns"] = table_heads(codec)
    condition = None
    if model.conditioned:
        condition = {"name": likelihood.condition_name, "width": likelihood.condition_width}
    return {
        "format": format,
        "backend": backend,
        "vaekit_version": vaekit.__version__,
        "keras_version": keras.__version__,
        "model": {"name": model.name, "class": type(model).__name__},
        "kind": kind,
        "data_shape": list(model.data_shape),
        "input": DATA_INPUT.get(kind),
        "latent_dim": model.latent_dim,
        "log_var_range": list(model.log_var_range),
        "likelihood": described,
        "prior": {"name": model.prior.kind, "sampling": PRIOR_SAMPLING.get(model.prior.kind)},
        "codec": codec,
        "condition": condition,
        "batch": "dynamic: the first axis of every input and output (null in shapes)",
        "artifacts": artifacts,
        "check": check,
    }


def table_heads(schema):
    """Where each column's head sits in a table decoder's parameters, as `Tabular` lays them out:
    `[{"name", "type", "params": [start, stop]}]` in schema order, the condition column left out."""
    heads, start = [], 0
    for column in schema["columns"]:
        if column["name"] == schema.get("condition"):
            continue
        size = {"categorical": len(column.get("categories", ())), "boolean": 1}.get(
            column["type"], 2
        )
        heads.append(
            {"name": column["name"], "type": column["type"], "params": [start, start + size]}
        )
        start += size
    return heads
