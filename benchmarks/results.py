"""What the long benchmarks share: the machine they ran on, a results file written atomically (so a
run can be stopped and resumed), and a table cell of a figure over seeds."""

import importlib.metadata
import json
import os
import platform
import tempfile

import numpy as np


def environment(packages):
    """The CPU, its load, the thread settings and the versions of `packages`, for the record."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the machine skews times
        "torch_threads": _torch_threads(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "platform": platform.platform(),
        **versions,
    }


def _torch_threads():
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


def read_results(path, protocol):
    """The results file at `path`, or a new one that starts with the `protocol` text."""
    if path and os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    return {"protocol": protocol, "runs": [], "results": {}}


def write_atomic(path, data):
    """Write `data` as JSON to `path` through a temporary file: never half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".results-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def cell(values, digits=3):
    """`mean ± std` (ddof 1) of the values that are there, the value alone, or `-`."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"
