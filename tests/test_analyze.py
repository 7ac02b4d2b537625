"""`localize analyze`: real faces found, files written, report fields, no_face, bad
inputs (one line each, others processed, non-zero exit, nothing partial left)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from localize import decision as D
from localize.analyze import (CONTACT_SHEET_PNG, OVERLAY_MP4, REPORT_JSON, TIMELINE_PNG, AnalyzeOptions,
                              _TrackCheck, analyze_path)
from localize.batch import metrics
from localize.cli import main as cli
from localize.errors import InputError
from localize.faces import FaceVerifier


def _checkpoint(path: Path, *, calibrated: bool) -> Path:
    import torch

    from localize.model import ModelConfig, build_model, save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, decoder_channels=(32, 16, 16, 8, 8))
    meta = {"model_id": "test-random"}
    if calibrated:
        meta["calibration"] = D.fit_calibration([0.0, 0.01, 0.02, 0.3, 0.5], [0, 0, 0, 1, 1]).to_dict()
    save_checkpoint(path, build_model(cfg), cfg, **meta)
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return _checkpoint(tmp_path_factory.mktemp("m") / "rand.pt", calibrated=True)


@pytest.fixture(scope="module")
def loc(ckpt):
    from localize.model import load_localizer

    return load_localizer(ckpt)


@pytest.fixture(scope="module")
def carphone_report(carphone, loc, face_analyzer, tmp_path_factory):
    out = tmp_path_factory.mktemp("an") / "carphone"
    rep = analyze_path(carphone, out, localizer=loc, options=AnalyzeOptions(count=12), analyzer=face_analyzer)
    return rep, out


def test_carphone_faces_files_and_report(carphone_report, loc):
    rep, out = carphone_report
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [REPORT_JSON, "report.html", OVERLAY_MP4, TIMELINE_PNG, CONTACT_SHEET_PNG, "frames"])
    assert not list(out.parent.glob(".*part*")), "temporary folder left behind"
    r = json.loads((out / REPORT_JSON).read_text())
    assert r["status"] == "ok" and r["schema_version"] == 1
    assert r["input"]["frames_analyzed"] == 12 and r["input"]["frames_with_face"] >= 11
    assert r["model"]["sha256"] == loc.sha256 and r["model"]["id"] == "test-random"
    for k in ("decode", "faces", "model", "overlay", "write", "total"):
        assert r["timings"][k] >= 0
    assert {"localize", "torch", "numpy"} <= set(r["versions"])
    assert r["input"]["metadata"]["format"].startswith("mov") and r["input"]["rotation"] == 0
    f = next(fr for fr in r["frames"] if fr["status"] == "ok")
    assert set(f) == {"index", "time", "status", "faces", "score", "max_prob"}
    face = f["faces"][0]
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= 192 and -30 <= y0 < y1 <= 144  # the box is on the face, inside the frame
    assert 0 <= face["score"] <= 1 and 0 <= face["max_prob"] <= 1 and face["frame_prob"] is not None
    assert face["region_fraction"] == face["score"]  # a forged-pixel model: the region is the thresholded map
    assert r["model"]["target"] == "mask" and r["model"]["output"] == "forged-pixel probability"
    assert f["time"] == pytest.approx(f["index"] / r["input"]["fps"], abs=1e-3)
    # the decision follows the documented rule from the stored frame scores
    tr = r["tracks"][0]
    assert tr["score"] == pytest.approx(D.aggregate_track(tr["frame_scores"]), abs=1e-6)
    v = r["video"]
    assert v["score"] == pytest.approx(max(t["score"] for t in r["tracks"] if t["used_in_decision"]), abs=1e-6)
    cal = D.Calibration.from_dict(loc.calibration)
    assert v["decision"] == ("fake" if v["score"] > cal.threshold else "real")
    assert v["probability"] == pytest.approx(cal.probability(v["score"]), abs=1e-5)
    assert v["operating_point"]["threshold"] == cal.threshold and v["operating_point"]["target_fpr"] == 0.01
    assert v["operating_point"]["applies_to"] == "videos"
    assert any("probability 1/4 = 25%" in w for w in r["warnings"])  # 3 validation reals: the FPR bound is stated
    # how firmly the frames decide: the score's resampling interval around the point score
    st = v["stability"]
    used_scores = [t["frame_scores"] for t in r["tracks"] if t["used_in_decision"]]
    again = D.decision_stability(used_scores, cal.threshold, D.TRACK_QUANTILE)  # from the stored (rounded) scores
    assert st["score_interval"] == pytest.approx(again["score_interval"], abs=1e-5) and st["resamples"] == 1000
    assert st["score_interval"][0] <= v["score"] <= st["score_interval"][1]
    assert any(w.startswith("marginal decision") for w in r["warnings"]) == st["marginal"]
    # key frames are the most suspicious frames, written as PNG, and listed
    scores = {fr["index"]: fr["score"] for fr in r["frames"] if fr["score"] is not None}
    assert r["key_frames"] and all((out / "frames" / f"{i}.png").exists() for i in r["key_frames"])
    assert min(scores[i] for i in r["key_frames"]) >= sorted(scores.values())[-len(r["key_frames"])] - 1e-9
    assert r["overlay"]["frame_indices"] == [fr["index"] for fr in r["frames"]]
    # the same report as a page to open without a server, linking the files beside it
    page = (out / "report.html").read_text()
    assert r["files"]["page"] == "report.html" and {"FAKE": "fake", "REAL": "real"}[
        "FAKE" if "verdict fake" in page else "REAL"] == v["decision"]
    for f in ("overlay.mp4", "timeline.png", "contact_sheet.png", "report.json"):
        assert f"'{f}'" in page and (out / f).exists()
    assert "Operating point" in page and ("Marginal decision" in page) == st["marginal"]


def test_overlay_video_and_images_decode(carphone_report):
    from localize.video import probe, read_image

    rep, out = carphone_report
    info = probe(out / OVERLAY_MP4)
    assert info.codec == "h264" and info.n_frames == 12
    assert max(info.width, info.height) >= 480  # small videos are upscaled for readable labels
    assert info.fps == pytest.approx(rep.overlay["fps"], rel=0.01)
    tl = read_image(out / TIMELINE_PNG)
    assert tl.shape[1] >= 600
    sheet = read_image(out / CONTACT_SHEET_PNG)
    assert sheet.shape[0] > 100


def test_image_input(loc, face_analyzer, tmp_path):
    from localize.media import astronaut_image
    from localize.video import write_image

    img = tmp_path / "astronaut.png"
    write_image(img, astronaut_image())
    rep = analyze_path(img, tmp_path / "out", localizer=loc, analyzer=face_analyzer)
    assert rep.status == "ok" and rep.input["is_image"] and len(rep.frames) == 1
    assert rep.frames[0].faces and rep.decision in ("fake", "real")
    assert (tmp_path / "out" / "frames" / "0.png").exists()


def test_photos_are_judged_by_their_own_operating_point(face_analyzer, tmp_path):
    import torch

    from localize.media import astronaut_image
    from localize.model import ModelConfig, build_model, load_localizer, save_checkpoint
    from localize.video import write_image

    torch.manual_seed(0)
    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, decoder_channels=(32, 16, 16, 8, 8))
    # videos: fake above 0.0 (everything); photos: fake only above 1.0 (nothing)
    cal = D.fit_calibration([0.0, 0.0, 0.5, 1.0], [0, 1, 1, 0], still=[False, False, False, True])
    cal.threshold = 0.0
    save_checkpoint(tmp_path / "m.pt", build_model(cfg), cfg, model_id="still-test", calibration=cal.to_dict())
    loc = load_localizer(tmp_path / "m.pt")
    img = tmp_path / "astronaut.png"
    write_image(img, astronaut_image())
    rep = analyze_path(img, tmp_path / "out", localizer=loc, options=AnalyzeOptions(overlay=False), analyzer=face_analyzer)
    op = rep.video["operating_point"]
    assert op["applies_to"] == "still photos" and op["threshold"] == cal.still_threshold >= 1.0
    assert rep.decision == "real" and "photos" in op["note"]


def test_faceless_video_is_no_face(loc, face_analyzer, tmp_path):
    from localize.video import write_video

    rng = np.random.default_rng(0)
    frames = [np.full((96, 128, 3), 40 + 5 * i, np.uint8) + rng.integers(0, 20, (96, 128, 3), dtype=np.uint8)
              for i in range(10)]
    vid = tmp_path / "wall.mp4"
    write_video(vid, frames, 10)
    rep = analyze_path(vid, tmp_path / "out", localizer=loc, analyzer=face_analyzer)
    assert rep.status == "no_face" and rep.decision == "no_face"
    assert rep.score is None and rep.probability is None  # never a silent 0.5
    assert all(f.status == "no_face" and f.score is None for f in rep.frames)
    r = json.loads((tmp_path / "out" / REPORT_JSON).read_text())
    assert r["video"]["decision"] == "no_face" and not r["key_frames"] and "contact_sheet" not in r["files"]


class _RingModel:
    """A localizer trained on the X-ray target whose band closes a ring in every crop."""

    def __init__(self, loc):
        self.loc, self.target = loc, "xray"

    def __getattr__(self, name):
        return getattr(self.loc, name)

    def predict(self, crops, batch_size=16):
        import cv2

        s = crops.shape[1]
        ring = np.zeros((s, s), np.float32)
        cv2.circle(ring, (s // 2, s // 2), s // 4, 0.9, max(2, s // 20))
        return np.repeat(ring[None], len(crops), 0), np.full(len(crops), 0.5, np.float32)


def test_boundary_model_reports_its_band_and_the_region_it_encloses(carphone, loc, face_analyzer, tmp_path):
    rep = analyze_path(carphone, tmp_path / "out", localizer=_RingModel(loc), options=AnalyzeOptions(count=3),
                       analyzer=face_analyzer)
    r = json.loads((tmp_path / "out" / REPORT_JSON).read_text())
    assert r["model"]["target"] == "xray" and "blending-boundary" in r["model"]["output"]
    assert "boundary" in r["rule"]["frame_score"] and "outlines" in r["rule"]["region"]
    faces = [f for fr in rep.frames for f in fr.faces]
    assert faces
    for f in faces:  # the score stays the band's area (the calibrated quantity); the region adds its inside
        assert 0 < f.score < 0.3 and f.region_fraction > 2 * f.score


def test_unknown_output_target_is_refused_naming_the_model(tmp_path):
    import torch

    from localize.model import ModelConfig, build_model, load_localizer, save_checkpoint

    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, decoder_channels=(32, 16, 16, 8, 8))
    torch.manual_seed(0)
    path = tmp_path / "edges.pt"
    save_checkpoint(path, build_model(cfg), cfg, config={"data": {"target": "edges"}})
    with pytest.raises(InputError, match="edges.pt.*target 'edges' is unknown"):
        load_localizer(path)


def test_uncalibrated_model_is_flagged_not_invented(carphone, face_analyzer, tmp_path):
    from localize.model import load_localizer

    loc = load_localizer(_checkpoint(tmp_path / "u.pt", calibrated=False))
    rep = analyze_path(carphone, tmp_path / "out", localizer=loc, options=AnalyzeOptions(count=3, overlay=False),
                       analyzer=face_analyzer)
    assert rep.status == "ok" and rep.decision == "uncalibrated"
    assert rep.probability is None and rep.score is not None and rep.video["operating_point"] is None
    assert any("calibration" in w for w in rep.warnings)
    assert not (tmp_path / "out" / OVERLAY_MP4).exists()


def test_bad_input_leaves_nothing(loc, face_analyzer, tmp_path):
    bad = tmp_path / "empty.mp4"
    bad.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        analyze_path(bad, tmp_path / "out" / "x", localizer=loc, analyzer=face_analyzer)
    assert not (tmp_path / "out").exists()  # not even the folder it would have made


def test_a_stream_shorter_than_its_header_is_one_clear_error(loc, face_analyzer, carphone, tmp_path, monkeypatch):
    """A header that counts more frames than the stream holds, so every chosen frame lies past the
    end: one error naming the file, not a video without faces, and nothing written."""
    import dataclasses

    from localize import video as V

    real = V.probe
    monkeypatch.setattr(V, "probe", lambda p: dataclasses.replace(real(p), n_frames=real(p).n_frames * 50))
    with pytest.raises(InputError, match="stream ends before frame") as e:
        analyze_path(carphone, tmp_path / "out" / "x", localizer=loc, options=AnalyzeOptions(count=2),
                     analyzer=face_analyzer)
    assert str(carphone) in str(e.value)
    assert not (tmp_path / "out").exists()


def test_cli_many_inputs_with_errors(ckpt, carphone, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCALIZE_CACHE", str(tmp_path / "cache"))  # the default backend exports the .pt once
    data = carphone.read_bytes()
    trunc = tmp_path / "truncated.mp4"
    trunc.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    missing = tmp_path / "missing.mp4"
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,label\ncarphone_pristine.mp4,REAL\n")
    out = tmp_path / "out"
    dfdc = tmp_path / "submission.csv"
    rc = cli(["analyze", str(missing), str(carphone), str(empty), str(trunc), str(text), str(garbage),
              "--model", str(ckpt), "--out", str(out), "--frames", "4", "--no-overlay",
              "--dfdc-csv", str(dfdc), "--labels", str(labels)])
    cap = capsys.readouterr()
    err = cap.err
    assert rc != 0
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 5
    for p in (missing, empty, trunc, text, garbage):
        assert sum(str(p) in ln for ln in lines) == 1
    # the good input was still processed; bad ones left nothing behind
    assert (out / "carphone_pristine" / REPORT_JSON).exists()
    assert sorted(p.name for p in out.iterdir()) == ["carphone_pristine", "metrics.json", "summary.csv",
                                                     "summary.html"]
    page = (out / "summary.html").read_text()
    assert "carphone_pristine/report.html" in page and page.count("error:") == 5  # every bad input listed
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["status"] for r in rows] == ["error", "ok", "error", "error", "error", "error"]
    assert rows[1]["decision"] in ("fake", "real") and rows[0]["error"]
    assert rows[1]["marginal"] in ("true", "false") and rows[0]["marginal"] == ""
    assert 0 < float(rows[1]["threshold_probability"]) < 1 and rows[0]["threshold_probability"] == ""
    good = [ln for ln in cap.out.splitlines() if ln.startswith(f"{carphone}: ")]
    assert len(good) == 1 and "P(fake)" in good[0] and "called fake above" in good[0]
    sub = dfdc.read_text().splitlines()
    assert sub[0] == "filename,label" and len(sub) == 2 and sub[1].startswith("carphone_pristine.mp4,")
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 1 and m["auc"] is None and "log_loss" in m
    r = json.loads((out / "carphone_pristine" / REPORT_JSON).read_text())
    assert r["model"]["backend"] == "onnx" and r["model"]["path"] == str(ckpt)  # the ONNX cache, named by the .pt


def test_verdict_text_says_where_the_model_calls_fake():
    from localize.batch import _verdict_text

    row = {"decision": "real", "probability": "0.647147", "threshold_probability": "0.703862", "marginal": "true"}
    assert _verdict_text(row) == "real, P(fake) 0.647 (called fake above 0.704), marginal"
    assert _verdict_text({"decision": "no_face", "probability": "", "threshold_probability": "",
                          "marginal": ""}) == "no_face"
    gray = dict(row, marginal="false", grayscale="true")
    assert _verdict_text(gray) == "real, P(fake) 0.647 (called fake above 0.704), grayscale footage: not validated"


def test_cli_resume_skips_done_inputs(ckpt, carphone, tmp_path, capsys):
    args = ["analyze", str(carphone), "--model", str(ckpt), "--out", str(tmp_path), "--frames", "2", "--no-overlay",
            "--backend", "torch"]
    assert cli(args) == 0
    rp = tmp_path / "carphone_pristine" / REPORT_JSON
    before = rp.stat().st_mtime_ns
    assert cli(args + ["--resume"]) == 0
    assert rp.stat().st_mtime_ns == before


def test_two_pass_decoding_matches_in_memory(carphone, loc, face_analyzer, tmp_path):
    o1 = AnalyzeOptions(count=6, overlay=False)
    o2 = AnalyzeOptions(count=6, overlay=False, memory_budget_mb=0)  # forces decoding twice
    r1 = analyze_path(carphone, tmp_path / "a", localizer=loc, options=o1, analyzer=face_analyzer)
    r2 = analyze_path(carphone, tmp_path / "b", localizer=loc, options=o2, analyzer=face_analyzer)
    assert [f.score for f in r1.frames] == [f.score for f in r2.frames]


def test_video_score_ignores_short_spurious_tracks():
    from localize.decision import video_score

    s, used = video_score({0: [0.01] * 10, 1: [0.9]}, 0.9, 3)
    assert s == pytest.approx(0.01) and used == {0}
    s, used = video_score({0: [0.2], 1: [0.4]}, 0.9, 3)  # only short tracks: they decide
    assert s == 0.4 and used == {0, 1}
    assert video_score({}, 0.9, 3) == (None, set())


def test_metrics():
    rows = [{"input": "a", "probability": "0.9", "decision": "fake"},
            {"input": "b", "probability": "0.2", "decision": "real"},
            {"input": "c", "probability": "", "decision": "no_face"}]
    m = metrics(rows, {"a": 1, "b": 0, "c": 1})
    assert m["n"] == 2 and m["auc"] == 1.0 and m["accuracy"] == 1.0 and m["excluded"] == ["c"]
    assert m["log_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2, abs=1e-6)


def test_listed_files_match_inputs_by_path_or_by_a_unique_name(tmp_path, monkeypatch, capsys):
    """--labels/--people lines: a bare name matches the one input of that name; a path matches that
    file (relative to the working folder or to the listing); a name shared by inputs in two folders
    is an error, so a claim about one file never reaches another."""
    from localize.batch import _assign, _read_listing
    from localize.errors import InputError

    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.mp4").write_bytes(b"")
    (tmp_path / "a" / "y.mp4").write_bytes(b"")
    monkeypatch.chdir(tmp_path / "a")
    ax, bx, ay = Path("x.mp4"), tmp_path / "b" / "x.mp4", Path("y.mp4")  # inputs as given
    listing = tmp_path / "lists" / "people.csv"
    listing.parent.mkdir()

    def assign(text, inputs=(ax, bx, ay)):
        listing.write_text(text)
        return _assign(listing, _read_listing(listing, "person", str), list(inputs))

    assert assign("y.mp4,ann\nx.mp4,bob\n", [ax, ay]) == {ax: "bob", ay: "ann"}  # names, unique
    with pytest.raises(InputError, match="line 1: x.mp4 matches 2 inputs in different folders"):
        assign("x.mp4,bob\n")
    # paths: relative to the working folder, to the listing's folder, or absolute; a path beats a name
    got = assign(f"./x.mp4,bob\n../b/x.mp4,cat\n{tmp_path / 'a' / 'y.mp4'},ann\n")
    assert got == {ax: "bob", bx: "cat", ay: "ann"}
    assert assign("y.mp4,ann\n../a/y.mp4,dan\n") == {ay: "dan"}
    with pytest.raises(InputError, match=r"line 2: .*x.mp4 is listed twice, as bob \(line 1\) and cat"):
        assign("./x.mp4,bob\n../a/x.mp4,cat\n")
    capsys.readouterr()
    assert assign("elsewhere/z.mp4,eve\ny.mp4,ann\n") == {ay: "ann"}
    assert "1 listed file(s) are not among the inputs (elsewhere/z.mp4)" in capsys.readouterr().err


def test_crop_rule_is_the_training_rule(carphone, loc, face_analyzer, tmp_path):
    """Sampled frames are cropped exactly as localize.data crops training frames."""
    from localize.data import face_landmarks
    from localize.faces import crop_box, landmark_box

    rep = analyze_path(carphone, tmp_path / "o", localizer=loc, options=AnalyzeOptions(count=5, overlay=False),
                       analyzer=face_analyzer)
    idx = [f.index for f in rep.frames if f.faces]
    assert len(idx) >= 4
    train = face_landmarks(face_analyzer, carphone, idx)
    for f in rep.frames:
        if f.faces:
            want = crop_box(landmark_box(train[f.index]), 1.3)
            np.testing.assert_allclose(f.faces[0].crop_box, want, atol=0.02)


class _TwoFaces:
    """A stand-in detector: two faces drifting right, one appearing only in some frames."""

    detect_side = 640

    def _boxes(self, idx):
        boxes = [(10.0 + idx, 20.0, 90.0 + idx, 100.0), (200.0 + idx, 30.0, 270.0 + idx, 100.0)]
        return boxes if idx < 40 else boxes[:1]

    def detect(self, image, *, landmarks=True):
        from localize.faces import Face

        idx = int(image[0, 0, 0])
        return [Face(box=b, score=1.0, landmarks=self.landmarks(image, b)) for b in self._boxes(idx)]

    def landmarks(self, image, box):
        from localize.faces import box_iou

        # the shape predictor finds the face that is really there, near the box it is given
        x0, y0, x1, y1 = max(self._boxes(int(image[0, 0, 0])), key=lambda b: box_iou(b, box))
        g = np.linspace(0, 1, 68, dtype=np.float32)
        return np.stack([x0 + g * (x1 - x0), y0 + (1 - g) * (y1 - y0)], 1)


def test_windowed_faces_link_every_face_into_its_own_track():
    from localize.analyze import _windowed_faces

    samples = list(range(2, 60, 8))
    windows = {i: [j for j in range(i - 2, i + 3)] for i in samples}
    frames = ((j, np.full((8, 8, 3), j, np.uint8)) for j in range(0, 62))
    per = _windowed_faces(_TwoFaces(), frames, windows, 5)
    assert sorted(per) == samples
    for i in samples:
        tids = sorted(t for t, _, _ in per[i])
        assert tids == ([0, 1] if i < 38 else [0])  # the right face leaves; the left keeps its id
        left = next(l for t, l, _ in per[i] if t == 0)
        assert left[:, 0].min() == pytest.approx(10.0 + i, abs=1e-3)  # landmarks averaged over the window


class _OneFaceOneOddBox(_TwoFaces):
    """One face, as talking_06 at 1080 px: a small low box at one sample (a poor fit) just before
    the head moves up; the next box hardly overlaps it (landmark boxes: IoU 0.02), but does the box
    before it (0.22)."""

    def _boxes(self, idx):
        if idx < 30:
            return [(316.0, 117.0, 389.0, 211.0)]
        return [(329.0, 160.0, 389.0, 240.0)] if idx < 38 else [(329.0, 57.0, 407.0, 149.0)]


def test_windowed_faces_keep_a_person_through_one_odd_box():
    """talking_06 at 1080 px: one poor box between two samples split its one face in two tracks;
    linking against a track's last three boxes keeps it one."""
    from localize.analyze import _windowed_faces

    samples = list(range(2, 60, 8))  # sample 34 falls on the odd box
    windows = {i: [j for j in range(i - 2, i + 3)] for i in samples}
    frames = ((j, np.full((8, 8, 3), j, np.uint8)) for j in range(0, 62))
    per = _windowed_faces(_OneFaceOneOddBox(), frames, windows, 5)
    assert {t for i in samples for t, _, _ in per[i]} == {0}
    frames = ((j, np.full((8, 8, 3), j, np.uint8)) for j in range(0, 62))
    per = _windowed_faces(_OneFaceOneOddBox(), frames, windows, 5, memory=1)  # the old rule splits it
    assert {t for i in samples for t, _, _ in per[i]} == {0, 1}


