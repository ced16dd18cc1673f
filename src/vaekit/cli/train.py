"""`vaekit train`: a config from defaults, a file and flags; a run directory out."""

import dataclasses
from pathlib import Path

from vaekit import config as config_lib
from vaekit.cli.args import log_var_range, option, units
from vaekit.errors import VaekitError


def add_parser(sub, common):
    d = config_lib.RunConfig()
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train a VAE and write a run directory",
        description="Train a VAE. Flags override --config; unset flags keep its values.",
    )
    p.add_argument("--config", help="TOML config file (see --print-config)")
    p.add_argument(
        "--print-config", action="store_true", help="print the resolved config as TOML and exit"
    )
    p.add_argument("--dataset", help=f"dataset name or path (default {d.data.dataset})")
    p.add_argument("--model", help="model preset (default seed)")
    # Types only: ranges are checked once, by the config (the same rules for flags and files).
    p.add_argument("--epochs", type=int, help=f"default {d.train.epochs}")
    p.add_argument("--batch-size", type=int, help=f"default {d.train.batch_size}")
    p.add_argument("--learning-rate", type=float, help=f"Adam's (default {d.train.learning_rate})")
    p.add_argument("--latent-dim", type=int, help=f"default {d.model.latent_dim}")
    p.add_argument(
        "--hidden-units", type=units, help="encoder widths, e.g. 128,64 (decoder mirrors)"
    )
    p.add_argument("--activation", help=f"hidden activation (default {d.model.activation})")
    p.add_argument(
        "--architecture", help="mlp | gated_mlp | conv | resconv (default: the preset's)"
    )
    p.add_argument(
        "--likelihood",
        help="bernoulli | local_ar_bernoulli | gaussian | gaussian_learned | discretized_logistic "
        "(default bernoulli)",
    )
    p.add_argument(
        "--likelihood-option",
        type=option,
        action="append",
        metavar="NAME=VALUE",
        help="a setting of the likelihood, repeatable: window=5 (local_ar_bernoulli's causal "
        "neighbourhood, default 3), hidden=32 (units of its non-linear term, default 0), "
        "scale=0.05 (gaussian's fixed standard deviation, default 0.1)",
    )
    p.add_argument("--prior", help="standard_normal | mog | vampprior (default standard_normal)")
    p.add_argument("--prior-components", type=int, help="mog components / vampprior pseudo-inputs")
    p.add_argument("--stochastic-layers", type=int, help="2 for a hierarchical VAE (default 1)")
    p.add_argument(
        "--log-var-range",
        type=log_var_range,
        metavar="LOW,HIGH",
        help="clip of the Gaussians' log-variances (default -30,20; the VampPrior paper's code "
        "uses --log-var-range=-6,2)",
    )
    p.add_argument("--beta", type=float, help="KL weight (default 1: the true ELBO)")
    p.add_argument("--free-bits", type=float, help="nats per latent unit the KL may keep free")
    p.add_argument("--iw-samples", type=int, help="train on the IWAE bound with K samples")
    p.add_argument("--kl-warmup-epochs", type=int, help="grow the KL weight from 0 over N epochs")
    p.add_argument(
        "--learning-rate-schedule", choices=config_lib.SCHEDULES, help="default constant"
    )
    p.add_argument(
        "--optimizer",
        choices=config_lib.OPTIMIZERS,
        help="default adam; adam_normgrad divides each gradient by its norm (the VampPrior code's)",
    )
    p.add_argument(
        "--patience",
        type=int,
        help="early stopping: epochs without a better val loss (keeps the best; 0 off)",
    )
    p.add_argument(
        "--engine",
        choices=config_lib.ENGINES,
        help="fast (data on device, many steps per call; default) or keras (plain fit)",
    )
    p.add_argument("--steps-per-call", type=int, help="fast engine: steps per compiled call")
    p.add_argument("--seed", type=int, help=f"default {d.train.seed}")
    p.add_argument(
        "--val-fraction", type=float, help=f"validation share (default {d.data.val_fraction})"
    )
    p.add_argument("--binarize", choices=config_lib.BINARIZE_MODES, help="default none")
    p.add_argument("--limit", type=int, help="at most this many examples per split")
    p.add_argument("--steps-per-execution", type=int, help="training steps per compiled call")
    p.add_argument(
        "--snapshot-every", type=int, help="sample/reconstruction snapshots every N epochs"
    )
    p.add_argument(
        "--tensorboard", action="store_true", default=None, help="write TensorBoard logs (needs TF)"
    )
    p.add_argument(
        "--init-from",
        metavar="RUN_OR_MODEL",
        help="start from this run's (or .keras file's) weights: fine-tuning, e.g. on the IWAE "
        "bound (same architecture; the optimizer starts afresh)",
    )
    p.add_argument("--out", help="run directory to write (default runs/latest)")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="allow writing into a non-empty run directory"
    )
    p.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras progress output"
    )
    p.set_defaults(func=cmd_train)


