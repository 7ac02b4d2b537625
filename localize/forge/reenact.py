"""Expression reenactment (identity-remained), Face2Face-like: the target keeps its
identity while its mouth, jaw and brows follow a driving video's expression offsets
(or a generated talking trajectory).

Per frame: the target's landmarks are retargeted (``motion.retarget``); the inner face
is warped from the real landmarks to the retargeted ones with a piecewise-affine mesh;
the mouth is taken from the target frame whose real mouth shape best matches the new
one (Face2Face's mouth retrieval), so an opened mouth shows the person's own teeth
rather than stretched lips; the result is 're-rendered' (a slight loss of fine
texture, as a rendered face has) and blended through a feathered face hull.
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
    render_sigma: float  # blur of the re-rendered face, px at a 256 px face
    generated: bool  # driven by a generated trajectory (no usable driving video)


def draw_params(rng: np.random.Generator, generated: bool) -> ReenactParams:
    return ReenactParams(
        gain=float(rng.uniform(0.9, 1.3)),
        forehead=float(rng.uniform(0.1, 0.2)),
        erode=float(rng.uniform(0.02, 0.04)),
        feather=float(rng.uniform(0.03, 0.05)),
        render_sigma=float(rng.uniform(0.8, 1.4)),
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
                roi: g.Roi, sigma: float) -> np.ndarray:
    """Warp frame ``i`` onto the new landmarks, with the mouth from the best matching frame."""
    import cv2

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
    s = sigma * g.face_size(new) / 256.0
    if s > 0.3:
        face = cv2.GaussianBlur(face, (0, 0), s)
    return face


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
        face = render_face(target, i, new, tris, bank, p.forehead, roi, p.render_sigma)
        x0, y0, x1, y1 = roi
        size = g.face_size(new)
        hull = g.fill_hull((y1 - y0, x1 - x0), outline, offset=(x0, y0))
        w = g.cut_weights(g.feather(hull, sigma=p.feather * size, erode=p.erode * size) * hull)
        out = frame.copy()
        out[y0:y1, x0:x1] = g.blend(frame[y0:y1, x0:x1], face, w)
        weight = np.zeros(frame.shape[:2], np.float32)
        weight[y0:y1, x0:x1] = w
        yield out, weight