def test_real_ffpp_pair_faces_tracked_in_both(shared_data, loc, face_analyzer, tmp_path):
    """On the real FF++ c23 pair every sampled frame has the face, one track each, and
    the pixel-aligned original and fake are cropped at the same place."""
    ff = shared_data / "ffpp"
    orig = ff / "original_sequences/youtube/c23/videos/519.mp4"
    fake = ff / "manipulated_sequences/Deepfakes/c23/videos/519_515.mp4"
    opts = AnalyzeOptions(count=6, overlay=False, key_frames=0)
    ro = analyze_path(orig, tmp_path / "o", localizer=loc, options=opts, analyzer=face_analyzer)
    rf = analyze_path(fake, tmp_path / "f", localizer=loc, options=opts, analyzer=face_analyzer)
    for r in (ro, rf):
        assert r.input["frames_with_face"] == 6 and len(r.tracks) == 1 and r.tracks[0].n_frames == 6
    from localize.faces import box_iou

    for a, b in zip(ro.frames, rf.frames):
        assert a.index == b.index
        assert box_iou(tuple(a.faces[0].crop_box), tuple(b.faces[0].crop_box)) > 0.8


@pytest.mark.parametrize("rotation, mirrored", [(90, False), (-90, False), (180, False), (0, True), (90, True),
                                               (180, True)])
