"""What a localizer's output map means: the training target, and the words and region
an analyst gets from it.

A model trained on forged-region masks (``mask``) outputs forged-pixel probabilities.
One trained on the Face X-ray target (``xray``) outputs the probability that a pixel lies
on a blending boundary: a band around the pasted face, near 0 inside it. Both are scored
the same way (area above the pixel threshold, the calibration is fitted on that), but an
analyst must not read a boundary band as "these pixels are forged": for such a model the
suspected region is the area the band outlines (:func:`suspected_region`), and every label
says which kind of map is shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TARGETS = ("mask", "xray")


@dataclass(frozen=True)
class OutputMeaning:
    """How reports, overlays and the viewer name a model's output map."""

    target: str
    heatmap: str  # what one pixel of the map is the probability of
    area: str  # what the frame score (area above the pixel threshold) measures
    region: str  # how the suspected forged region is obtained from the map


MEANINGS = {
    "mask": OutputMeaning(
        "mask", "forged-pixel probability", "forged area",
        "pixels whose forged-pixel probability is at or above the pixel threshold"),
    "xray": OutputMeaning(
        "xray", "blending-boundary probability (Face X-ray)", "boundary band",
        "the blending-boundary band (probability at or above the pixel threshold) and the convex hull "
        "of its substantial pieces (>= 20 % of the largest, >= 0.2 % of the crop): the area the band "
        "outlines"),
}


def meaning(target: str) -> OutputMeaning:
    if target not in MEANINGS:
        raise ValueError(f"unknown target {target!r} (one of {', '.join(TARGETS)})")
    return MEANINGS[target]


def target_of_model(meta: dict[str, Any]) -> str:
    """The target a model was trained on, from its checkpoint (training config) or ONNX
    metadata (``target``); models from before the choice existed trained on masks."""
    t = meta.get("target")
    if t is None:
        t = ((meta.get("config") or {}).get("data") or {}).get("target", "mask")
    return str(t)


def xray_target(mask: np.ndarray, sigma_frac: float = 0.02) -> np.ndarray:
    """Face X-ray target (Li et al., CVPR 2020): 4 M (1 - M) of the mask M softened by a
    Gaussian (sigma = ``sigma_frac`` x crop size), i.e. a band along the blending boundary,
    0 inside and outside the forged region. Why: the inside of a blended face looks like
    real skin, so a per-pixel forged-region target makes ~0.5 the best answer there
    (every real face then gets forged area); the boundary carries the evidence."""
    import cv2

    m = np.asarray(mask, np.float32)
    if m.max() > 1.0:
        m = m / 255.0
    m = (m >= 0.5).astype(np.float32)
    sigma = max(0.5, sigma_frac * m.shape[-1])
    b = cv2.GaussianBlur(m, (0, 0), sigma)
    return np.clip(4.0 * b * (1.0 - b), 0.0, 1.0).astype(np.float32)


def suspected_region(prob: np.ndarray, target: str, pixel_threshold: float = 0.5, *,
                     min_piece: float = 0.2, min_area: float = 0.002) -> np.ndarray:
    """(H, W) bool: the pixels the map says were forged. For a mask model, the map above
    the threshold. For a boundary model, the band above the threshold plus the convex hull
    of its substantial pieces (at least ``min_piece`` of the largest piece and ``min_area``
    of the crop): blending masks are hulls of face landmarks, and a band often fades out or
    breaks where the mask meets hair (a jaw line and a cheek), so the hull of its pieces,
    not only a closed ring, outlines the pasted face; specks add only themselves."""
    band = np.asarray(prob) >= pixel_threshold
    if target == "mask" or not band.any():
        return band
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(band.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= max(min_piece * areas.max(), min_area * band.size)) + 1
    if not len(keep):
        return band
    ys, xs = np.nonzero(np.isin(labels, keep))
    hull = cv2.convexHull(np.column_stack([xs, ys]).astype(np.int32))
    filled = np.zeros(band.shape, np.uint8)
    cv2.fillConvexPoly(filled, hull, 1)
    return filled.astype(bool) | band
