"""`vaekit disentanglement`: MIG, SAP, the FactorVAE score and DCI against a dataset's factors."""

import json

import vaekit
from vaekit import atomic
from vaekit.cli.args import bounded, output_path, seed_int
from vaekit.cli.pictures import load_run_data, spread
from vaekit.errors import VaekitError


def add_parser(sub, common):
    p = sub.add_parser(
        "disentanglement",
        parents=[common],
        help="MIG, SAP, FactorVAE score and DCI against ground-truth factors (e.g. shapes)",
    )
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.add_argument(
        "--dataset",
        help="dataset name or path with factor (or class) labels (default: the run's dataset)",
    )
    p.add_argument("--split", choices=("train", "val", "test"), default="test", help="default test")
    p.add_argument(
        "--num",
        type=bounded(int, 10),
        default=2000,
        help="examples, spread evenly over the split (default 2000; more: less biased MIG)",
    )
    p.add_argument("--seed", type=seed_int, default=0, help="default 0")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--out", help="also write the scores to this JSON file (default: none)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_disentanglement)


def cmd_disentanglement(args):
    out = output_path(args, args.run, "disentanglement.json") if args.out else None
    model = vaekit.load_model(args.run)
    kind = vaekit.kind_of(model)
    if kind != "images":
        raise VaekitError(
            f"vaekit disentanglement compares latents with ground-truth factors of images; "
            f"expected an image model. Received a {kind} model ({args.run})."
        )
    data = load_run_data(args, model)
    x, y = data.split(args.split)
    if y is None:
        raise VaekitError(
            f"Dataset {data.name} has no labels; disentanglement needs factor labels "
            "(e.g. --dataset shapes) or class labels."
        )
    keep = spread(len(x), args.num)
    x, y = x[keep], y[keep]
    names = ["class"] if y.ndim == 1 else data.info.get("label_names")
    if names is not None and len(names) != (1 if y.ndim == 1 else y.shape[1]):
        names = None  # class names of some other labelling: number the factors instead
    result = vaekit.disentanglement_scores(model, x, y, factor_names=names, seed=args.seed)
    result = {"dataset": data.name, "split": args.split, "seed": args.seed, **result}
    if out is not None:
        atomic.write_text(out, json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result))
        return 0
    print(summary(result))
    if out is not None:
        print(f"Wrote {out}")
    return 0


def summary(result):
    """The scores as a few lines of text: the four metrics, then a table per factor."""

    def number(value):
        return "n/a" if value is None else f"{value:.3f}"

    factor_vae = number(result["factor_vae"])
    if result["factor_vae"] is None:
        factor_vae += " (one factor)"
    else:
        factor_vae += (
            f" (chance {result['factor_vae_chance']:.3f}, "
            f"{result['factor_vae_active_dims']} active dims)"
        )
    lines = [
        f"{result['dataset']} {result['split']} (n={result['n']}, latent {result['latent_dim']}): "
        f"MIG {number(result['mig'])}, SAP {number(result['sap'])}, FactorVAE {factor_vae}",
        f"DCI: disentanglement {number(result['dci_disentanglement'])}, completeness "
        f"{number(result['dci_completeness'])}, informativeness "
        f"{number(result['dci_informativeness'])}",
    ]
    width = max(6, *(len(name) for name in result["per_factor"]))
    lines.append(f"{'factor':<{width}}  {'MIG':>6}  {'SAP':>6}  {'DCI-C':>6}  {'DCI-I':>6}")
    for name, row in result["per_factor"].items():
        cells = (row["mig"], row["sap"], row["dci_completeness"], row["dci_informativeness"])
        lines.append(f"{name:<{width}}  " + "  ".join(f"{v:>6.3f}" for v in cells))
    return "\n".join(lines)
