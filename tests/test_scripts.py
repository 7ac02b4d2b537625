"""The shell scripts under scripts/: they parse, and the preparation script refuses bad input
before it fetches, forges or writes anything."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script):
    r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args, env, message", [
    ([], {"SHARED": "/nonexistent/shared"}, "/nonexistent/shared: no shared data folder"),
    (["configs/missing.yaml", "B"], {}, "configs/missing.yaml: no such config"),
    (["c.yaml"], {}, "usage:"),  # a config without a bundle folder
])
def test_prepare_cross_fit_refuses_bad_input(tmp_path, args, env, message):
    (tmp_path / "shared" / "reals").mkdir(parents=True)
    (tmp_path / "c.yaml").write_text("name: c\n")
    r = subprocess.run(["bash", str(ROOT / "scripts" / "prepare_cross_fit.sh"), *args], cwd=tmp_path,
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "SHARED": "shared", **env})
    assert r.returncode == 2
    assert message in r.stderr
    assert not (tmp_path / "runs").exists()  # nothing fetched or written


def test_device_kit_refuses_a_missing_config(tmp_path):
    r = subprocess.run(["bash", str(ROOT / "scripts" / "device_kit.sh"), "configs/missing.yaml", "kit"],
                       cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "configs/missing.yaml: no such config" in r.stderr
    assert not (tmp_path / "kit").exists() and not (tmp_path / "kit.part").exists()


def test_split_bundle_parts_merge_back_and_refuse_an_incomplete_set(tmp_path):
    """A bundle larger than one device call goes in parts of at most MB megabytes, bundle.json in
    the first; merging needs every file bundle.json lists and gives the same files back."""
    import json

    b = tmp_path / "bundle"
    b.mkdir()
    entries = []
    for i in range(5):
        (b / f"{i:05d}.npz").write_bytes(bytes([i]) * 600_000)
        entries.append({"file": f"{i:05d}.npz"})
    (b / "bundle.json").write_text(json.dumps({"entries": entries}))
    script = str(ROOT / "scripts" / "split_bundle.sh")

    def run(*args):
        return subprocess.run(["bash", script, *args], cwd=tmp_path, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"})

    r = run("bundle", "1")
    assert r.returncode == 0, r.stderr
    parts = sorted(p.name for p in tmp_path.glob("bundle-p*"))
    assert parts == ["bundle-p1", "bundle-p2", "bundle-p3", "bundle-p4", "bundle-p5"]
    assert (tmp_path / "bundle-p1" / "bundle.json").exists()
    assert all(sum(f.stat().st_size for f in (tmp_path / p).iterdir()) <= 1_000_000 for p in parts)
    original = {f.name: f.read_bytes() for f in b.iterdir()}
    import shutil

    shutil.rmtree(b)
    shutil.move(str(tmp_path / "bundle-p5"), str(tmp_path / "elsewhere"))  # one part not carried yet
    r = run("--merge", "bundle")
    assert r.returncode == 2 and "1 files missing" in r.stderr and not b.exists()
    shutil.move(str(tmp_path / "elsewhere"), str(tmp_path / "bundle-p5"))
    r = run("--merge", "bundle")
    assert r.returncode == 0, r.stderr
    assert {f.name: f.read_bytes() for f in b.iterdir()} == original
    assert not list(tmp_path.glob("bundle-p*"))
    assert run("nothing", "10").returncode == 2 and "not a crop bundle" in run("nothing", "10").stderr


@pytest.mark.parametrize("args, message", [
    (["configs/missing.yaml", "b", "out", "+10", "0"], "configs/missing.yaml: no such config"),
    (["c.yaml", "nobundle", "out", "+10", "0"], "nobundle: not a crop bundle"),
    (["c.yaml", "b", "out", "+10"], "usage:"),
    (["c.yaml", "b", "out", "soon", "0"], "soon: UNTIL is HH:MM (UTC) or +MINUTES"),
    (["c.yaml", "b", "out", "+1x", "0"], "+1x: UNTIL is HH:MM (UTC) or +MINUTES"),
    (["c.yaml", "b", "out", "+0", "0"], "+0: that time (UTC) has passed"),
    (["one.yaml", "b", "out", "+10", "0"], "one.yaml: not a cross-fitting config"),
])
def test_train_folds_refuses_bad_input(tmp_path, args, message):
    import os
    import sys

    (tmp_path / "c.yaml").write_text("name: c\ndata:\n  folds: 5\n")
    (tmp_path / "one.yaml").write_text("name: one\ndata:\n  sources: []\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bundle.json").write_text("{}")
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # the python that has PyYAML
    r = subprocess.run(["bash", str(ROOT / "scripts" / "train_folds.sh"), *args], cwd=tmp_path,
                       capture_output=True, text=True, env={"PATH": path, "HOME": os.environ.get("HOME", "/")})
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert not (tmp_path / "out").exists()  # nothing trained or written


def test_train_folds_trains_each_fold_in_turn_until_the_deadline(tmp_path):
    """Fold after fold, each by train_seeds.sh into OUT/fold<f> with its data.fold, the minutes
    left and the caller's --set last (so it overrides the defaults); a fold is not started when
    fewer than MIN_MINUTES are left."""
    import os
    import shutil
    import sys

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(ROOT / "scripts" / "train_folds.sh", scripts)
    shutil.copy(ROOT / "scripts" / "train_lib.sh", scripts)
    calls = tmp_path / "calls.txt"
    (scripts / "train_seeds.sh").write_text(f'#!/usr/bin/env bash\necho "$@" >> {calls}\n')
    (scripts / "train_seeds.sh").chmod(0o755)
    (tmp_path / "c.yaml").write_text("name: c\ndata:\n  folds: 3\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bundle.json").write_text("{}")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")}

    def run(until, **more):
        return subprocess.run(["bash", str(scripts / "train_folds.sh"), "c.yaml", "b", "out", until, "0", "1",
                               "--", "--set", "train.threads=7"], cwd=tmp_path, capture_output=True, text=True,
                              env=env | more)

    r = run("+30")
    assert r.returncode == 0, r.stderr
    lines = calls.read_text().splitlines()
    assert [ln.split()[2] for ln in lines] == ["out/fold0", "out/fold1", "out/fold2"]
    for f, ln in enumerate(lines):
        args = ln.split()
        assert args[0:2] == ["c.yaml", "b"] and 28 <= int(args[3]) <= 30 and args[4:6] == ["0", "1"]
        assert f"data.fold={f}" in args and args[-1] == "train.threads=7"  # the caller's --set comes last
    calls.unlink()
    r = run("+3")  # under MIN_MINUTES (5): no fold starts
    assert r.returncode == 0 and "stopping before fold 0" in r.stdout and not calls.exists()
    assert run("+3", MIN_MINUTES="1").returncode == 0 and len(calls.read_text().splitlines()) == 3


def test_carry_runs_saves_and_restores_what_resuming_and_judging_read(tmp_path):
    """save copies each run's last.pt, log and config (not best.pt) and the fold's seed logs;
    restore puts them back; neither way replaces a run that reached a later epoch."""
    import os
    import sys

    import torch

    def make_run(root, fold, seed, epoch):
        d = root / f"fold{fold}" / f"seed{seed}"
        d.mkdir(parents=True)
        torch.save({"epoch": epoch, "state_dict": {}}, d / "last.pt")
        torch.save({"epoch": epoch}, d / "best.pt")
        for f in ("log.csv", "config.yaml", "data.json"):
            (d / f).write_text(f"{f} {epoch}\n")
        (root / f"fold{fold}" / f"seed{seed}.log").write_text("log\n")

    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")}

    def carry(*args):
        return subprocess.run(["bash", str(ROOT / "scripts" / "carry_runs.sh"), *args], cwd=tmp_path,
                              capture_output=True, text=True, env=env)

    runs, kept = tmp_path / "runs", tmp_path / "kept"
    make_run(runs, 0, 0, 30)
    make_run(runs, 1, 0, 19)
    r = carry("save", "runs", "kept")
    assert r.returncode == 0, r.stderr
    assert sorted(str(p.relative_to(kept)) for p in kept.rglob("*")) == [
        "fold0", "fold0/seed0", "fold0/seed0.log", "fold0/seed0/config.yaml", "fold0/seed0/data.json",
        "fold0/seed0/last.pt", "fold0/seed0/log.csv",
        "fold1", "fold1/seed0", "fold1/seed0.log", "fold1/seed0/config.yaml", "fold1/seed0/data.json",
        "fold1/seed0/last.pt", "fold1/seed0/log.csv"]
    # a new machine: fold 1 started afresh and is behind the carried copy; fold 0 is missing
    fresh = tmp_path / "fresh"
    make_run(fresh, 1, 0, 2)
    assert carry("save", "fresh", "kept").returncode == 0
    assert torch.load(kept / "fold1/seed0/last.pt", weights_only=False)["epoch"] == 19  # not replaced
    r = carry("restore", "kept", "fresh")
    assert r.returncode == 0, r.stderr
    assert torch.load(fresh / "fold1/seed0/last.pt", weights_only=False)["epoch"] == 19
    assert torch.load(fresh / "fold0/seed0/last.pt", weights_only=False)["epoch"] == 30
    assert (fresh / "fold0/seed0/log.csv").read_text() == "log.csv 30\n"
    assert not list(fresh.rglob(".*.part"))
    # bad input: no such folder, no runs in it, an unknown mode
    assert carry("restore", "nowhere", "fresh").returncode == 2
    (tmp_path / "empty").mkdir()
    r = carry("save", "empty", "kept2")
    assert r.returncode == 2 and "no runs" in r.stderr
    assert carry("push", "runs", "kept").returncode == 2
