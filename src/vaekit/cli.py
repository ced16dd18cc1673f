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
from pathlib import Path

import vaekit
from vaekit import config as config_lib
from vaekit.errors import TrainingInterrupted, VaekitError

BACKENDS = ("jax", "tensorflow", "torch")
DEFAULT_BACKEND = "jax"  # fastest of the three for vaekit's models on CPU (see README)


# --- argument types: bad values become one-line argparse errors (exit 2) -----------------------------
def _bounded(kind, low, high=None):
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


def _units(text):
    try:
        units = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        units = []
    if not units:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive widths like 128,64, received {text!r}"
        )
    return units


positive_int = _bounded(int, 1)
seed_int = _bounded(int, 0, config_lib.MAX_SEED)


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (what was wrong, where to look) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --- commands ----------------------------------------------------------------------------------------
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
        },
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "seed": args.seed,
            "steps_per_execution": args.steps_per_execution,
        },
    }
    for section, values in flags.items():
        given = {k: v for k, v in values.items() if v is not None}
        setattr(cfg, section, config_lib.update_section(getattr(cfg, section), section, given))
    return cfg.validate()


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


def _report(result, cfg):
    m = result.metrics
    figures = ", ".join(
        f"{split} loss {m[split]['loss']:.3f} (reconstruction {m[split]['reconstruction']:.3f}, "
        f"KL {m[split]['kl']:.3f})"
        for split in ("val", "test")
        if split in m
    )
    print(
        f"Trained {cfg.model.name} on {m['dataset']} for {m['epochs']} epochs in "
        f"{m['train_seconds']:.1f} s ({m['backend']}): {figures}"
    )
    print(
        f"Wrote run directory {result.run_dir}: config.toml, model.keras, history.csv, "
        f"metrics.json, samples.png"
    )
    return 0


def _output_path(args, run, default_name):
    """--out, or a default next to the model; refuse to replace an existing file without --overwrite."""
    if args.out:
        out = Path(args.out)
    else:
        run = Path(run)
        out = (run if run.is_dir() else run.parent) / default_name
    if out.is_dir():
        raise VaekitError(f"Output path {out} is a directory; expected a .png file path for --out.")
    if out.exists() and not args.overwrite:
        raise VaekitError(
            f"Output file {out} already exists; pass --overwrite to replace it or choose another --out."
        )
    return out


def cmd_sample(args):
    from vaekit.plots import save_image_grid
    from vaekit.saving import load_model

    out = _output_path(args, args.run, f"sample-seed{args.seed}.png")
    model = load_model(args.run)
    images = model.sample(args.num, seed=args.seed, temperature=args.temperature)
    ncols = min(args.ncols, args.num) if args.ncols else None  # no empty columns
    save_image_grid(images, out, ncols=ncols)
    print(f"Wrote {args.num} samples to {out}")
    return 0


def cmd_reconstruct(args):
    from vaekit.data import load_dataset
    from vaekit.plots import save_reconstruction_grid
    from vaekit.saving import load_model, load_run_config

    out = _output_path(args, args.run, f"reconstruct-{args.split}.png")
    run_cfg = load_run_config(args.run)
    if args.dataset is None and run_cfg is None:
        raise VaekitError(
            "No --dataset given and no config.toml beside the model; pass --dataset SPEC."
        )
    model = load_model(args.run)
    # The run's own data options, so that e.g. the test split holds exactly the images training never saw.
    data_cfg = run_cfg.data if run_cfg else config_lib.DataConfig()
    seed = run_cfg.train.seed if run_cfg else 0
    if args.dataset is not None and args.dataset != data_cfg.dataset:
        data_cfg = config_lib.DataConfig(dataset=args.dataset, val_fraction=data_cfg.val_fraction)
    data = load_dataset(
        data_cfg.dataset,
        val_fraction=data_cfg.val_fraction,
        binarize="static" if data_cfg.binarize == "static" else "none",
        limit=data_cfg.limit,
        seed=seed,
    )
    if tuple(data.shape) != tuple(model.data_shape):
        raise VaekitError(
            f"Dataset {data_cfg.dataset} has images of shape {tuple(data.shape)}; "
            f"the model expects {tuple(model.data_shape)}."
        )
    x, _ = data.split(args.split)
    x = x[: args.num]
    save_reconstruction_grid(x, model.reconstruct(x), out)
    print(
        f"Wrote {len(x)} originals ({args.split} split of {data.name}) above their reconstructions to {out}"
    )
    return 0


