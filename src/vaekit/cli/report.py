"""`vaekit report RUN_DIR`: one self-contained HTML page about a run."""

import json
from pathlib import Path

import vaekit
from vaekit import run_dir
from vaekit.cli.args import bounded, output_path, seed_int
from vaekit.cli.pictures import _color_labels, load_run_data
from vaekit.errors import VaekitError


def add_parser(sub, common):
    p = sub.add_parser(
        "report", parents=[common], help="write one self-contained HTML page about a run"
    )
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--num", type=bounded(int, 10, 100000), default=2000, help="images encoded")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the sample grid")
    p.add_argument("--out", help="HTML to write (default RUN_DIR/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_report, dataset=None)


def _samples_and_reconstructions(model, kind, x, args):
    """The report's Samples and Reconstructions sections, in the data's own form."""
    import numpy as np  # not at the top: `vaekit --help` imports no numpy

    originals = x[:10]
    if kind == "text":
        samples = vaekit.prior_sentences(model, 20, seed=args.seed)
        pairs = zip(
            vaekit.as_sentences(model, originals),
            vaekit.reconstruct_sentences(model, originals),
            strict=True,
        )
        return [
            vaekit.Section(
                "Samples", note="20 sentences from prior draws", text="\n".join(samples)
            ),
            vaekit.Section(
                "Reconstructions",
                note=f"{args.split} sentences, each above its greedy decoding from the posterior mean",
                text="\n\n".join(f"{a}\n-> {b}" for a, b in pairs),
            ),
        ]
    if kind == "table":
        samples = vaekit.as_rows(model, vaekit.prior_rows(model, 20, seed=args.seed))
        both = np.concatenate([originals, vaekit.reconstructions(model, originals)])
        decoded = vaekit.as_rows(model, both)
        n = len(originals)
        order = [i for pair in zip(range(n), range(n, 2 * n), strict=True) for i in pair]
        rows = {"": [("original" if i < n else "reconstruction") for i in order]}
        rows |= {name: [values[i] for i in order] for name, values in decoded.items()}
        return [
            vaekit.Section("Samples", note="20 rows drawn from the model", rows=samples),
            vaekit.Section(
                "Reconstructions",
                note=f"{args.split} rows, each above its decoded posterior mean (missing cells empty)",
                rows=rows,
            ),
        ]
    samples = vaekit.prior_samples(model, 64, seed=args.seed)
    recon = vaekit.reconstruction_png(originals, vaekit.reconstructions(model, originals))
    return [
        vaekit.Section("Samples", images=[("64 prior samples", vaekit.grid_png(samples, ncols=8))]),
        vaekit.Section(
            "Reconstructions", images=[(f"{args.split} images above their reconstructions", recon)]
        ),
    ]


def cmd_report(args):
    # Not public: a metrics-table helper with a name too vague for `vaekit.`, and the progress
    # output of the CLI (it imports Keras, so not at the top: `vaekit --help` imports none).
    from vaekit.pictures.report import flatten
    from vaekit.progress import progress_bar

    run = Path(args.run)
    if not (run / run_dir.CONFIG_FILE).is_file():
        raise VaekitError(f"{run} is not a run directory: it has no {run_dir.CONFIG_FILE}.")
    out = output_path(args, run, "report.html")
    if out.suffix.lower() not in (".html", ".htm"):
        raise VaekitError(f"Expected an output path ending in .html. Received: {out}")
    model = vaekit.load_model(run)
    steps = ["data", "curves", "samples", "reconstructions", "traversals", "latent map"]
    bar = progress_bar(len(steps), unit_name="section")
    sections = [
        vaekit.Section("Config", text=(run / run_dir.CONFIG_FILE).read_text(encoding="utf-8"))
    ]
    for name in ("metrics.json", *sorted(p.name for p in run.glob("evaluation*.json"))):
        if (run / name).is_file():
            table = flatten(json.loads((run / name).read_text(encoding="utf-8")))
            title = "Metrics" if name == "metrics.json" else f"Evaluation ({name})"
            sections.append(vaekit.Section(title, table=table))

    data = load_run_data(args, model)
    x, y = data.split(args.split)
    x, y = x[: args.num], (None if y is None else y[: args.num])
    bar.update(1)
    try:
        curves = [
            ("loss, reconstruction and KL per epoch", vaekit.curves_png(vaekit.read_history(run)))
        ]
    except VaekitError as exc:  # an unfinished run may have no history yet
        curves, note = [], str(exc)
    else:
        note = None
    sections.append(vaekit.Section("Curves", images=curves, note=note))
    bar.update(2)
    kind = vaekit.kind_of(model)
    sections += _samples_and_reconstructions(model, kind, x, args)
    bar.update(4)
    if kind == "images":
        t = vaekit.traverse(model, x, num_dims=min(model.latent_dim, 10))
        traversal = vaekit.traversal_png(t.images, t.dims, t.kl, t.values)
        sections.append(
            vaekit.Section("Traversals", images=[("most informative dimensions first", traversal)])
        )
    bar.update(5)
    labels, names, what = _color_labels(data, y, None)
    points, explained = vaekit.latent_map(model, x)
    latent = vaekit.latent_map_png(points, labels=labels, label_names=names, explained=explained)
    unit = {"images": "images", "text": "sentences", "table": "rows"}[kind]
    caption = f"means of {len(x)} {args.split} {unit}" + (f", coloured by {what}" if what else "")
    sections.append(vaekit.Section("Latent map", images=[(caption, latent)]))
    bar.update(6)
    vaekit.write_report(out, f"vaekit run {run.name}", sections, subtitle=str(run.resolve()))
    print(f"Wrote the report of {run} to {out}")
    return 0
