"""Evaluation: metrics on known inputs (against scikit-learn) and a tiny end-to-end run."""
from __future__ import annotations

import json

import numpy as np
import pytest

from localize.evaluate import metrics as M


def test_auc_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + 0.8 * y, 1)  # rounding makes ties
    assert M.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert M.roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert M.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert np.isnan(M.roc_auc([1, 1], [0.2, 0.3]))
    assert M.roc_auc([0, 1, 1], [0.1, np.nan, 0.9]) == 1.0, "unscored samples are left out"


def test_bootstrap_ci_brackets_auc_and_is_deterministic():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(30), np.ones(30)]
    s = rng.normal(size=60) + y
    auc = M.roc_auc(y, s)
    lo, hi = M.bootstrap_auc_ci(y, s, n_boot=1000, seed=3)
    assert 0 <= lo < auc < hi <= 1
    assert (lo, hi) == M.bootstrap_auc_ci(y, s, n_boot=1000, seed=3)
    assert M.bootstrap_auc_ci([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_boot=200) == (1.0, 1.0)
    # the interval shrinks with the sample: 400+400 videos vs 10+10
    yb = np.r_[np.zeros(400), np.ones(400)]
    sb = rng.normal(size=800) + yb
    lo_b, hi_b = M.bootstrap_auc_ci(yb, sb, n_boot=500)
    lo_s, hi_s = M.bootstrap_auc_ci(yb[390:410], sb[390:410], n_boot=500)
    assert hi_b - lo_b < 0.1 < hi_s - lo_s


def test_roc_curve_matches_sklearn():
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 100)
    s = rng.normal(size=100) + y
    fpr, tpr, _ = M.roc_curve(y, s)
    f2, t2, _ = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)


def test_tpr_at_fpr_known_input():
    # reals 0.0..0.9 (10), fakes 0.55, 0.65, 0.95, 1.5
    reals = np.arange(10) / 10
    fakes = np.array([0.55, 0.65, 0.95, 1.5])
    y = np.r_[np.zeros(10), np.ones(4)]
    s = np.r_[reals, fakes]
    assert M.tpr_at_fpr(y, s, 0.0) == pytest.approx(0.5)   # threshold 0.95: no real passes
    assert M.tpr_at_fpr(y, s, 0.1) == pytest.approx(0.5)   # threshold 0.9: one real, still 2 fakes
    assert M.tpr_at_fpr(y, s, 0.3) == pytest.approx(0.75)  # threshold 0.65: reals 0.7-0.9, fakes 0.65+
    assert M.tpr_at_fpr(y, s, 0.4) == pytest.approx(1.0)   # threshold 0.55: reals 0.6-0.9, every fake
    r = M.rates_at(y, s, 0.55)
    assert r == {"accuracy": pytest.approx(10 / 14), "tpr": 1.0, "fpr": pytest.approx(0.4)}


def test_log_loss_matches_sklearn():
    from sklearn.metrics import log_loss

    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.1, 0.8, 0.6, 0.3, 0.99])
    assert M.log_loss(y, p) == pytest.approx(log_loss(y, p), rel=1e-9)
    assert M.log_loss([1], [0.0]) == pytest.approx(-np.log(1e-6)), "clipped, not infinite"


def test_binary_metrics_counts_unscored_and_uses_decisions():
    m = M.binary_metrics([0, 0, 1, 1, 1], [0.1, 0.6, 0.7, None, 0.9], 0.5, n_boot=100)
    assert (m.n_real, m.n_fake, m.n_unscored) == (2, 2, 1)
    assert m.fpr == 0.5 and m.tpr == 1.0 and m.auc == 1.0
    d = M.binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], 0.5, decisions=[False, False, True, False], n_boot=50)
    assert d.fpr == 0.0 and d.tpr == 0.5


def test_pixel_scores_known_masks():
    pred = np.zeros((2, 4, 4), bool)
    truth = np.zeros((2, 4, 4), bool)
    pred[0, :2] = True      # 8 pixels
    truth[0, :1] = True     # 4 pixels, all inside pred
    r = M.pixel_scores(pred, truth)
    assert r["iou"] == pytest.approx(4 / 8) and r["f1"] == pytest.approx(2 * 4 / (2 * 4 + 4))
    assert M.pixel_scores(np.zeros((3, 3)), np.zeros((3, 3))) == {"iou": 1.0, "f1": 1.0}


# ---------------------------------------------------------------- end to end

