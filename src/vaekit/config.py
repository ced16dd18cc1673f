"""Run configuration: dataclasses for data, model and training, read from and written to TOML.

A run directory holds the resolved `config.toml`, so a run can be reproduced from it alone. Unknown
sections or keys, wrong types and out-of-range values are `ConfigError`s, never silently ignored.
Each option is declared once, as a field made by `option`: its name and type are the TOML key's, and
its metadata (help text, flag name, parser, choices) makes the `vaekit train` flag. This module
imports no Keras, so the CLI can read a config before choosing a backend.
"""

import dataclasses
import math
import numbers
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class DataConfig:
    # A name (shapes, mnist, fashion_mnist, binarized_mnist, ptb, shakespeare, sentences) or a path
    dataset: str = option("shapes", help="dataset name or path (default {default})")
    # Carved from train when the source has no validation split of its own
    val_fraction: float = option(0.1, help="validation share (default {default})")
    # none | static (sampled once) | dynamic (re-sampled every epoch)
    binarize: str = option("none", choices=BINARIZE_MODES, help="default {default}")
    # Keep at most this many examples per split (quick experiments, tests)
    limit: int | None = option(None, help="at most this many examples per split")
    # Text only (ignored by images): word (whitespace tokens, as PTB) | char
    tokens: str = option(
        "word", choices=TOKEN_LEVELS, help="text: word or char (default {default})"
    )
    # Text only: keep the most frequent training tokens, the 4 specials included (unset: all)
    vocab_size: int | None = option(None, help="text: vocabulary size, specials included")
    # Text only: training tokens seen fewer times become <unk>
    min_count: int = option(1, help="text: rarer training tokens become <unk> (default {default})")
    # Text only: tokens per example; longer lines are truncated and counted (info["truncated"])
    max_length: int = option(50, help="text: tokens per example (default {default})")
    # Tables only: columns read as categories whatever their values (e.g. integer codes)
    categorical: list[str] = option(
        default_factory=list,
        parse=lambda text: parse_names(text, "--categorical"),
        metavar="COL,...",
        help="tables: columns read as categories, e.g. zip,grade",
    )
    # Tables only: columns left out of the model (identifiers, free text)
    ignore: list[str] = option(
        default_factory=list,
        parse=lambda text: parse_names(text, "--ignore"),
        metavar="COL,...",
        help="tables: columns to leave out",
    )
    # Tables only: the column holding labels (kept out of the model's input; colours pictures)
    label: str | None = option(None, metavar="COL", help="tables: the label column")
    # Tables only: a conditional model: encoder and decoder are given this column (categorical
    # or boolean); `vaekit sample --condition VALUE` then generates rows of one value
    condition: str | None = option(
        None, metavar="COL", help="tables: condition the model on this column"
    )

    def validate(self):
        if not self.dataset:
            raise ConfigError("Expected data.dataset to name a dataset or a path. Received: ''")
        if not 0 < self.val_fraction <= 0.5:
            raise ConfigError(
                f"Expected data.val_fraction in (0, 0.5]. Received: {self.val_fraction}"
            )
        if self.binarize not in BINARIZE_MODES:
            raise ConfigError(
                f"Expected data.binarize in {BINARIZE_MODES}. Received: {self.binarize!r}"
            )
        if self.limit is not None and self.limit < 1:
            raise ConfigError(
                f"Expected data.limit >= 1 (or unset for all). Received: {self.limit}"
            )
        if self.tokens not in TOKEN_LEVELS:
            raise ConfigError(f"Expected data.tokens in {TOKEN_LEVELS}. Received: {self.tokens!r}")
        if self.vocab_size is not None and self.vocab_size < MIN_VOCAB_SIZE:
            raise ConfigError(
                f"Expected data.vocab_size >= {MIN_VOCAB_SIZE} (the 4 special tokens and at least "
                f"one more), or unset for all. Received: {self.vocab_size}"
            )
        if self.min_count < 1:
            raise ConfigError(f"Expected data.min_count >= 1. Received: {self.min_count}")
        overlap = sorted(set(self.categorical) & set(self.ignore))
        if self.condition and self.condition in (*self.ignore, self.label):
            overlap.append(self.condition)
        if overlap or (self.label and self.label in self.ignore):
            both = overlap[0] if overlap else self.label
            raise ConfigError(
                f"Expected a column in at most one of data.ignore, data.label and "
                f"data.categorical (or data.condition). Received: {both!r} in two of them"
            )
        if not 1 <= self.max_length <= MAX_TEXT_LENGTH:
            raise ConfigError(
                f"Expected data.max_length in [1, {MAX_TEXT_LENGTH}]. Received: {self.max_length}"
            )


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


