"""Self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022): identity-remained,
artifacts only.

A face is blended into itself: the *source* is the same face with altered colour,
sharpness, scale and position; the *target* is the untouched image. The blend goes
through a randomly deformed, feathered hull of the landmarks, so the only evidence is
the blending boundary and the statistics mismatch inside it, which is what transfers
to unseen face swaps (SBI; Face X-ray, Li et al. 2020).

Works on face crops (landmarks in crop coordinates) and on whole frames: all work is
done in a box around the face, and every pixel outside the returned mask is the input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import geometry as g
from .footage import FaceVideo

IDENTITY = "identity-remained"


@dataclass(frozen=True)
class SelfBlendParams:
    """One draw of SBI's random alterations (kept so a video can reuse them per frame)."""

    hull: int  # 0 full hull + forehead, 1 full hull, 2 inner face (brows..chin), 3 lower face
    forehead: float
    rgb_shift: tuple[float, float, float]
    hsv_shift: tuple[float, float, float]  # hue (deg), saturation (x), value (x)
    brightness: float
    contrast: float
    sharp: float  # < 0 blur sigma (px at face size 256), > 0 unsharp amount
    scale: tuple[float, float]
    shift: tuple[float, float]  # fraction of face size
    elastic: float  # displacement amplitude, fraction of face size
    erode: float  # fraction of face size (negative dilates)
    blur: float  # feather sigma, fraction of face size
    ratio: float  # maximum blend weight
    seed: int  # for the elastic noise field


def draw_params(rng: np.random.Generator) -> SelfBlendParams:
    """SBI's source-target augmentation and mask generation ranges (adapted to 68 points)."""
    sharp = float(rng.uniform(-1.6, -0.5)) if rng.random() < 0.5 else float(rng.uniform(0.3, 1.2))
    if rng.random() < 0.2:
        sharp = 0.0
    return SelfBlendParams(
        hull=int(rng.choice([0, 0, 1, 1, 2, 3])),
        forehead=float(rng.uniform(0.12, 0.3)),
        rgb_shift=_shift(rng),
        hsv_shift=(float(rng.uniform(-4, 4)), float(rng.uniform(0.9, 1.1)), float(rng.uniform(0.9, 1.1))),
        brightness=float(rng.uniform(-0.08, 0.08)),
        contrast=float(rng.uniform(0.9, 1.1)),
        sharp=sharp,
        scale=(float(rng.uniform(0.95, 1.05)), float(rng.uniform(0.95, 1.05))),
        shift=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.03, 0.03))),
        elastic=float(rng.uniform(0.0, 0.04)),
        erode=float(rng.uniform(-0.03, 0.06)),
        blur=float(rng.uniform(0.025, 0.07)),
        ratio=float(rng.choice([0.5, 0.75, 1.0, 1.0, 1.0])),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def _shift(rng: np.random.Generator) -> tuple[float, float, float]:
    """RGB shift of 5-12 levels (L2) in a random direction: never a no-op alteration."""
    v = rng.standard_normal(3)
    v = v / max(np.linalg.norm(v), 1e-6) * rng.uniform(5, 12)
    return tuple(float(x) for x in v)


