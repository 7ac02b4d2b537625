"""Facial motion for the identity-remained methods: expression offsets of a driving
video (or a generated trajectory) retargeted onto a target's landmarks.

Shapes are compared in a canonical frame: a similarity transform fitted on the
points that do not move with expression (eye corners, nose) maps each frame's
landmarks to a pose-free shape with unit inter-ocular distance. An *expression* is
the offset of a frame's canonical shape from the video's mean canonical shape.
"""
from __future__ import annotations

import numpy as np

STABLE = np.array([36, 39, 42, 45, 27, 28, 29, 30, 31, 33, 35])
MOUTH_JAW = np.concatenate([np.arange(4, 13), np.arange(48, 68)])
BROWS = np.arange(17, 27)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) 2x3 matrix mapping ``src`` onto ``dst``."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    var = (s ** 2).sum() / len(src)
    scale = np.trace(np.diag(sig) @ e) / max(var, 1e-12)
    t = md - scale * r @ ms
    return np.hstack([scale * r, t[:, None]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def invert(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, (-a @ m[:, 2])[:, None]])


_TEMPLATE: np.ndarray | None = None


def _template(ref: np.ndarray) -> np.ndarray:
    """Canonical stable-point template: the reference shape scaled to unit eye distance."""
    ref = np.asarray(ref, np.float64)
    eyes = np.linalg.norm(ref[36:42].mean(0) - ref[42:48].mean(0))
    return (ref - ref[STABLE].mean(0)) / max(eyes, 1e-6)


def canonical(lms: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(canonical shape, 2x3 matrix canonical -> frame) for one frame's landmarks."""
    m = similarity(lms[STABLE], template[STABLE])
    return apply(m, lms), invert(m)


def expression_offsets(lms_seq: np.ndarray) -> np.ndarray:
    """(N, 68, 2) canonical offsets of each frame from the video's mean shape."""
    tmpl = _template(lms_seq.mean(0))
    canon = np.stack([canonical(l, tmpl)[0] for l in lms_seq])
    return canon - canon.mean(0)


def generated_offsets(n: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """A talking-like expression trajectory (canonical units): jaw/mouth opening,
    lip spreading and brow raising driven by smooth random sums of sinusoids."""
    t = np.arange(n) / max(fps, 1.0)

    def wave(lo: float, hi: float) -> np.ndarray:
        freqs = rng.uniform(lo, hi, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        amps = rng.uniform(0.5, 1.0, 3)
        v = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in zip(amps, freqs, phase))
        return v / max(np.abs(v).max(), 1e-6)

    opening = 0.5 * (wave(1.0, 3.0) + 1.0) * rng.uniform(0.12, 0.25)  # >= 0
    spread = wave(0.3, 1.0) * rng.uniform(0.02, 0.06)
    brow = 0.5 * (wave(0.2, 0.8) + 1.0) * rng.uniform(0.03, 0.08)
    off = np.zeros((n, 68, 2))
    # opening: lower lip, lower inner lip and chin move down, upper lip up a little
    for idx, k in ((np.arange(55, 60), 1.0), (np.arange(65, 68), 1.0), (np.arange(6, 11), 0.8),
                   (np.array([5, 11]), 0.5), (np.array([4, 12]), 0.25),
                   (np.arange(49, 54), -0.15), (np.arange(61, 64), -0.15)):
        off[:, idx, 1] += k * opening[:, None]
    # spreading: corners out, symmetric
    off[:, [48, 60], 0] -= spread[:, None]
    off[:, [54, 64], 0] += spread[:, None]
    off[:, BROWS, 1] -= brow[:, None]
    return off - off.mean(0)


def retarget(target_lms: np.ndarray, driving: np.ndarray, points: np.ndarray = MOUTH_JAW,
             gain: float = 1.0, brows: bool = True) -> np.ndarray:
    """Target landmarks (N, 68, 2) whose expression points follow ``driving`` offsets.

    The target's own expression on those points is replaced by the driving one:
    canonical shape = target mean shape + driving offset (Face2Face's transfer), then
    mapped back with each frame's pose. Returns new (N, 68, 2) landmarks.
    """
    n = len(target_lms)
    tmpl = _template(target_lms.mean(0))
    canon = []
    back = []
    for l in target_lms:
        c, m = canonical(l, tmpl)
        canon.append(c)
        back.append(m)
    canon = np.stack(canon)
    mean = canon.mean(0)
    pts = np.concatenate([points, BROWS]) if brows else np.asarray(points)
    out = np.array(target_lms, np.float64, copy=True)
    for i in range(n):
        d = driving[i % len(driving)] if len(driving) else np.zeros((68, 2))
        new = canon[i].copy()
        new[pts] = mean[pts] + gain * d[pts]
        out[i, pts] = apply(back[i], new[pts])
    return out


def mouth_opening(lms: np.ndarray) -> float:
    """Inner-lip gap over the mouth width (scale free)."""
    gap = np.linalg.norm(lms[[61, 62, 63]] - lms[[67, 66, 65]], axis=1).mean()
    width = np.linalg.norm(lms[64] - lms[60])
    return float(gap / max(width, 1e-6))


def mouth_descriptor(lms: np.ndarray) -> np.ndarray:
    """Scale- and position-free mouth shape (for retrieving a matching real mouth)."""
    m = lms[48:68] - lms[48:68].mean(0)
    return (m / max(np.linalg.norm(lms[54] - lms[48]), 1e-6)).ravel()


def ping_pong(i: int, n: int) -> int:
    """Index into a sequence of length n that runs forth and back (no jump at the end)."""
    if n <= 1:
        return 0
    p = i % (2 * n - 2)
    return p if p < n else 2 * n - 2 - p
