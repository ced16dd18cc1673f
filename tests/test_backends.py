"""The backend split lives in one folder, and the Keras versions vaekit declares are the ones it runs."""

import re
import tomllib
from pathlib import Path

import keras
from packaging.requirements import Requirement

import vaekit
from vaekit import backends

REPO = Path(__file__).resolve().parents[1]
SRC = Path(vaekit.__file__).parent
PRIVATE_KERAS = re.compile(r"keras\.src|\._flatten_layers|_loss_tracker|\._tracker\b")


def test_the_installed_keras_is_within_the_declared_bounds_and_they_have_a_ceiling():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (spec,) = [Requirement(r) for r in project["dependencies"] if r.startswith("keras")]
    assert any(s.operator in ("<", "<=", "~=") for s in spec.specifier), (
        "vaekit uses Keras internals: keras needs an upper bound"
    )
    assert spec.specifier.contains(keras.__version__), (keras.__version__, str(spec))


def test_keras_internals_are_used_only_in_backends():
    outside = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        if path.parent.name != "backends"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE_KERAS.search(line)
    ]
    assert outside == []


def test_each_backend_module_offers_a_runner_and_a_scorer():
    module = backends.current()
    assert module.__name__ == f"vaekit.backends.{keras.backend.backend()}_backend"
    assert callable(module.Runner) and callable(module.compile_scorer)