def cmd_info(args):
    from vaekit.saving import load_model, load_run_config, resolve_model_path

    path = resolve_model_path(args.run)
    cfg = load_run_config(args.run)
    model = load_model(path)
    print(f"Model: {path}")
    if cfg is not None:
        print("\n# config.toml\n" + config_lib.to_toml(cfg))
    metrics_file = path.parent / "metrics.json"
    if metrics_file.is_file():
        print("# metrics.json\n" + metrics_file.read_text(encoding="utf-8"))
    print(
        f"data shape {model.data_shape}, latent_dim {model.latent_dim}, "
        f"likelihood {model.likelihood.name}, prior {model.prior.name}, beta {model.beta}"
    )
    model.summary()
    model.encoder.summary()
    model.decoder.summary()
    return 0


# --- parser ------------------------------------------------------------------------------------------
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

    parser = _Parser(
        prog="vaekit",
        parents=[common],
        description="Variational autoencoders on Keras 3: train, sample, reconstruct, inspect.",
    )
    parser.add_argument("--version", action="version", version=f"vaekit {vaekit.__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

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
        "--hidden-units", type=_units, help="encoder widths, e.g. 128,64 (decoder mirrors)"
    )
    p.add_argument("--activation", help=f"hidden activation (default {d.model.activation})")
    p.add_argument("--beta", type=float, help="KL weight (default 1: the true ELBO)")
    p.add_argument("--seed", type=int, help=f"default {d.train.seed}")
    p.add_argument(
        "--val-fraction", type=float, help=f"validation share (default {d.data.val_fraction})"
    )
    p.add_argument("--binarize", choices=config_lib.BINARIZE_MODES, help="default none")
    p.add_argument("--limit", type=int, help="at most this many examples per split")
    p.add_argument("--steps-per-execution", type=int, help="training steps per compiled call")
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

    p = sub.add_parser("sample", parents=[common], help="decode prior draws into an image grid")
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.add_argument("--num", type=_bounded(int, 1, 10000), default=64, help="images (default 64)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument(
        "--temperature",
        type=_bounded(float, 0, 100),
        default=1.0,
        help="scale of the prior draws (default 1)",
    )
    p.add_argument(
        "--ncols", type=_bounded(int, 1, 10000), help="images per row (default: a square grid)"
    )
    p.add_argument("--out", help="PNG to write (default RUN_DIR/sample-seedS.png)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "reconstruct", parents=[common], help="originals above their reconstructions"
    )
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.add_argument("--dataset", help="dataset name or path (default: the run's dataset)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--num", type=_bounded(int, 1, 1000), default=20, help="images (default 20)")
    p.add_argument("--out", help="PNG to write (default RUN_DIR/reconstruct-SPLIT.png)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser(
        "info", parents=[common], help="print a run's config, metrics and model summary"
    )
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.set_defaults(func=cmd_info)
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
    with _stderr_silenced(name == "tensorflow"):
        import keras  # noqa: F401
    return name


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
        return args.func(args)
    except TrainingInterrupted as exc:
        print(f"vaekit {args.command}: {exc}", file=sys.stderr)
        return 130
    except VaekitError as exc:
        print(f"vaekit {args.command}: error: {exc}", file=sys.stderr)
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


__all__ = ["main", "build_parser", "select_backend"]
