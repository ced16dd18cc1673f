"""Commands that run a trained model over every example of a dataset, whatever its kind: `score`
(how unusual each example is, to a CSV or Parquet table) and `embed` (its posterior, to `.npy`, CSV
or Parquet); and, for tables, `impute` (missing cells filled from the posterior). Examples are read whole, in the source's own order (`vaekit.load_examples`), so row i
of the output is example i of the input."""

import vaekit
from vaekit.cli.args import add_importance_samples, output_path, seed_int
from vaekit.errors import VaekitError


def add_parsers(sub, common):
    p = sub.add_parser(
        "score",
        parents=[common],
        help="each example's NLL (higher: more unusual) to a CSV or Parquet table",
    )
    _data_args(p)
    add_importance_samples(p, default=1000)
    p.add_argument("--seed", type=seed_int, default=0, help="default 0")
    p.add_argument("--out", help="a .csv or .parquet file to write (default RUN_DIR/scores.csv)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--verbose", type=int, choices=(0, 1), default=1, help="progress bar")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "embed",
        parents=[common],
        help="each example's posterior means and log-variances to .npy, CSV or Parquet",
    )
    _data_args(p)
    p.add_argument(
        "--out",
        help="a .npy (n x 2*latent_dim: means, then log-variances), .csv or .parquet file to "
        "write (default RUN_DIR/embeddings.npy)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser(
        "impute",
        parents=[common],
        help="a table's missing cells filled from the posterior, to a CSV or Parquet table",
    )
    _data_args(p)
    p.add_argument("--out", help="a .csv or .parquet file to write (default RUN_DIR/imputed.csv)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_impute)


def cmd_score(args):
    import numpy as np  # not at the top: `vaekit --help` imports no numpy

    out = output_path(args, args.run, "scores.csv")
    vaekit.check_table_path(out)
    model = vaekit.load_model(args.run)
    x, y, spec = load_examples(args, model)
    scores = vaekit.score_examples(
        model, x, args.importance_samples, seed=args.seed, progress=args.verbose > 0
    )
    table = {
        "row": np.arange(len(x)),
        "score": scores["score"],
        "reconstruction": scores["reconstruction"],
        "kl": scores["kl"],
    }
    if y is not None and y.ndim == 1 and y.dtype.kind in "iu":
        table["label"] = y
    for name, values in scores.get("columns", {}).items():
        table[f"nll_{name}"] = values
    vaekit.write_table(table, out)
    top = int(np.argmax(scores["score"]))
    print(f"Wrote the scores of {len(x)} examples of {spec} to {out}")
    print(
        f"n={len(x)}: mean score {scores['score'].mean():.2f} nats "
        f"(K={args.importance_samples}); the highest {scores['score'][top]:.2f} at row {top}"
    )
    return 0


def cmd_embed(args):
    out = output_path(args, args.run, "embeddings.npy")
    fmt = vaekit.check_table_path(out, embeddings=True)
    model = vaekit.load_model(args.run)
    x, _, spec = load_examples(args, model)
    mean, log_var = model.encode(x)
    vaekit.write_embeddings(mean, log_var, out)
    layout = (
        f"one ({len(x)}, {2 * mean.shape[1]}) array: means, then log-variances"
        if fmt == "npy"
        else f"columns mean_0..mean_{mean.shape[1] - 1}, log_var_0..log_var_{mean.shape[1] - 1}"
    )
    print(f"Wrote the posteriors of {len(x)} examples of {spec} to {out} ({layout})")
    return 0


def cmd_impute(args):
    out = output_path(args, args.run, "imputed.csv")
    vaekit.check_table_path(out)
    model = vaekit.load_model(args.run)
    if vaekit.kind_of(model) != "table":
        raise VaekitError(
            f"vaekit impute fills missing table cells; expected a table model. Received a "
            f"{vaekit.kind_of(model)} model ({args.run})."
        )
    x, _, spec = load_examples(args, model)
    raw = vaekit.read_table(spec)  # observed cells are copied from here, exactly as written
    filled = vaekit.as_rows(model, vaekit.impute(model, x), observed=False)
    codec = vaekit.model_codec(model)
    flags = x[:, codec.width :] > 0.5  # (n, columns): observed cells
    table, count = {}, 0
    for name, cells in raw.items():
        if name not in filled:  # a column the model leaves out (ignored, the label)
            table[name] = [_as_written(c) for c in cells]
            continue
        observed = flags[:, codec.names.index(name)]
        count += int((~observed).sum())
        table[name] = [
            _as_written(c) if seen else new
            for c, seen, new in zip(cells, observed, filled[name], strict=True)
        ]
    vaekit.write_table(table, out)
    print(f"Filled {count} missing cells of {len(x)} rows of {spec}; wrote {out}")
    return 0


def _as_written(cell):
    """A raw cell for the output: a number written as text (CSV) becomes that number again, so
    `-1.5` is written as a number, not as text guarded against formulas."""
    if not isinstance(cell, str):
        return cell
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def load_examples(args, model):
    """`(x, y, spec)`: every example of --dataset (default: the run's dataset), in its order,
    read with the model's codec and checked against the model's data shape."""
    spec = args.dataset
    if spec is None:
        run_cfg = vaekit.load_run_config(args.run)
        if run_cfg is None:
            raise VaekitError(
                "No --dataset given and no config.toml beside the model; pass --dataset SPEC."
            )
        spec = run_cfg.data.dataset
    x, y = vaekit.load_examples(spec, vaekit.model_codec(model))
    if tuple(x.shape[1:]) != tuple(model.data_shape):
        raise VaekitError(
            f"Dataset {spec} has examples of shape {tuple(x.shape[1:])}; the model expects "
            f"{tuple(model.data_shape)}."
        )
    if not len(x):
        raise VaekitError(f"Dataset {spec} has no examples; expected at least one.")
    return x, y, spec


def _data_args(p):
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.add_argument(
        "--dataset",
        help="dataset name or path, read whole in its own order (default: the run's dataset)",
    )
