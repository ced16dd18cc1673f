"""Runs are exclusive and durable: one writer per run directory, fsync'd writes, full disks survived."""

import errno
import json
import os
import shutil
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from runs import small_config
from vaekit import atomic
from vaekit import config as config_lib
from vaekit import run_dir as run_files
from vaekit.cli import main
from vaekit.errors import StorageError, VaekitError
from vaekit.training.run import resume, train

HOLDER = """
import sys, time
from vaekit.run_dir import lock
with lock(sys.argv[1], "test holder"):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder():
    """Start a process that holds a run's lock (no Keras: it starts in a moment); kill it after."""
    procs = []

    def hold(folder):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def _weights(model):
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights]


def test_lock_is_exclusive_reentrant_and_released_when_its_holder_dies(tmp_path, holder):
    run = tmp_path / "run"
    run.mkdir()
    with run_files.lock(run), run_files.lock(run):  # one process may nest its own lock
        assert (run / run_files.LOCK_FILE).is_file()
    proc = holder(run)
    refused = pytest.raises(VaekitError, match=rf"in use by process {proc.pid} \(test holder\)")
    with refused, run_files.lock(run):
        pass
    proc.kill()
    proc.wait()
    with run_files.lock(run):  # the kernel released the dead holder's lock: no stale lock
        pass


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path, holder, tiny_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    proc = holder(run)
    with pytest.raises(VaekitError, match=f"in use by process {proc.pid}"):
        train(small_config(1), run, overwrite=True, verbose=0)
    assert (run / "model.keras").read_bytes() == (tiny_run / "model.keras").read_bytes()
    with pytest.raises(VaekitError, match=f"in use by process {proc.pid}"):
        resume(run, epochs=3, verbose=0)
    # A picture written inside the run is a write too: refused, one line, exit 2...
    assert main(["sample", str(run), "--num", "4"]) == 2
    err = capsys.readouterr().err
    assert f"in use by process {proc.pid} (test holder)" in err and len(err.splitlines()) == 1
    assert not list(run.glob("sample-*.png"))
    # ...while one written elsewhere, and a read, need no lock.
    assert main(["sample", str(run), "--num", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["info", str(run)]) == 0


def test_a_new_run_is_claimed_atomically(tmp_path, holder):
    # A folder another process claimed (and holds) is refused even though it looks empty.
    run = tmp_path / "new"
    run.mkdir()
    proc = holder(run)
    with pytest.raises(VaekitError, match=f"in use by process {proc.pid}"):
        train(small_config(1), run, verbose=0)
    proc.kill()
    proc.wait()
    # A lock file alone is no run: the folder can be claimed once its holder is gone.
    result = train(small_config(1), run, verbose=0)
    assert (result.run_dir / "model.keras").is_file()
    # A finished run is refused without --overwrite (checked again under the lock).
    with pytest.raises(VaekitError, match="already exists and is not empty"), run_files.claim(run):
        pass


def test_two_concurrent_trains_into_one_directory(tmp_path):
    """Exactly one succeeds; the other exits 2 with one line; the directory is the winner's alone."""
    out = tmp_path / "same"
    args = ["--dataset", "shapes", "--limit", "128", "--batch-size", "32", "--verbose", "0"]
    procs = {
        seed: _vaekit("train", *args, "--seed", seed, "--epochs", epochs, "--out", out)
        for seed, epochs in ((5, 1), (6, 2))
    }
    results = {seed: (p.wait(timeout=600), *p.communicate()) for seed, p in procs.items()}
    codes = sorted(code for code, _, _ in results.values())
    assert codes == [0, 2], results
    (winner,) = (seed for seed, (code, _, _) in results.items() if code == 0)
    (loser_err,) = (err for code, _, err in results.values() if code == 2)
    (line,) = _vaekit_lines(loser_err)  # one line (TensorFlow's runtime may log beside it)
    assert "Traceback" not in loser_err and str(out) in line
    cfg = config_lib.load(out / "config.toml")
    epochs = cfg.train.epochs
    assert cfg.train.seed == winner and epochs == {5: 1, 6: 2}[winner]
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == epochs + 1
    assert json.loads((out / "metrics.json").read_text())["epochs"] == epochs


def test_atomic_writes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc") else fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic.write_text(tmp_path / "a.txt", "hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
    if os.path.exists("/proc"):  # the temporary file, then the folder holding the new name
        assert len(synced) == 2
        assert os.path.basename(synced[0]).startswith(".a.txt.") and synced[1] == str(tmp_path)


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "m.txt"
    target.write_text("good")
    full = pytest.raises(
        StorageError, match=r"Could not write .*m\.txt: no space left on device \("
    )
    with full, atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.txt"]
    with pytest.raises(StorageError, match="read-only storage"), atomic.atomic_path(target):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    with pytest.raises(PermissionError), atomic.atomic_path(target):  # others stay as they are
        raise PermissionError(errno.EACCES, "denied")


def test_a_full_disk_mid_checkpoint_stops_the_run_and_resume_ends_as_uninterrupted(
    tmp_path, monkeypatch
):
    whole = train(small_config(3), tmp_path / "whole", verbose=0)
    run = tmp_path / "run"
    real_save = keras.Model.save
    saves = []

    def save(self, filepath, *args, **kwargs):
        saves.append(filepath)
        if len(saves) == 2:  # the second epoch's checkpoint: half a file, then the disk is full
            with open(filepath, "wb") as f:
                f.write(b"PK\x03\x04 half an archive")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", save)
    with pytest.raises(StorageError) as caught:
        train(small_config(3), run, verbose=0)
    message = str(caught.value)
    assert "no space left on device" in message and "MB free" in message
    assert "checkpointed at the end of epoch 1: free some space and resume" in message
    assert "\n" not in message
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert state["epochs_done"] == 1 and state["last"] == "epoch-0001.keras"
    hidden = [p.name for p in run.rglob(".*") if p.name != run_files.LOCK_FILE]
    assert hidden == [], "temporary files were left behind"
    assert not (run / "model.keras").exists()
    monkeypatch.setattr(keras.Model, "save", real_save)
    resumed = resume(run, verbose=0)
    for a, b in zip(_weights(whole.model), _weights(resumed.model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_resume_while_training_runs_is_refused_and_a_killed_run_resumes(tmp_path):
    run = tmp_path / "run"
    args = ["--dataset", "shapes", "--limit", "64", "--batch-size", "32", "--verbose", "0"]
    training = _vaekit("train", *args, "--epochs", "100000", "--out", run)
    try:
        _wait_for_checkpoint(run, training)
        second = _vaekit("train", "--resume", run)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 2, err
        (line,) = _vaekit_lines(err)
        assert f"is in use by process {training.pid} (vaekit train)" in line
    finally:
        training.kill()  # SIGKILL: no chance to clean up; the kernel drops its lock
        training.wait()
    done = json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"]
    resumed = _vaekit("train", "--resume", run, "--epochs", str(done + 1))
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert (run / "model.keras").is_file()


def _vaekit_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("vaekit ")]


def _vaekit(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "vaekit", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_checkpoint(run, proc, timeout=300):
    state = run / "checkpoints" / "state.json"
    deadline = time.monotonic() + timeout
    while not state.is_file():
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail("training wrote no checkpoint in time")
        time.sleep(0.05)
