"""The HTTP API: FastAPI routes over `ServedModel`s, JSON in and out.

`GET /health`, `GET /v1/models`, `GET /v1/models/NAME`, and per model `POST
/v1/models/NAME/{encode,decode,sample,reconstruct,score}`; OpenAPI docs at `/docs`. Typed request
models validate every body; every error is a 4xx JSON `{"error": "..."}` saying what was wrong (a
bug is a 500 with no traceback). Bodies are size-limited (413). With a token, every `/v1` route asks
for `Authorization: Bearer TOKEN`. No route takes a file path.
"""

import contextlib
import hmac
import json
import logging
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

import vaekit
from vaekit.errors import VaekitError
from vaekit.serve import explorer, payloads

log = logging.getLogger("vaekit.serve")

MAX_BODY_BYTES = 16 * 1024 * 1024  # a 1024-image request of 64x64x3 as JSON lists fits
MAX_ROWS = 1024  # examples per request
MAX_SCORE_DRAWS = 1_000_000  # examples x importance samples per score request
MAX_SEED = 2**31 - 1

ImageFormat = Literal["list", "png"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EncodeRequest(_Body):
    inputs: list[Any] = Field(
        min_length=1, max_length=MAX_ROWS, description="examples: images, strings or table rows"
    )


class DecodeRequest(_Body):
    z: list[list[float]] = Field(
        min_length=1, max_length=MAX_ROWS, description="latent vectors, (n, latent_dim)"
    )
    condition: Any = Field(None, description="a conditional model's value, or one per latent")
    image_format: ImageFormat = "list"


class ReconstructRequest(EncodeRequest):
    image_format: ImageFormat = "list"


class SampleRequest(_Body):
    num: int = Field(8, ge=1, le=MAX_ROWS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    temperature: float = Field(1.0, ge=0.0, le=10.0, allow_inf_nan=False)
    condition: Any = None
    image_format: ImageFormat = "list"


class ScoreRequest(EncodeRequest):
    samples: int = Field(100, ge=1, le=100_000, description="K of the IWAE estimate")
    seed: int = Field(0, ge=0, le=MAX_SEED)


def create_app(models, token=None, max_body_bytes=MAX_BODY_BYTES):
    """The FastAPI application serving `models` (`{name: ServedModel}`).

    Args:
        models: The models, by name (`vaekit.serve.load_served`).
        token: If given, every `/v1` route asks for `Authorization: Bearer <token>`.
        max_body_bytes: Larger request bodies get a 413.
    """
    if token is not None and not token:
        raise ValueError("Expected a non-empty token, or None for no token. Received: ''")
    app = FastAPI(
        title="vaekit",
        version=vaekit.__version__,
        description="Encode, decode, sample, reconstruct and score with trained vaekit models.",
    )
    app.state.models = dict(models)
    _install_errors(app)
    app.add_middleware(BodyLimit, max_bytes=int(max_body_bytes))

    @app.get("/health")
    def health():
        return {"status": "ok", "models": len(app.state.models)}

    api = api_router(app, token)
    app.include_router(api)
    app.include_router(explorer.explorer_router(app, api.dependencies))  # the page at `/`
    return app


def api_router(app, token):
    bearer = Depends(HTTPBearer(auto_error=False))  # also declares the scheme in the OpenAPI docs

    def authorized(credentials: HTTPAuthorizationCredentials | None = bearer):
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "Expected `Authorization: Bearer <token>` with the server's token."
            )

    router = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])

    def served(name):
        models = app.state.models
        if name not in models:
            raise HTTPException(
                404, f"Unknown model {name!r:.80}; served models: {', '.join(sorted(models))}"
            )
        return models[name]

    @router.get("/models")
    def list_models():
        return {"models": [m.info() for m in app.state.models.values()]}

    @router.get("/models/{name}")
    def model_info(name: str):
        return served(name).info()

    @router.post("/models/{name}/encode")
    async def encode(name: str, body: EncodeRequest):
        m = served(name)
        x = payloads.read_inputs(m.model, m.codec, m.kind, body.inputs)
        out = await m.batcher.run(("encode",), m.encode_batch, x)
        return payloads.json_response({"mean": out["mean"], "log_var": out["log_var"]})

    @router.post("/models/{name}/decode")
    async def decode(name: str, body: DecodeRequest):
        m = served(name)
        z = payloads.read_latents(body.z, m.model.latent_dim)
        condition = _condition(m, body.condition, len(z))
        if condition is None:
            out = await m.batcher.run(("decode",), m.decode_batch, z)
        else:
            out = await m.batcher.run(("decode", "condition"), m.decode_batch, z, condition)
        return _outputs(m, out, body.image_format)

    @router.post("/models/{name}/reconstruct")
    async def reconstruct(name: str, body: ReconstructRequest):
        m = served(name)
        x = payloads.read_inputs(m.model, m.codec, m.kind, body.inputs)
        out = await m.batcher.run(("reconstruct",), m.reconstruct_batch, x)
        return _outputs(m, out, body.image_format)

    @router.post("/models/{name}/sample")
    async def sample(name: str, body: SampleRequest):
        m = served(name)
        condition = payloads.read_condition(m.model, m.codec, body.condition, body.num)
        out = await m.batcher.call(m.sample, body.num, body.seed, body.temperature, condition)
        return _outputs(m, out, body.image_format)

    @router.post("/models/{name}/score")
    async def score(name: str, body: ScoreRequest):
        m = served(name)
        x = payloads.read_inputs(m.model, m.codec, m.kind, body.inputs)
        if len(x) * body.samples > MAX_SCORE_DRAWS:
            raise payloads.PayloadError(
                f"Expected at most {MAX_SCORE_DRAWS} draws (examples x samples) per request. "
                f"Received: {len(x)} x {body.samples}"
            )
        scores = await m.batcher.call(m.score, x, body.samples, body.seed)
        out = {k: np.asarray(scores[k]) for k in ("score", "reconstruction", "kl")}
        if "columns" in scores:
            out["columns"] = {k: np.asarray(v) for k, v in scores["columns"].items()}
        return payloads.json_response(out)

    return router


