"""From forged-pixel probability maps to one video decision.

The rule (documented here, tested in tests/test_decision.py, shared by training,
analysis, the server and evaluation so the calibration fitted at training time
means the same thing at analysis time):

1. **Frame score** = forged-area fraction of the face crop: the fraction of crop
   pixels whose forged probability is >= ``pixel_threshold`` (0.5). In [0, 1].
2. **Track score** = a high, *robust* percentile of a track's frame scores: the
   ``q``-quantile (0.9) with ``method="lower"`` (an order statistic, never an
   interpolation towards the top value). A single bad frame (blur, occlusion, a
   mis-tracked box) therefore cannot raise a track of >= 2 frames: for n frames
   the score is the ``floor(q (n-1)) + 1``-th smallest, so the top
   ``n - 1 - floor(q (n-1))`` frames are ignored (1 of 2..10, 3 of 32, ...).
   A one-frame track (an image) scores that frame.
3. **Video score** = max over tracks: a video is fake if any face in it is.
4. **Probability** = Platt scaling (logistic regression on the video score, with
   Platt's smoothed targets so a perfectly separated validation set does not
   push the slope to infinity, and reals and fakes weighted equally so the
   validation set's class ratio is not baked in as a prior) or isotonic
   regression, fitted on validation videos.
5. **Decision** = ``score > threshold``. The threshold is the operating point for
   a target false-positive rate on the *validation real* videos (default 1 %),
   chosen on the score, not on the probability, so it does not depend on the
   calibration model.

6. **Stability** (reported, not part of the decision): the video score's interval over
   block-bootstrap resamplings of the analysed frames (:func:`decision_stability`); a
   decision whose interval straddles the threshold is flagged ``marginal``.

Small samples: with ``n_real`` real validation videos the empirical FPR moves in
steps of ``1/n_real``, so ``k = floor(target_fpr * n_real)`` reals may exceed the
threshold. When ``k == 0`` (fewer than 100 reals at 1 %) no real may exceed it:
the threshold sits *above the highest real score* - half-way to the lowest fake
above it (max margin), or ``max_real + min_margin`` when no fake is above it - and
never below ``min_threshold``. The fitted :class:`Calibration` records
``small_sample=True`` and the measured validation FPR/TPR so a report can say how
much the operating point can be trusted.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence

import numpy as np

PIXEL_THRESHOLD = 0.5
TRACK_QUANTILE = 0.9
TARGET_FPR = 0.01
MIN_THRESHOLD = 0.01  # below 1 % of the crop area a "mask" is model noise, not a forgery
MIN_MARGIN = 0.01


def frame_score(prob_map: np.ndarray, pixel_threshold: float = PIXEL_THRESHOLD) -> float:
    """Forged-area fraction of one face crop: share of pixels with p >= pixel_threshold."""
    p = np.asarray(prob_map)
    if p.size == 0:
        raise ValueError("empty probability map")
    return float(np.count_nonzero(p >= pixel_threshold)) / float(p.size)


def frame_scores(prob_maps: np.ndarray, pixel_threshold: float = PIXEL_THRESHOLD) -> np.ndarray:
    """Vectorised :func:`frame_score` over a batch (N, S, S) -> (N,)."""
    p = np.asarray(prob_maps)
    if p.ndim < 2 or p.shape[0] == 0:
        return np.zeros(0, np.float64)
    flat = p.reshape(p.shape[0], -1)
    return (flat >= pixel_threshold).mean(1).astype(np.float64)


def aggregate_track(frame_scores: Sequence[float], q: float = TRACK_QUANTILE) -> float:
    """Robust high percentile of a track's frame scores (an order statistic, see module doc)."""
    s = np.asarray(list(frame_scores), dtype=np.float64)
    if s.size == 0:
        raise ValueError("a track needs at least one scored frame")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    return float(np.quantile(s, q, method="lower"))


def aggregate_video(track_scores: Sequence[float]) -> float:
    """Max over tracks: a video is fake if any face in it is."""
    s = [float(x) for x in track_scores]
    if not s:
        raise ValueError("no track scores: a video without faces has status no_face, not a score")
    return max(s)


MIN_TRACK_FRAMES = 3  # shorter tracks (usually spurious detections) do not decide, unless none is longer


