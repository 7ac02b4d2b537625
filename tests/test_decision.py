"""The video decision rule and its calibration (localize/decision.py)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from localize import decision as D


def test_frame_score_is_forged_area_fraction():
    p = np.zeros((10, 10), np.float32)
    p[:5, :4] = 0.9  # 20 pixels
    p[9, 9] = 0.5  # exactly at the threshold counts
    p[8, 8] = 0.49
    assert D.frame_score(p) == pytest.approx(21 / 100)
    assert D.frame_score(p, pixel_threshold=0.95) == 0.0
    batch = np.stack([p, np.ones_like(p)])
    np.testing.assert_allclose(D.frame_scores(batch), [0.21, 1.0])
    with pytest.raises(ValueError):
        D.frame_score(np.zeros((0, 0)))


def test_track_score_ignores_one_bad_frame():
    clean = [0.01] * 31
    assert D.aggregate_track(clean + [0.9]) == pytest.approx(0.01)  # one spike among 32
    assert D.aggregate_track([0.0, 0.8]) == 0.0  # two frames: the spike is ignored
    assert D.aggregate_track([0.3]) == 0.3  # an image scores its frame
    # a consistently forged track scores high even with a few clean frames
    assert D.aggregate_track([0.4] * 28 + [0.0] * 4) == pytest.approx(0.4)
    # order statistic: never above the 2nd largest for n >= 2
    rng = np.random.default_rng(0)
    for n in range(2, 40):
        s = rng.random(n)
        assert D.aggregate_track(s) <= np.sort(s)[-2]
    with pytest.raises(ValueError):
        D.aggregate_track([])


def test_video_is_max_over_tracks():
    assert D.aggregate_video([0.02, 0.5, 0.1]) == 0.5
    with pytest.raises(ValueError, match="no_face"):
        D.aggregate_video([])


def test_threshold_meets_target_fpr_on_large_sample():
    rng = np.random.default_rng(1)
    real = rng.beta(1, 30, 1000)
    fake = rng.beta(5, 10, 300)
    s = np.concatenate([real, fake])
    y = np.r_[np.zeros(1000, int), np.ones(300, int)]
    cal = D.fit_calibration(s, y, target_fpr=0.01)
    assert not cal.small_sample
    fpr = np.mean(real > cal.threshold)
    assert fpr <= 0.01 and fpr >= 0.005  # the quantile, not an arbitrary high value
    assert cal.val_fpr == pytest.approx(fpr)
    assert cal.val_tpr > 0.8
    # probability is increasing and well calibrated on its own data (log loss < trivial)
    probs = [cal.probability(v) for v in s]
    assert D.log_loss(probs, y) < D.log_loss([y.mean()] * len(y), y)
    assert cal.probability(0.0) < cal.probability(0.2) < cal.probability(0.6)


def test_small_sample_threshold_sits_above_highest_real():
    real = [0.0, 0.02, 0.05, 0.03]
    fake = [0.3, 0.04, 0.5]
    cal = D.fit_calibration(real + fake, [0] * 4 + [1] * 3, target_fpr=0.01)
    assert cal.small_sample
    assert cal.threshold > max(real)
    assert cal.threshold == pytest.approx((0.05 + 0.3) / 2)  # max margin to the lowest fake above
    assert cal.val_fpr == 0.0 and cal.val_tpr == pytest.approx(2 / 3)
    assert "highest" in cal.note
    assert f"1/{cal.n_real + 1} = " in cal.note  # the chance a new real like these lands above: stated
    # no fake above the reals: highest real + margin, still above every real
    thr, small = D.operating_threshold([0.1, 0.2], [0.05])
    assert small and thr == pytest.approx(0.2 + D.MIN_MARGIN)
    # all reals at zero: the floor keeps pure model noise from calling a video fake
    thr, _ = D.operating_threshold([0.0] * 5, [])
    assert thr >= D.MIN_THRESHOLD


def test_separable_platt_stays_finite_and_monotone():
    cal = D.fit_calibration([0, 0, 0.01, 0.4, 0.5], [0, 0, 0, 1, 1])
    assert math.isfinite(cal.a) and math.isfinite(cal.b) and cal.a > 0
    # Platt's smoothed targets: never 0 or 1 on the training points
    assert 0.0 < cal.probability(0.0) < 0.3 and 0.7 < cal.probability(0.5) < 1.0


def test_isotonic_calibration():
    rng = np.random.default_rng(2)
    s = np.r_[rng.beta(1, 20, 200), rng.beta(4, 8, 200)]
    y = np.r_[np.zeros(200, int), np.ones(200, int)]
    cal = D.fit_calibration(s, y, method="isotonic")
    p = [cal.probability(v) for v in np.linspace(0, 1, 50)]
    assert all(b >= a for a, b in zip(p, p[1:]))
    assert 0 < min(p) and max(p) < 1


def test_round_trip_through_json_and_refusals():
    cal = D.fit_calibration([0.0, 0.01, 0.3, 0.6], [0, 0, 1, 1])
    d = json.loads(json.dumps(cal.to_dict()))
    back = D.Calibration.from_dict(d)
    assert back == cal or back.to_dict() == cal.to_dict()
    assert back.probability(0.2) == pytest.approx(cal.probability(0.2))
    assert back.is_fake(cal.threshold + 1e-6) and not back.is_fake(cal.threshold)
    with pytest.raises(ValueError, match="no calibration"):
        D.Calibration.from_dict({})
    with pytest.raises(ValueError):
        D.fit_calibration([0.1, 0.2], [0, 0])  # no fakes
    with pytest.raises(ValueError):
        D.fit_calibration([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError):
        D.fit_calibration([0.1], [0, 1])


def test_log_loss_matches_sklearn():
    from sklearn.metrics import log_loss

    p = [0.1, 0.8, 0.5, 0.99]
    y = [0, 1, 1, 0]
    assert D.log_loss(p, y) == pytest.approx(log_loss(y, p))


def test_uninformative_score_gets_flat_probability_not_a_reversed_one():
    cal = D.fit_calibration([0.5, 0.6, 0.1, 0.0], [0, 0, 1, 1])  # fakes score *lower* than reals
    assert cal.a == 0.0
    assert cal.probability(0.0) == pytest.approx(cal.probability(1.0))
    assert "WARNING" in cal.note and cal.threshold > 0.6


def test_probability_does_not_inherit_the_validation_class_ratio():
    rng = np.random.default_rng(3)
    s = rng.random(24) * 0.1  # an uninformative score, 20 fakes : 4 reals
    y = np.r_[np.zeros(4, int), np.ones(20, int)]
    cal = D.fit_calibration(s, y)
    assert abs(cal.probability(0.05) - 0.5) < 0.15  # not ~0.83, the fake share of this validation set


def test_still_photos_get_their_own_operating_point():
    # real videos up to 0.077, real photos up to 0.137 (sharp edges score higher), fake videos 0.05-0.18
    scores = [0.03, 0.05, 0.077, 0.137, 0.11, 0.05, 0.09, 0.1, 0.12, 0.18]
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    still = [False, False, False, True, True, False, False, False, False, False]
    one = D.fit_calibration(scores, labels)  # one threshold: the photos push it above most fakes
    cal = D.fit_calibration(scores, labels, still=still)
    assert one.threshold > 0.137 and one.val_tpr == pytest.approx(0.2)
    assert 0.077 <= cal.threshold < 0.09 and cal.still_threshold > 0.137
    assert cal.val_fpr == 0.0 and cal.val_tpr == pytest.approx(0.8)  # each real judged by its own kind's point
    assert cal.n_real == 5 and cal.n_real_still == 2 and "photos" in cal.note
    s = cal.for_still()
    assert s.threshold == cal.still_threshold and s.is_fake(0.15) and not s.is_fake(0.137) and cal.is_fake(0.137)
    # the photo curve is the video curve shifted: the same probability at either threshold
    assert s.probability(s.threshold) == pytest.approx(cal.probability(cal.threshold))
    assert s.probability(0.2) > s.probability(0.15)
    back = D.Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back.still_threshold == cal.still_threshold and back.for_still().threshold == s.threshold
    # no photos in validation: photos are judged like videos
    assert one.for_still() is one and one.still_threshold is None
    # only photos among the reals: they set the one operating point
    only = D.fit_calibration([0.1, 0.2], [0, 1], still=[True, False])
    assert only.still_threshold is None and only.threshold >= 0.1
    with pytest.raises(ValueError, match="every input"):
        D.fit_calibration(scores, labels, still=[True])


def test_operating_point_refitted_on_an_analysts_own_reals():
    """`localize calibrate --reals`: the threshold moves onto the analyst's real footage, the
    probability curve is kept (shifted), and the report does not claim a TPR it never measured."""
    old = D.fit_calibration([0.02, 0.04, 0.06, 0.3, 0.5], [0, 0, 0, 1, 1],
                            still=[False, False, True, False, False])
    rng = np.random.default_rng(0)
    reals = list(rng.uniform(0.0, 0.2, 150))
    new = D.refit_on_reals(old, reals)
    # 150 reals: k = 1 may exceed at 1 % -> the second highest score, no longer "above the highest"
    assert not new.small_sample and new.threshold == pytest.approx(sorted(reals)[-2])
    assert new.val_fpr == pytest.approx(1 / 150) and math.isnan(new.val_tpr) and new.n_fake == 0
    assert new.probability(new.threshold) == pytest.approx(old.probability(old.threshold))
    assert new.a == old.a and "TPR at this point unknown" in new.note
    assert new.to_dict()["val_tpr"] is None
    # no photos given: the photos' own point stays, never below the new video threshold
    assert new.still_threshold == max(old.still_threshold, new.threshold)
    few = D.refit_on_reals(old, [0.01, 0.03, 0.2], still=[False, False, True])
    assert few.small_sample and few.threshold > 0.03 and few.still_threshold > 0.2 and few.val_fpr == 0.0
    assert few.n_real == 3 and few.n_real_still == 1 and "1/3" in few.note
    with pytest.raises(ValueError, match="at least one real video"):
        D.refit_on_reals(old, [0.2], still=[True])
    with pytest.raises(ValueError, match="finite"):
        D.refit_on_reals(old, [float("nan")])


def test_decision_stability_flags_a_decision_by_a_hair():
    """A video score resampled over its frames: a score far from the threshold is firm, one
    within the frames' spread is marginal; photos (one frame) do not vary; seeded."""
    rng = np.random.default_rng(1)
    track = list(np.clip(rng.normal(0.44, 0.03, 32), 0, 1))
    point = D.aggregate_video([D.aggregate_track(track)])
    near = D.decision_stability([track], point - 0.001)
    assert near["marginal"] and 0.0 < near["decision_agreement"] < 1.0
    lo, hi = near["score_interval"]
    assert lo < point - 0.001 < hi and lo <= point <= hi
    far = D.decision_stability([track], 0.9)
    assert not far["marginal"] and far["decision_agreement"] == 1.0
    assert D.decision_stability([track], point - 0.001) == near  # reproducible
    # the video score is the max over tracks, so is every resample
    low = [0.01] * 20
    r2 = D.score_resamples([track, low])
    assert np.allclose(r2, D.score_resamples([track])) and r2.shape == (1000,)
    photo = D.decision_stability([[0.3]], 0.2999)
    assert photo["score_interval"] == [0.3, 0.3] and not photo["marginal"] and photo["decision_agreement"] == 1.0
    with pytest.raises(ValueError, match="no track"):
        D.score_resamples([[]])
