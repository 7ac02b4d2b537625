"""Lossless mask videos: the one on-disk format for per-frame binary masks.

Masks are stored as lossless H.264 (libx264rgb, qp 0) with 0/255 in every channel, so
they decode bit-exactly and keep the FF++ ``masks/videos/<name>.mp4`` layout.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from localize.video import VideoWriter, iter_frames


def write_mask_video(path: str | Path, masks: Iterable[np.ndarray], fps: float) -> None:
    """Write boolean/uint8 (H, W) masks losslessly (atomic)."""
    with VideoWriter(path, fps, lossless=True) as w:
        for m in masks:
            m8 = np.where(np.asarray(m) > (0 if np.asarray(m).dtype == bool else 127), 255, 0).astype(np.uint8)
            w.write(np.repeat(m8[:, :, None], 3, axis=2))


def iter_mask_video(path: str | Path, indices: Iterable[int] | None = None):
    """Yield ``(index, bool mask)``; any video whose first channel > 127 means forged
    (also reads the official FF++ mask videos, which are lossy)."""
    for i, f in iter_frames(path, indices):
        yield i, f[:, :, 0] > 127


def read_mask_video(path: str | Path, indices: Iterable[int] | None = None) -> np.ndarray:
    """(N, H, W) bool."""
    return np.stack([m for _, m in iter_mask_video(path, indices)])
