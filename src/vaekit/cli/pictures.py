"""Commands that look at a trained model: sample, reconstruct, interpolate, traverse, manifold,
latent, curves, info. Each loads the model, asks the public API for numpy arrays (`vaekit.traverse`,
`vaekit.manifold`, ...) and hands them to its figures (`vaekit.save_traversal`, ...)."""

import vaekit
from vaekit import config as config_lib
from vaekit.cli.args import bounded, dims_pair, output_path, seed_int
from vaekit.errors import VaekitError

MAX_IMAGES = 10_000  # images in one sample grid (sentences and rows may be more)


def add_parsers(sub, common):
    p = sub.add_parser(
        "sample", parents=[common], help="decode prior draws: an image grid, sentences or rows"
    )
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.add_argument(
        "--num",
        type=bounded(int, 1, 1_000_000),
        default=64,
        help="images, sentences or rows (default 64; at most 10000 images)",
    )
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument(
        "--temperature",
        type=bounded(float, 0, 100),
        default=1.0,
        help="images: scale of the prior draws; text: of the softmax over tokens (default 1)",
    )
    p.add_argument(
        "--greedy",
        action="store_true",
        help="text: the most likely token at each step (default: drawn at --temperature)",
    )
    p.add_argument(
        "--ncols", type=bounded(int, 1, 10000), help="images per row (default: a square grid)"
    )
    p.add_argument(
        "--condition",
        metavar="VALUE",
        help="tables: rows of one value of the model's condition column (default: drawn as in "
        "training)",
    )
    p.add_argument(
        "--out",
        help="PNG to write (default RUN_DIR/sample-seedS.png); text: a .txt file (default: "
        "stdout only); tables: .csv or .parquet (default RUN_DIR/sample-seedS.csv)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "reconstruct", parents=[common], help="originals above their reconstructions"
    )
    _data_args(p, default_out="RUN_DIR/reconstruct-SPLIT.png")
    p.add_argument(
        "--num", type=bounded(int, 1, 1000), default=20, help="images or sentences (default 20)"
    )
    p.add_argument("--text", help="text models: reconstruct this sentence (printed)")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("interpolate", parents=[common], help="decode paths between pairs of inputs")
    _data_args(p, default_out="RUN_DIR/interpolate-METHOD.png")
    p.add_argument(
        "--pairs", type=bounded(int, 1, 50), default=4, help="pairs of images (default 4)"
    )
    p.add_argument(
        "--steps", type=bounded(int, 2, 50), default=10, help="points per path (default 10)"
    )
    p.add_argument("--method", choices=("linear", "slerp", "both"), default="both")
    p.add_argument("--seed", type=seed_int, default=0, help="which images are paired")
    p.add_argument(
        "--between",
        nargs=2,
        metavar=("A", "B"),
        help="text models: the sentences along the path from sentence A to B (printed)",
    )
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("traverse", parents=[common], help="sweep each latent dimension in turn")
    _data_args(p, default_out="RUN_DIR/traverse.png")
    p.add_argument(
        "--dims", type=bounded(int, 1, 64), help="how many dimensions (default: all, up to 64)"
    )
    p.add_argument(
        "--range", type=bounded(float, 0.1, 10), default=3.0, help="sweep -R..R (default 3)"
    )
    p.add_argument(
        "--steps", type=bounded(int, 2, 30), default=9, help="values per dimension (default 9)"
    )
    p.add_argument(
        "--index",
        type=bounded(int, 0),
        help="hold the other dimensions at this image's code (default: the prior mean, 0)",
    )
    p.add_argument(
        "--rank-on", type=bounded(int, 1), default=2000, help="images used to rank dimensions by KL"
    )
    p.set_defaults(func=cmd_traverse)

    p = sub.add_parser(
        "manifold", parents=[common], help="decode a grid over two latent dimensions"
    )
    _data_args(p, default_out="RUN_DIR/manifold.png")
    p.add_argument(
        "--dims", type=dims_pair, help="two dimensions, e.g. 0,1 (default: the two with most KL)"
    )
    p.add_argument("--n", type=bounded(int, 2, 60), default=20, help="grid size (default 20)")
    p.set_defaults(func=cmd_manifold)

    p = sub.add_parser("latent", parents=[common], help="map of encoded means, coloured by label")
    _data_args(p, default_out="RUN_DIR/latent-SPLIT.png")
    p.add_argument(
        "--num", type=bounded(int, 1, 100000), default=5000, help="images (default 5000)"
    )
    p.add_argument("--color-by", help="label column for factor labels (shapes: shape, scale, ...)")
    p.set_defaults(func=cmd_latent)

    p = sub.add_parser("curves", parents=[common], help="training curves from history.csv")
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--out", help="PNG to write (default RUN_DIR/curves.png)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_curves)

    p = sub.add_parser(
        "info", parents=[common], help="print a run's config, metrics and model summary"
    )
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.set_defaults(func=cmd_info)