def video_score(track_scores: dict[Any, Sequence[float]], q: float = TRACK_QUANTILE,
                min_frames: int = MIN_TRACK_FRAMES) -> tuple[float | None, set]:
    """(video score, ids of the tracks that decide): the max over tracks of each track's
    ``q``-quantile (:func:`aggregate_track`). Tracks shorter than ``min_frames`` are ignored
    unless no track is that long, in which case the longest ones decide. None without a face.
    Analysis and training validation both score videos by it, so an operating point set on
    validation means the same in a report."""
    lens = {t: len(s) for t, s in track_scores.items() if len(s)}
    if not lens:
        return None, set()
    need = min(min_frames, max(lens.values()))
    used = {t for t, n in lens.items() if n >= need}
    return aggregate_video([aggregate_track(track_scores[t], q) for t in used]), used


def score_resamples(track_scores: Sequence[Sequence[float]], q: float = TRACK_QUANTILE, *, n_boot: int = 1000,
                    seed: int = 0) -> np.ndarray:
    """Video scores of ``n_boot`` resamplings of the analysed frames: how much the score owes
    to which frames happened to be sampled.

    Each track's frame scores (in frame order) are resampled by a circular block bootstrap
    (blocks of ~n^(1/3) consecutive frames, since neighbouring frames are alike and a plain
    bootstrap would understate the spread), scored by the same order statistic, and the max
    over tracks taken, as :func:`aggregate_video`. A one-frame track (a photo) does not vary.
    Seeded, so a report is reproducible."""
    rng = np.random.default_rng(seed)
    out = np.full(n_boot, -np.inf)
    for scores in track_scores:
        x = np.asarray(list(scores), dtype=np.float64)
        n = x.size
        if n == 0:
            continue
        if n == 1:
            out = np.maximum(out, x[0])
            continue
        b = max(1, int(round(n ** (1 / 3))))
        nb = -(-n // b)
        starts = rng.integers(0, n, size=(n_boot, nb))
        idx = ((starts[:, :, None] + np.arange(b)) % n).reshape(n_boot, -1)[:, :n]
        out = np.maximum(out, np.quantile(x[idx], q, axis=1, method="lower"))
    if not np.isfinite(out).all():
        raise ValueError("no track scores to resample")
    return out


def decision_stability(track_scores: Sequence[Sequence[float]], threshold: float, q: float = TRACK_QUANTILE, *,
                       level: float = 0.9, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The video score's frame-sampling interval and how often its decision survives resampling.

    ``marginal``: the central ``level`` interval of the resampled scores straddles the threshold,
    i.e. other frames of the same video could well have given the other decision. A decision
    by a hair (a real video at 0.447 against 0.446) is then flagged instead of presented as
    firm; the decision itself is unchanged (the operating point is what was calibrated)."""
    r = score_resamples(track_scores, q, n_boot=n_boot, seed=seed)
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    point = aggregate_video([aggregate_track(t, q) for t in track_scores if len(t)])
    fake = point > threshold
    return {"score_interval": [round(float(lo), 6), round(float(hi), 6)], "interval_level": level,
            "decision_agreement": round(float(np.mean((r > threshold) == fake)), 4),
            "marginal": bool(lo <= threshold < hi), "resamples": n_boot}


def _sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


@dataclass
class Calibration:
    """Score -> probability mapping and the operating point, stored with the model.

    ``method``: "platt" (p = sigmoid(a * score + b)) or "isotonic" (piecewise-linear
    through ``x``/``y``). ``threshold``: a video is fake iff ``score > threshold``.
    ``pixel_threshold`` and ``track_quantile`` define the score the calibration was
    fitted on; analysis must use the same values.
    """

    method: str = "platt"
    a: float = 0.0
    b: float = 0.0
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    threshold: float = 0.5
    target_fpr: float = TARGET_FPR
    pixel_threshold: float = PIXEL_THRESHOLD
    track_quantile: float = TRACK_QUANTILE
    n_real: int = 0
    n_fake: int = 0
    val_fpr: float = float("nan")
    val_tpr: float = float("nan")
    small_sample: bool = False
    note: str = ""
    # Still photos get their own threshold, set on the validation's real photos: one frame of a
    # sharp photo is not scored like the 90th percentile of a video's frames (a boundary model
    # marks hair and beard edges of photos), so one threshold would either call real photos
    # fake or miss most fake videos. None: validation had no photos, videos' threshold applies.
    still_threshold: float | None = None
    n_real_still: int = 0

    def probability(self, score: float) -> float:
        """Calibrated probability that a video with this score is fake."""
        s = float(score)
        if self.method == "platt":
            return float(_sigmoid(self.a * s + self.b))
        if self.method == "isotonic":
            return float(np.interp(s, self.x, self.y))
        raise ValueError(f"unknown calibration method {self.method!r}")

    def is_fake(self, score: float) -> bool:
        return float(score) > self.threshold

    def for_still(self) -> "Calibration":
        """The operating point for a still photo: its own threshold, and the probability curve
        shifted by the difference of the two thresholds, so a photo at its threshold gets the
        probability a video gets at its own (decision and probability stay consistent).
        Unchanged when validation had no photos."""
        if self.still_threshold is None:
            return self
        d = self.threshold - self.still_threshold
        return replace(self, threshold=self.still_threshold, b=self.b + self.a * d, x=[v - d for v in self.x],
                       note=f"still photo: threshold above the highest of {self.n_real_still} validation real "
                            f"photos (videos: {self.threshold:.4g}); " + self.note)

    @property
    def threshold_probability(self) -> float:
        """The probability at the operating point (for reports: 'fake above p = ...')."""
        return self.probability(self.threshold)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("val_fpr", "val_tpr"):
            if isinstance(d[k], float) and math.isnan(d[k]):
                d[k] = None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Calibration":
        """Rebuild from a checkpoint/ONNX metadata dict; refuses an empty or foreign one."""
        if not d or "method" not in d or "threshold" not in d:
            raise ValueError("the model carries no calibration (fit one with decision.fit_calibration)")
        names = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("val_fpr", "val_tpr"):
            if kw.get(k) is None:
                kw[k] = float("nan")
        cal = cls(**kw)
        if cal.method not in ("platt", "isotonic"):
            raise ValueError(f"unknown calibration method {cal.method!r}")
        return cal


def _fit_platt(scores: np.ndarray, labels: np.ndarray, l2: float = 1e-3, balanced: bool = True) -> tuple[float, float]:
    """Platt (1999): logistic fit with targets (N+ + 1)/(N+ + 2) and 1/(N- + 2).

    Newton's method on the smoothed cross-entropy; the smoothed targets keep the
    optimum finite on separable data, the tiny L2 keeps the Hessian invertible.
    ``balanced``: reals and fakes weigh the same in total, so the probability does not
    inherit the validation set's fake/real ratio (a prior of 1/2, not e.g. 20 fakes : 4 reals).
    """
    n_pos = int(labels.sum())
    n_neg = int(len(labels) - n_pos)
    t = np.where(labels == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    sw = np.where(labels == 1, len(labels) / (2.0 * n_pos), len(labels) / (2.0 * n_neg)) if balanced \
        else np.ones(len(labels))
    # Scores are area fractions (small numbers); fit on a scaled copy for conditioning.
    scale = max(float(np.std(scores)), 1e-3)
    xs = scores / scale
    w = np.array([0.0, 0.0 if balanced else math.log((n_pos + 1.0) / (n_neg + 1.0))])
    X = np.stack([xs, np.ones_like(xs)], 1)
    for _ in range(100):
        p = _sigmoid(X @ w)
        g = X.T @ (sw * (p - t)) + l2 * np.array([w[0], 0.0])
        H = (X * (sw * p * (1 - p))[:, None]).T @ X + np.diag([l2, 1e-9])
        step = np.linalg.solve(H, g)
        w = w - step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0] / scale), float(w[1])


def _fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float]]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(scores, labels.astype(np.float64))
    x = [float(v) for v in iso.X_thresholds_]
    y = [float(v) for v in iso.y_thresholds_]
    # Never return exactly 0 or 1: log loss would be infinite on the first surprise.
    eps = 1.0 / (len(scores) + 2.0)
    y = [min(max(v, eps), 1 - eps) for v in y]
    return x, y


def operating_threshold(real_scores: Sequence[float], fake_scores: Sequence[float] = (), *,
                        target_fpr: float = TARGET_FPR, min_threshold: float = MIN_THRESHOLD,
                        min_margin: float = MIN_MARGIN) -> tuple[float, bool]:
    """Score threshold with validation FPR <= target_fpr; (threshold, small_sample).

    Decision rule: fake iff score > threshold. See the module doc for small samples.
    """
    r = np.sort(np.asarray(list(real_scores), dtype=np.float64))[::-1]
    if r.size == 0:
        raise ValueError("setting an operating point needs at least one real validation video")
    k = int(math.floor(target_fpr * r.size + 1e-9))  # reals allowed above the threshold
    small = k == 0
    if not small:
        thr = float(r[k])  # at most k reals are strictly above r[k]
    else:
        top = float(r[0])
        f = np.asarray(list(fake_scores), dtype=np.float64)
        above = f[f > top]
        thr = (top + float(above.min())) / 2 if above.size else top + min_margin
        thr = max(thr, top)
    return max(thr, min_threshold), small


def fit_calibration(video_scores: Sequence[float], labels: Sequence[int], target_fpr: float = TARGET_FPR, *,
                    method: str = "platt", pixel_threshold: float = PIXEL_THRESHOLD,
                    track_quantile: float = TRACK_QUANTILE, min_threshold: float = MIN_THRESHOLD,
                    still: Sequence[bool] | None = None) -> Calibration:
    """Fit score -> probability on validation videos (label 1 = fake) and set the
    operating point for ``target_fpr`` on the validation reals.

    ``pixel_threshold``/``track_quantile`` must be the values the scores were
    computed with; they are stored so analysis recomputes the same score. ``still``
    marks still photos among the inputs: the video threshold and the probability curve
    are fitted on the videos, and real photos set a threshold of their own
    (``Calibration.for_still``), never below the videos'.
    """
    s_all = np.asarray(list(video_scores), dtype=np.float64)
    y_all = np.asarray(list(labels), dtype=np.int64)
    if s_all.shape != y_all.shape or s_all.ndim != 1:
        raise ValueError("video_scores and labels must be 1-d and the same length")
    st = np.zeros(s_all.shape, bool) if still is None else np.asarray(list(still), bool)
    if st.shape != s_all.shape:
        raise ValueError("still must mark every input")
    if st.all() or not (y_all[~st] == 0).any():
        st = np.zeros(s_all.shape, bool)  # no real videos: the photos are all there is to set one point
    if not set(np.unique(y_all)) <= {0, 1}:
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.all(np.isfinite(s_all)):
        raise ValueError("video scores must be finite")
    s, y = s_all[~st], y_all[~st]
    n_real, n_fake = int((y == 0).sum()), int((y == 1).sum())
    if n_real == 0 or n_fake == 0:
        raise ValueError(f"calibration needs real and fake validation videos (got {n_real} real, {n_fake} fake)")
    thr, small = operating_threshold(s[y == 0], s[y == 1], target_fpr=target_fpr, min_threshold=min_threshold)
    cal = Calibration(method=method, threshold=thr, target_fpr=float(target_fpr), pixel_threshold=pixel_threshold,
                      track_quantile=track_quantile, n_real=n_real, n_fake=n_fake, small_sample=small)
    if method == "platt":
        cal.a, cal.b = _fit_platt(s, y)
        if cal.a < 0:  # more forged area must never mean less likely fake: the score is uninformative here
            cal.a = 0.0
            cal.b = 0.0  # the balanced prior: 1/2
    elif method == "isotonic":
        cal.x, cal.y = _fit_isotonic(s, y)
    else:
        raise ValueError(f"unknown calibration method {method!r} (platt or isotonic)")
    n_real_still = int((y_all[st] == 0).sum())
    if n_real_still:
        ts, _ = operating_threshold(s_all[st & (y_all == 0)], s_all[st & (y_all == 1)], target_fpr=target_fpr,
                                    min_threshold=min_threshold)
        cal.still_threshold, cal.n_real_still = max(ts, thr), n_real_still
        cal.n_real += n_real_still
        cal.n_fake += int((y_all[st] == 1).sum())
    thr_of = np.where(st, cal.still_threshold if n_real_still else thr, thr)
    cal.val_fpr = float(np.mean((s_all > thr_of)[y_all == 0]))
    cal.val_tpr = float(np.mean((s_all > thr_of)[y_all == 1]))
    uninformative = method == "platt" and cal.a == 0.0
    warn = ("WARNING: on validation the score does not increase with fakeness (slope clamped to 0, "
            "probability = 1/2 everywhere); ") if uninformative else ""
    rule = _rule(n_real, n_real_still, target_fpr, small, "validation ")
    cal.note = warn + rule
    return cal


def _rule(n: int, n_still: int, fpr: float, small: bool, whose: str) -> str:
    """How the operating point was set, with the false-positive bound that holds for it."""
    if small:
        rule = (f"threshold above the highest of {n} {whose}real videos (too few to estimate a {fpr:.0%} FPR "
                f"quantile: a new real video like these scores above the highest of {n} with probability "
                f"1/{n + 1} = {1 / (n + 1):.0%}, unlike footage more often)")
    else:
        rule = f"threshold = {whose}real-score quantile for FPR <= {fpr:.2%} on {n} real videos"
    if n_still:
        rule += (f"; still photos: their own threshold, above the highest of {n_still} {whose}real photos (a new "
                 f"real photo like these scores above it with probability up to 1/{n_still + 1} = "
                 f"{1 / (n_still + 1):.0%})")
    return rule


def refit_on_reals(cal: Calibration, real_scores: Sequence[float], *, still: Sequence[bool] | None = None,
                   target_fpr: float | None = None, min_threshold: float = MIN_THRESHOLD) -> Calibration:
    """A new operating point set on real footage alone (an analyst's own verified videos and
    photos), keeping ``cal``'s probability curve.

    Why: the threshold is the part of a calibration that a handful of validation reals sets
    worst (with n reals a new real like them exceeds the highest with probability 1/(n+1)),
    and a newsroom has many verified real videos of the kind it checks. A probability curve
    needs fakes too, so without them the old curve is shifted by the change of threshold:
    the probability at the new threshold is the one the old threshold had, and decision and
    probability stay consistent (as :meth:`Calibration.for_still`). The TPR at the new point
    is unknown (``val_tpr`` NaN) unless fakes are scored: then use :func:`fit_calibration`.
    """
    s_all = np.asarray(list(real_scores), dtype=np.float64)
    st = np.zeros(s_all.shape, bool) if still is None else np.asarray(list(still), bool)
    if s_all.ndim != 1 or st.shape != s_all.shape:
        raise ValueError("real_scores must be 1-d and still must mark every input")
    if not np.all(np.isfinite(s_all)):
        raise ValueError("scores must be finite")
    if not (~st).any():
        raise ValueError("setting an operating point needs at least one real video (photos alone set only "
                         "the photos' point)")
    fpr = float(cal.target_fpr if target_fpr is None else target_fpr)
    thr, small = operating_threshold(s_all[~st], target_fpr=fpr, min_threshold=min_threshold)
    d = thr - cal.threshold
    new = replace(cal, threshold=thr, b=cal.b - cal.a * d, x=[v + d for v in cal.x], target_fpr=fpr,
                  n_real=int((~st).sum()), n_fake=0, small_sample=small, val_tpr=float("nan"),
                  n_real_still=int(st.sum()))
    if st.any():
        ts, _ = operating_threshold(s_all[st], target_fpr=fpr, min_threshold=min_threshold)
        new.still_threshold = max(ts, thr)
        new.n_real += int(st.sum())
    elif cal.still_threshold is not None:  # no photos given: the photos' point stays, never below the videos'
        new.still_threshold = max(cal.still_threshold, thr)
        new.n_real_still = cal.n_real_still
    thr_of = np.where(st, new.still_threshold if st.any() else thr, thr)
    new.val_fpr = float(np.mean(s_all > thr_of))
    rule = _rule(int((~st).sum()), int(st.sum()), fpr, small, "")
    new.note = rule + "; set on real footage only (TPR at this point unknown), probability curve kept (shifted)"
    return new


def log_loss(probs: Sequence[float], labels: Sequence[int], eps: float = 1e-15) -> float:
    """Binary log loss as DFDC scored it (probabilities clipped to [eps, 1 - eps])."""
    p = np.clip(np.asarray(list(probs), np.float64), eps, 1 - eps)
    y = np.asarray(list(labels), np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
