"""Face geometry shared by every forge method: hulls from 68 landmarks, feathered blend
masks, a dense piecewise-affine (Delaunay) warp and Reinhard colour transfer.

All functions are pure (no randomness) so a method's output depends only on its inputs
and the ``np.random.Generator`` it was given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# dlib 68-point indices
JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
EYES = np.arange(36, 48)
MOUTH = np.arange(48, 68)
INNER_MOUTH = np.arange(60, 68)

# Blend weights at or below this are set to exactly 0 by every method, so the binary
# mask of a fake is ``weight > 0`` (equivalently ``weight > BLEND_EPS`` before the cut)
# and no pixel outside it differs from the original. A cut at 2 % of the colour
# difference is below one grey level for differences under 25 levels (invisible).
BLEND_EPS = 0.02

Roi = tuple[int, int, int, int]  # x0, y0, x1, y1 (integer pixel box, x1/y1 exclusive)


def face_size(lms: np.ndarray) -> float:
    """Characteristic face size: the larger side of the landmark box."""
    span = lms.max(0) - lms.min(0)
    return float(max(span[0], span[1], 1.0))


def up_vector(lms: np.ndarray) -> np.ndarray:
    """Unit vector pointing from the chin to the brows (the face's 'up')."""
    v = lms[BROWS].mean(0) - lms[8]
    n = np.linalg.norm(v)
    return v / n if n > 1e-6 else np.array([0.0, -1.0])


def forehead_points(lms: np.ndarray, frac: float = 0.22) -> np.ndarray:
    """The 10 brow points raised by ``frac`` x the chin-to-brow distance: a forehead line
    for 68-point landmarks (which stop at the brows)."""
    lms = np.asarray(lms, np.float64)
    height = np.linalg.norm(lms[BROWS].mean(0) - lms[8])
    return lms[BROWS] + up_vector(lms) * frac * height


def face_outline(lms: np.ndarray, forehead: float = 0.0) -> np.ndarray:
    """Landmarks (plus raised brow points when ``forehead`` > 0) whose hull is the face."""
    lms = np.asarray(lms, np.float64)
    if forehead > 0:
        return np.concatenate([lms, forehead_points(lms, forehead)])
    return lms


def fill_hull(shape: tuple[int, int], points: np.ndarray, *, offset: tuple[float, float] = (0, 0)) -> np.ndarray:
    """uint8 (H, W) mask, 1 inside the convex hull of ``points`` (sub-pixel exact edges
    at 1/16 px via cv2's shift)."""
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    pts = np.asarray(points, np.float64) - np.asarray(offset, np.float64)
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    return mask


def feather(mask: np.ndarray, sigma: float, *, erode: float = 0.0) -> np.ndarray:
    """Soft mask: erode the binary mask by ``erode`` px, then Gaussian-blur by ``sigma`` px.

    Eroding by about 2 sigma keeps the soft edge inside the original hull."""
    import cv2

    m = mask.astype(np.uint8)
    k = int(round(erode))
    if k > 0:
        m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    f = m.astype(np.float32)
    if sigma > 0:
        f = cv2.GaussianBlur(f, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_CONSTANT)
    return np.clip(f, 0.0, 1.0)


def cut_weights(w: np.ndarray, eps: float = BLEND_EPS) -> np.ndarray:
    """Zero the negligible tail of a blend mask (see BLEND_EPS)."""
    w = np.asarray(w, np.float32)
    return np.where(w > eps, w, 0.0).astype(np.float32)


def blend(background: np.ndarray, foreground: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``w * foreground + (1 - w) * background`` rounded to uint8; exactly ``background``
    where ``w == 0``."""
    w3 = w[..., None].astype(np.float32)
    out = background.astype(np.float32) * (1 - w3) + foreground.astype(np.float32) * w3
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.where(w3 > 0, out, background)


def roi_around(lms: np.ndarray, shape: tuple[int, ...], margin: float = 0.45) -> Roi:
    """Integer box around the landmarks grown by ``margin`` x face size, clipped to the image."""
    h, w = shape[:2]
    s = face_size(lms)
    x0, y0 = lms.min(0) - margin * s
    x1, y1 = lms.max(0) + margin * s
    x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
    return x0, y0, max(x0 + 1, x1), max(y0 + 1, y1)


# ---------------------------------------------------------------------------------
# Piecewise-affine warp
# ---------------------------------------------------------------------------------


def with_frame_points(points: np.ndarray, box: Roi, n_side: int = 4) -> np.ndarray:
    """Append fixed points on the border of ``box`` so the triangulation covers the whole
    box and the warp is the identity at the border."""
    x0, y0, x1, y1 = box
    t = np.linspace(0, 1, n_side + 1)[:-1]
    top = np.stack([x0 + t * (x1 - x0), np.full_like(t, y0)], 1)
    right = np.stack([np.full_like(t, x1), y0 + t * (y1 - y0)], 1)
    bottom = np.stack([x1 - t * (x1 - x0), np.full_like(t, y1)], 1)
    left = np.stack([np.full_like(t, x0), y1 - t * (y1 - y0)], 1)
    return np.concatenate([np.asarray(points, np.float64), top, right, bottom, left])


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (K, 3) of point indices. Compute once per video on a mean
    shape and reuse, so the mesh topology never changes between frames (no flicker)."""
    from scipy.spatial import Delaunay

    return Delaunay(np.asarray(points, np.float64)).simplices.astype(np.int32)


@dataclass
class WarpField:
    """Backward map of a piecewise-affine warp over an ROI: for every output pixel the
    source coordinates (cv2.remap maps) and whether a triangle covers it."""

    roi: Roi
    map_x: np.ndarray
    map_y: np.ndarray
    covered: np.ndarray  # bool


def warp_field(src_pts: np.ndarray, dst_pts: np.ndarray, triangles: np.ndarray, roi: Roi) -> WarpField:
    """Dense backward map sending each pixel of a ``dst`` triangle to its ``src`` triangle."""
    import cv2

    x0, y0, x1, y1 = roi
    w, h = x1 - x0, y1 - y0
    src = np.asarray(src_pts, np.float64)
    dst = np.asarray(dst_pts, np.float64)
    tri_id = np.full((h, w), -1, np.int32)
    mats = np.zeros((len(triangles), 2, 3), np.float64)
    for k, (a, b, c) in enumerate(triangles):
        d = dst[[a, b, c]]
        area = (d[1, 0] - d[0, 0]) * (d[2, 1] - d[0, 1]) - (d[2, 0] - d[0, 0]) * (d[1, 1] - d[0, 1])
        if abs(area) < 1e-6:
            continue
        mats[k] = cv2.getAffineTransform(d.astype(np.float32), src[[a, b, c]].astype(np.float32))
        poly = np.round((d - [x0, y0]) * 16).astype(np.int32)
        cv2.fillConvexPoly(tri_id, poly, int(k), lineType=cv2.LINE_8, shift=4)
    covered = tri_id >= 0
    ids = np.where(covered, tri_id, 0)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    m = mats[ids]
    mx = m[..., 0, 0] * xx + m[..., 0, 1] * yy + m[..., 0, 2]
    my = m[..., 1, 0] * xx + m[..., 1, 1] * yy + m[..., 1, 2]
    mx = np.where(covered, mx, xx).astype(np.float32)
    my = np.where(covered, my, yy).astype(np.float32)
    return WarpField(roi, mx, my, covered)


def apply_warp(image: np.ndarray, field: WarpField, *, border: int | None = None) -> np.ndarray:
    """Sample ``image`` (full frame, source coordinates) through the field: the ROI-sized result."""
    import cv2

    bm = cv2.BORDER_REFLECT101 if border is None else border
    return cv2.remap(image, field.map_x, field.map_y, interpolation=cv2.INTER_LINEAR, borderMode=bm)


# ---------------------------------------------------------------------------------
# Colour
# ---------------------------------------------------------------------------------


@dataclass
class LabStats:
    mean: np.ndarray  # (3,)
    std: np.ndarray  # (3,)

    def mix(self, other: "LabStats", a: float) -> "LabStats":
        """Exponential smoothing step: ``(1 - a) * self + a * other``."""
        return LabStats((1 - a) * self.mean + a * other.mean, (1 - a) * self.std + a * other.std)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def to_rgb(lab: np.ndarray) -> np.ndarray:
    import cv2

    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def lab_stats(rgb: np.ndarray, mask: np.ndarray) -> LabStats:
    """Mean and standard deviation of L*a*b* inside ``mask`` (the whole image if empty)."""
    lab = to_lab(rgb)
    sel = lab[mask > 0] if np.any(mask > 0) else lab.reshape(-1, 3)
    return LabStats(sel.mean(0).astype(np.float64), sel.std(0).astype(np.float64) + 1e-3)


def transfer_colour(rgb: np.ndarray, src: LabStats, dst: LabStats, *, max_gain: float = 2.0) -> np.ndarray:
    """Reinhard transfer: move ``rgb`` (with statistics ``src``) to the statistics ``dst``."""
    lab = to_lab(rgb)
    gain = np.clip(dst.std / src.std, 1 / max_gain, max_gain)
    lab = (lab - src.mean) * gain + dst.mean
    return to_rgb(lab)
