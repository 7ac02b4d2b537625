"""benchmarks/shipping_rule.py: each pre-registered criterion can fail on its own, held-out
media never count, and a candidate passes only when all do."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rule():
    spec = importlib.util.spec_from_file_location("shipping_rule", ROOT / "benchmarks" / "shipping_rule.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _inputs(**cal):
    meta = {"metrics": {"frame_auc": 0.8}}
    calibration = {"val_fpr": 0.0, "val_tpr": 0.6, "n_real": 26, "n_real_still": 4} | cal
    analyze = {"reals": {"reals/talking_01.mp4": {"status": "ok", "decision": "real"},
                         "reals/talking_09.mp4": {"status": "ok", "decision": "fake"},  # held out: not counted
                         "people/elon_musk/photo_1.jpg": {"status": "ok", "decision": "fake"}}}
    return meta, calibration, analyze


def test_all_criteria_pass_and_held_out_media_do_not_count(rule):
    meta, cal, an = _inputs()
    v = rule.verdict(meta, cal, "xray", an, min_val_tpr=0.25, min_val_frame_auc=0.7)
    assert v["ship"] and v["criteria"]["4_no_non_held_out_real_called_fake"]["checked"] == 1
    assert v["criteria"]["5_real_validation_videos"]["n"] == 22  # photos are not videos


@pytest.mark.parametrize("change, failing", [
    ({"target": "edges"}, "1_analysis_presents_target"),
    ({"val_tpr": 0.1}, "2_operating_point"),
    ({"val_fpr": 0.05}, "2_operating_point"),
    ({"frame_auc": 0.69}, "3_validation_frame_auc"),
    ({"called": "reals/talking_01.mp4"}, "4_no_non_held_out_real_called_fake"),
    ({"n_real": 12}, "5_real_validation_videos"),
])
def test_each_criterion_fails_alone(rule, change, failing):
    meta, cal, an = _inputs(**{k: v for k, v in change.items() if k in ("val_tpr", "val_fpr", "n_real")})
    if "frame_auc" in change:
        meta["metrics"]["frame_auc"] = change["frame_auc"]
    if "called" in change:
        an["reals"][change["called"]]["decision"] = "fake"
    v = rule.verdict(meta, cal, change.get("target", "xray"), an, min_val_tpr=0.25, min_val_frame_auc=0.7)
    assert not v["ship"]
    assert [k for k, c in v["criteria"].items() if not c["pass"]] == [failing]