def cmd_sample(args):
    model = vaekit.load_model(args.run)
    if vaekit.kind_of(model) == "text":
        sentences = vaekit.prior_sentences(
            model, args.num, seed=args.seed, temperature=args.temperature, greedy=args.greedy
        )
        print("\n".join(sentences))
        if args.out:
            out = output_path(args, args.run, "samples.txt")
            vaekit.write_lines(sentences, out)
            print(f"Wrote {args.num} sentences to {out}")
        return 0
    kind = vaekit.kind_of(model)
    if args.greedy:
        raise VaekitError(f"--greedy decodes text; expected a text model. Received a {kind} model.")
    if kind != "table" and args.condition is not None:
        raise VaekitError(
            f"--condition picks rows of a conditional table model. Received a {kind} model."
        )
    if kind == "table":  # rows in the table's own form: category names, integers, its ranges
        out = output_path(args, args.run, f"sample-seed{args.seed}.csv")
        vaekit.check_table_path(out)
        condition = None
        if args.condition is not None:
            codec = vaekit.model_codec(model)
            if codec.condition is None:
                raise VaekitError(
                    f"--condition needs a conditional model; {args.run} was trained without "
                    "--condition COLUMN."
                )
            condition = codec.encode_condition([args.condition])[0]
        rows = vaekit.prior_rows(
            model, args.num, seed=args.seed, condition=condition, temperature=args.temperature
        )
        vaekit.write_samples(model, rows, out)
        print(f"Wrote {args.num} rows to {out}")
        return 0
    if args.num > MAX_IMAGES:
        raise VaekitError(f"Expected --num at most {MAX_IMAGES} for images. Received: {args.num}")
    out = output_path(args, args.run, f"sample-seed{args.seed}.png")
    images = model.sample(args.num, seed=args.seed, temperature=args.temperature)
    ncols = min(args.ncols, args.num) if args.ncols else None  # no empty columns
    vaekit.save_image_grid(images, out, ncols=ncols)
    print(f"Wrote {args.num} samples to {out}")
    return 0


def load_run_data(args, model):
    """The data a picture command shows: the run's own splits (so e.g. `test` holds exactly the
    images training never saw), or --dataset with the run's split options."""
    run_cfg = vaekit.load_run_config(args.run)
    if args.dataset is None and run_cfg is None:
        raise VaekitError(
            "No --dataset given and no config.toml beside the model; pass --dataset SPEC."
        )
    data_cfg = run_cfg.data if run_cfg else vaekit.DataConfig()
    seed = run_cfg.train.seed if run_cfg else 0
    if args.dataset is not None and args.dataset != data_cfg.dataset:
        data_cfg = vaekit.DataConfig(dataset=args.dataset, val_fraction=data_cfg.val_fraction)
    # A dynamically binarized run shows its grey images (its scored splits are one draw of them).
    binarize = "static" if data_cfg.binarize == "static" else "none"
    # Text and tables are read with the model's own codec (its vocabulary, its schema).
    codec = vaekit.model_codec(model)
    data = vaekit.load_configured(data_cfg, seed, binarize=binarize, codec=codec)
    if tuple(data.shape) != tuple(model.data_shape):
        raise VaekitError(
            f"Dataset {data_cfg.dataset} has examples of shape {tuple(data.shape)}; "
            f"the model expects {tuple(model.data_shape)}."
        )
    return data