def test_phone_video_with_a_display_rotation_is_analysed_upright(carphone, loc, face_analyzer, tmp_path, rotation,
                                                                 mirrored):
    """Phones store portrait video sideways with a display rotation that every player applies;
    read raw, its faces lie on their side and HOG finds none (this returned no_face before). A
    mirrored display matrix (front cameras, webcams) is applied too: PyAV reports a plain mirror
    as a half turn, which turned such a video upside down before."""
    import subprocess

    import imageio_ffmpeg

    from localize.video import iter_frames, probe, write_video

    upright = [f for _, f in iter_frames(carphone, range(8))]
    k = {0: 0, 90: -1, -90: 1, 180: 2}[rotation]  # stored turned the other way, so the rotation undoes it

    def stored_of(f):  # what the display (the turn, then the mirror) undoes
        return np.ascontiguousarray(np.rot90(f[:, ::-1] if mirrored else f, k))
    stored = tmp_path / "stored.mp4"
    write_video(stored, (stored_of(f) for f in upright), 25.0, crf=18)
    phone = tmp_path / f"phone{rotation}{'m' if mirrored else ''}.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation", str(rotation),
                    *(["-display_hflip"] if mirrored else []), "-i", str(stored), "-c", "copy", str(phone)],
                   check=True)  # remux with a display matrix
    info = probe(phone)
    assert info.rotation % 360 == rotation % 360 and info.mirrored == mirrored
    assert (info.width, info.height) == (192, 144)  # carphone as shown (its 176 px rows hold 128:117 pixels)
    got = [f for _, f in iter_frames(phone, range(8))]
    assert got[0].shape == upright[0].shape
    assert np.abs(got[3].astype(int) - upright[3].astype(int)).mean() < 4  # codec noise only
    rep = analyze_path(phone, tmp_path / "out", localizer=loc, analyzer=face_analyzer,
                       options=AnalyzeOptions(count=6, overlay=False, key_frames=0))
    assert rep.status == "ok" and rep.input["frames_with_face"] == 6 and rep.input["rotation"] == info.rotation
    assert rep.input["mirrored"] == mirrored