def _outputs(m, out, image_format):
    """The response of a route that returns data: `{"outputs": [...]}` in the kind's own form."""
    return payloads.json_response(
        {"outputs": payloads.write_outputs(m.codec, m.kind, out, image_format)}
    )


def _condition(m, value, n):
    condition = payloads.read_condition(m.model, m.codec, value, n)
    if condition is None and m.model.conditioned:
        raise payloads.PayloadError(
            f"Expected a `condition`: this model is conditioned on {m.codec.condition!r} "
            f"({', '.join(str(v) for v in m.codec.condition_values()[:10])})."
        )
    return condition


# --- errors: always JSON {"error": "..."} ---------------------------------------------------------


def _error(status, message, headers=None):
    return JSONResponse({"error": str(message)}, status_code=status, headers=headers)


def _install_errors(app):
    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return _error(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            return _error(
                400, f"Invalid JSON body: {first.get('ctx', {}).get('error', '')}".strip()
            )
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        if first.get("type") == "missing" and not where:
            return _error(400, "Expected a JSON object body.")
        message = first.get("msg", "invalid request")
        return _error(422, f"{where}: {message}" if where else message)

    @app.exception_handler(VaekitError)
    async def bad_data(request, exc):
        return _error(422, exc)

    @app.exception_handler(Exception)
    async def bug(request, exc):
        log.exception("internal error on %s", request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}")


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets a 413, whether it says its length
    (refused before reading) or streams it in chunks (refused once the count passes the limit)."""

    def __init__(self, app, max_bytes):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._refuse(send)
        state = {"received": 0, "over": False, "started": False}

        async def counted_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["over"] = True
                    raise _TooLarge
            return message

        async def guarded_send(message):
            if state["over"]:
                return  # the app's answer to a cut-off body is replaced by the 413
            state["started"] = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted_receive, guarded_send)
        if state["over"] and not state["started"]:
            await self._refuse(send)

    async def _refuse(self, send):
        body = json.dumps(
            {"error": f"Request body too large: expected at most {self.max_bytes} bytes."}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