@dataclass
class ModelConfig:
    # The preset this config started from (see MODEL_PRESETS); `--model` sets it
    name: str = option("seed", flag=False)
    # Encoder/decoder family (vaekit.models.networks.ARCHITECTURES)
    architecture: str = option(
        "mlp", help="mlp | gated_mlp | conv | resconv (default: the preset's)"
    )
    latent_dim: int = option(10, help="default {default}")  # the recipe's 10-d latent
    hidden_units: list[int] = option(
        default_factory=lambda: [128, 64],
        parse=parse_widths,
        help="encoder widths, e.g. 128,64 (decoder mirrors)",
    )
    activation: str = option("relu", help="hidden activation (default {default})")
    # Logits out of the decoder; BCE summed over values
    likelihood: str = option(
        "bernoulli",
        help="bernoulli | local_ar_bernoulli | gaussian | gaussian_learned | discretized_logistic "
        "(default {default})",
    )
    # The likelihood's own settings, passed to its class: {window = 5} for local_ar_bernoulli,
    # {scale = 0.05} for gaussian. Empty: the class's defaults. The flag's values go over the
    # config's, unless it names another likelihood (vaekit.cli.train._likelihood_options).
    likelihood_options: dict[str, OptionValue] = option(
        default_factory=dict,
        flag="--likelihood-option",
        parse=parse_name_value,
        append=True,
        metavar="NAME=VALUE",
        help="a setting of the likelihood, repeatable: window=5 (local_ar_bernoulli's causal "
        "neighbourhood, default 3), hidden=32 (units of its non-linear term, default 0), "
        "scale=0.05 (gaussian's fixed standard deviation, default 0.1)",
    )
    prior: str = option(
        "standard_normal", help="standard_normal | mog | vampprior (default {default})"
    )
    # 0: the prior's default, 10 / 500
    prior_components: int = option(0, help="mog components / vampprior pseudo-inputs")
    # 1 is the true ELBO (the recipe's KL mean is 1 / latent_dim)
    beta: float = option(1.0, help="KL weight (default 1: the true ELBO)")
    # Training keeps the mean KL at >= this many nats per latent unit
    free_bits: float = option(0.0, help="nats per latent unit the KL may keep free")
    # K > 1 trains on the IWAE bound with K importance samples
    iw_samples: int = option(1, help="train on the IWAE bound with K samples")
    # 2: a hierarchical VAE, z2 -> z1 -> x (Tomczak & Welling's HVAE)
    stochastic_layers: int = option(1, help="2 for a hierarchical VAE (default {default})")
    # Clip of the Gaussians' log-variances: the default only keeps them finite; the VampPrior
    # paper's code uses [-6, 2], which also regularises
    log_var_range: list[float] = option(
        default_factory=lambda: list(LOG_VAR_RANGE),
        parse=parse_log_var_range,
        metavar="LOW,HIGH",
        help="clip of the Gaussians' log-variances (default -30,20; the VampPrior paper's code "
        "uses --log-var-range=-6,2)",
    )

    def validate(self):
        if not 1 <= self.latent_dim <= MAX_WIDTH:
            raise ConfigError(
                f"Expected model.latent_dim in [1, {MAX_WIDTH}]. Received: {self.latent_dim}"
            )
        if not self.hidden_units or any(not 1 <= u <= MAX_WIDTH for u in self.hidden_units):
            raise ConfigError(
                f"Expected model.hidden_units to be a non-empty list of widths in [1, {MAX_WIDTH}]. "
                f"Received: {self.hidden_units}"
            )
        if not math.isfinite(self.beta) or self.beta < 0:
            raise ConfigError(
                f"Expected model.beta to be a finite number >= 0. Received: {self.beta}"
            )
        if not math.isfinite(self.free_bits) or self.free_bits < 0:
            raise ConfigError(
                f"Expected model.free_bits to be a finite number >= 0. Received: {self.free_bits}"
            )
        if not 0 <= self.prior_components <= MAX_COMPONENTS:
            raise ConfigError(
                f"Expected model.prior_components in [0, {MAX_COMPONENTS}]. "
                f"Received: {self.prior_components}"
            )
        if not 1 <= self.iw_samples <= MAX_IW_SAMPLES:
            raise ConfigError(
                f"Expected model.iw_samples in [1, {MAX_IW_SAMPLES}]. Received: {self.iw_samples}"
            )
        check_bound(self.free_bits, self.iw_samples, "model.")
        check_log_var_range(self.log_var_range, "model.log_var_range")
        self.likelihood_options = _options("model.likelihood_options", self.likelihood_options)
        if self.stochastic_layers not in (1, 2):
            raise ConfigError(
                f"Expected model.stochastic_layers to be 1 or 2. Received: {self.stochastic_layers}"
            )