def test_interlaced_footage_is_flagged(carphone, loc, face_analyzer, tmp_path):
    """Broadcast footage with fields woven into frames: combing was not in the training data."""
    import subprocess

    import imageio_ffmpeg

    from localize.video import media_metadata

    tv = tmp_path / "tv.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(carphone), "-vf",
                    "tinterlace=mode=interleave_top", "-flags", "+ildct+ilme", "-c:v", "libx264", "-x264opts",
                    "tff=1", str(tv)], check=True)
    assert media_metadata(tv)["interlaced"] is True
    rep = analyze_path(tv, tmp_path / "out", localizer=loc, analyzer=face_analyzer,
                       options=AnalyzeOptions(count=4, overlay=False, key_frames=0))
    assert any(w.startswith("interlaced footage") for w in rep.warnings)
    assert rep.input["metadata"]["interlaced"] is True and rep.input["variable_frame_rate"] is False


def test_variable_frame_rate_video_reports_the_frames_own_times(carphone, vfr_clip, loc, face_analyzer, tmp_path):
    """25 fps for 60 frames, then 12.5 fps: index / average rate would put frame 100 at 6.0 s,
    its timestamp says 5.6 s; the report, its timeline and the viewer use the timestamp."""
    vfr = vfr_clip
    rep = analyze_path(vfr, tmp_path / "out", localizer=loc, analyzer=face_analyzer,
                       options=AnalyzeOptions(frames="all", overlay=False, key_frames=0))
    assert rep.input["variable_frame_rate"] is True
    t = {f.index: f.time for f in rep.frames}
    assert t[30] == pytest.approx(1.2, abs=0.01) and t[100] == pytest.approx(5.6, abs=0.01)
    assert any(w.startswith("variable frame rate") for w in rep.warnings)
    # the overlay plays each analysed frame at its own time, as the footage was recorded
    from localize.video import probe

    ov = analyze_path(vfr, tmp_path / "ov", localizer=loc, analyzer=face_analyzer,
                      options=AnalyzeOptions(count=8, key_frames=0))
    want = [f.time - ov.frames[0].time for f in ov.frames]
    got = probe(tmp_path / "ov" / "overlay.mp4").times
    assert len(got) == len(want) and got == pytest.approx(want, abs=1e-3) and want[-1] > 5
    cfr = analyze_path(carphone, tmp_path / "cfr", localizer=loc, analyzer=face_analyzer,
                       options=AnalyzeOptions(count=4, overlay=False, key_frames=0))
    assert cfr.input["variable_frame_rate"] is False
    assert all(f.time == pytest.approx(f.index / cfr.input["fps"], abs=1e-3) for f in cfr.frames)


