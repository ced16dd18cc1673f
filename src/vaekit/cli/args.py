"""Argument types and the parser class shared by the subcommands."""

import argparse

from vaekit import config as config_lib


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


def units(text):
    try:
        units = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        units = []
    if not units:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive widths like 128,64, received {text!r}"
        )
    return units


def log_var_range(text):
    """Two finite numbers, low < high: "-6,2"."""
    try:
        return list(config_lib.check_log_var_range(text.split(",")))
    except config_lib.ConfigError:
        raise argparse.ArgumentTypeError(
            f"expected two numbers LOW,HIGH with LOW < HIGH, like -6,2, received {text!r}"
        ) from None


def option(text):
    """NAME=VALUE, the value read as an int, a float, true/false or else a string: ("window", 5)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not (sep and config_lib.OPTION_NAME.fullmatch(name) and raw.strip()):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE like window=5, received {text!r}")
    raw = raw.strip()
    for kind in (int, float):
        try:
            return name, kind(raw)
        except ValueError:
            pass
    return name, {"true": True, "false": False}.get(raw.lower(), raw)


positive_int = bounded(int, 1)
seed_int = bounded(int, 0, config_lib.MAX_SEED)


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
    from pathlib import Path

    from vaekit.errors import VaekitError

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
    if out.exists() and not args.overwrite:
        raise VaekitError(
            f"Output file {out} already exists; pass --overwrite to replace it or choose another --out."
        )
    return out
