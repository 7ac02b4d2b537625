"""Zero-shot identity scorer: features, one-class models, cohort normalization,
profiles and the enroll/verify CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from localize.identity import features as F
from localize.identity.models import (OneClassModel, RefSet, calibrate, fit_family, fuse_log_odds)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return F.FeatureCache(tmp_path_factory.mktemp("features"))


@pytest.fixture(scope="module")
def carphone_features(cache, carphone):
    return cache.get(carphone)


# ---------------------------------------------------------------- features on a real clip

def test_features_on_carphone(carphone_features):
    vf = carphone_features
    assert not vf.is_image and vf.n_frames == 120
    assert len(vf.tracks) == 1, "one person talks in carphone"
    t = vf.tracks[0]
    assert t.signals.shape[1] == len(F.SIGNALS) and len(t.frames) >= 50  # ~15 fps over 4 s
    assert t.descriptors.shape[1] == 128 and len(t.descriptors) >= 6
    assert len(t.windows) >= 2 and t.behaviour.shape == (len(t.windows), len(F.BEHAVIOUR_NAMES))
    assert np.isfinite(t.behaviour).all() and np.isfinite(t.appearance).all()
    ear = t.signals[:, [F.SIGNALS.index("ear_l"), F.SIGNALS.index("ear_r")]]
    assert 0.15 < np.median(ear) < 0.5, "open eyes have an aspect ratio of about 0.2-0.35"
    yaw = t.signals[:, F.SIGNALS.index("yaw")] * 30
    assert np.median(np.abs(yaw)) < 30, "the speaker faces the camera"
    # one person's descriptors are close to each other (dlib: < 0.6 = same person)
    d = np.linalg.norm(t.descriptors - t.descriptors.mean(0), axis=1)
    assert np.median(d) < 0.35 and d.max() < 0.6  # a 49 px face: one blurred frame may stray


def test_cache_hit_returns_same_features(cache, carphone, carphone_features):
    hits = cache.hits
    again = cache.get(carphone)
    assert cache.hits == hits + 1
    np.testing.assert_array_equal(again.tracks[0].behaviour, carphone_features.tracks[0].behaviour)


def test_restrict_keeps_only_inner_windows(carphone_features):
    sub = F.restrict(carphone_features, 0, 100)
    assert sub.tracks and (sub.tracks[0].windows[:, 1] < 100).all()
    assert len(sub.tracks[0].windows) < len(carphone_features.tracks[0].windows)


# ---------------------------------------------------------------- blinks / EAR / head pose

def _eye(open_: float) -> np.ndarray:
    # p1..p6 around an eye of width 1: corners at x=0 and x=1, lids at +-open_/2
    return np.array([[0, 0], [0.33, -open_ / 2], [0.66, -open_ / 2], [1, 0], [0.66, open_ / 2], [0.33, open_ / 2]])


def test_eye_aspect_ratio_and_blinks():
    assert F.eye_aspect_ratio(_eye(0.6)) == pytest.approx(0.6, abs=1e-6)
    assert F.eye_aspect_ratio(_eye(0.05)) < 0.1
    ear = np.full(60, 0.3)
    for start in (10, 30, 50):  # three blinks of 2 frames
        ear[start:start + 2] = 0.08
    assert F.count_blinks(ear) == 3
    assert F.count_blinks(np.full(60, 0.3)) == 0
    assert F.count_blinks(np.full(60, 0.05)) == 0, "eyes closed all along is not a blink"


def test_head_pose_roll_and_yaw(face_analyzer):
    import cv2

    from localize.media import astronaut_image

    def face(im):  # the real face, not a low-score HOG false positive of the same size
        return max(face_analyzer.detect(im), key=lambda f: f.score)

    img = astronaut_image()
    base = face(img)
    y0, p0, r0 = F.head_pose(base.landmarks, img.shape[:2])
    h, w = img.shape[:2]
    for ang in (15, -15):  # cv2: positive = counter-clockwise, i.e. roll decreases
        rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0), (w, h))
        _, _, r = F.head_pose(face(rot).landmarks, rot.shape[:2])
        assert r - r0 == pytest.approx(-ang, abs=6)
    mir = np.ascontiguousarray(img[:, ::-1])
    ym, _, _ = F.head_pose(face(mir).landmarks, mir.shape[:2])
    assert np.sign(ym) == -np.sign(y0) or abs(y0) < 3


def test_window_vector_correlations():
    t = np.linspace(0, 4 * np.pi, 45)
    sig = np.zeros((45, len(F.SIGNALS)))
    sig[:, 0] = np.sin(t)
    sig[:, 1] = 2 * np.sin(t) + 1      # perfectly correlated with signal 0
    sig[:, 2] = -np.sin(t)             # anti-correlated
    sig[:, F.SIGNALS.index("ear_l")] = sig[:, F.SIGNALS.index("ear_r")] = 0.3
    v = F.window_vector(sig, 1 / 15)
    names = F.BEHAVIOUR_NAMES
    assert len(v) == len(names)
    assert v[names.index("corr:mouth_open~mouth_width")] == pytest.approx(1, abs=1e-6)
    assert v[names.index("corr:mouth_open~lip_corner_l")] == pytest.approx(-1, abs=1e-6)
    assert v[names.index("corr:mouth_open~ear_l")] == 0, "a constant signal correlates 0"
    assert v[names.index("blinks_per_min")] == 0


# ---------------------------------------------------------------- models and cohort normalization

def _clusters(seed=0, d=12, n_ref=60, n_coh=200):
    rng = np.random.default_rng(seed)
    person = rng.normal(0, 1, (n_ref, d))
    cohort = rng.normal(0, 1, (n_coh, d)) + rng.normal(0, 3, (n_coh // 20, d)).repeat(20, 0)  # 10 other people
    return rng, person, cohort


@pytest.mark.parametrize("kind", ["nearest", "mahalanobis", "ocsvm"])
def test_one_class_model_and_cohort_calibration(kind):
    rng, person, cohort = _clusters()
    refs = RefSet(person, np.arange(len(person)) // 10, np.arange(len(person)), np.arange(len(person)))
    fm, gen, imp = fit_family("behaviour", refs, refs, cohort, kind, scale=True)
    assert fm.calibration.method == "cohort-logistic"
    assert np.nanmedian(gen) < np.median(imp)
    new_same = rng.normal(0, 1, (100, person.shape[1]))
    new_other = rng.normal(0, 1, (100, person.shape[1])) + rng.normal(0, 3, (1, person.shape[1]))
    p_same = fm.calibration.prob(fm.distance(new_same))
    p_other = fm.calibration.prob(fm.distance(new_other))
    assert np.mean(p_same >= 0.5) <= 0.2, "the person's new samples mostly read as real"
    assert np.mean(p_other >= 0.5) >= 0.8, "another person's samples mostly read as fake"


def test_calibration_threshold_never_below_genuine_p95():
    g = np.linspace(0.1, 0.5, 100)
    imp = np.linspace(0.3, 0.9, 100)  # heavy overlap: the logistic midpoint would sit too low
    cal = calibrate(g, imp)
    assert cal.threshold >= np.percentile(g, 95) - 1e-9
    assert cal.prob(np.array([0.05]))[0] < 0.5 < cal.prob(np.array([1.5]))[0]


def test_calibration_without_cohort_and_fusion():
    cal = calibrate(np.array([0.2, 0.25, 0.3]), None, floor=0.45)
    assert cal.method == "genuine-quantile" and cal.threshold == pytest.approx(0.45)
    assert fuse_log_odds([2.0, -1.0], "max") == 2.0
    assert fuse_log_odds([2.0, -1.0], "mean") == 0.5
    assert fuse_log_odds([None, -1.0], "mean") == -1.0
    assert fuse_log_odds([None, None]) is None


def test_mahalanobis_with_fewer_references_than_dimensions():
    rng = np.random.default_rng(1)
    m = OneClassModel("mahalanobis").fit(rng.normal(size=(5, 128)))
    d = m.score(rng.normal(size=(3, 128)))
    assert d.shape == (3,) and np.isfinite(d).all()


# ---------------------------------------------------------------- CLI round trip

def _run_cli(argv, capsys):
    from localize.cli import main

    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_enroll_verify_round_trip(tmp_path, cache, carphone, capsys):
    from localize.media import astronaut_image
    from localize.video import write_image

    astro = tmp_path / "astronaut.png"
    write_image(astro, astronaut_image())
    prof = str(tmp_path / "profiles")
    common = ["--profiles", prof, "--cache", str(cache.root), "--quiet"]
    rc, out, _ = _run_cli(["enroll", "--person", "astronaut", str(astro), *common], capsys)
    assert rc == 0 and json.loads(out)["families"]["appearance"]["calibration"] == "dlib-prior"
    rc, out, _ = _run_cli(["enroll", "--person", "carphone", f"{carphone}@0-2.2", *common], capsys)
    assert rc == 0
    enrolled = json.loads(out)
    assert enrolled["references"][0]["used"] and enrolled["families"]["appearance"]["cohort_windows"] >= 1
    assert (tmp_path / "profiles" / "carphone" / "profile.json").exists()
    assert (tmp_path / "profiles" / "carphone" / "features.npz").exists()

    rc, out, _ = _run_cli(["verify", "--person", "carphone", f"{carphone}@2.2-4", *common], capsys)
    assert rc == 0
    res = json.loads(out)
    assert set(res["fake_probability"]) == {"appearance", "behaviour", "stability", "fused"}
    assert res["status"] == "scored" and res["decision"] == "real"
    assert res["fake_probability"]["fused"] < 0.5
    assert res["tracks"] and res["tracks"][0]["appearance_distance"] < 0.45

    rc, out, _ = _run_cli(["verify", "--person", "astronaut", f"{carphone}@2.2-4", *common], capsys)
    res = json.loads(out)
    assert rc == 0 and res["decision"] == "fake" and res["fake_probability"]["appearance"] > 0.5

    # existing profile is not overwritten silently; unknown person and faceless input: one line, exit 2
    rc, _, err = _run_cli(["enroll", "--person", "carphone", str(carphone), *common], capsys)
    assert rc == 2 and "--force" in err
    rc, _, err = _run_cli(["verify", "--person", "nobody", str(carphone), *common], capsys)
    assert rc == 2 and "no profile for 'nobody'" in err and len(err.strip().splitlines()) == 1
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((200, 200, 3), 128, np.uint8))
    rc, _, err = _run_cli(["verify", "--person", "carphone", str(blank), *common], capsys)
    assert rc == 2 and "blank.png" in err


def test_profile_save_load_same_scores(tmp_path, cache, carphone):
    from localize.identity.profile import build_profile, load_profile, save_profile, score_video

    ref = cache.get(carphone, frame_range=(0, 70))
    test = cache.get(carphone, frame_range=(70, 120))
    p = build_profile("cp", [ref])
    save_profile(p, tmp_path)
    q = load_profile("cp", tmp_path)
    a, b = score_video(p, test), score_video(q, test)
    assert a.fake_probability == pytest.approx(b.fake_probability)


# ---------------------------------------------------------------- identity stability

def _track(desc, frames=None):
    from localize.identity.features import TrackFeatures

    desc = np.asarray(desc, np.float32)
    f = np.arange(len(desc)) * 8 if frames is None else np.asarray(frames)
    z = np.zeros((0, 2), np.int64)
    return TrackFeatures(0, f, np.zeros((len(f), 15), np.float32), f, desc, z, np.zeros((0, 136), np.float32),
                         np.zeros((0, 128), np.float32))


def test_stability_flags_a_flickering_identity_and_skips_tracking_gaps():
    from localize.identity.stability import (STABILITY_THRESHOLD, StabilityModel, descriptor_steps,
                                             split_half_ratios)

    rng = np.random.default_rng(0)
    base = rng.normal(0, 0.1, 128)
    smooth = base + np.cumsum(rng.normal(0, 0.01, (24, 128)), 0)      # a real face drifting slowly
    flicker = base + rng.normal(0, 0.03, (24, 128))                    # re-rendered every frame
    ref = _track(smooth[:16])
    m = StabilityModel.fit([ref])
    assert m is not None and m.n_reference_steps == 15
    assert m.log_odds(_track(smooth[16:])) < 0 < m.log_odds(_track(flicker))
    assert abs(m.log_ratio(ref)) < 1e-9 and m.log_odds(ref) == pytest.approx(-m.slope * STABILITY_THRESHOLD)
    # a tracking gap (frames 0..40 then 400..) is not a step; too few steps: no score
    gap = _track(smooth[:6], frames=[0, 8, 16, 400, 408, 416])
    assert len(descriptor_steps(gap)) == 4
    assert m.log_odds(_track(smooth[:3])) is None and StabilityModel.fit([_track(smooth[:4])]) is None
    halves = split_half_ratios([_track(smooth)])
    assert len(halves) == 2 and halves[0] == pytest.approx(-halves[1])


def test_profile_round_trip_keeps_stability(tmp_path):
    from localize.identity.profile import load_profile, save_profile
    from localize.identity.stability import StabilityModel

    from localize.identity.features import FeatureParams
    from localize.identity.profile import Profile, ScoringConfig

    prof = Profile("x", FeatureParams(), ScoringConfig(), [], [], {}, {}, "now", StabilityModel(0.12, 20))
    save_profile(prof, tmp_path)
    back = load_profile("x", tmp_path)
    assert back.stability == StabilityModel(0.12, 20) and back.config.fusion == "sum"
