"""HDR video (PQ and HLG, BT.2100) as an SDR player shows it.

Why: phones record HDR by default (iPhones since 2020: HLG in HEVC). Converted to 8-bit RGB as if
it were SDR, such a frame comes out dark, flat and desaturated (BT.2020 primaries read as BT.709),
which is not footage any model here learned. Every decoded frame whose transfer is PQ or HLG is
therefore tone-mapped to BT.709 SDR the way BT.2408 places HDR content: HDR reference white
(203 cd/m2) becomes SDR white, brighter highlights are compressed smoothly below it, and colours
are converted from BT.2020 to BT.709 primaries in linear light.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

PQ, HLG = 16, 18  # AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67
HDR_TRANSFERS = {PQ: "PQ (SMPTE ST 2084)", HLG: "HLG (ARIB STD-B67)"}
REFERENCE_WHITE = 203.0  # cd/m2: HDR reference white, shown as SDR white (ITU-R BT.2408)
HLG_PEAK = 1000.0  # cd/m2: the nominal display HLG is rendered for (system gamma 1.2)
KNEE = 0.75  # SDR-relative level above which highlights are compressed (below it: unchanged)

_BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593], np.float32)
# linear BT.2020 RGB -> linear BT.709 RGB (ITU-R BT.2087)
_BT2020_TO_709 = np.array([[1.6605, -0.5876, -0.0728],
                           [-0.1246, 1.1329, -0.0083],
                           [-0.0182, -0.1006, 1.1187]], np.float32)


def pq_to_nits(e: np.ndarray) -> np.ndarray:
    """PQ signal (0-1) to display light in cd/m2 (the ST 2084 EOTF)."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(e, 0.0, 1.0), 1 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1 / m1)


def _hlg_scene(e: np.ndarray) -> np.ndarray:
    """HLG signal (0-1) to scene light (0-1): the inverse of the BT.2100 HLG OETF."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = np.clip(e, 0.0, 1.0)
    with np.errstate(over="ignore"):
        return np.where(e <= 0.5, e * e / 3.0, (np.exp((e - c) / a) + b) / 12.0)


def _hlg_ootf_gain(scene: np.ndarray, peak: float = HLG_PEAK) -> np.ndarray:
    """Per-pixel factor from scene light to display light in cd/m2 (the BT.2100 OOTF: system gamma
    1.2 at a 1000 cd/m2 display, applied to the pixel's luminance)."""
    gamma = 1.2 + 0.42 * np.log10(peak / 1000.0)
    ys = np.maximum(scene @ _BT2020_LUMA, 1e-6)
    return (peak * np.power(ys, gamma - 1.0))[..., None]


def hlg_to_nits(rgb: np.ndarray, peak: float = HLG_PEAK) -> np.ndarray:
    """HLG signal (0-1, ... x 3) to display light in cd/m2 for a ``peak`` display."""
    scene = _hlg_scene(rgb)
    return scene * _hlg_ootf_gain(scene, peak)


def compress_highlights(x: np.ndarray, knee: float = KNEE) -> np.ndarray:
    """SDR-relative linear RGB (1 = SDR white) into 0-1: unchanged below ``knee``; above it each
    pixel is scaled by its brightest channel's curve, which rises with slope 1 at the knee and
    approaches 1 (so hues keep their ratios). Works in place on float32 arrays."""
    x = np.asarray(x, np.float32)
    m = np.maximum(x.max(axis=-1), knee)  # at the knee the curve's scale is exactly 1
    span = np.float32(1.0 - knee)
    scale = np.subtract(m, knee)
    scale /= -span
    np.exp(scale, out=scale)
    scale *= -span
    scale += np.float32(1.0)  # knee + span * (1 - exp(-(m - knee) / span)), over m
    scale /= m
    x *= scale[..., None]
    return np.clip(x, 0.0, 1.0, out=x)


@lru_cache(maxsize=2)
def _signal_lut(transfer: int) -> np.ndarray:
    """Per-channel light for every 16-bit signal code: SDR-relative display light (PQ) or scene
    light (HLG, whose OOTF needs the pixel's luminance and follows in to_sdr)."""
    e = np.arange(65536, dtype=np.float64) / 65535.0
    return (pq_to_nits(e) / REFERENCE_WHITE if transfer == PQ else _hlg_scene(e)).astype(np.float32)


@lru_cache(maxsize=1)
def _encode_lut() -> np.ndarray:
    """8-bit BT.1886 code (gamma 1/2.4) of linear light s*s, s in 0-1 in 65536 steps (indexing by
    the square root keeps the shadows' steps fine)."""
    s = np.arange(65536, dtype=np.float64) / 65535.0
    return np.round(np.power(s * s, 1 / 2.4) * 255.0).astype(np.uint8)


def to_sdr(rgb16: np.ndarray, transfer: int) -> np.ndarray:
    """16-bit non-linear BT.2020 R'G'B' (uint16) of a PQ or HLG frame as 8-bit BT.709 SDR RGB
    (the per-channel curves are looked up in tables; HLG's OOTF needs the pixel's luminance)."""
    light = _signal_lut(transfer)[rgb16]
    if transfer == HLG:
        light *= _hlg_ootf_gain(light) / REFERENCE_WHITE
    linear = light @ _BT2020_TO_709.T
    np.maximum(linear, 0.0, out=linear)
    sdr = compress_highlights(linear)
    return _encode_lut()[(np.sqrt(sdr) * 65535.0 + 0.5).astype(np.uint16)]


def frame_rgb(frame) -> np.ndarray:
    """A decoded PyAV frame as 8-bit RGB: tone-mapped when its transfer is PQ or HLG, else as
    stored (the frame's own matrix and range)."""
    trc = int(getattr(frame, "color_trc", 0) or 0)
    if trc in HDR_TRANSFERS:
        return to_sdr(frame.to_ndarray(format="rgb48le"), trc)
    return frame.to_ndarray(format="rgb24")
