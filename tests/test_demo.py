"""`localize demo`: the newcomer's first run must work end to end on the built-in data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from localize import demo


def test_demo_training_config_is_the_packaged_ci_config(tmp_path):
    import yaml

    cfg = demo.demo_train_config(tmp_path)
    ci = yaml.safe_load((demo.CONFIG_DIR / "ci.yaml").read_text())
    assert cfg["model"]["encoder"] == ci["model"]["encoder"]
    assert cfg["model"]["input_size"] == ci["model"]["input_size"]
    assert [s["path"] for s in cfg["data"]["sources"]] == [str(tmp_path / "corpus")]
    assert cfg["train"]["out"] == str(tmp_path / "model")
    assert cfg["train"]["time_limit_min"] <= 2.5


def test_index_lists_every_step_with_status_and_links(tmp_path):
    steps = [demo.Step("forge", 3.0, True, {"reals": 7}, {"manifest": "corpus/manifest.json"}),
             demo.Step("train", 1.0, False, error="RuntimeError: <boom>")]
    page = demo.render_index(tmp_path, steps, 4.0)
    assert 'href="corpus/manifest.json"' in page
    assert "failed: RuntimeError: &lt;boom&gt;" in page
    assert "&quot;reals&quot;: 7" in page


@pytest.mark.slow
def test_full_demo_on_built_in_data(tmp_path):
    """The whole demo, as a newcomer runs it (about 6 minutes on 2 idle cores)."""
    t0 = time.time()
    env = dict(os.environ, LOCALIZE_CACHE=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "localize", "demo", "--out", str(tmp_path / "demo")],
                       capture_output=True, text=True, env=env, timeout=1200)
    seconds = time.time() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads((tmp_path / "demo" / "demo.json").read_text())
    names = [s["name"] for s in result["steps"]]
    assert names == [n for n, _ in demo.STEPS]
    assert all(s["ok"] for s in result["steps"]), result["steps"]
    steps = {s["name"]: s for s in result["steps"]}
    assert steps["forge"]["summary"]["reals"] >= 2
    iou = steps["masks"]["summary"]["IoU derived vs exact (c23, mean per frame), per method"]
    assert iou and all(v > 0.3 for v in iou.values()), iou
    assert steps["serve"]["summary"]["state"] == "done"
    analyzed = steps["analyze"]["summary"]  # the identity scorer's verdict beside the localizer's
    assert analyzed["real"]["identity"]["decision"] == "real" and analyzed["fake"]["identity"]["decision"]
    index = (tmp_path / "demo" / "index.html").read_text()
    for s in result["steps"]:
        for href in s["links"].values():
            assert (tmp_path / "demo" / href).exists(), href
            assert f'href="{href}"' in index
    print(f"demo took {seconds:.0f} s")
