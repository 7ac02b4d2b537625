"""Expression reenactment (identity-remained), Face2Face-like: the target keeps its
identity while its mouth, jaw and brows follow a driving video's expression offsets
(or a generated talking trajectory).

Per frame: the target's landmarks are retargeted (``motion.retarget``); the inner face
is warped from the real landmarks to the retargeted ones with a piecewise-affine mesh;
the mouth is taken from the target frame whose real mouth shape best matches the new
one (Face2Face's mouth retrieval), so an opened mouth shows the person's own teeth
rather than stretched lips; the result is 're-rendered' (texture at 96-160 px across
the face, a smooth relighting of 3-7 % with a gentle gradient, a small colour shift:
what a model-based renderer changes) and blended through a feathered face hull.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import geometry as g
from . import motion
from .footage import FaceVideo

IDENTITY = "identity-remained"


@dataclass(frozen=True)
class ReenactParams:
    gain: float  # scale of the driving expression
    forehead: float
    erode: float
    feather: float
    texture_px: int  # resolution of the rendered face texture (px across the face)
    shading: tuple[float, float, float]  # relighting: gain, horizontal and vertical gradient
    tone: tuple[float, float]  # a*, b* shift of the rendered face
    generated: bool  # driven by a generated trajectory (no usable driving video)


def draw_params(rng: np.random.Generator, generated: bool) -> ReenactParams:
    return ReenactParams(
        gain=float(rng.uniform(0.9, 1.3)),
        forehead=float(rng.uniform(0.1, 0.2)),
        erode=float(rng.uniform(0.02, 0.04)),
        feather=float(rng.uniform(0.03, 0.05)),
        texture_px=int(rng.integers(96, 161)),
        shading=(float(rng.choice([-1, 1]) * rng.uniform(0.03, 0.07)), float(rng.uniform(-0.08, 0.08)),
                 float(rng.uniform(-0.06, 0.06))),
        tone=(float(rng.uniform(-1.5, 1.5)), float(rng.uniform(-1.5, 1.5))),
        generated=generated,
    )


def driving_offsets(target: FaceVideo, driver: FaceVideo | None, rng: np.random.Generator,
                    min_motion: float = 0.03) -> tuple[np.ndarray, bool]:
    """Expression offsets from ``driver``; a generated trajectory when there is no driver
    or it barely moves (a still photo, a silent face)."""
    if driver is not None and len(driver) >= 2:
        off = motion.expression_offsets(driver.landmarks)
        if np.abs(off[:, motion.MOUTH_JAW]).max() >= min_motion:
            return off, False
    return motion.generated_offsets(len(target), target.fps, rng), True


def new_landmarks(target: FaceVideo, driver: FaceVideo | None, rng: np.random.Generator,
                  gain: float | None = None, brows: bool = True) -> tuple[np.ndarray, bool]:
    off, generated = driving_offsets(target, driver, rng)
    if not generated and len(off) != len(target):
        off = np.stack([off[motion.ping_pong(i, len(off))] for i in range(len(target))])
    lms = motion.retarget(target.landmarks, off, gain=gain if gain is not None else 1.0, brows=brows)
    return lms, generated


def mouth_bank(target: FaceVideo) -> tuple[np.ndarray, np.ndarray]:
    """Per frame (mouth opening, mouth shape descriptor) for mouth retrieval."""
    opening = np.array([motion.mouth_opening(l) for l in target.landmarks])
    desc = np.stack([motion.mouth_descriptor(l) for l in target.landmarks])
    return opening, desc


def retrieve_mouth(bank: tuple[np.ndarray, np.ndarray], lms: np.ndarray) -> int:
    opening, desc = bank
    want_open = motion.mouth_opening(lms)
    cost = 4.0 * np.abs(opening - want_open) + np.linalg.norm(desc - motion.mouth_descriptor(lms), axis=1)
    return int(np.argmin(cost))


def render_face(target: FaceVideo, i: int, new: np.ndarray, tris: np.ndarray, bank, forehead: float,
                roi: g.Roi) -> np.ndarray:
    """Warp frame ``i`` onto the new landmarks, with the mouth from the best matching frame."""
    x0, y0, x1, y1 = roi
    frame = target.frames[i]
    src = g.with_frame_points(g.face_outline(target.landmarks[i], forehead), roi)
    dst = g.with_frame_points(g.face_outline(new, forehead), roi)
    face = g.apply_warp(frame, g.warp_field(src, dst, tris, roi))
    k = retrieve_mouth(bank, new)
    if k != i:
        src_k = g.with_frame_points(g.face_outline(target.landmarks[k], forehead), roi)
        mouth = g.apply_warp(target.frames[k], g.warp_field(src_k, dst, tris, roi))
        size = g.face_size(new)
        mm = g.fill_hull((y1 - y0, x1 - x0), new[48:68], offset=(x0, y0))
        mw = g.feather(mm, sigma=0.03 * size, erode=0.0)
        mw = np.maximum(mw, g.feather(mm, 0))  # full weight on the lips themselves
        face = g.blend(face, mouth, mw)
    return face


def rerender(face: np.ndarray, roi: g.Roi, lms: np.ndarray, p: ReenactParams) -> np.ndarray:
    """What a model-based renderer changes on the whole face: a texture of limited
    resolution and a slightly different, smooth illumination and colour (Face2Face
    renders the face from a fitted albedo and spherical-harmonics lighting)."""
    import cv2

    x0, y0, x1, y1 = roi
    size = g.face_size(lms)
    scale = min(1.0, p.texture_px / size)
    if scale < 0.95:
        h, w = face.shape[:2]
        low = cv2.resize(face, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
        face = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    cx, cy = lms.mean(0)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    gain, gx, gy = p.shading
    shade = 1.0 + gain + gx * (xx - cx) / size + gy * (yy - cy) / size
    lab = g.to_lab(face)
    lab[..., 0] = np.clip(lab[..., 0] * shade, 0, 100)
    lab[..., 1] += p.tone[0]
    lab[..., 2] += p.tone[1]
    return g.to_rgb(lab)


def forge(target: FaceVideo, driver: FaceVideo | None, rng: np.random.Generator,
          params: ReenactParams | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(manipulated frame, blend weight float32)`` for every target frame."""
    p = params or draw_params(rng, generated=False)
    new_lms, generated = new_landmarks(target, driver, rng, p.gain)
    p = dataclasses.replace(p, generated=generated)
    bank = mouth_bank(target)
    for i, frame in enumerate(target.frames):
        new = new_lms[i]
        outline = np.concatenate([g.face_outline(target.landmarks[i], p.forehead), g.face_outline(new, p.forehead)])
        roi = g.roi_around(outline, frame.shape, margin=0.08)
        # Delaunay on the destination points: destination triangles never overlap.
        tris = g.triangulate(g.with_frame_points(g.face_outline(new, p.forehead), roi))
        face = rerender(render_face(target, i, new, tris, bank, p.forehead, roi), roi, new, p)
        x0, y0, x1, y1 = roi
        size = g.face_size(new)
        hull = g.fill_hull((y1 - y0, x1 - x0), outline, offset=(x0, y0))
        w = g.cut_weights(g.feather(hull, sigma=p.feather * size, erode=p.erode * size) * hull)
        out = frame.copy()
        out[y0:y1, x0:x1] = g.blend(frame[y0:y1, x0:x1], face, w)
        weight = np.zeros(frame.shape[:2], np.float32)
        weight[y0:y1, x0:x1] = w
        yield out, weight
