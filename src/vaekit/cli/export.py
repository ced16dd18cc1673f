"""`vaekit export RUN`: a trained model's encoder and decoder as ONNX files or TensorFlow
SavedModels, with a manifest, to run without vaekit (see `vaekit.export`)."""

from pathlib import Path

import vaekit
from vaekit import run_dir
from vaekit.cli.args import hold

FORMATS = ("onnx", "tf_saved_model")  # `vaekit.export.FORMATS`, named here so --help loads no Keras


def add_parser(sub, common):
    p = sub.add_parser(
        "export",
        parents=[common],
        help="the encoder and decoder as ONNX files or TensorFlow SavedModels, to run without vaekit",
    )
    p.add_argument("run", metavar="RUN", help="a run directory or a .keras file")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="onnx",
        help="onnx (any backend) or tf_saved_model (JAX, TensorFlow); default onnx",
    )
    p.add_argument("--out", help="the folder to write (default RUN/export-FORMAT)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace --out if it holds a previous export"
    )
    p.set_defaults(func=cmd_export)


def cmd_export(args):
    run = Path(args.run)
    if args.out:
        out = Path(args.out)
    else:
        out = (run if run.is_dir() else run.parent) / f"export-{args.format}"
    # Written inside a run directory: the run's writer lock is held to the end (see output_path).
    hold(run_dir.lock_if_run(out.parent, f"vaekit {args.command}"))
    model = vaekit.load_model(args.run)
    manifest = vaekit.export_model(model, out, format=args.format, overwrite=args.overwrite)
    files = ", ".join(a["path"] for a in manifest["artifacts"].values())
    worst = max(manifest["check"]["max_abs_difference"].values())
    print(f"Wrote {files} and manifest.json ({args.format}, any batch size) to {out}")
    print(
        f"Checked in {'onnxruntime' if args.format == 'onnx' else 'TensorFlow'} against the "
        f"model: outputs agree within {worst:.1e}"
    )
    return 0
