"""Serving trained models over HTTP: `vaekit serve RUN [RUN...]`.

FastAPI under uvicorn (`pip install 'vaekit[serve]'`). `create_app` builds the application for
`ServedModel`s (`load_served` loads them from run directories); `run_server` binds it to a host and
port and serves until interrupted. Nothing in the library imports this package.
"""

from vaekit.serve.batching import Batcher
from vaekit.serve.models import ServedModel, load_served
from vaekit.serve.server import is_loopback, run_server

__all__ = ["Batcher", "ServedModel", "create_app", "is_loopback", "load_served", "run_server"]


def create_app(models, token=None, max_body_bytes=None):
    """The FastAPI application serving `models` (see `vaekit.serve.app.create_app`)."""
    from vaekit.serve import app

    kwargs = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
    return app.create_app(models, token=token, **kwargs)
