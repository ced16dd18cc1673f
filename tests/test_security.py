"""Security: archives are checked before Keras opens them, safe mode is never off, vaekit never
unpickles and never hands a string to a shell. The CLI-level cases are in test_bad_input.py."""

import ast
import base64
import json
import pickle
import zipfile
from pathlib import Path

import keras
import pytest

from vaekit.backends.keras_compat import tensorflow_unprobed
from vaekit.errors import ModelFileError
from vaekit.models import saving

SRC = Path(__file__).resolve().parents[1] / "src" / "vaekit"


def member(name, size=10, stored=None, **attrs):
    info = zipfile.ZipInfo(name)
    info.file_size, info.compress_size = size, size if stored is None else stored
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


@pytest.mark.parametrize(
    "name, reason",
    [
        ("../evil.txt", "'..' component"),
        ("assets/../../evil.txt", "'..' component"),
        ("..", "'..' component"),
        ("/etc/cron.d/evil", "absolute path"),
        ("..\\evil.txt", "backslash"),
        ("assets\\..\\..\\evil.txt", "backslash"),
        ("C:/Windows/evil.dll", "drive letter"),
        ("c:evil", "drive letter"),
        ("assets/evil\n.txt", "control characters"),
        ("", "empty name"),
    ],
)
def test_member_names_that_could_escape_are_refused(name, reason):
    with pytest.raises(ModelFileError, match=reason):
        saving.check_members([member("config.json"), member(name)], "m.keras")


def test_plain_relative_names_pass():
    names = [
        "config.json",
        "metadata.json",
        "model.weights.h5",
        "assets/a..b/x.txt",
        "./x",
        "é.txt",
    ]
    saving.check_members([member(n) for n in names], "m.keras")


def test_duplicates_links_encryption_and_counts_are_refused(monkeypatch):
    with pytest.raises(ModelFileError, match="appears twice"):
        saving.check_members([member("config.json"), member("config.json")], "m.keras")
    link = member("assets/l", external_attr=0o120777 << 16)
    with pytest.raises(ModelFileError, match="symbolic link"):
        saving.check_members([link], "m.keras")
    with pytest.raises(ModelFileError, match="encrypted"):
        saving.check_members([member("config.json", flag_bits=0x1)], "m.keras")
    monkeypatch.setattr(saving, "MAX_MEMBERS", 2)
    with pytest.raises(ModelFileError, match="holds 3 archive members"):
        saving.check_members([member(f"{i}") for i in range(3)], "m.keras")


def test_sizes_declared_in_the_headers_are_bounded():
    """Sizes too large to write in a test, declared in zip headers (zipfile never reads past them)."""
    with pytest.raises(ModelFileError, match="more than 4294967296 bytes uncompressed"):
        saving.check_members([member("model.weights.h5", 5 << 30)], "m.keras")  # stored 5 GiB
    with pytest.raises(ModelFileError, match="more than 4294967296 bytes uncompressed"):
        saving.check_members([member(f"{i}", 3 << 30) for i in range(2)], "m.keras")  # 6 GiB
    with pytest.raises(ModelFileError, match="decompression bomb"):
        saving.check_members([member("w.h5", 5 << 30, stored=1 << 20)], "m.keras")
    with pytest.raises(ModelFileError, match="decompression bomb"):
        saving.check_members([member("w.h5", 200 << 20, stored=1 << 20)], "m.keras")  # 200x
    # Small members (config.json) may compress very well; a stored 3 GiB model is fine.
    saving.check_members([member("config.json", 500_000, stored=100)], "m.keras")
    saving.check_members([member("model.weights.h5", 3 << 30)], "m.keras")


def test_a_real_bomb_is_refused_before_keras_reads_it(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", bytes(16 << 20))  # 16 MiB of zeros in ~16 kB
    assert path.stat().st_size < 100_000
    with pytest.raises(ModelFileError, match="decompression bomb"):
        saving.load_model(path)


class Touch:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):  # unpickling creates the file
        return (open, (self.path, "w"))


def _with_last_layer(src, dst, edit):
    """Copy a Sequential archive with `edit(config_of_its_last_layer_entry)` applied."""
    with zipfile.ZipFile(src) as z:
        parts = {info.filename: z.read(info) for info in z.infolist()}
    config = json.loads(parts["config.json"])
    edit(config["config"]["layers"][-1])
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst


def _code_models(tmp_path):
    """Archives holding code: a Lambda layer, a lambda activation, a pickled torch module."""
    sentinel = tmp_path / "UNPICKLED"
    lambda_layer, plain = tmp_path / "lambda.keras", tmp_path / "plain.keras"
    with tensorflow_unprobed():  # Keras' save would import TensorFlow on every backend
        keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)]).save(
            lambda_layer
        )
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(plain)

    def lambda_activation(layer):
        layer["config"]["activation"] = {
            "module": "builtins",
            "class_name": "__lambda__",
            "config": {"value": ["4wEAAAAAAAAA", None, None]},  # marshalled bytecode would go here
            "registered_name": None,
        }

    def torch_module(layer):
        layer.clear()
        layer.update(
            module="keras.layers",
            class_name="TorchModuleWrapper",
            config={"module": base64.b64encode(pickle.dumps(Touch(sentinel))).decode()},
            registered_name=None,
        )

    return {
        "Lambda layer": lambda_layer,
        "Python lambda": _with_last_layer(plain, tmp_path / "f.keras", lambda_activation),
        "pickled PyTorch module": _with_last_layer(plain, tmp_path / "t.keras", torch_module),
    }, sentinel


