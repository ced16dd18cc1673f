"""`vaekit train`: a config from defaults, a file and flags; a run directory out."""

import argparse
import dataclasses
import types
import typing
from pathlib import Path

import vaekit
from vaekit import config as config_lib
from vaekit.errors import VaekitError


def add_parser(sub, common):
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
    # One flag per config field, in a group per config section (see config.option).
    for section, cls in config_lib.SECTIONS.items():
        group = p.add_argument_group(f"{section} ([{section}] in --config)")
        if section == "model":
            group.add_argument("--model", help="model preset (default seed)")
        hints = typing.get_type_hints(cls)
        for f in config_fields(cls):
            _add_flag(group, f, hints[f.name])
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


def config_fields(cls):
    """The fields of a config section that have a flag; TypeError for one not declared by
    `config.option` (so that a new field cannot silently go without its flag)."""
    for f in dataclasses.fields(cls):
        cli = f.metadata.get("cli")
        if cli is None:
            raise TypeError(
                f"{cls.__name__}.{f.name} declares no flag: make it with config.option(..., "
                "help=...), or option(..., flag=False) for a field without one."
            )
        if cli["flag"] is not False:
            yield f


def flag_name(f):
    """A field's flag: its metadata's, else `--latent-dim` for `latent_dim`."""
    return f.metadata["cli"]["flag"] or "--" + f.name.replace("_", "-")


def _dest(f):
    return flag_name(f)[2:].replace("-", "_")  # argparse's attribute for the flag


def _add_flag(group, f, hint):
    cli = f.metadata["cli"]
    default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
    kwargs = {"help": cli["help"] and cli["help"].format(default=default)}
    # Types only: ranges are checked once, by the config (the same rules for flags and files).
    # Every default is None: an unset flag keeps the --config file's value.
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # int | None: an int
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    if cli["parse"] is not None:
        kwargs["type"] = _argparse_type(cli["parse"])
    elif hint is bool:
        kwargs.update(action="store_true", default=None)
    elif hint in (int, float, str):
        kwargs["type"] = hint
    else:
        raise TypeError(f"Field {f.name}: type {hint} needs a parser, config.option(parse=...).")
    if cli["append"]:
        kwargs["action"] = "append"
    for key in ("choices", "metavar"):
        if cli[key] is not None:
            kwargs[key] = cli[key]
    group.add_argument(flag_name(f), **kwargs)


def _argparse_type(parse):
    """`parse`, its ValueError's message becoming argparse's one-line error for the flag."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _train_config(args):
    """The RunConfig for `vaekit train`: defaults or --config file, then --model preset, then flags."""
    values = config_lib.read_toml(args.config) if args.config else {}
    if args.model is not None:  # the preset, under the file's own [model] keys
        values["model"] = {**values.get("model", {}), "name": args.model}
    cfg = config_lib.from_dict(values)
    for section, cls in config_lib.SECTIONS.items():
        given = {f.name: getattr(args, _dest(f)) for f in config_fields(cls)}
        if section == "model":  # NAME=VALUE pairs, merged with the config's own options
            given["likelihood_options"] = _likelihood_options(args, cfg.model)
        given = {k: v for k, v in given.items() if v is not None}
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
    out = args.out or "runs/latest"
    return _report(vaekit.train(cfg, out, overwrite=args.overwrite, verbose=args.verbose), cfg)


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
    result = vaekit.resume(args.resume, epochs=args.epochs, verbose=args.verbose)
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
        f"metrics.json, {m.get('samples_file', 'samples.png')}"
    )
    return 0
