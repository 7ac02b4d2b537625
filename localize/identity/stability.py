"""Identity stability: how much a face's identity embedding jumps over time,
relative to the same person's real references.

A real face's 128-d descriptor drifts smoothly with pose and expression. A face that
is re-rendered every frame (reenactment, lip-sync, face swap) flickers: consecutive
descriptors half a second apart lie further apart than in the person's own real
footage, even when the identity is the person's own (identity-remained fakes, which
appearance alone cannot see). The score is zero-shot and one-class: it compares a
track's median step between consecutive descriptors with the person's reference
median, as a log ratio.

Calibration is global, not per person (one reference clip gives too few steps for a
per-person spread): the 0.5 point is the 95th percentile of split-half log ratios
of real reference clips, i.e. one half of a real clip compared with its other half.
Measured on the reference clips of 18 people of ``../shared/data`` (36 ratios):
median 0, 95th percentile 0.38, rounded up to 0.40 (``benchmarks/identity_stability.py``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np

from .features import TrackFeatures

STABILITY_THRESHOLD = 0.40   # log ratio at p = 0.5 (split-half 95th percentile)
STABILITY_SLOPE = 7.5        # log-odds per unit log ratio (p95 - median spans 3 log-odds)
MIN_TEST_STEPS = 3           # a track needs 4 descriptors in a row (about 1.5 s) to be scored
MIN_REFERENCE_STEPS = 5


def descriptor_steps(track: TrackFeatures, max_gap: float = 1.6) -> np.ndarray:
    """Distances between consecutive descriptors of one track, skipping pairs more than
    ``max_gap`` x the usual sampling interval apart (a tracking gap is not a step)."""
    D = np.asarray(track.descriptors, np.float64)
    f = np.asarray(track.desc_frames, np.int64)
    if len(D) < 2:
        return np.zeros(0)
    gaps = np.diff(f)
    usual = float(np.median(gaps)) if len(gaps) else 1.0
    ok = gaps <= max_gap * max(usual, 1.0)
    return np.linalg.norm(np.diff(D, axis=0), axis=1)[ok]


def median_step(tracks: Iterable[TrackFeatures], min_steps: int) -> tuple[float | None, int]:
    steps = [descriptor_steps(t) for t in tracks]
    allv = np.concatenate(steps) if steps else np.zeros(0)
    if len(allv) < min_steps:
        return None, int(len(allv))
    return float(np.median(allv)), int(len(allv))


def split_half_ratios(tracks: Iterable[TrackFeatures], min_steps: int = 2) -> list[float]:
    """Genuine log ratios: the second half of each real track against its first half
    (and the reverse), the measurement behind :data:`STABILITY_THRESHOLD`."""
    out = []
    for t in tracks:
        s = descriptor_steps(t)
        h = len(s) // 2
        if h >= min_steps and len(s) - h >= min_steps:
            a, b = float(np.median(s[:h])), float(np.median(s[h:]))
            if a > 0 and b > 0:
                out += [float(np.log(b / a)), float(np.log(a / b))]
    return out


@dataclass
class StabilityModel:
    """The person's reference step size and the global calibration."""

    reference_step: float
    n_reference_steps: int
    threshold: float = STABILITY_THRESHOLD
    slope: float = STABILITY_SLOPE

    @classmethod
    def fit(cls, reference_tracks: Iterable[TrackFeatures]) -> "StabilityModel | None":
        """None when the references (photos, clips under about 3 s) give too few steps."""
        med, n = median_step(reference_tracks, MIN_REFERENCE_STEPS)
        if med is None or med <= 0:
            return None
        return cls(med, n)

    def log_ratio(self, track: TrackFeatures) -> float | None:
        med, _ = median_step([track], MIN_TEST_STEPS)
        if med is None or med <= 0:
            return None
        return float(np.log(med / self.reference_step))

    def log_odds(self, track: TrackFeatures) -> float | None:
        r = self.log_ratio(track)
        return None if r is None else self.slope * (r - self.threshold)

    def to_dict(self) -> dict:
        return asdict(self)
