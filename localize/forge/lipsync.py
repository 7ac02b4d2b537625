"""Lip sync (identity-remained), Wav2Lip-like: only a lower-face box is re-rendered.

The mouth and jaw follow a driving video's mouth motion (or a generated talking
trajectory); the lower-face box is rebuilt from the warped frame with a retrieved real
mouth, then passed through the generator's resolution (Wav2Lip renders a 96x96 face,
so the box is resampled at 96 px per face width) with a slight tone drift, and pasted
back with feathered box edges, cut by the feathered lower-face hull (the paste never
spills onto the neck or the background). The mask is that feathered region.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import geometry as g
from . import reenact
from .footage import FaceVideo

IDENTITY = "identity-remained"


@dataclass(frozen=True)
class LipSyncParams:
    gain: float
    render_px: int  # generator resolution (face width in px)
    feather: float  # fraction of face size
    tone: tuple[float, float, float]  # L*a*b* offset of the rendered box
    top: float  # box top between nose bridge (0) and nose tip (1)


def draw_params(rng: np.random.Generator) -> LipSyncParams:
    return LipSyncParams(
        gain=float(rng.uniform(1.0, 1.4)),
        render_px=int(rng.choice([96, 96, 128])),
        feather=float(rng.uniform(0.02, 0.035)),
        tone=(float(rng.choice([-1, 1]) * rng.uniform(1.5, 3.5)), float(rng.uniform(-1.5, 1.5)),
              float(rng.uniform(-1.5, 1.5))),
        top=float(rng.uniform(0.4, 0.9)),
    )


def lower_box(real: np.ndarray, new: np.ndarray, shape: tuple[int, ...], top: float) -> g.Roi:
    """Lower-face box: jaw width (plus 6 %), from the nose down to below the chin."""
    both = np.concatenate([real, new])
    s = g.face_size(real)
    h, w = shape[:2]
    x0 = both[0:17, 0].min() - 0.06 * s
    x1 = both[0:17, 0].max() + 0.06 * s
    y0 = real[27, 1] + top * (real[30, 1] - real[27, 1])
    y1 = both[5:12, 1].max() + 0.08 * s
    x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
    return x0, y0, max(x0 + 2, x1), max(y0 + 2, y1)


def box_weight(roi: g.Roi, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Feathered rectangle: 1 in the middle, falling to 0 inside the box edges
    (edges on the image border stay hard)."""
    import cv2

    x0, y0, x1, y1 = roi
    h, w = y1 - y0, x1 - x0
    m = np.ones((h, w), np.float32)
    pad = int(np.ceil(2 * sigma))
    big = cv2.copyMakeBorder(m, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    # image borders: replicate instead of fading
    if y0 == 0:
        big[:pad] = big[pad:pad + 1]
    if x0 == 0:
        big[:, :pad] = big[:, pad:pad + 1]
    if y1 == shape[0]:
        big[-pad:] = big[-pad - 1:-pad]
    if x1 == shape[1]:
        big[:, -pad:] = big[:, -pad - 1:-pad]
    er = int(round(2 * sigma))
    if er > 0:
        big = cv2.erode(big, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * er + 1, 2 * er + 1)),
                        borderType=cv2.BORDER_REPLICATE)
    big = cv2.GaussianBlur(big, (0, 0), max(0.5, sigma), borderType=cv2.BORDER_REPLICATE)
    return np.clip(big[pad:pad + h, pad:pad + w], 0, 1)


def forge(target: FaceVideo, driver: FaceVideo | None, rng: np.random.Generator,
          params: LipSyncParams | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(manipulated frame, blend weight float32)`` for every target frame."""
    import cv2

    p = params or draw_params(rng)
    new_lms, _ = reenact.new_landmarks(target, driver, rng, p.gain, brows=False)
    bank = reenact.mouth_bank(target)
    for i, frame in enumerate(target.frames):
        real, new = target.landmarks[i], new_lms[i]
        roi = lower_box(real, new, frame.shape, p.top)
        x0, y0, x1, y1 = roi
        tris = g.triangulate(g.with_frame_points(new, roi))
        face = reenact.render_face(target, i, new, tris, bank, 0.0, roi)
        # generator resolution: p.render_px pixels across the face
        scale = min(1.0, p.render_px / g.face_size(real))
        sw, sh = max(2, int(round((x1 - x0) * scale))), max(2, int(round((y1 - y0) * scale)))
        low = cv2.resize(face, (sw, sh), interpolation=cv2.INTER_AREA)
        face = cv2.resize(low, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
        lab = g.to_lab(face) + np.asarray(p.tone, np.float32)
        face = g.to_rgb(lab)
        size = g.face_size(real)
        box = box_weight(roi, frame.shape, p.feather * size)
        # the paste stays on the face: the box is cut by the lower-face hull (jaw line,
        # real and driven, plus the nose), as face-parsing blends of Wav2Lip output do
        lower = np.concatenate([real[1:16], new[1:16], real[28:36]])
        hull = g.fill_hull((y1 - y0, x1 - x0), lower, offset=(x0, y0))
        w = g.cut_weights(box * g.feather(hull, sigma=p.feather * size, erode=p.feather * size))
        out = frame.copy()
        out[y0:y1, x0:x1] = g.blend(frame[y0:y1, x0:x1], face, w)
        weight = np.zeros(frame.shape[:2], np.float32)
        weight[y0:y1, x0:x1] = w
        yield out, weight