def check_bound(free_bits, iw_samples, prefix=""):
    """Free bits floor the ELBO's KL term, which the IWAE bound does not have: one or the other."""
    if free_bits > 0 and iw_samples > 1:
        raise ConfigError(
            f"Expected {prefix}free_bits = 0 with {prefix}iw_samples > 1 (free bits apply to the "
            f"ELBO, not the IWAE bound). Received: free_bits={free_bits}, iw_samples={iw_samples}"
        )


# Named starting points for `--model`. Each is a set of ModelConfig overrides.
MODEL_PRESETS = {
    # The classic Keras recipe: 784-128-64 ReLU encoder, 10-d latent, mirrored decoder, Bernoulli.
    "seed": {},
    # Tomczak & Welling (2018)'s one-layer VAE: gated 300-300 MLP, 40-d latent.
    "vae": {"architecture": "gated_mlp", "hidden_units": [300, 300], "latent_dim": 40},
    # The same with a VampPrior of 500 learned pseudo-inputs.
    "vampprior": {
        "architecture": "gated_mlp",
        "hidden_units": [300, 300],
        "latent_dim": 40,
        "prior": "vampprior",
    },
    # Their two-stochastic-layer HVAE with a VampPrior on the top layer.
    "hvae_vampprior": {
        "architecture": "gated_mlp",
        "hidden_units": [300, 300],
        "latent_dim": 40,
        "prior": "vampprior",
        "stochastic_layers": 2,
    },
    # Convolutional encoder/decoder (grey or RGB images).
    "conv": {"architecture": "conv", "hidden_units": [32, 64], "latent_dim": 32},
    # Gated residual convolutional networks with a VampPrior: vaekit's strongest image model.
    "resconv_vampprior": {
        "architecture": "resconv",
        "hidden_units": [32, 64],
        "latent_dim": 40,
        "prior": "vampprior",
    },
    # Bowman et al. (2016)'s sentence VAE: a GRU reads the tokens, z sets a GRU decoder's initial
    # state and is fed at every step; word dropout makes the decoder lean on z. Sized for a CPU.
    # Tables: an MLP over the encoded row (values and observed flags), one head per column
    "tabular": {
        "architecture": "mlp",
        "hidden_units": [128, 128],
        "latent_dim": 8,
        "likelihood": "tabular",
    },
    "sentence": {
        "architecture": "recurrent",
        "hidden_units": [256],
        "activation": "tanh",
        "latent_dim": 32,
        "likelihood": "autoregressive_categorical",
        "likelihood_options": {"hidden": 256, "embedding_dim": 128, "word_dropout": 0.25},
    },
    # Its baseline: the same decoder with z ignored, a language model of the same size (its KL
    # falls to zero, so its NLL is the LM's).
    "sentence_lm": {
        "architecture": "recurrent",
        "hidden_units": [256],
        "activation": "tanh",
        "latent_dim": 32,
        "likelihood": "autoregressive_categorical",
        "likelihood_options": {"hidden": 256, "embedding_dim": 128, "condition": False},
    },
}


ENGINES = ("fast", "keras")
SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adam_normgrad")  # their classes: vaekit.training.optimizers.OPTIMIZERS


