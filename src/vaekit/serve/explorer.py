"""The latent explorer: a page at `GET /` over the HTTP API, and the routes it reads.

`GET /` serves one static page (HTML, JavaScript and CSS shipped in `vaekit/serve/static/`, no
data in it, no token needed to load it). For each served model the page draws the latent map,
decodes a clicked point, moves the most informative dimensions on sliders, interpolates between two
examples and draws prior samples. Its data comes from the API, token-guarded like every `/v1`
route:

- `GET /v1/models/NAME/map`: the posterior means of the map's examples in 2-D, their labels, the
  projection (a click at `p` decodes `centre + p @ axes`), the dimensions of highest average KL
  with their slider ranges;
- `POST /v1/models/NAME/interpolate`: decoded points on the line between the means of two of the
  map's examples, named by index (never by file);
- `GET /v1/models/NAME/examples/I`: one of the map's examples in its own form (a PNG, a sentence,
  a row) with its labels.

The map's examples are the first `MAX_EXAMPLES` of the validation split of the model's run (its
`config.toml` says the dataset), loaded and encoded once per model on the model's worker thread,
or the examples given to `ServedModel`. With a token, open the page as `/#token=TOKEN`: the page
reads the token from the URL fragment (which browsers never send to the server) and sends it as
`Authorization: Bearer TOKEN` on its requests.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

import vaekit
from vaekit.errors import VaekitError
from vaekit.serve import payloads

log = logging.getLogger("vaekit.serve")

MAX_EXAMPLES = 2000  # points on a map: enough to see its shape, small enough to draw at once
MAX_STEPS = 32  # decoded points on one interpolation
TOP_DIMS = 5  # sliders: the dimensions of highest average KL
MAX_CLASSES = 20  # a factor with at most this many integer values is coloured by class
STATIC = Path(__file__).parent / "static"
ASSETS = {  # the page's files, by name: nothing else under static/ is served
    "explorer.js": "text/javascript",
    "map.js": "text/javascript",
    "outputs.js": "text/javascript",
    "explorer.css": "text/css",
}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ImageFormat = Literal["list", "png"]
PAGE_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
}


class InterpolateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: int = Field(ge=0, description="index of the first example in the map")
    b: int = Field(ge=0, description="index of the last example in the map")
    steps: int = Field(8, ge=2, le=MAX_STEPS, description="decoded points, both ends included")
    condition: Any = Field(
        None, description="a conditional model's value (default: each end's own, half way each)"
    )
    image_format: ImageFormat = "list"


@dataclass
class LatentMap:
    """A model's map: its examples, their posterior means, and the 2-D view of them.

    Attributes:
        x: The examples, `(n, *data_shape)`.
        mean: Their posterior means, `(n, latent_dim)`.
        condition: A conditional model's condition of each example, `(n, width)`, or None.
        labels: Per label or factor: `{"name", "kind": "class" | "value", "values", "classes"?}`.
        payload: The JSON of `GET /v1/models/NAME/map`.
    """

    x: np.ndarray
    mean: np.ndarray
    condition: np.ndarray | None
    labels: list
    payload: dict


def projection(mean):
    """The plane a map shows: `(centre (d,), axes (2, d), explained)`.

    A latent of 2 dimensions is shown as it is (centre 0, the unit axes); of 1, along the first
    axis; of more, on the two principal axes of the means around their centre (each axis' largest
    component positive, so the view does not flip between runs). `explained` is the share of the
    means' variance the plane keeps.

    Args:
        mean: Posterior means, `(n, d)`.

    Returns:
        `(centre, axes, explained)`: a point `p` of the map is the latent `centre + p @ axes`.
    """
    mean = np.asarray(mean, np.float64)
    d = mean.shape[1]
    if d <= 2:
        return np.zeros(d), np.eye(2, d), 1.0
    centre = mean.mean(axis=0)
    centred = mean - centre
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    if len(axes) < 2:  # one example: any plane through it
        axes = np.linalg.qr(np.concatenate([axes, np.eye(d)]).T)[0].T[:2]
    axes *= np.sign(axes[np.arange(2), np.argmax(np.abs(axes), axis=1)])[:, None]
    total = float((s**2).sum())
    explained = float((s[:2] ** 2).sum() / total) if total > 0 else 1.0
    return centre, axes, explained


def build_map(served, max_examples=MAX_EXAMPLES, top=TOP_DIMS):
    """The `LatentMap` of a `ServedModel` (runs the model: call it on the worker thread).

    Args:
        served: The model, with `examples` given or a `run` whose config says its data.
        max_examples: The most examples on the map (the first ones: deterministic).
        top: How many of the most informative dimensions get a slider.

    Returns:
        A `LatentMap`.
    """
    x, y, label_names, classes, what = _examples(served)
    x = x[:max_examples]
    y = None if y is None else np.asarray(y)[: len(x)]
    model = served.model
    mean, log_var = model.encode(x)
    kl = (0.5 * (np.exp(log_var) + mean**2 - 1.0 - log_var)).mean(axis=0)  # kl_per_dimension
    centre, axes, explained = projection(mean)
    points = (mean - centre) @ axes.T  # (n, 2)
    condition = model.condition_of(x) if model.conditioned else None
    labels = _labels(y, label_names, classes)
    if condition is not None:
        labels.append(_condition_column(served.codec, condition))
    dims = []
    for d in np.argsort(-kl, kind="stable")[: min(top, model.latent_dim)]:
        lo, hi = float(mean[:, d].min()), float(mean[:, d].max())
        dims.append(
            {
                "dim": int(d),
                "kl": round(float(kl[d]), 4),
                "min": float(np.floor(min(-3.0, lo) * 10) / 10),
                "max": float(np.ceil(max(3.0, hi) * 10) / 10),
            }
        )
    payload = {
        "name": served.name,
        "kind": served.kind,
        "latent_dim": int(model.latent_dim),
        "count": len(x),
        "source": f"{len(x)} {what}",
        "projection": {
            "method": "pca" if model.latent_dim > 2 else "none",
            "explained": round(explained, 4),
            "centre": centre.tolist(),
            "axes": axes.tolist(),
        },
        "points": np.round(points, 5).tolist(),
        "labels": labels,
        "dims": dims,
        "kl": np.round(kl, 4).tolist(),
    }
    if served.kind == "text":
        payload["texts"] = [line[:200] for line in served.codec.decode(x)]
    return LatentMap(x, mean.astype(np.float32), condition, labels, payload)


def explorer_router(app, dependencies=()):
    """The explorer's routes: the page and its files, and its API routes under `/v1`.

    Args:
        app: The application; its `app.state.models` are the served models.
        dependencies: What guards the API routes (the token check of the other `/v1` routes).

    Returns:
        An `APIRouter` to include in `app`.
    """
    router = APIRouter()
    api = APIRouter(prefix="/v1", dependencies=list(dependencies))
    maps = {}  # ServedModel -> its LatentMap, written on the model's worker thread

    @router.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "explorer.html", media_type="text/html", headers=PAGE_HEADERS)

    @router.get("/static/{asset}", include_in_schema=False)
    def static(asset: str):
        if asset not in ASSETS:
            raise HTTPException(
                404, f"No file {asset!r:.60}; the page's files: {', '.join(ASSETS)}"
            )
        return FileResponse(STATIC / asset, media_type=ASSETS[asset], headers=HEADERS)

    async def latent_map(name):
        served = _served(app, name)
        if served not in maps:

            def fill():  # the worker thread runs one call at a time: the map is built once
                if served not in maps:
                    maps[served] = build_map(served)

            await served.batcher.call(fill)
        return served, maps[served]

    @api.get("/models/{name}/map")
    async def latent_map_route(name: str):
        return payloads.json_response((await latent_map(name))[1].payload)

    @api.post("/models/{name}/interpolate")
    async def interpolate(name: str, body: InterpolateRequest):
        m, lm = await latent_map(name)
        a, b = _index(lm, body.a, "a"), _index(lm, body.b, "b")
        t = np.linspace(0.0, 1.0, body.steps, dtype=np.float32)[:, None]
        z = (1 - t) * lm.mean[a] + t * lm.mean[b]  # (steps, latent)
        condition = payloads.read_condition(m.model, m.codec, body.condition, body.steps)
        if condition is None and lm.condition is not None:
            condition = np.where(t < 0.5, lm.condition[a], lm.condition[b]).astype(np.float32)
        if condition is None:
            out = await m.batcher.run(("decode",), m.decode_batch, z)
        else:
            out = await m.batcher.run(("decode", "condition"), m.decode_batch, z, condition)
        outputs = payloads.write_outputs(m.codec, m.kind, out, body.image_format)
        return payloads.json_response(
            {"a": a, "b": b, "z": np.round(z, 5).tolist(), "outputs": outputs}
        )

    @api.get("/models/{name}/examples/{index}")
    async def example(name: str, index: int, image_format: ImageFormat = "png"):
        m, lm = await latent_map(name)
        i = _index(lm, index, "index")
        x = lm.x[i : i + 1]
        if m.kind == "table":  # the row as it was read: a missing cell stays missing
            columns = m.codec.decode(x, observed=True)
            output = {
                k: v[0].item() if isinstance(v[0], np.generic) else v[0] for k, v in columns.items()
            }
        else:
            output = payloads.write_outputs(m.codec, m.kind, x, image_format)[0]
        labels = {}
        for column in lm.labels:
            value = column["values"][i]
            labels[column["name"]] = column["classes"][value] if "classes" in column else value
        return payloads.json_response(
            {"index": i, "example": output, "labels": labels, "mean": lm.mean[i].tolist()}
        )

    router.include_router(api)
    return router


# --- examples and labels --------------------------------------------------------------------------


def _examples(served):
    """`(x, y, label_names, classes_by_factor, what)` of a model's map: its examples, their
    labels (or None) and the labels' names, the class names of factors by name, and what they are
    in words."""
    if served.examples is not None:
        x, y, names = (tuple(served.examples) + (None, None))[:3]
        x = np.asarray(x)
        if not len(x) or tuple(x.shape[1:]) != tuple(served.model.data_shape):
            raise VaekitError(
                f"Expected examples of shape (n, {', '.join(map(str, served.model.data_shape))}) "
                f"with n >= 1. Received: shape {tuple(x.shape)}"
            )
        return x, y, names, {}, "examples given to the server"
    cfg = vaekit.load_run_config(served.run) if served.run else None
    if cfg is None:
        raise VaekitError(
            f"Model {served.name!r} has no examples to map: expected a run directory with its "
            "config.toml (or examples given to the server)."
        )
    try:
        binarize = "static" if cfg.data.binarize == "static" else "none"
        data = vaekit.load_configured(
            cfg.data, cfg.train.seed, binarize=binarize, codec=vaekit.model_codec(served.model)
        )
        x, y = data.split("val")
        if tuple(data.shape) != tuple(served.model.data_shape) or not len(x):
            raise VaekitError(f"the validation split holds {len(x)} examples of {data.shape}")
    except VaekitError as exc:  # the operator sees why (paths included); the client, only that
        log.warning("cannot load the examples of model %s: %s", served.name, exc)
        raise VaekitError(
            f"Cannot load the validation examples of model {served.name!r}; the server's log "
            "says why."
        ) from None
    info = data.info
    classes = dict(info.get("factor_values") or {})
    if info.get("shape_names"):
        classes["shape"] = list(info["shape_names"])
    dataset = Path(str(cfg.data.dataset)).name  # a name, never a path of the server's
    return x, y, info.get("label_names"), classes, f"validation examples of {dataset}"


def _labels(y, names, classes):
    """The map's label columns: one for class ids `(n,)`, one per factor of `(n, F)`."""
    if y is None:
        return []
    y = np.asarray(y)
    if y.ndim == 1:
        if y.dtype.kind in "iub":
            names = list(names) if names is not None else None
            return [_class_column("class", y.astype(np.int64), names)]
        return [_value_column("label", y)]
    factors = list(names) if names is not None and len(names) == y.shape[1] else None
    columns = []
    for j in range(y.shape[1]):
        name = str(factors[j]) if factors else f"factor {j}"
        values = y[:, j].astype(np.float64)
        whole = (
            np.isfinite(values).all() and np.all(values == np.round(values)) and values.min() >= 0
        )
        if whole and (name in classes or len(np.unique(values)) <= MAX_CLASSES):
            columns.append(_class_column(name, values.astype(np.int64), classes.get(name)))
        else:
            columns.append(_value_column(name, values))
    return columns


