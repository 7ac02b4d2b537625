"""Do real faces' scores follow how dark the face is? A forensic tool that calls dark or dimly lit
real faces fake more often fails some people more than others; candidate I's highest real score
came from a dark-skinned singer in low-key light (pre-registration, probe after addendum 16).

No data here labels skin tone or lighting, so the measure is the face's luma (BT.601 Y, 0-255,
the central 60 % of the face box, where skin is: ``localize.faces.face_luma``): it mixes both,
which is what the model sees.
With a few dozen videos only a large effect shows; a small rho is not evidence of none.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def luma_association(scores: Sequence[float], lumas: Sequence[float], n_boot: int = 2000, seed: int = 0) -> dict:
    """Spearman's rho between real inputs' scores and their faces' luma (negative: darker faces
    score higher), a bootstrap interval over inputs, the score medians of the darkest and the
    brightest third, and the five darkest (luma, score). Needs 6 inputs or more."""
    from scipy.stats import spearmanr

    s, l = np.asarray(scores, np.float64), np.asarray(lumas, np.float64)
    ok = np.isfinite(s) & np.isfinite(l)
    s, l = s[ok], l[ok]
    out = {"n": int(len(s)), "spearman_rho": None, "ci95": None, "darkest_third_median": None,
           "brightest_third_median": None, "darkest": []}
    if len(s) < 6:
        return out
    out["spearman_rho"] = round(float(spearmanr(s, l)[0]), 3)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        i = rng.integers(0, len(s), len(s))
        if np.ptp(s[i]) > 0 and np.ptp(l[i]) > 0:
            boot.append(spearmanr(s[i], l[i])[0])
    out["ci95"] = [round(float(np.percentile(boot, 2.5)), 3), round(float(np.percentile(boot, 97.5)), 3)]
    order = np.argsort(l)
    k = max(1, len(order) // 3)
    out["darkest_third_median"] = round(float(np.median(s[order[:k]])), 4)
    out["brightest_third_median"] = round(float(np.median(s[order[-k:]])), 4)
    out["darkest"] = [(round(float(l[i]), 1), round(float(s[i]), 4)) for i in order[:5]]
    return out
