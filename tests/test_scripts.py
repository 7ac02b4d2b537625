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
