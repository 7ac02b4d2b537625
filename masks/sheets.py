"""Contact sheets for eyeballing derived masks: one row per frame, four tiles
original | manipulated | difference heat | mask, cropped around the faces.

The heat tile maps the per-pixel difference (max over RGB) on a fixed scale of
0..``HEAT_MAX`` grey levels, so sheets of different pairs compare directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from localize.video import write_image

HEAT_MAX = 32.0
TILE = 256


@dataclass
class SheetFrame:
    index: int
    original: np.ndarray          # RGB uint8
    manipulated: np.ndarray
    mask: np.ndarray              # bool (H, W)
    boxes: list = field(default_factory=list)  # face boxes, used to choose the crop
    note: str = ""


def heat(original: np.ndarray, manipulated: np.ndarray, vmax: float = HEAT_MAX) -> np.ndarray:
    """Difference heat map (RGB uint8), fixed scale 0..vmax grey levels."""
    import cv2

    from .align import channel_max

    d = channel_max(cv2.absdiff(original, manipulated)).astype(np.float32)
    u8 = np.clip(d * (255.0 / vmax), 0, 255).astype(np.uint8)
    return cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)[:, :, ::-1]


def _crop_box(f: SheetFrame) -> tuple[int, int, int, int]:
    h, w = f.mask.shape
    boxes = list(f.boxes)
    ys, xs = np.nonzero(f.mask)
    if len(xs):
        boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    if not boxes:
        return 0, 0, w, h
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    side = 1.8 * max(x1 - x0, y1 - y0, 32)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = min(side, max(w, h))
    bx0 = int(max(0, min(w - side, cx - side / 2)))
    by0 = int(max(0, min(h - side, cy - side / 2)))
    return bx0, by0, int(min(w, bx0 + side)), int(min(h, by0 + side))


def _tile(img: np.ndarray, box, interp) -> np.ndarray:
    import cv2

    x0, y0, x1, y1 = box
    c = img[y0:y1, x0:x1]
    scale = TILE / max(c.shape[:2])
    c = cv2.resize(c, (max(1, round(c.shape[1] * scale)), max(1, round(c.shape[0] * scale))), interpolation=interp)
    out = np.zeros((TILE, TILE, 3), np.uint8)
    out[: c.shape[0], : c.shape[1]] = c if c.ndim == 3 else c[:, :, None]
    return out


def render_contact_sheet(frames: list[SheetFrame], title: str = "") -> np.ndarray:
    """The sheet as an RGB array (rows of 4 tiles with a caption bar each)."""
    import cv2

    rows = []
    for f in frames:
        box = _crop_box(f)
        m = np.repeat((f.mask.astype(np.uint8) * 255)[:, :, None], 3, axis=2)
        tiles = [_tile(f.original, box, cv2.INTER_AREA), _tile(f.manipulated, box, cv2.INTER_AREA),
                 _tile(heat(f.original, f.manipulated), box, cv2.INTER_AREA), _tile(m, box, cv2.INTER_NEAREST)]
        row = np.concatenate([np.pad(t, ((0, 0), (0, 2), (0, 0))) for t in tiles], axis=1)
        bar = np.full((18, row.shape[1], 3), 32, np.uint8)
        area = 100.0 * f.mask.mean()
        text = f"frame {f.index}  mask {area:.2f}% of frame  {f.note}".strip()
        cv2.putText(bar, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (235, 235, 235), 1, cv2.LINE_AA)
        rows.append(np.concatenate([bar, row], axis=0))
    head = np.full((20, rows[0].shape[1], 3), 0, np.uint8)
    label = f"{title}   original | manipulated | difference 0-{HEAT_MAX:.0f} grey levels | mask"
    cv2.putText(head, label[:120], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([head, *rows], axis=0)


def write_contact_sheet(path: str | Path, frames: list[SheetFrame], title: str = "") -> Path:
    """Write the sheet (JPEG/PNG from the suffix), atomically."""
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    write_image(path, render_contact_sheet(frames, title))
    return Path(path)
