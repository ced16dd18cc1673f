"""The `vaekit` command line: thin subcommands over the public API.

Exit status: 0 on success; 2 on a user error (one line on stderr, no traceback); 1 on a bug (the
traceback only under `--debug`). Every command prints where it wrote its outputs. The Keras backend is
chosen (`--backend`, else `KERAS_BACKEND`, else JAX) before Keras is imported.
"""

import argparse
import contextlib
import importlib.util
import os
import sys
import traceback

import vaekit
from vaekit.cli import (
    data_commands,
    disentanglement,
    evaluate,
    export,
    pictures,
    report,
    serve,
    train,
)
from vaekit.cli.args import Parser, command_scope, one_line
from vaekit.errors import TrainingInterrupted, VaekitError

BACKENDS = ("jax", "tensorflow", "torch")
DEFAULT_BACKEND = "jax"  # fastest of the three for vaekit's models on CPU (see README)


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--backend",
        choices=BACKENDS,
        default=argparse.SUPPRESS,
        help=f"Keras backend (default: $KERAS_BACKEND, else {DEFAULT_BACKEND})",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks of internal errors",
    )

    parser = Parser(
        prog="vaekit",
        parents=[common],
        description="Variational autoencoders on Keras 3: train, sample, reconstruct, inspect.",
    )
    parser.add_argument("--version", action="version", version=f"vaekit {vaekit.__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    train.add_parser(sub, common)
    evaluate.add_parser(sub, common)
    disentanglement.add_parser(sub, common)
    pictures.add_parsers(sub, common)
    data_commands.add_parsers(sub, common)
    report.add_parser(sub, common)
    serve.add_parser(sub, common)
    export.add_parser(sub, common)
    return parser


def select_backend(name=None):
    """Set KERAS_BACKEND and import Keras: `name`, else the environment, else the default."""
    name = name or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise VaekitError(
            f"Unknown Keras backend {name!r}. Expected one of: {', '.join(BACKENDS)}."
        )
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise VaekitError(
                f"Keras is already imported with backend {current!r}; cannot switch to {name!r}."
            )
        return name
    if importlib.util.find_spec(name) is None:
        raise VaekitError(
            f"Backend {name!r} is not installed; install it with: pip install 'vaekit[{name}]'."
        )
    os.environ["KERAS_BACKEND"] = name
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's Python-side start-up chatter
    cache = compile_cache_dir(name)
    with _stderr_silenced(name == "tensorflow"):
        import keras  # noqa: F401
    if cache and name == "jax":
        import jax

        if not jax.config.jax_compilation_cache_dir:  # a user's own setting wins
            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return name


def compile_cache_dir(backend):
    """Where compiled XLA programs are kept between runs, or None when the cache is off.

    Compiling the training loop is much of a short run's start-up (about 4 s on JAX); programs are
    keyed by their contents, so a later run of the same model and batch size loads them instead.
    `VAEKIT_CACHE_DIR` moves the cache (default `$XDG_CACHE_HOME/vaekit`, else `~/.cache/vaekit`);
    `VAEKIT_COMPILE_CACHE=0` turns it off. JAX only: TensorFlow's own persistent XLA cache
    (`--tf_xla_persistent_cache_directory`) cut a one-epoch run from 59 s to 23 s, but it logs
    parse errors and machine-feature warnings to stderr when it loads entries (burying vaekit's
    one-line errors), and a run loading its entries crashed after Ctrl-C, so it stays off.
    PyTorch has nothing to cache.
    """
    if backend != "jax" or os.environ.get("VAEKIT_COMPILE_CACHE", "1").lower() in (
        "0",
        "off",
        "no",
    ):
        return None
    root = os.environ.get("VAEKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "vaekit",
    )
    path = os.path.join(root, f"xla-{backend}")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None  # an unwritable cache only costs speed
    return path if os.access(path, os.W_OK) else None


@contextlib.contextmanager
def _stderr_silenced(active):
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ runtime logs at import whatever the
    log level (e.g. about missing CUDA drivers), which would bury vaekit's one-line errors."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv=None):
    parser = build_parser()
    if any("\0" in str(arg) for arg in (sys.argv[1:] if argv is None else argv)):
        parser.error("arguments cannot contain NUL characters")  # paths would fail deep inside
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        select_backend(getattr(args, "backend", None))
        with command_scope():  # a run's writer lock, if the command takes one, is held to its end
            return args.func(args)
    except TrainingInterrupted as exc:
        print(f"vaekit {args.command}: {one_line(exc)}", file=sys.stderr)
        return 130
    except VaekitError as exc:
        print(f"vaekit {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vaekit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so, and show the traceback only when asked
        if debug:
            traceback.print_exc()
        else:
            print(
                f"vaekit {args.command}: internal error: {type(exc).__name__}: {exc} "
                f"(run with --debug for the traceback)",
                file=sys.stderr,
            )
        return 1


__all__ = ["main", "build_parser", "select_backend", "compile_cache_dir"]
