"""The config sections: `[data]`, `[model]` and `[train]` of a run's `config.toml`, and `RunConfig`."""

import math
from dataclasses import dataclass, field

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
    SCHEDULES,
    TOKEN_LEVELS,
    OptionValue,
    check_bound,
    check_log_var_range,
    check_options_table,
    check_tc_weight,
    option,
    parse_log_var_range,
    parse_name_value,
    parse_names,
    parse_widths,
)
from vaekit.errors import ConfigError


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
    # beta-TCVAE: the total correlation of q(z) weighted this instead of 1 (1: the plain ELBO)
    tc_weight: float = option(1.0, help="weight of the KL's total-correlation part (beta-TCVAE)")
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
        check_tc_weight(self.tc_weight, self.iw_samples, "model.")
        if self.tc_weight != 1.0 and self.stochastic_layers == 2:
            raise ConfigError(
                f"Expected model.tc_weight = 1 for a hierarchical VAE (stochastic_layers = 2). "
                f"Received: tc_weight={self.tc_weight}"
            )
        check_log_var_range(self.log_var_range, "model.log_var_range")
        self.likelihood_options = check_options_table(
            "model.likelihood_options", self.likelihood_options
        )
        if self.stochastic_layers not in (1, 2):
            raise ConfigError(
                f"Expected model.stochastic_layers to be 1 or 2. Received: {self.stochastic_layers}"
            )


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
    # data_parallel: Keras' DataParallel on JAX, each batch split over the local devices (the
    # fast engine); multi-host when keras.distribution.initialize's environment variables are set
    distribute: str = option(
        "none",
        choices=DISTRIBUTE_MODES,
        help="data_parallel (JAX): replicate the model and split each batch over the local "
        "devices (batch size divisible by their number); several hosts join when "
        "KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's IP:PORT), "
        "KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID are set "
        "(default {default})",
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
        if self.distribute not in DISTRIBUTE_MODES:
            raise ConfigError(
                f"Expected train.distribute in {DISTRIBUTE_MODES}. Received: {self.distribute!r}"
            )
        if self.distribute != "none" and self.engine != "fast":
            # Keras' fit would split every batch, and an epoch's smaller last batch rarely divides
            # by the device count; the fast engine pads it to full size.
            raise ConfigError(
                f"Expected train.engine = 'fast' with train.distribute = {self.distribute!r} (it "
                f"splits the padded last batch evenly). Received: engine={self.engine!r}"
            )
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