def _text_only_option(model, args, option, value):
    if value is not None and vaekit.kind_of(model) != "text":
        raise VaekitError(
            f"{option} takes sentences; expected a text model. Received a "
            f"{vaekit.kind_of(model)} model ({args.run})."
        )


def cmd_reconstruct(args):
    model = vaekit.load_model(args.run)
    _text_only_option(model, args, "--text", args.text)
    if vaekit.kind_of(model) == "text":  # printed: each sentence, then what its code keeps
        if args.text is not None:
            originals = vaekit.model_codec(model).encode_examples([args.text])
        else:
            x = load_run_data(args, model).split(args.split)[0]
            originals = x[spread(len(x), args.num)]
        pairs = zip(
            vaekit.as_sentences(model, originals),
            vaekit.reconstruct_sentences(model, originals),
            strict=True,
        )
        print("\n".join(f"{a}\n-> {b}" for a, b in pairs))
        return 0
    out = output_path(args, args.run, f"reconstruct-{args.split}.png")
    model = images_only(model, args)
    data = load_run_data(args, model)
    x = data.split(args.split)[0]
    x = x[spread(len(x), args.num)]  # spread over the split: sources are often sorted by class
    vaekit.save_reconstruction_grid(x, model.reconstruct(x), out)
    print(
        f"Wrote {len(x)} originals ({args.split} split of {data.name}) above their reconstructions to {out}"
    )
    return 0


def cmd_interpolate(args):
    import numpy as np  # not at the top: `vaekit --help` imports no numpy

    model = vaekit.load_model(args.run)
    _text_only_option(model, args, "--between", args.between)
    if vaekit.kind_of(model) == "text":
        if args.between is None:
            raise VaekitError("Expected --between A B for a text model: the two sentences.")
        ids = vaekit.model_codec(model).encode_examples(list(args.between))
        method = "linear" if args.method == "both" else args.method
        print("\n".join(vaekit.interpolate_sentences(model, ids[0], ids[1], args.steps, method)))
        return 0
    out = output_path(args, args.run, f"interpolate-{args.method}.png")
    model = images_only(model, args)
    x = load_run_data(args, model).split(args.split)[0]
    if len(x) < 2:
        raise VaekitError(f"The {args.split} split has {len(x)} image(s); interpolation needs two.")
    pick = np.random.default_rng(args.seed).choice(
        len(x), size=(args.pairs, 2), replace=len(x) < 2 * args.pairs
    )
    methods = ("linear", "slerp") if args.method == "both" else (args.method,)
    rows, labels = [], []
    for a, b in pick:
        for method in methods:
            rows.append(vaekit.interpolate(model, x[a], x[b], steps=args.steps, method=method))
            labels.append(f"{method} {a}->{b}")
    vaekit.save_interpolation(np.stack(rows), out, labels=labels)
    print(f"Wrote {len(rows)} interpolations ({', '.join(methods)}, {args.steps} steps) to {out}")
    return 0


def cmd_traverse(args):
    import numpy as np  # not at the top: `vaekit --help` imports no numpy

    out = output_path(args, args.run, "traverse.png")
    model = images_only(vaekit.load_model(args.run), args)
    x = load_run_data(args, model).split(args.split)[0][: args.rank_on]
    values = np.linspace(-args.range, args.range, args.steps)
    base = (
        model.encode(x[args.index : args.index + 1])[0][0]
        if args.index is not None
        else np.zeros(model.latent_dim, "float32")
    )
    t = vaekit.traverse(model, x, num_dims=args.dims, values=values, base=base)
    vaekit.save_traversal(t.images, t.dims, t.kl, t.values, out)
    print(f"Wrote traversals of {len(t.dims)} latent dimensions (most informative first) to {out}")
    return 0


def cmd_manifold(args):
    out = output_path(args, args.run, "manifold.png")
    model = images_only(vaekit.load_model(args.run), args)
    x = None if args.dims else load_run_data(args, model).split(args.split)[0][:2000]
    images, dims, values = vaekit.manifold(model, dims=args.dims, n=args.n, x=x)
    vaekit.save_manifold(images, dims, values, out)
    print(f"Wrote a {args.n}x{args.n} manifold over z{dims[0]} and z{dims[1]} to {out}")
    return 0


