"""Configs from and to TOML: unknown sections or keys and wrong types are `ConfigError`s."""

import dataclasses
import tomllib
import typing
from pathlib import Path

from vaekit.config.options import coerce
from vaekit.config.presets import model_preset
from vaekit.config.sections import SECTIONS, RunConfig
from vaekit.errors import ConfigError


def section_from_dict(cls, values, section):
    """Build a config section from a dict, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in [{section}]: {', '.join(unknown)}. Expected some of: {', '.join(hints)}."
        )
    kwargs = {k: coerce(f"{section}.{k}", v, hints[k]) for k, v in values.items()}
    return cls(**kwargs)


def update_section(obj, section, values):
    """A copy of a section with `values` (already-typed overrides, e.g. from CLI flags) applied."""
    return section_from_dict(type(obj), {**dataclasses.asdict(obj), **values}, section)


def from_dict(values):
    """A validated RunConfig from a nested dict (a parsed TOML file)."""
    if not isinstance(values, dict):
        raise ConfigError(f"Expected a table of sections. Received: {type(values).__name__}")
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown section(s) {', '.join(unknown)}. Expected some of: {', '.join(SECTIONS)}."
        )
    parts = {}
    for name, cls in SECTIONS.items():
        table = values.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"Expected [{name}] to be a table. Received: {table!r}")
        if name == "model" and "name" in table:
            base = dataclasses.asdict(model_preset(table["name"]))
            table = {**base, **table}
        parts[name] = section_from_dict(cls, table, name)
    return RunConfig(**parts).validate()


def load(path):
    """Read and validate a TOML config file."""
    return from_dict(read_toml(path))


def read_toml(path):
    """The tables of a TOML file, unvalidated; ConfigError if it cannot be read or parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file {path} is not UTF-8 text; expected a TOML file.") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from None
    return values


# --- writing -----------------------------------------------------------------------------------------
_TOML_ESCAPES = {chr(i): f"\\u{i:04x}" for i in [*range(0x20), 0x7F]}
_TOML_ESCAPES.update({"\\": "\\\\", '"': '\\"'})


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):  # a TOML basic string: escape \\, " and control characters
        return '"' + "".join(_TOML_ESCAPES.get(c, c) for c in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table; its keys are checked names (see _options)
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"Cannot write {value!r} to TOML")


def to_toml(config):
    """The config as TOML text (keys whose value is None are left out: TOML has no null)."""
    lines = []
    for name, table in dataclasses.asdict(config).items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)
