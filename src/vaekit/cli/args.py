"""Argument types and the parser class shared by the subcommands."""

import argparse
import contextlib
from pathlib import Path

from vaekit import config as config_lib
from vaekit import run_dir
from vaekit.errors import VaekitError


def bounded(kind, low, high=None):
    """An argparse type: `kind(text)` within [low, high]."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {kind.__name__}, received {text!r}"
            ) from None
        if not (low <= value and (high is None or value <= high)):  # also refuses NaN
            span = f"[{low}, {high if high is not None else 'inf'}]"
            raise argparse.ArgumentTypeError(f"expected a value in {span}, received {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


seed_int = bounded(int, 0, config_lib.MAX_SEED)
MAX_IMPORTANCE_SAMPLES = 1_000_000


def add_importance_samples(parser, default):
    """`--importance-samples` / `-k`: K of the IWAE estimate, as `evaluate` and `score` take it."""
    parser.add_argument(
        "--importance-samples",
        "-k",
        type=bounded(int, 1, MAX_IMPORTANCE_SAMPLES),
        default=default,
        help=f"K, samples per example of the IWAE estimate (default {default})",
    )


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (what was wrong, where to look) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def one_line(message):
    """The message with control characters escaped (a path may hold a newline): always one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message))


def dims_pair(text):
    """Two different non-negative integers, "0,1"."""
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        dims = ()
    if len(dims) != 2 or dims[0] == dims[1] or min(dims) < 0:
        raise argparse.ArgumentTypeError(
            f"expected two different dimensions like 0,1, received {text!r}"
        )
    return dims


def output_path(args, run, default_name):
    """--out, or a default next to the model; refuse to replace an existing file without --overwrite."""
    if args.out:
        out = Path(args.out)
    else:
        run = Path(run)
        out = (run if run.is_dir() else run.parent) / default_name
    if out.is_dir():
        kind = Path(default_name).suffix
        raise VaekitError(
            f"Output path {out} is a directory; expected a {kind} file path for --out."
        )
    # A file written inside a run directory waits for no one: the run's writer lock is taken now
    # (a training or another command writing there is refused at once) and held to the end.
    hold(run_dir.lock_if_run(out.parent, f"vaekit {args.command}"))
    if out.exists() and not args.overwrite:
        raise VaekitError(
            f"Output file {out} already exists; pass --overwrite to replace it or choose another --out."
        )
    return out


_scopes = []  # the ExitStack of each running command, innermost last (see `command_scope`)


@contextlib.contextmanager
def command_scope():
    """The span of one command: what `hold` enters (a run's writer lock) is released at its end."""
    with contextlib.ExitStack() as stack:
        _scopes.append(stack)
        try:
            yield
        finally:
            _scopes.pop()


def hold(context):
    """Enter `context` until the running command ends (outside a command: enter and leave it now,
    which still checks it, e.g. that no other process holds a lock)."""
    if _scopes:
        return _scopes[-1].enter_context(context)
    with context as value:
        return value