def self_blend(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
               params: SelfBlendParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Blend an altered copy of the face into ``image``.

    Returns ``(blended RGB uint8, mask float32 in [0, 1])``: the blend weight of the
    altered copy per pixel. Pixels where the mask is 0 are exactly the input; weights
    at or below ``geometry.BLEND_EPS`` are cut to 0, so ``mask > 0`` is the binary
    forgery mask. ``params`` fixes the random draw (for temporally stable videos);
    otherwise one is drawn from ``rng``.
    """
    image = np.ascontiguousarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("self_blend needs an RGB uint8 image")
    lms = np.asarray(landmarks, np.float64)
    if lms.shape != (68, 2):
        raise ValueError("self_blend needs (68, 2) landmarks")
    p = params if params is not None else draw_params(rng)
    h, w = image.shape[:2]
    roi = g.roi_around(lms, image.shape, margin=0.35)
    x0, y0, x1, y1 = roi
    region = image[y0:y1, x0:x1]
    local = lms - [x0, y0]
    size = g.face_size(lms)

    source = alter_region(region, local, size, p)
    weight = blend_mask(region.shape[:2], local, size, p)
    out = image.copy()
    out[y0:y1, x0:x1] = g.blend(region, source, weight)
    mask = np.zeros((h, w), np.float32)
    mask[y0:y1, x0:x1] = weight
    return out, mask


def alter_region(region: np.ndarray, lms: np.ndarray, size: float, p: SelfBlendParams) -> np.ndarray:
    """The SBI source: colour, sharpness, then scale and shift about the face centre."""
    import cv2

    src = region.astype(np.float32)
    src = src + np.asarray(p.rgb_shift, np.float32)
    src = (src - 128.0) * p.contrast + 128.0 + 255.0 * p.brightness
    src = np.clip(src, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(src, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + p.hsv_shift[0] * 256.0 / 360.0, 256.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * p.hsv_shift[1], 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * p.hsv_shift[2], 0, 255)
    src = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
    k = size / 256.0  # sharpness is specified at a 256 px face
    if p.sharp < 0:
        src = cv2.GaussianBlur(src, (0, 0), max(0.3, -p.sharp * k))
    elif p.sharp > 0:
        soft = cv2.GaussianBlur(src, (0, 0), max(0.5, 1.5 * k))
        src = cv2.addWeighted(src, 1 + p.sharp, soft, -p.sharp, 0)
    cx, cy = lms.mean(0)
    sx, sy = p.scale
    tx, ty = p.shift[0] * size, p.shift[1] * size
    m = np.array([[sx, 0, (1 - sx) * cx + tx], [0, sy, (1 - sy) * cy + ty]], np.float64)
    return cv2.warpAffine(src, m, (region.shape[1], region.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT101)


def hull_points(lms: np.ndarray, p: SelfBlendParams) -> np.ndarray:
    if p.hull == 0:
        return g.face_outline(lms, p.forehead)
    if p.hull == 1:
        return lms
    if p.hull == 2:  # brows, cheeks inside the jaw line, chin
        return np.concatenate([lms[17:27], lms[2:15], lms[27:68]])
    # lower face: from the nose bridge down
    return np.concatenate([lms[1:16], lms[29:36], lms[48:68]])


def blend_mask(shape: tuple[int, int], lms: np.ndarray, size: float, p: SelfBlendParams) -> np.ndarray:
    """Deformed (elastic noise, erode/dilate), feathered hull scaled by the blend ratio."""
    import cv2

    hull = g.fill_hull(shape, hull_points(lms, p)).astype(np.float32)
    h, w = shape
    if p.elastic > 0:
        # Noise on a fixed 24x24 grid stretched over the box: the same seed deforms the
        # hull the same way in every frame of a video (no flicker), whatever the box size.
        noise = np.random.default_rng(p.seed).standard_normal((2, 24, 24)).astype(np.float32)
        dx = cv2.resize(cv2.GaussianBlur(noise[0], (0, 0), 3.0), (w, h), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(cv2.GaussianBlur(noise[1], (0, 0), 3.0), (w, h), interpolation=cv2.INTER_CUBIC)
        norm = max(float(np.abs(np.stack([dx, dy])).max()), 1e-6)
        amp = p.elastic * size / norm
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        hull = cv2.remap(hull, xx + dx * amp, yy + dy * amp, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    hull = (hull > 0.5).astype(np.uint8)
    r = int(round(abs(p.erode) * size))
    if r > 0:
        kern = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        hull = cv2.erode(hull, kern) if p.erode > 0 else cv2.dilate(hull, kern)
    soft = g.feather(hull, sigma=max(1.0, p.blur * size))
    peak = float(soft.max())
    if peak <= 0:
        return np.zeros(shape, np.float32)
    soft = np.clip(soft / peak, 0, 1) * p.ratio
    return g.cut_weights(soft)


def forge(target: FaceVideo, source: FaceVideo | None, rng: np.random.Generator,
          params: SelfBlendParams | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A self-blended video: one draw of alterations for the whole clip, applied with
    each frame's smoothed landmarks (``source`` is unused: the face is its own source)."""
    p = params or draw_params(rng)
    for frame, lms in zip(target.frames, target.landmarks):
        yield self_blend(frame, lms, rng, params=p)