class _FlagBright:
    """A localizer that marks a whole crop forged when the crop is bright, and nothing otherwise."""

    def __init__(self, loc):
        self.loc = loc

    def __getattr__(self, name):
        return getattr(self.loc, name)

    def predict(self, crops, batch_size=16):
        bright = crops.reshape(len(crops), -1).mean(1) > 150
        s = crops.shape[1]
        return np.repeat(bright[:, None, None], s, 1).repeat(s, 2).astype(np.float32), None


def test_a_background_face_that_decides_is_named_and_warned_of(carphone, loc, face_analyzer, tmp_path):
    """Two people: the main face (large, in every frame) is real, a smaller face beside it is
    called fake. The report marks the main face and each face's size, and warns that the face
    that decided is not the main one (bystanders were the top real false positives of E)."""
    import cv2

    from localize.video import read_frames, write_video

    frames = []
    for f in read_frames(carphone)[:30]:
        big = cv2.resize(f, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        small = cv2.resize(f[:, ::-1], None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
        small = np.clip(small.astype(np.int16) + 90, 0, 255).astype(np.uint8)  # the one the model flags
        right = np.zeros((big.shape[0], small.shape[1], 3), np.uint8)
        right[:small.shape[0]] = small
        frames.append(np.ascontiguousarray(np.concatenate([big, right], axis=1)))
    vid = tmp_path / "two.mp4"
    write_video(vid, frames, 25, crf=18)
    rep = analyze_path(vid, tmp_path / "out", localizer=_FlagBright(loc), analyzer=face_analyzer,
                       options=AnalyzeOptions(count=8, overlay=False))
    assert rep.decision == "fake" and len(rep.tracks) == 2
    main = [t for t in rep.tracks if t.main]
    other = [t for t in rep.tracks if not t.main]
    assert len(main) == 1 and main[0].fake is False and other[0].fake is True
    assert main[0].face_px > other[0].face_px > 60
    assert any("is not the video's main face" in w and f"#{other[0].track_id}" in w for w in rep.warnings)
    assert not any("smaller than any forged face" in w for w in rep.warnings)  # both faces are >= 64 px
    page = (tmp_path / "out" / "report.html").read_text()
    assert "main, " in page and " px" in page


class _Verifier(FaceVerifier):
    """Stands in for faces.FaceVerifier (its own __init__: no dlib model loaded): answers the
    given confidences in turn (then 0)."""
    min_confidence = 0.5

    def __init__(self, *answers: float):
        self.answers, self.calls = list(answers), 0

    def confidence(self, image, box) -> float:
        self.calls += 1
        return self.answers.pop(0) if self.answers else 0.0


def test_a_track_is_judged_once_confirmed_and_given_up_after_its_attempts():
    img = np.zeros((8, 8, 3), np.uint8)
    v = _Verifier(0.1, 0.9)  # track 1: unsure first, then confirmed
    chk = _TrackCheck(v, attempts=3)
    assert [chk.accept(1, i, img, (0, 0, 4, 4)) for i in range(4)] == [False, True, True, True]
    assert v.calls == 2  # a confirmed track is not checked again
    assert [chk.accept(2, i, img, (0, 0, 4, 4)) for i in range(5)] == [False] * 5
    assert v.calls == 5  # three checks, then given up unchecked
    assert chk.unconfirmed() == [{"track_id": 1, "confirmed": True, "frames": [0], "checks": [0.1]},
                                 {"track_id": 2, "confirmed": False, "frames": [0, 1, 2, 3, 4],
                                  "checks": [0.0, 0.0, 0.0]}]


def test_faces_the_second_detector_does_not_confirm_are_not_judged(carphone, loc, face_analyzer, tmp_path,
                                                                  monkeypatch):
    """A track nothing confirms is reported, not scored: with every check failing, the carphone clip
    has no face to decide on (status no_face, a warning, video.unconfirmed_faces); unchecked
    (verify_faces off) the same frames are judged."""
    monkeypatch.setattr(face_analyzer, "_verifier", _Verifier())
    rep = analyze_path(carphone, tmp_path / "a", localizer=loc, options=AnalyzeOptions(count=6, overlay=False),
                       analyzer=face_analyzer)
    assert rep.status == "no_face" and rep.decision == "no_face" and not rep.tracks
    u, = rep.video["unconfirmed_faces"]
    assert not u["confirmed"] and len(u["frames"]) == 6 and len(u["checks"]) == 3
    assert any("not confirmed as faces" in w for w in rep.warnings)
    assert any("no confirmed face" in w for w in rep.warnings)
    off = analyze_path(carphone, tmp_path / "b", localizer=loc,
                       options=AnalyzeOptions(count=6, overlay=False, verify_faces=False), analyzer=face_analyzer)
    assert off.status == "ok" and off.video["unconfirmed_faces"] == []


def test_detect_side_reaches_the_face_detector(carphone, ckpt, tmp_path, capsys, monkeypatch):
    """--detect-side (larger finds the small faces of group footage) is used and recorded; a scale
    too small to find any face is refused in one line before anything is written."""
    import localize.faces as F

    sides = []
    real_init = F.FaceAnalyzer.__init__

    def spy(self, *a, **kw):
        sides.append(kw.get("detect_side"))
        real_init(self, *a, **kw)

    monkeypatch.setattr(F.FaceAnalyzer, "__init__", spy)
    out = tmp_path / "o"
    assert cli(["analyze", str(carphone), "--model", str(ckpt), "--out", str(out), "--frames", "3",
                "--no-overlay", "--detect-side", "320"]) == 0
    r = json.loads((out / "carphone_pristine" / REPORT_JSON).read_text())
    assert r["options"]["detect_side"] == 320 and r["status"] == "ok"
    assert sides == [320]  # the detector itself, not only the record
    assert cli(["analyze", str(carphone), "--model", str(ckpt), "--out", str(tmp_path / "x"),
                "--detect-side", "100"]) != 0
    assert "--detect-side must be >= 160" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert cli(["analyze", str(carphone), "--model", str(ckpt), "--out", str(tmp_path / "y"),
                "--survey-frames", "-1"]) != 0
    assert "--survey-frames must be >= 0" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def _group_photo(path: Path) -> Path:
    """1280x720: one face of ~210 px and one of ~87 px. At the default 640 px detection copy the
    small face is ~43 px, under what HOG finds; at 1280 px both are found."""
    import cv2

    from localize.media import astronaut_image
    from localize.video import write_image

    a = astronaut_image()[20:260, 100:340]  # the face, ~100 px, with some margin
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    canvas[96:624, 60:588] = cv2.resize(a, (528, 528), interpolation=cv2.INTER_CUBIC)
    canvas[250:466, 900:1116] = cv2.resize(a, (216, 216), interpolation=cv2.INTER_AREA)
    write_image(path, canvas)
    return path


def test_a_survey_finds_the_small_faces_of_group_footage(loc, face_analyzer, tmp_path):
    """With the survey on (the default), the face the 640 px copy misses is found and judged: the
    input is detected at a larger scale, recorded with the face that made it so; with it off only
    the large face is judged. The shared analyzer keeps its own scale afterwards."""
    img = _group_photo(tmp_path / "group.png")
    before = face_analyzer.detect_side
    rep = analyze_path(img, tmp_path / "a", localizer=loc, analyzer=face_analyzer,
                       options=AnalyzeOptions(overlay=False))
    det = rep.options["detection"]
    assert det["side"] > 640 and det["surveyed"] == [0]
    assert len(det["missed"]) == 1 and 70 < det["missed"][0]["px"] < 110 and det["missed"][0]["box"][0] > 900
    assert len(rep.tracks) == 2 and len(rep.frames[0].faces) == 2
    assert face_analyzer.detect_side == before
    assert "Faces were detected at 1280 px" in (tmp_path / "a" / "report.html").read_text()
    off = analyze_path(img, tmp_path / "b", localizer=loc, analyzer=face_analyzer,
                       options=AnalyzeOptions(overlay=False, survey_frames=0))
    assert off.options["detection"]["side"] == 640 and off.options["detection"]["surveyed"] == []
    assert len(off.tracks) == 1 and off.tracks[0].face_px > 150


def test_a_survey_of_one_face_footage_keeps_the_fast_scale(carphone_report):
    """A single face the small copy finds (and an input no larger than it) changes nothing: the
    survey costs a few detections, never a slower analysis."""
    rep, _ = carphone_report
    det = rep.options["detection"]
    assert det["side"] == 640 and det["missed"] == [] and "no larger than" in det["reason"]


def test_survey_frames_are_spread_and_the_scale_bounded(face_analyzer, tmp_path):
    """Frames surveyed are spread over the sampled ones; a missed face must be one the larger scale
    is sure of; the scale chosen brings the smallest missed face to SURVEY_FACE_PX, at least 1.5 x
    the base and never above detect_retry_side nor the input's own size."""
    from localize import detect_scale as S
    from localize.faces import Face

    assert S.survey_picks(list(range(0, 320, 10)), 3) == [50, 160, 260]
    assert S.survey_picks([4, 9], 3) == [4, 9] and S.survey_picks([7], 3) == [7]

    class Fake:
        detect_side = 640

        def __init__(self, small_px, score=0.5):
            self.small_px, self.score, self.seen = small_px, score, []

        def detect(self, img, landmarks=False):
            self.seen.append(self.detect_side)
            faces = [Face(box=(0, 0, 300, 300), score=1.0)]
            if self.detect_side > 640:
                faces.append(Face(box=(500, 500, 500 + self.small_px, 500 + self.small_px), score=self.score))
            return faces

    img = np.zeros((8, 8, 3), np.uint8)
    fake = Fake(60)
    got = S.missed_faces(img, fake, 640, 1280)
    assert fake.seen == [640, 1280] and fake.detect_side == 640 and len(got) == 1
    assert S.missed_faces(img, Fake(60, score=-0.1), 640, 1280) == []  # an unsure box costs no rescale
    assert S.missed_faces(img, Fake(60), 640, 1280, _Verifier(0.1)) == []  # nor one MMOD does not confirm
    assert S.rescaled_side(1920, 60, 640, 1280) == 1280  # 1920 * 96 / 60 = 3072: capped
    assert S.rescaled_side(1920, 160, 640, 1280) == 1152  # ceil(1920 * 96 / 160 / 32) * 32
    assert S.rescaled_side(1280, 300, 640, 1280) == 960  # big enough yet missed: 1.5 x the base
    assert S.survey_top(1920, AnalyzeOptions()) == 1280
    assert S.survey_top(700, AnalyzeOptions()) == 640  # no larger than the base: no survey
    assert S.survey_top(1920, AnalyzeOptions(survey_frames=0)) == 640


def test_a_survey_restarts_pass_one_at_the_scale_that_finds_the_face(tmp_path, loc, face_analyzer):
    """In a video the survey stops pass 1 at the frame with the missed face and runs it again at
    the larger scale, once: the small face is then tracked through the video."""
    import cv2

    from localize.video import write_video

    img = cv2.imread(str(_group_photo(tmp_path / "g.png")))[:, :, ::-1]
    frames = [np.ascontiguousarray(np.roll(img, 2 * i, axis=1)) for i in range(20)]
    vid = tmp_path / "group.mp4"
    write_video(vid, frames, 10, crf=18)
    rep = analyze_path(vid, tmp_path / "o", localizer=loc, analyzer=face_analyzer,
                       options=AnalyzeOptions(count=6, overlay=False))
    det = rep.options["detection"]
    assert det["side"] == 1280 and len(det["surveyed"]) == 1 and det["missed"][0]["frame"] == det["surveyed"][0]
    assert len(rep.tracks) == 2 and all(t.n_frames == 6 for t in rep.tracks)
    assert rep.input["frames_analyzed"] == 6


def test_faces_smaller_than_any_forged_face_are_warned_of(carphone_report):
    """carphone is 192x144 as shown: its face spans about 54 px of landmarks, under the forge's 64 px minimum
    (forged training faces are never smaller), so whichever verdict comes, the report says it is not
    validated at that size; the two-person test above shows no such warning at 97-129 px."""
    rep, _ = carphone_report
    assert rep.tracks[0].face_px < 70
    assert sum("smaller than any forged face the model was trained on" in w for w in rep.warnings) == 1


class _FlagAll(_FlagBright):
    """A localizer that marks every crop wholly forged."""

    def predict(self, crops, batch_size=16):
        s = crops.shape[1]
        return np.ones((len(crops), s, s), np.float32), None


def test_a_dark_face_that_decides_a_fake_verdict_is_warned_of(loc, face_analyzer, tmp_path):
    """A model trained here scored darker real faces higher out of fold (MODEL_CARD): a fake
    verdict decided by a face whose centre is darker than analyze.DIM_FACE_LUMA carries a warning,
    and every track records its face's luma; the same face in its own light decides without one."""
    from localize.analyze import DIM_FACE_LUMA
    from localize.media import astronaut_image
    from localize.video import write_image

    img = astronaut_image()
    write_image(tmp_path / "bright.png", img)
    write_image(tmp_path / "dark.png", (img.astype(np.float32) * 0.45).astype(np.uint8))
    got = {}
    for name in ("bright", "dark"):
        rep = analyze_path(tmp_path / f"{name}.png", tmp_path / name, localizer=_FlagAll(loc), analyzer=face_analyzer,
                           options=AnalyzeOptions(overlay=False))
        assert rep.decision == "fake"
        got[name] = (rep.tracks[0].face_luma, [w for w in rep.warnings if "is dark (luma" in w])
    assert got["bright"][0] > DIM_FACE_LUMA and got["bright"][1] == []
    assert got["dark"][0] < DIM_FACE_LUMA and len(got["dark"][1]) == 1
    assert json.loads((tmp_path / "dark" / REPORT_JSON).read_text())["tracks"][0]["face_luma"] == got["dark"][0]


def test_a_grayscale_verdict_is_flagged_as_not_validated(loc, face_analyzer, tmp_path):
    """Grayscale copies of real clips raised the shipped model's P(fake) (benchmarks/grayscale_probe.py)
    and no model here saw grayscale footage: a verdict whose judged faces have no colour carries a
    warning and video.grayscale, on the report page too; the colour image has neither, and every
    track records its face's chroma."""
    from localize.analyze import GRAY_FACE_CHROMA
    from localize.media import astronaut_image
    from localize.report_page import render_report
    from localize.video import write_image

    img = astronaut_image()
    y = (0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]).round().astype(np.uint8)
    write_image(tmp_path / "colour.png", img)
    write_image(tmp_path / "gray.png", np.repeat(y[..., None], 3, axis=2))
    got = {}
    for name in ("colour", "gray"):
        rep = analyze_path(tmp_path / f"{name}.png", tmp_path / name, localizer=_FlagAll(loc), analyzer=face_analyzer,
                           options=AnalyzeOptions(overlay=False))
        assert rep.decision == "fake"
        got[name] = (rep.tracks[0].face_chroma, rep.video["grayscale"],
                     [w for w in rep.warnings if w.startswith("grayscale footage")])
    assert got["colour"][0] > 4 * GRAY_FACE_CHROMA and got["colour"][1:] == (False, [])
    assert got["gray"][0] < 1.0 and got["gray"][1] is True and len(got["gray"][2]) == 1
    r = json.loads((tmp_path / "gray" / REPORT_JSON).read_text())
    assert r["video"]["grayscale"] is True and "Grayscale footage" in render_report(r)


def test_person_adds_the_identity_verdict_beside_the_localizers(ckpt, carphone, tmp_path, capsys):
    """`--person NAME`: the zero-shot identity scorer's verdict on each input joins its report, page, summary
    row and terminal line, exactly as `localize verify` gives it, and never changes the localizer's decision;
    resuming re-runs an input analysed without that person; an unknown person is one error line before any
    analysis, with nothing written."""
    import subprocess

    import imageio_ffmpeg

    from localize.media import astronaut_image
    from localize.video import write_image

    clip = tmp_path / "carphone_late.mp4"  # the part of carphone not enrolled
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-ss", "2.2", "-i", str(carphone),
                    "-c:v", "libx264", "-crf", "12", str(clip)], check=True)
    astro = tmp_path / "astronaut.png"
    write_image(astro, astronaut_image())
    common = ["--profiles", str(tmp_path / "profiles"), "--quiet"]
    feats = ["--feature-cache", str(tmp_path / "features")]
    assert cli(["enroll", "--person", "carphone", f"{carphone}@0-2.2", *common, "--cache", feats[1]]) == 0
    assert cli(["enroll", "--person", "astronaut", str(astro), *common, "--cache", feats[1]]) == 0
    capsys.readouterr()
    assert cli(["verify", "--person", "carphone", str(clip), *common, "--cache", feats[1]]) == 0
    verified = json.loads(capsys.readouterr().out)

    base = ["analyze", str(clip), str(astro), "--model", str(ckpt), "--frames", "4", "--no-overlay",
            "--backend", "torch", "--profiles", common[1], *feats]
    assert cli([*base, "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "carphone_late" / REPORT_JSON).read_text())
    assert plain["identity"] is None
    capsys.readouterr()
    out = tmp_path / "with"
    assert cli([*base, "--out", str(out), "--person", "carphone"]) == 0
    printed = capsys.readouterr().out
    rep = json.loads((out / "carphone_late" / REPORT_JSON).read_text())
    ident = rep["identity"]
    assert ident["person"] == "carphone" and ident["decision"] == "real" and ident["status"] == "scored"
    assert ident["fake_probability"] == verified["fake_probability"] and ident["tracks"] == verified["tracks"]
    assert rep["video"] == plain["video"]  # the localizer's verdict is untouched
    assert "identity" in rep["timings"]
    assert "Identity check against carphone" in (out / "carphone_late" / "report.html").read_text()
    rows = {r["name"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert rows["carphone_late.mp4"]["identity_person"] == "carphone"
    assert rows["carphone_late.mp4"]["identity_decision"] == "real"
    assert float(rows["carphone_late.mp4"]["identity_probability"]) < 0.5
    assert "identity check against carphone" in (out / "summary.html").read_text()
    assert f"{clip}: " in printed and "identity check against carphone: real" in printed
    # the astronaut photo is another person: the identity scorer calls it not carphone
    assert rows["astronaut.png"]["identity_decision"] == "fake"

    # resuming with another person re-scores; with the same one it keeps the report
    rp = out / "carphone_late" / REPORT_JSON
    before = rp.stat().st_mtime_ns
    assert cli([*base, "--out", str(out), "--person", "carphone", "--resume"]) == 0
    assert rp.stat().st_mtime_ns == before
    assert cli([*base, "--out", str(out), "--person", "astronaut", "--resume"]) == 0
    other = json.loads(rp.read_text())["identity"]
    assert other["person"] == "astronaut" and other["decision"] == "fake"
    disagree = json.loads(rp.read_text())["video"]["decision"] != "fake"
    assert ("disagreement" in other) == disagree
    assert ("disagreement" in ident) == (rep["video"]["decision"] == "fake")  # ident said real
    assert ("The two detectors disagree" in (out / "carphone_late" / "report.html").read_text()) == disagree
    capsys.readouterr()

    rc = cli([*base, "--out", str(tmp_path / "nobody"), "--person", "nobody"])
    err = capsys.readouterr().err
    assert rc == 2 and "no profile for 'nobody'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "nobody").exists()

    # --people: each input against the person it claims to show; unlisted inputs get no check
    people = tmp_path / "people.csv"
    people.write_text(f"filename,person\n{clip.name},carphone\nelsewhere.mp4,astronaut\n")
    assert cli([*base, "--out", str(tmp_path / "claims"), "--people", str(people)]) == 0
    err = capsys.readouterr().err
    assert "1 listed file(s) are not among the inputs (elsewhere.mp4)" in err
    rows = {r["name"]: r for r in csv.DictReader(open(tmp_path / "claims" / "summary.csv"))}
    assert rows[clip.name]["identity_person"] == "carphone" and rows[clip.name]["identity_decision"] == "real"
    assert rows["astronaut.png"]["identity_person"] == "" and rows["astronaut.png"]["identity_decision"] == ""
    assert json.loads((tmp_path / "claims" / "astronaut" / REPORT_JSON).read_text())["identity"] is None
    assert "carphone: real" in (tmp_path / "claims" / "summary.html").read_text()  # not every row is checked
    people.write_text(f"{clip.name},carphone\nastronaut.png,astronaut\n")  # no header line
    assert cli([*base, "--out", str(tmp_path / "both"), "--people", str(people)]) == 0
    rows = {r["name"]: r for r in csv.DictReader(open(tmp_path / "both" / "summary.csv"))}
    assert rows["astronaut.png"]["identity_person"] == "astronaut" and rows["astronaut.png"]["identity_decision"]
    page = (tmp_path / "both" / "summary.html").read_text()
    assert "identity check against the person claimed" in page and "carphone: real" in page
    for text, problem in ((f"{clip.name},carphone\n{clip.name},astronaut\n", "is listed twice"),
                          (f"{clip.name}\n", "expected filename,person"), (f"{clip.name},nobody\n", "no profile")):
        people.write_text(text)
        capsys.readouterr()
        rc = cli([*base, "--out", str(tmp_path / "bad"), "--people", str(people)])
        err = capsys.readouterr().err
        assert rc == 2 and problem in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "bad").exists()
    labels = tmp_path / "labels.csv"  # --labels reads its file the same way
    labels.write_text(f"filename,label\n{clip.name},MAYBE\n")
    rc = cli([*base, "--out", str(tmp_path / "bad"), "--labels", str(labels)])
    err = capsys.readouterr().err
    assert rc == 2 and "line 2: label 'MAYBE' is not 0/1/REAL/FAKE" in err and not (tmp_path / "bad").exists()
    with pytest.raises(SystemExit) as stop:  # one or the other
        cli([*base, "--out", str(tmp_path / "bad"), "--people", str(people), "--person", "carphone"])
    assert stop.value.code == 2 and not (tmp_path / "bad").exists()