def cmd_latent(args):
    out = output_path(args, args.run, f"latent-{args.split}.png")
    model = vaekit.load_model(args.run)
    data = load_run_data(args, model)
    x, y = data.split(args.split)
    x, y = x[: args.num], (None if y is None else y[: args.num])
    labels, names, what = _color_labels(data, y, args.color_by)
    points, explained = vaekit.latent_map(model, x, progress=True)
    title = f"Latent means of {len(x)} {args.split} images"
    if explained < 1:
        title += f" (PCA, {explained:.0%} of variance)"
    if what:
        title += f", coloured by {what}"
    vaekit.save_latent_map(
        points, out, labels=labels, label_names=names, explained=explained, title=title
    )
    print(f"Wrote the latent map of {len(x)} {args.split} images to {out}")
    return 0


def _color_labels(data, y, color_by):
    """Labels to colour a latent map by: class ids, or one factor column (e.g. shapes' "shape")."""
    if y is None:
        if color_by:
            raise VaekitError(f"--color-by {color_by}: dataset {data.name} has no labels.")
        return None, None, None
    names = data.info.get("label_names")
    if y.ndim == 1:
        return y, names, "class"
    factors = list(names or [str(i) for i in range(y.shape[1])])
    column = color_by or factors[0]
    if column not in factors:
        raise VaekitError(f"--color-by {column}: expected one of {', '.join(factors)}.")
    values = y[:, factors.index(column)]
    if column == "shape" and data.info.get("shape_names"):
        return values.astype("int64"), data.info["shape_names"], "shape"
    return values, None, column


def cmd_curves(args):
    out = output_path(args, args.run, "curves.png")
    vaekit.save_curves(vaekit.read_history(args.run), out)
    print(f"Wrote training curves to {out}")
    return 0


def cmd_info(args):
    # Not public (its name is too vague for `vaekit.`): the options a likelihood takes, by its kind.
    from vaekit.models.likelihoods import option_names

    path = vaekit.resolve_model_path(args.run)
    cfg = vaekit.load_run_config(args.run)
    model = vaekit.load_model(path)
    print(f"Model: {path}")
    if cfg is not None:
        print("\n# config.toml\n" + config_lib.to_toml(cfg))
    metrics_file = path.parent / "metrics.json"
    if metrics_file.is_file():
        print("# metrics.json\n" + metrics_file.read_text(encoding="utf-8"))
    likelihood = model.likelihood.kind
    codec_option = model.likelihood.codec_option  # the codec is shown on its own line
    names = [k for k in option_names(likelihood) if k != codec_option]
    options = [f"{k}={getattr(model.likelihood, k)}" for k in names]
    if options:  # local_ar_bernoulli (window=3), gaussian (scale=0.1)
        likelihood += f" ({', '.join(options)})"
    print(
        f"data shape {model.data_shape}, latent_dim {model.latent_dim}, "
        f"likelihood {likelihood}, prior {model.prior.kind}, beta {model.beta}"
    )
    codec = vaekit.model_codec(model)
    if codec is not None:
        print(codec.describe())
    model.summary()
    model.encoder.summary()
    model.decoder.summary()
    return 0


def images_only(model, args):
    """`model`, if it models images: the picture commands draw images (a text model samples
    sentences with `vaekit sample`)."""
    kind = vaekit.kind_of(model)
    if kind != "images":
        raise VaekitError(
            f"vaekit {args.command} draws pictures; expected an image model. Received a {kind} "
            f"model ({args.run}): try vaekit sample or vaekit evaluate."
        )
    return model


def spread(n, k):
    """`min(n, k)` indices evenly spread over `range(n)`, first and last included."""
    import numpy as np

    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def _data_args(p, default_out):
    p.add_argument("run", metavar="RUN_DIR_OR_MODEL")
    p.add_argument("--dataset", help="dataset name or path (default: the run's dataset)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--out", help=f"PNG to write (default {default_out})")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
