"""`vaekit serve RUN [RUN...]`: the HTTP API over trained models, its docs and the explorer page."""

import importlib.util
import os
import sys

from vaekit.cli.args import bounded
from vaekit.errors import VaekitError

TOKEN_ENV = "VAEKIT_SERVE_TOKEN"


def add_parser(sub, common):
    p = sub.add_parser(
        "serve",
        parents=[common],
        help="serve trained models over HTTP: encode, decode, sample, reconstruct, score",
        description="Serve trained models over HTTP (JSON; OpenAPI docs at /docs; the latent "
        "explorer page at /, with a token at /#token=TOKEN). Binds to loopback unless --host "
        "says otherwise; any other host needs a token.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or NAME=RUN)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=bounded(int, 0, 65535), default=8000, help="default 8000")
    p.add_argument(
        "--token",
        default=None,
        help=f"bearer token clients must send (default ${TOKEN_ENV}); needed off loopback",
    )
    p.add_argument(
        "--no-batching",
        action="store_true",
        help="run each request on its own instead of merging concurrent ones",
    )
    p.add_argument(
        "--max-batch",
        type=bounded(int, 1, 65536),
        default=1024,
        help="most examples in one merged model call (default 1024)",
    )
    p.add_argument(
        "--max-body-mb",
        type=bounded(float, 0.001, 1024),
        default=16.0,
        help="largest request body in MB (default 16)",
    )
    p.add_argument(
        "--warm-up",
        action="store_true",
        help="before serving, run each model at every merged batch shape up to 64 examples, so "
        "no request waits for a first compilation",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args):
    for package in ("fastapi", "uvicorn", "orjson"):
        if importlib.util.find_spec(package) is None:
            raise VaekitError(
                f"vaekit serve needs {package}; install it with: pip install 'vaekit[serve]'"
            )
    from vaekit import serve

    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not serve.is_loopback(args.host) and not token:
        raise VaekitError(
            f"Serving on {args.host} reaches other machines: expected a token (--token or "
            f"${TOKEN_ENV}) that clients send as `Authorization: Bearer TOKEN`."
        )
    models = serve.load_served(args.runs, batching=not args.no_batching, max_rows=args.max_batch)
    if args.warm_up:
        for m in models.values():
            m.warm_up(min(64, args.max_batch))
    app = serve.create_app(models, token=token, max_body_bytes=int(args.max_body_mb * 1e6))

    def ready(sock):
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        names = ", ".join(models)
        print(
            f"Serving {len(models)} model{'s' if len(models) > 1 else ''} ({names}) at "
            f"http://{shown}:{port} (the explorer at /, API docs at /docs; Ctrl-C stops)",
            flush=True,
        )
        sys.stdout.flush()

    try:
        serve.run_server(app, args.host, args.port, token=token, on_ready=ready)
    finally:
        for m in models.values():
            m.close()
    return 0
