"""Each option declared once: `option` (a config field that also declares its `vaekit train`
flag), the parsers of flag values, the bounds, and the typed conversion of TOML values.
"""

import dataclasses
import math
import numbers
import re
import types
import typing
from dataclasses import field

from vaekit.errors import ConfigError

# How grey images become binary: kept (none), sampled once (static), re-sampled every epoch (dynamic).
BINARIZE_MODES = ("none", "static", "dynamic")
# How text becomes tokens: whitespace-separated words (PTB's convention) or single characters.
TOKEN_LEVELS = ("word", "char")
MIN_VOCAB_SIZE = 5  # the four specials (<pad>, <bos>, <eos>, <unk>) and at least one token
MAX_TEXT_LENGTH = 10_000  # tokens per example: a sanity bound (memory), far above sentences


def option(
    default=dataclasses.MISSING,
    *,
    help=None,
    flag=None,
    parse=None,
    choices=None,
    metavar=None,
    append=False,
    default_factory=dataclasses.MISSING,
):
    """A config field that also declares its `vaekit train` flag (vaekit.cli.train makes the flags).

    help: the flag's help text for users; "{default}" in it is replaced by the field's default.
    flag: the flag's name; None derives it from the field's (`latent_dim`: `--latent-dim`); False
        for a field with no flag of its own (`model.name` is set by `--model`).
    parse: text -> value, for a type the annotation does not give (lists, tables); it raises
        ValueError with a message for users. Else the type is the annotation's (int, float, str;
        bool is a switch).
    choices, metavar: argparse's. append: the flag is repeatable and gives a list of parsed values.
    """
    cli = {
        "help": help,
        "flag": flag,
        "parse": parse,
        "choices": choices,
        "metavar": metavar,
        "append": append,
    }
    return field(default=default, default_factory=default_factory, metadata={"cli": cli})


def parse_names(text, flag):
    """`"a,b"` -> `["a", "b"]`: column names, unique, none empty."""
    names = [name.strip() for name in str(text).split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError(f"{flag} expects distinct column names separated by commas, e.g. a,b")
    return names


MAX_WIDTH = 1 << 16  # a sanity bound on layer widths and latent sizes (memory, not maths)
MAX_SEED = 2**32 - 1  # NumPy's and the backends' seeds are 32-bit
MAX_COMPONENTS = 10_000  # prior mixture components / pseudo-inputs
MAX_IW_SAMPLES = 5_000  # training importance samples (each multiplies the decoder's work)


OptionValue = bool | int | float | str  # a value in an options table (TOML scalars)
OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a bare TOML key and a Python argument name

LOG_VAR_RANGE = (-30.0, 20.0)  # variances from 1e-13 to 5e8: ample, and finite in float32


def check_log_var_range(value, name="log_var_range"):
    """`(low, high)` as floats, both finite and low < high; ConfigError otherwise."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(
            f"Expected {name} to be two finite numbers, low < high, such as [-6, 2]. "
            f"Received: {value!r}"
        )
    return low, high


# --- flag values that the annotation's type cannot parse (see `option`) -----------------------------
def parse_widths(text):
    """Comma-separated layer widths: "128,64" -> [128, 64]."""
    try:
        widths = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        widths = []
    if not widths:
        raise ValueError(f"expected comma-separated positive widths like 128,64, received {text!r}")
    return widths


def parse_log_var_range(text):
    """Two finite numbers, low < high: "-6,2" -> [-6.0, 2.0]."""
    try:
        return list(check_log_var_range(text.split(",")))
    except ConfigError:
        raise ValueError(
            f"expected two numbers LOW,HIGH with LOW < HIGH, like -6,2, received {text!r}"
        ) from None


def parse_name_value(text):
    """NAME=VALUE, the value read as an int, a float, true/false or else a string: ("window", 5)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not (sep and OPTION_NAME.fullmatch(name) and raw.strip()):
        raise ValueError(f"expected NAME=VALUE like window=5, received {text!r}")
    raw = raw.strip()
    for kind in (int, float):
        try:
            return name, kind(raw)
        except ValueError:
            pass
    return name, {"true": True, "false": False}.get(raw.lower(), raw)


def check_bound(free_bits, iw_samples, prefix=""):
    """Free bits floor the ELBO's KL term, which the IWAE bound does not have: one or the other."""
    if free_bits > 0 and iw_samples > 1:
        raise ConfigError(
            f"Expected {prefix}free_bits = 0 with {prefix}iw_samples > 1 (free bits apply to the "
            f"ELBO, not the IWAE bound). Received: free_bits={free_bits}, iw_samples={iw_samples}"
        )


def check_tc_weight(tc_weight, iw_samples, prefix=""):
    """beta-TCVAE's weight of the total correlation: a finite number >= 0, on the ELBO only (the
    IWAE bound has no KL term to split). Returns it as a float."""
    value = float(tc_weight)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"Expected {prefix}tc_weight to be a finite number >= 0. Received: {tc_weight}"
        )
    if value != 1.0 and iw_samples > 1:
        raise ConfigError(
            f"Expected {prefix}tc_weight = 1 with {prefix}iw_samples > 1 (the total correlation "
            f"is a part of the ELBO's KL term). Received: tc_weight={tc_weight}, "
            f"iw_samples={iw_samples}"
        )
    return value


ENGINES = ("fast", "keras")
# How training uses the devices: one, or each batch split over all local ones (JAX).
DISTRIBUTE_MODES = ("none", "data_parallel")
SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adam_normgrad")  # their classes: vaekit.training.optimizers.OPTIMIZERS


# --- typed conversion from TOML / CLI values ---------------------------------------------------------
def coerce(where, value, hint):
    """Check `value` against a field's type hint; return it converted (int -> float where allowed)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is dict:
        return check_options_table(where, value)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"Expected {where} to be a list. Received: {value!r}")
        return [coerce(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value)]
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    raise ConfigError(f"Expected {where} to be of type {hint.__name__}. Received: {value!r}")


def check_options_table(where, value):
    """An options table, checked and in plain Python types: names (like `window`) to finite
    numbers, booleans or strings (NumPy numbers become int and float, so TOML can hold them)."""
    if not isinstance(value, dict):
        raise ConfigError(
            f"Expected {where} to be a table such as {{window = 5}}. Received: {value!r}"
        )
    options = {}
    for key, item in value.items():
        if not (isinstance(key, str) and OPTION_NAME.fullmatch(key)):
            raise ConfigError(
                f"Expected {where} keys to be names such as window. Received: {key!r}"
            )
        if isinstance(item, (bool, str)):
            options[key] = item
        elif isinstance(item, numbers.Integral):
            options[key] = int(item)
        elif isinstance(item, numbers.Real) and math.isfinite(item):
            options[key] = float(item)
        else:
            raise ConfigError(
                f"Expected {where}.{key} to be a finite number, a boolean or a string. "
                f"Received: {item!r}"
            )
    return options
