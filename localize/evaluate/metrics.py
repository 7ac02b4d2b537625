"""Detection and localization metrics for small test sets.

Test sets here are tens of videos, so every AUC comes with a bootstrap confidence
interval (stratified: reals and fakes are resampled separately, so every resample
has both classes), and the TPR at a low FPR is reported together with how many
reals it rests on (with 20 reals, "TPR at 1 % FPR" means "at zero false positives").
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


def _xy(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    ok = np.isfinite(s)
    return y[ok], s[ok]


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve = P(score_fake > score_real) + 0.5 P(tie)
    (Mann-Whitney U with average ranks). NaN when a class is missing."""
    from scipy.stats import rankdata

    y, s = _xy(labels, scores)
    n1 = int((y == 1).sum())
    n0 = int((y == 0).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_auc_ci(labels: Sequence[int], scores: Sequence[float], *, n_boot: int = 2000, alpha: float = 0.05,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap (stratified) interval of the AUC."""
    from scipy.stats import rankdata

    y, s = _xy(labels, scores)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    n1, n0 = len(pos), len(neg)
    bp = pos[rng.integers(0, n1, (n_boot, n1))]
    bn = neg[rng.integers(0, n0, (n_boot, n0))]
    allv = np.concatenate([bp, bn], 1)
    r = rankdata(allv, axis=1)
    aucs = (r[:, :n1].sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    lo, hi = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def frame_auc_ci(labels: Sequence[int], scores: Sequence[float], videos: Sequence[str], *, n_boot: int = 2000,
                 alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Interval of a frame-level AUC when the frames come from a few videos: each video's frames
    are resampled within it (circular blocks of ~n^(1/3) consecutive frames, since neighbouring
    frames are alike), the videos themselves are kept. It measures how much the AUC owes to which
    frames were sampled, not how it would move on other videos: with one original, no interval
    from these data can say that."""
    from scipy.stats import rankdata

    y = np.asarray(labels, np.int64)
    s = np.asarray(scores, np.float64)
    v = np.asarray(list(videos))
    if not (y.shape == s.shape == v.shape):
        raise ValueError("labels, scores and videos must have one entry per frame")
    if not ((y == 1).any() and (y == 0).any()):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    parts = []
    for key in sorted(set(v.tolist())):
        idx = np.flatnonzero(v == key)
        n = len(idx)
        b = max(1, int(round(n ** (1 / 3))))
        starts = rng.integers(0, n, size=(n_boot, -(-n // b)))
        parts.append(idx[((starts[:, :, None] + np.arange(b)) % n).reshape(n_boot, -1)[:, :n]])
    pick = np.concatenate(parts, 1)  # (n_boot, n_frames): each row a resampled set of frames
    ys, ss = y[pick], s[pick]
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())  # per-class counts are kept by within-video resampling
    r = rankdata(ss, axis=1)
    aucs = (np.where(ys == 1, r, 0).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    lo, hi = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) with thresholds decreasing; a sample is positive when score >= threshold."""
    y, s = _xy(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, len(s) - 1] if len(s) else np.zeros(0, int)
    tps = np.cumsum(y)[idx] if len(s) else np.zeros(0)
    fps = (idx + 1) - tps
    P, N = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
    fpr = np.r_[0.0, fps / N]
    tpr = np.r_[0.0, tps / P]
    thr = np.r_[np.inf, s[idx]]
    return fpr, tpr, thr


def tpr_at_fpr(labels: Sequence[int], scores: Sequence[float], target: float) -> float:
    """Highest TPR among thresholds whose FPR is <= target (no interpolation:
    an operating point that can really be set)."""
    y, s = _xy(labels, scores)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return float("nan")
    fpr, tpr, _ = roc_curve(y, s)
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def log_loss(labels: Sequence[int], probs: Sequence[float], eps: float = 1e-6) -> float:
    y, p = _xy(labels, probs)
    if len(y) == 0:
        return float("nan")
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def rates_at(labels: Sequence[int], scores: Sequence[float], threshold: float) -> dict[str, float]:
    """Accuracy, TPR and FPR when ``score >= threshold`` means fake."""
    y, s = _xy(labels, scores)
    pred = s >= threshold
    out = {"accuracy": float((pred == (y == 1)).mean()) if len(y) else float("nan")}
    out["tpr"] = float(pred[y == 1].mean()) if (y == 1).any() else float("nan")
    out["fpr"] = float(pred[y == 0].mean()) if (y == 0).any() else float("nan")
    return out


@dataclass
class BinaryMetrics:
    n_real: int
    n_fake: int
    n_unscored: int
    auc: float
    auc_ci: tuple[float, float]
    log_loss: float
    accuracy: float
    tpr: float
    fpr: float
    tpr_at_1fpr: float
    tpr_at_5fpr: float
    threshold: float

    def to_dict(self) -> dict:
        return asdict(self)


def binary_metrics(labels: Sequence[int], scores: Sequence[float | None], threshold: float, *,
                   probs: Sequence[float | None] | None = None, decisions: Sequence[bool | None] | None = None,
                   n_boot: int = 2000, seed: int = 0) -> BinaryMetrics:
    """Everything for one detector on one test set. ``scores`` rank (AUC, TPR@FPR);
    ``probs`` (default: the scores) give the log loss; unscored videos (None/NaN:
    no face, detector not applicable) are counted, never silently dropped."""
    s = np.array([np.nan if v is None else float(v) for v in scores], np.float64)
    p = s if probs is None else np.array([np.nan if v is None else float(v) for v in probs], np.float64)
    y = np.asarray(labels, np.int64)
    ok = np.isfinite(s)
    yk, sk = y[ok], s[ok]
    if decisions is not None:  # the detector's own decision (e.g. analyze's calibrated operating point)
        dk = np.array([np.nan if d is None else float(bool(d)) for d in decisions], np.float64)[ok]
        r = rates_at(yk[np.isfinite(dk)], dk[np.isfinite(dk)], 0.5)
    else:
        r = rates_at(yk, sk, threshold)
    return BinaryMetrics(int((yk == 0).sum()), int((yk == 1).sum()), int((~ok).sum()), roc_auc(yk, sk),
                         bootstrap_auc_ci(yk, sk, n_boot=n_boot, seed=seed), log_loss(y[np.isfinite(p)], p[np.isfinite(p)]),
                         r["accuracy"], r["tpr"], r["fpr"], tpr_at_fpr(yk, sk, 0.01), tpr_at_fpr(yk, sk, 0.05),
                         float(threshold))


def pixel_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """IoU and F1 of binary masks (summed over all frames given). Both empty -> 1."""
    p = np.asarray(pred, bool)
    t = np.asarray(truth, bool)
    tp = float(np.logical_and(p, t).sum())
    fp = float(np.logical_and(p, ~t).sum())
    fn = float(np.logical_and(~p, t).sum())
    if tp + fp + fn == 0:
        return {"iou": 1.0, "f1": 1.0}
    return {"iou": tp / (tp + fp + fn), "f1": 2 * tp / (2 * tp + fp + fn)}