@dataclass
class TrainConfig:
    epochs: int = option(10, help="default {default}")  # the recipe's 10 epochs
    batch_size: int = option(32, help="default {default}")  # the recipe's batch size
    # Adam's default, as in the recipe
    learning_rate: float = option(1e-3, help="Adam's (default {default})")
    # adam | adam_normgrad (Adam on per-tensor normalised gradients)
    optimizer: str = option(
        "adam",
        choices=OPTIMIZERS,
        help="default {default}; adam_normgrad divides each gradient by its norm (the VampPrior "
        "code's)",
    )
    # Seeds weights, shuffling, sampling noise and binarization
    seed: int = option(0, help="default {default}")
    # fast: data on the device, many steps per compiled call | keras: plain fit
    engine: str = option(
        "fast",
        choices=ENGINES,
        help="fast (data on device, many steps per call; default) or keras (plain fit)",
    )
    # 0: about a tenth of an epoch
    steps_per_call: int = option(0, help="fast engine: steps per compiled call")
    # keras engine (`compile` option)
    steps_per_execution: int = option(1, help="training steps per compiled call")
    # constant | cosine (to 1% by the last epoch)
    learning_rate_schedule: str = option("constant", choices=SCHEDULES, help="default {default}")
    # KL weight grows linearly from 0 to beta over this many epochs
    kl_warmup_epochs: int = option(0, help="grow the KL weight from 0 over N epochs")
    # Fu et al. (2019): the warm-up repeated, so a text decoder cannot settle without z
    kl_cycles: int = option(
        0,
        help="cyclical KL schedule: N cycles over the run, the KL weight growing from 0 to beta "
        "over the first half of each (0 off)",
    )
    # Stop after this many epochs without a better val loss; keep the best (0: off)
    patience: int = option(
        0, help="early stopping: epochs without a better val loss (keeps the best; 0 off)"
    )
    # 0: never
    snapshot_every: int = option(0, help="sample/reconstruction snapshots every N epochs")
    # TensorBoard logs (scalars and snapshots) in RUN_DIR/tensorboard
    tensorboard: bool = option(False, help="write TensorBoard logs (needs TF)")
    # Start from the weights of this run directory's (or .keras file's) model, of the same
    # architecture, instead of a random initialisation: fine-tuning, e.g. on another bound ("": off).
    init_from: str = option(
        "",
        metavar="RUN_OR_MODEL",
        help="start from this run's (or .keras file's) weights: fine-tuning, e.g. on the IWAE "
        "bound (same architecture; the optimizer starts afresh)",
    )

    def validate(self):
        if self.snapshot_every < 0:
            raise ConfigError(
                f"Expected train.snapshot_every >= 0. Received: {self.snapshot_every}"
            )
        if self.engine not in ENGINES:
            raise ConfigError(f"Expected train.engine in {ENGINES}. Received: {self.engine!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"Expected train.optimizer in {OPTIMIZERS}. Received: {self.optimizer!r}"
            )
        if self.learning_rate_schedule not in SCHEDULES:
            raise ConfigError(
                f"Expected train.learning_rate_schedule in {SCHEDULES}. "
                f"Received: {self.learning_rate_schedule!r}"
            )
        for name in ("steps_per_call", "kl_warmup_epochs", "kl_cycles", "patience"):
            if getattr(self, name) < 0:
                raise ConfigError(f"Expected train.{name} >= 0. Received: {getattr(self, name)}")
        for name in ("epochs", "batch_size", "steps_per_execution"):
            if getattr(self, name) < 1:
                raise ConfigError(f"Expected train.{name} >= 1. Received: {getattr(self, name)}")
        if self.kl_warmup_epochs and self.kl_cycles:
            raise ConfigError(
                "Expected one KL schedule: train.kl_warmup_epochs or train.kl_cycles. "
                f"Received: kl_warmup_epochs={self.kl_warmup_epochs}, kl_cycles={self.kl_cycles}"
            )
        if self.kl_cycles > self.epochs:
            raise ConfigError(
                f"Expected train.kl_cycles <= train.epochs (a cycle lasts at least an epoch). "
                f"Received: kl_cycles={self.kl_cycles}, epochs={self.epochs}"
            )
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ConfigError(
                f"Expected train.learning_rate to be a finite number > 0. Received: {self.learning_rate}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"Expected train.seed in [0, {MAX_SEED}]. Received: {self.seed}")


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self):
        for section in (self.data, self.model, self.train):
            section.validate()
        return self


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def model_preset(name):
    """A ModelConfig for a preset name; ConfigError for an unknown one."""
    if not isinstance(name, str) or name not in MODEL_PRESETS:
        raise ConfigError(
            f"Unknown model {name!r}. Expected one of: {', '.join(sorted(MODEL_PRESETS))}."
        )
    return ModelConfig(name=name, **MODEL_PRESETS[name])


# --- typed conversion from TOML / CLI values ---------------------------------------------------------
def _coerce(where, value, hint):
    """Check `value` against a field's type hint; return it converted (int -> float where allowed)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is dict:
        return _options(where, value)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"Expected {where} to be a list. Received: {value!r}")
        return [_coerce(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value)]
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    raise ConfigError(f"Expected {where} to be of type {hint.__name__}. Received: {value!r}")


def _options(where, value):
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


def section_from_dict(cls, values, section):
    """Build a config section from a dict, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in [{section}]: {', '.join(unknown)}. Expected some of: {', '.join(hints)}."
        )
    kwargs = {k: _coerce(f"{section}.{k}", v, hints[k]) for k, v in values.items()}
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
