"""What a model's output map means (localize.targets): the region a boundary band
outlines, the target read from checkpoints and ONNX metadata, unknown targets refused."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from localize.targets import MEANINGS, TARGETS, meaning, suspected_region, target_of_model, xray_target


def _ring(size: int = 64, r: int = 18, width: int = 3) -> np.ndarray:
    p = np.zeros((size, size), np.float32)
    cv2.circle(p, (size // 2, size // 2), r, 0.9, width)
    return p


def test_boundary_band_encloses_the_pasted_region():
    p = _ring()
    region = suspected_region(p, "xray")
    outer, inner = np.zeros_like(p), np.zeros_like(p)
    cv2.circle(outer, (32, 32), 21, 1.0, -1)
    cv2.circle(inner, (32, 32), 16, 1.0, -1)
    # the band plus everything inside it, nothing outside
    assert region[inner > 0].all() and not region[outer == 0].any()
    assert region.mean() > 2 * (p >= 0.5).mean()


def test_open_band_outlines_its_hull_and_mask_models_are_thresholded():
    p = np.zeros((64, 64), np.float32)
    cv2.ellipse(p, (32, 32), (18, 18), 0, 0, 180, 0.9, 3)  # the lower half of a ring: a jaw line
    region = suspected_region(p, "xray")
    assert region[40, 32] and not region[24, 32]  # the lower half-disc, not the upper
    assert region.mean() > 2 * (p >= 0.5).mean()
    broken = p.copy()
    broken[:, 28:37] = 0  # the band broken in two pieces (left and right jaw): still one outline
    assert suspected_region(broken, "xray")[40, 32]
    specks = p.copy()
    specks[2, 2] = specks[2, 60] = 0.9  # specks add only themselves, they do not stretch the hull
    np.testing.assert_array_equal(suspected_region(specks, "xray"), region | (specks >= 0.5))
    ring = _ring()
    np.testing.assert_array_equal(suspected_region(ring, "mask"), ring >= 0.5)  # a forged-pixel map as it is
    assert not suspected_region(np.zeros((8, 8), np.float32), "xray").any()
    assert suspected_region(ring, "xray", pixel_threshold=0.95).sum() == 0  # the threshold applies first


def test_target_from_checkpoint_config_or_onnx_metadata():
    assert target_of_model({}) == "mask"  # models from before the choice trained on masks
    assert target_of_model({"config": {"data": {"target": "xray"}}}) == "xray"
    assert target_of_model({"config": {"data": {}}}) == "mask"
    assert target_of_model({"target": "xray", "config": {"data": {"target": "mask"}}}) == "xray"
    assert set(MEANINGS) == set(TARGETS)
    assert "boundary" in meaning("xray").heatmap and "forged" in meaning("mask").heatmap
    with pytest.raises(ValueError, match="unknown target"):
        meaning("edges")


def test_xray_band_of_a_disc_is_its_outline():
    disc = np.zeros((64, 64), np.float32)
    cv2.circle(disc, (32, 32), 18, 1.0, -1)
    b = xray_target(disc)
    assert b[32, 32] < 0.05 and b[2, 2] < 0.05 and b[32, 32 + 18] > 0.8
    region = suspected_region(b, "xray")
    assert (region & (disc > 0)).sum() / (region | (disc > 0)).sum() > 0.8  # the enclosed band gives back the disc
