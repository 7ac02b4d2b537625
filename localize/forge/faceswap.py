"""Graphics face swap (identity-replaced), as FaceSwap in FF++: the source person's
face is warped onto the target frame by frame with a piecewise-affine mesh on 68
landmarks, colour-matched (Reinhard, smoothed over time) and blended within an
eroded, feathered hull of the target's landmarks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import geometry as g
from .footage import FaceVideo
from .motion import ping_pong

IDENTITY = "identity-replaced"


@dataclass(frozen=True)
class FaceSwapParams:
    forehead: float  # raise of the brow line (fraction of chin-brow height) in the hull
    erode: float  # fraction of face size
    feather: float  # Gaussian sigma, fraction of face size
    colour_smoothing: float  # EMA factor of the colour statistics per frame
    colour_strength: float  # 1 = full Reinhard transfer


def draw_params(rng: np.random.Generator) -> FaceSwapParams:
    return FaceSwapParams(
        forehead=float(rng.uniform(0.0, 0.15)),
        erode=float(rng.uniform(0.03, 0.06)),
        feather=float(rng.uniform(0.025, 0.045)),
        colour_smoothing=0.25,
        colour_strength=float(rng.uniform(0.85, 1.0)),
    )


def forge(target: FaceVideo, source: FaceVideo, rng: np.random.Generator,
          params: FaceSwapParams | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(manipulated frame, blend weight float32)`` for every target frame."""
    p = params or draw_params(rng)
    n_pts = 68 + (10 if p.forehead > 0 else 0)
    mean_shape = g.face_outline(target.landmarks.mean(0), p.forehead)
    tris = g.triangulate(mean_shape)
    src_stats = dst_stats = None
    for i, frame in enumerate(target.frames):
        j = ping_pong(i, len(source))
        t_lms = target.landmarks[i]
        s_lms = source.landmarks[j]
        dst_pts = g.face_outline(t_lms, p.forehead)
        src_pts = g.face_outline(s_lms, p.forehead)
        assert len(dst_pts) == n_pts
        roi = g.roi_around(dst_pts, frame.shape, margin=0.05)
        x0, y0, x1, y1 = roi
        field = g.warp_field(src_pts, dst_pts, tris, roi)
        warped = g.apply_warp(source.frames[j], field)
        hull = g.fill_hull((y1 - y0, x1 - x0), dst_pts, offset=(x0, y0)) & field.covered
        size = g.face_size(t_lms)
        inner = g.feather(hull, 0, erode=max(1.0, (p.erode + 0.03) * size))
        region = frame[y0:y1, x0:x1]
        s_now = g.lab_stats(warped, inner)
        d_now = g.lab_stats(region, inner)
        a = 1.0 if src_stats is None else p.colour_smoothing
        src_stats = s_now if src_stats is None else src_stats.mix(s_now, a)
        dst_stats = d_now if dst_stats is None else dst_stats.mix(d_now, a)
        goal = g.LabStats(src_stats.mean + p.colour_strength * (dst_stats.mean - src_stats.mean),
                          src_stats.std + p.colour_strength * (dst_stats.std - src_stats.std))
        matched = g.transfer_colour(warped, src_stats, goal)
        w = g.feather(hull, sigma=p.feather * size, erode=p.erode * size)
        w = g.cut_weights(w * hull)
        out = frame.copy()
        out[y0:y1, x0:x1] = g.blend(region, matched, w)
        weight = np.zeros(frame.shape[:2], np.float32)
        weight[y0:y1, x0:x1] = w
        yield out, weight
