"""`vaekit evaluate`: negative ELBO, importance-sampled NLL, active units and bits per dimension."""

import json

import vaekit
from vaekit import atomic
from vaekit.cli.args import add_importance_samples, bounded, output_path
from vaekit.cli.pictures import load_run_data, spread
from vaekit.errors import VaekitError


def add_parser(sub, common):
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="test log-likelihood (importance sampled), ELBO, active units",
    )
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.add_argument("--dataset", help="dataset name or path (default: the run's dataset)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    add_importance_samples(p, default=5000)
    p.add_argument("--seed", type=bounded(int, 0, 2**32 - 1), default=0, help="default 0")
    p.add_argument(
        "--limit",
        type=bounded(int, 1),
        help="score N examples spread evenly over the split (quicker, noisier; a prefix would be "
        "biased: MNIST's test set puts its easier half first)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--out", help="JSON file to write (default RUN/evaluation-SPLIT-kK.json; none with --json)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--verbose", type=int, choices=(0, 1), default=1, help="progress bar")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args):
    out = None
    if args.out or not args.json:
        name = f"evaluation-{args.split}-k{args.importance_samples}.json"
        out = output_path(args, args.run, name)
    model = vaekit.load_model(args.run)
    data = load_run_data(args, model)
    x = data.split(args.split)[0]
    run_cfg = vaekit.load_run_config(args.run)
    if run_cfg is not None and run_cfg.data.binarize == "dynamic" and args.dataset is None:
        # Trained on fresh binary draws each epoch, scored (as in training) on one fixed draw.
        x = vaekit.scored_split(x, args.split, run_cfg.train.seed)
    if args.limit:
        x = x[spread(len(x), args.limit)]
    if not len(x):
        raise VaekitError(f"The {args.split} split of {data.name} is empty; nothing to evaluate.")
    result = vaekit.evaluate(
        model,
        x,
        args.importance_samples,
        seed=args.seed,
        progress=args.verbose > 0 and not args.json,
    )
    result = {"dataset": data.name, "split": args.split, **result}
    if out is not None:
        atomic.write_text(out, json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result))
        return 0
    bpd = f", {result['bits_per_dim']:.4f} bits/dim" if result["bits_per_dim"] is not None else ""
    if result.get("perplexity") is not None:  # text: per token, <eos> counted
        bpd = f", perplexity {result['perplexity']:.2f}"
    print(
        f"{data.name} {args.split} (n={result['n']}): NLL {result['nll']:.2f} nats "
        f"(K={result['k']}, +/- {result['nll_standard_error'] or 0:.2f}){bpd}; "
        f"negative ELBO {result['elbo']:.2f} = reconstruction {result['reconstruction']:.2f} "
        f"+ KL {result['kl']:.2f}; active units {result['active_units']} of {result['latent_dim']}"
        + (
            f"; I(x; z) {result['mutual_information']:.2f} nats"
            if result["mutual_information"] is not None
            else ""
        )
    )
    print(f"Wrote {out}")
    return 0