def test_tiny_evaluation_end_to_end(tmp_path, carphone):
    """Carphone's first half enrols 'carphone'; its second half is a real test video,
    the astronaut photo claimed to be carphone is an identity-replaced fake."""
    from localize.evaluate.run import run_evaluation
    from localize.media import astronaut_image
    from localize.video import iter_frames, probe, write_image, write_video

    info = probe(carphone)
    write_video(tmp_path / "ref.mp4", (f for i, f in iter_frames(carphone, range(0, 66))), info.fps, lossless=True)
    write_video(tmp_path / "test.mp4", (f for i, f in iter_frames(carphone, range(66, 120))), info.fps,
                lossless=True)
    write_image(tmp_path / "astronaut.png", astronaut_image())
    (tmp_path / "cases.csv").write_text(
        "path,label,kind,method,identity,original\n"
        "test.mp4,0,real,real,carphone,\n"
        "astronaut.png,1,identity-replaced,faceswap,carphone,\n")
    cfg = {"name": "tiny", "protocols": {"csv": {"path": str(tmp_path / "cases.csv"),
                                                 "identities": {"carphone": [str(tmp_path / "ref.mp4")]}}},
           "detectors": {"identity": {}}, "degradations": ["none", "half"], "references": [1],
           "bootstrap": 100, "cache": str(tmp_path / "cache")}
    res = run_evaluation(cfg, tmp_path / "out", progress=False)
    for name in ("report.md", "report.html", "results.json", "roc.png", "auc_vs_degradation.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    fused = [m for m in data["metrics"] if m["detector"] == "identity:fused" and m["degradation"] == "none"
             and m["kind"] == "identity-replaced"]
    assert fused and fused[0]["auc"] == 1.0 and fused[0]["fpr"] == 0.0
    assert {"none", "half"} == {r["degradation"] for r in data["rows"]}
    # every row (each identity family too) says whether it is in the degraded subset
    assert {r["detector"] for r in data["rows"]} >= {f"identity:{f}" for f in ("appearance", "behaviour",
                                                                               "stability", "fused")}
    assert all(r["degraded_subset"] is True for r in data["rows"])
    assert set(data["answers"]) == {"a", "b", "c", "d"}
    md = (tmp_path / "out" / "report.md").read_text()
    assert "identity:fused" in md and "(a)" in md
    assert "<table>" in (tmp_path / "out" / "report.html").read_text()
    # a second run is served from the caches
    res2 = run_evaluation(cfg, tmp_path / "out2", progress=False)
    assert json.dumps(res2.results["metrics"]) == json.dumps(res.results["metrics"])


def test_bad_config_is_one_clear_error(tmp_path):
    from localize.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    assert main(["evaluate", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert main(["evaluate", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o" / "report.md").exists()


def test_results_json_is_strict_json_with_null_for_undefined_numbers(tmp_path):
    """An AUC with one class present is NaN in memory; on disk it must be null, or
    browsers' JSON.parse (the viewer) and strict parsers reject the whole file."""
    from dataclasses import dataclass

    from localize.fileio import write_json

    @dataclass
    class M:
        auc: float
        ci: tuple

    write_json(tmp_path / "r.json", {"auc": float("nan"), "m": M(np.float32("nan"), (0.1, float("inf"))),
                                     "a": np.array([1.0, np.nan]), "n": np.int64(3), "ok": 0.5})
    txt = (tmp_path / "r.json").read_text()
    back = json.loads(txt, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert back == {"auc": None, "m": {"auc": None, "ci": [0.1, None]}, "a": [1.0, None], "n": 3, "ok": 0.5}


def test_training_sources_follow_every_stage_and_forge_corpora_to_their_originals(tmp_path):
    """A test video is 'seen' by the trained detectors if any training stage used it,
    directly or as the original a forge corpus was made from."""
    from localize.evaluate.run import _training_sources

    corpus, reals = tmp_path / "corpus", tmp_path / "reals"
    corpus.mkdir()
    reals.mkdir()
    (corpus / "manifest.json").write_text(json.dumps(
        {"reals": [{"id": "000", "source": str(tmp_path / "src" / "a.mp4")}],
         "photos": {"p1": {"id": "p1", "source": str(tmp_path / "src" / "b.jpg")}}}))
    (reals / "c.mp4").write_bytes(b"")
    (tmp_path / "s1.yaml").write_text(f"data: {{sources: [{{path: {reals}, kind: reals}}]}}\n")
    (tmp_path / "s2.yaml").write_text(f"data: {{sources: [{{path: {corpus}, kind: pairs}}]}}\n")
    seen = _training_sources({"training_config": [str(tmp_path / "s1.yaml"), str(tmp_path / "s2.yaml"),
                                                  str(tmp_path / "missing.yaml")]})
    assert {str((tmp_path / p).resolve()) for p in ("src/a.mp4", "src/b.jpg", "reals/c.mp4")} <= seen
    assert _training_sources({"training_config": str(tmp_path / "s2.yaml")}) == {
        str((tmp_path / p).resolve()) for p in ("src/a.mp4", "src/b.jpg")}


def test_frame_auc_interval_resamples_frames_within_videos():
    """A held-out pair's frame AUC with the frames resampled inside each video: perfectly
    separated frames stay at 1; overlapping ones give an interval around the point AUC."""
    from localize.evaluate.metrics import frame_auc_ci, roc_auc

    rng = np.random.default_rng(0)
    y = [0] * 32 + [1] * 32
    vids = ["orig"] * 32 + ["fake"] * 32
    assert frame_auc_ci(y, list(rng.uniform(0, 0.4, 32)) + list(rng.uniform(0.6, 1, 32)), vids) == (1.0, 1.0)
    s = list(rng.normal(0, 1, 32)) + list(rng.normal(0.5, 1, 32))
    lo, hi = frame_auc_ci(y, s, vids)
    assert lo < roc_auc(y, s) < hi and hi - lo > 0.05
    assert frame_auc_ci(y, s, vids) == (lo, hi)  # seeded
    assert all(np.isnan(frame_auc_ci([0, 0], [0.1, 0.2], ["a", "a"])))
    with pytest.raises(ValueError):
        frame_auc_ci(y, s, vids[:-1])
