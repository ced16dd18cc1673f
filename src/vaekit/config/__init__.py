"""Run configuration: dataclasses for data, model and training, read from and written to TOML.

A run directory holds the resolved `config.toml`, so a run can be reproduced from it alone. Unknown
sections or keys, wrong types and out-of-range values are `ConfigError`s, never silently ignored.
Each option is declared once, as a field made by `option`: its name and type are the TOML key's, and
its metadata (help text, flag name, parser, choices) makes the `vaekit train` flag. This package
imports no Keras, so the CLI can read a config before choosing a backend.

- `options`: `option`, the flag parsers, the bounds and the typed conversion of values;
- `sections`: `DataConfig`, `ModelConfig`, `TrainConfig` and `RunConfig`;
- `presets`: `MODEL_PRESETS` and `model_preset`, the starting points of `--model`;
- `toml`: `load`, `from_dict`, `to_toml` and `update_section`.

Everything is importable from `vaekit.config` itself.
"""

from vaekit.config.options import (
    BINARIZE_MODES,
    DISTRIBUTE_MODES,
    ENGINES,
    LOG_VAR_RANGE,
    MAX_COMPONENTS,
    MAX_IW_SAMPLES,
    MAX_SEED,
    MAX_TEXT_LENGTH,
    MAX_WIDTH,
    MIN_VOCAB_SIZE,
    OPTIMIZERS,
    OPTION_NAME,
    SCHEDULES,
    TOKEN_LEVELS,
    OptionValue,
    check_bound,
    check_log_var_range,
    check_options_table,
    check_tc_weight,
    coerce,
    option,
    parse_log_var_range,
    parse_name_value,
    parse_names,
    parse_widths,
)
from vaekit.config.presets import MODEL_PRESETS, model_preset
from vaekit.config.sections import SECTIONS, DataConfig, ModelConfig, RunConfig, TrainConfig
from vaekit.config.toml import (
    from_dict,
    load,
    read_toml,
    section_from_dict,
    to_toml,
    update_section,
)
from vaekit.errors import ConfigError

__all__ = [
    "BINARIZE_MODES",
    "DISTRIBUTE_MODES",
    "ENGINES",
    "LOG_VAR_RANGE",
    "MAX_COMPONENTS",
    "MAX_IW_SAMPLES",
    "MAX_SEED",
    "MAX_TEXT_LENGTH",
    "MAX_WIDTH",
    "MIN_VOCAB_SIZE",
    "MODEL_PRESETS",
    "OPTIMIZERS",
    "OPTION_NAME",
    "SCHEDULES",
    "SECTIONS",
    "TOKEN_LEVELS",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OptionValue",
    "RunConfig",
    "TrainConfig",
    "check_bound",
    "check_tc_weight",
    "check_log_var_range",
    "check_options_table",
    "coerce",
    "from_dict",
    "load",
    "model_preset",
    "option",
    "parse_log_var_range",
    "parse_name_value",
    "parse_names",
    "parse_widths",
    "read_toml",
    "section_from_dict",
    "to_toml",
    "update_section",
]