def _class_column(name, ids, names=None):
    count = int(ids.max()) + 1 if len(ids) else 0
    if names is None or len(names) < count:
        names = [str(k) for k in range(count)]
    return {
        "name": str(name),
        "kind": "class",
        "values": [int(v) for v in ids],
        "classes": [str(v) for v in names],
    }


def _condition_column(codec, condition):
    values = codec.condition_values()
    if condition.shape[1] == len(values):  # one-hot categories
        return _class_column(codec.condition, np.argmax(condition, axis=1), values)
    if condition.shape[1] == 1 and len(values) == 2:  # a boolean
        return _class_column(codec.condition, (condition[:, 0] > 0.5).astype(np.int64), values)
    return _value_column(codec.condition, condition[:, 0])


def _value_column(name, values):
    values = np.asarray(values, np.float64)
    return {
        "name": str(name),
        "kind": "value",
        "values": [round(float(v), 4) if np.isfinite(v) else None for v in values],
    }


def _served(app, name):
    models = app.state.models
    if name not in models:
        raise HTTPException(
            404, f"Unknown model {name!r:.80}; served models: {', '.join(sorted(models))}"
        )
    return models[name]


def _index(lm, index, what):
    count = len(lm.x)
    if not 0 <= index < count:
        raise HTTPException(
            422,
            f"Expected `{what}` to index the map's {count} examples (0 to {count - 1}). "
            f"Received: {index}",
        )
    return int(index)