def _train_config(args):
    """The RunConfig for `vaekit train`: defaults or --config file, then --model preset, then flags."""
    values = config_lib.read_toml(args.config) if args.config else {}
    if args.model is not None:  # the preset, under the file's own [model] keys
        values["model"] = {**values.get("model", {}), "name": args.model}
    cfg = config_lib.from_dict(values)
    flags = {
        "data": {
            "dataset": args.dataset,
            "val_fraction": args.val_fraction,
            "binarize": args.binarize,
            "limit": args.limit,
        },
        "model": {
            "latent_dim": args.latent_dim,
            "hidden_units": args.hidden_units,
            "activation": args.activation,
            "beta": args.beta,
            "architecture": args.architecture,
            "likelihood": args.likelihood,
            "likelihood_options": _likelihood_options(args, cfg.model),
            "prior": args.prior,
            "prior_components": args.prior_components,
            "stochastic_layers": args.stochastic_layers,
            "log_var_range": args.log_var_range,
            "free_bits": args.free_bits,
            "iw_samples": args.iw_samples,
        },
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "seed": args.seed,
            "steps_per_execution": args.steps_per_execution,
            "engine": args.engine,
            "steps_per_call": args.steps_per_call,
            "kl_warmup_epochs": args.kl_warmup_epochs,
            "learning_rate_schedule": args.learning_rate_schedule,
            "optimizer": args.optimizer,
            "patience": args.patience,
            "snapshot_every": args.snapshot_every,
            "tensorboard": args.tensorboard,
            "init_from": args.init_from,
        },
    }
    for section, values in flags.items():
        given = {k: v for k, v in values.items() if v is not None}
        setattr(cfg, section, config_lib.update_section(getattr(cfg, section), section, given))
    return cfg.validate()


def _likelihood_options(args, model):
    """The config's likelihood options with --likelihood-option's over them; None to keep them.
    Another --likelihood starts from none: the file's options were its likelihood's."""
    changed = args.likelihood is not None and args.likelihood != model.likelihood
    if not (args.likelihood_option or changed):
        return None
    return {**({} if changed else model.likelihood_options), **dict(args.likelihood_option or [])}


def cmd_train(args):
    if args.resume is not None:
        return _resume(args)
    cfg = _train_config(args)
    if args.print_config:
        print(config_lib.to_toml(cfg), end="")
        return 0
    from vaekit.training import train

    out = args.out or "runs/latest"
    return _report(train(cfg, out, overwrite=args.overwrite, verbose=args.verbose), cfg)


def _resume(args):
    """`vaekit train --resume RUN_DIR [--epochs N]`: every other option comes from the run."""
    given = [
        name
        for name, value in vars(args).items()
        if name not in ("resume", "epochs", "verbose", "func", "command", "backend", "debug", "out")
        and value not in (None, False)
    ]
    if given:
        raise VaekitError(
            f"--resume continues a run with its own config; drop --{given[0].replace('_', '-')} "
            f"(only --epochs may change)."
        )
    from vaekit.training import resume

    result = resume(args.resume, epochs=args.epochs, verbose=args.verbose)
    return _report(result, config_lib.load(Path(args.resume) / "config.toml"))


def _model_label(model):
    """The preset's name, followed by the settings that differ from the preset's (lists written as
    their flags take them): `seed (latent_dim=3, hidden_units=16,8)`."""
    try:
        preset = config_lib.model_preset(model.name)
    except VaekitError:  # not a preset any more: the name alone (the run itself is done)
        return model.name
    changed = []
    for field in dataclasses.fields(model):
        value = getattr(model, field.name)
        if value != getattr(preset, field.name):
            if isinstance(value, list):
                value = ",".join(map(str, value))
            elif isinstance(value, dict):  # likelihood_options: as --likelihood-option takes them
                value = ",".join(f"{k}={v}" for k, v in value.items())
            changed.append(f"{field.name}={value}")
    return f"{model.name} ({', '.join(changed)})" if changed else model.name


def _report(result, cfg):
    m = result.metrics
    figures = ", ".join(
        f"{split} loss {m[split]['loss']:.3f} (reconstruction {m[split]['reconstruction']:.3f}, "
        f"KL {m[split]['kl']:.3f})"
        for split in ("val", "test")
        if split in m
    )
    epochs = f"{m['epochs']} epochs"
    # An early-stopped run did not use its budget: say what ran, and which weights it kept.
    if m.get("stopped_early_at_epoch"):
        epochs = (
            f"{m['stopped_early_at_epoch']} of {m['epochs']} epochs (early stopping; "
            f"the weights are the best epoch's, {m['best_epoch']})"
        )
    print(
        f"Trained {_model_label(cfg.model)} on {m['dataset']} for {epochs} in "
        f"{m['train_seconds']:.1f} s ({m['backend']}): {figures}"
    )
    print(
        f"Wrote run directory {result.run_dir}: config.toml, model.keras, history.csv, "
        f"metrics.json, samples.png"
    )
    return 0