def test_code_is_refused_by_vaekit_and_by_keras_safe_mode_alone(tmp_path):
    """vaekit names the code it found; without that scan Keras' safe mode still refuses it."""
    paths, sentinel = _code_models(tmp_path)
    for label, path in paths.items():
        with pytest.raises(ModelFileError, match=f"a {label}\\) that safe mode will not run"):
            saving.load_model(path)
        with pytest.raises(Exception) as info:
            keras.saving.load_model(path, safe_mode=True)
        assert "safe_mode" in str(info.value) or "safe_mode" in str(info.value.__context__)
        # ... and the refusal reads the same through vaekit's fallback message.
        assert "safe mode will not run" in saving._load_error(path, info.value)
    assert not sentinel.exists()


def test_load_error_messages_are_one_line():
    try:
        try:
            raise ValueError("Requested ...\n pass `safe_mode=False` to the loading function")
        except ValueError as inner:
            raise TypeError("<class 'Sequential'> could not be\ndeserialized properly") from inner
    except TypeError as exc:
        assert saving._load_error("m.keras", exc) == (
            "Refused to load m.keras: it contains code that safe mode will not run."
        )
    message = saving._load_error("m.keras", KeyError("x\n" * 500))
    assert "\n" not in message and len(message) < 400


# --- the source itself -----------------------------------------------------------------------------
UNPICKLERS = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
SHELLS = {"subprocess", "pty", "commands"}
KERAS_LOADERS = {"keras.saving.load_model", "keras.models.load_model", "saving_lib.load_model"}
OS_SHELL_CALLS = {"system", "popen", "spawnl", "spawnlp", "spawnv", "spawnvp", "execl", "execv"}


def forbidden(source):
    """(line, what) for each construct vaekit must not contain in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names]
            modules = names if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in UNPICKLERS | SHELLS:
                    found.append((line, f"import {module}"))
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                found += [(line, f"from os import {n}") for n in names if n in OS_SHELL_CALLS]
        elif isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else None
            if base == "os" and node.attr in OS_SHELL_CALLS:
                found.append((line, f"os.{node.attr}"))
            if node.attr == "enable_unsafe_deserialization" or base in UNPICKLERS:
                found.append((line, ast.unparse(node)))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if isinstance(func, ast.Name) and name in ("eval", "exec", "__import__"):
                found.append((line, f"{name}("))
            keywords = {k.arg: k.value for k in node.keywords}
            for key, bad in (("shell", True), ("allow_pickle", True), ("safe_mode", False)):
                value = keywords.get(key)
                if value is not None and not (
                    isinstance(value, ast.Constant) and value.value is (not bad)
                ):
                    found.append((line, f"{key}={ast.unparse(value)}"))
            dotted = ast.unparse(func)
            if dotted in ("np.load", "numpy.load") and "allow_pickle" not in keywords:
                found.append((line, f"{dotted}( without allow_pickle=False"))
            if dotted == "torch.load":
                found.append((line, dotted))
            if dotted in KERAS_LOADERS and "safe_mode" not in keywords:
                found.append((line, f"{dotted}( without safe_mode=True"))
    return found


def test_the_scanner_finds_each_forbidden_construct():
    bad = """
import pickle
import subprocess as sp
from os import system
from marshal import loads
os.popen("ls")
os.system("ls")
pickle.loads(b"")
subprocess.run("ls", shell=True)
np.load(f, allow_pickle=True)
np.load(f)
keras.saving.load_model(p, safe_mode=False)
keras.saving.load_model(p)
keras.config.enable_unsafe_deserialization()
torch.load(f)
eval("1")
exec("x = 1")
__import__("os")
run(x, shell=flag)
"""
    found = [what for _, what in forbidden(bad)]
    for expected in [
        "import pickle",
        "import subprocess",
        "from os import system",
        "import marshal",
        "os.popen",
        "os.system",
        "pickle.loads",
        "shell=True",
        "allow_pickle=True",
        "np.load( without allow_pickle=False",
        "safe_mode=False",
        "keras.saving.load_model( without safe_mode=True",
        "keras.config.enable_unsafe_deserialization",
        "torch.load",
        "eval(",
        "exec(",
        "__import__(",
        "shell=flag",
    ]:
        assert expected in found, expected
    fine = (
        "np.load(f, allow_pickle=False)\nkeras.saving.load_model(p, safe_mode=True)\nimage.load()\n"
    )
    assert forbidden(fine) == []


def test_vaekit_never_unpickles_and_never_calls_a_shell():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 10
    problems = [
        f"{path.relative_to(SRC)}:{line}: {what}"
        for path in files
        for line, what in forbidden(path.read_text(encoding="utf-8"))
    ]
    assert problems == []
