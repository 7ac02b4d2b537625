"""What an analyst looks at: heatmap overlays, contours, the running score, the
per-frame timeline and a contact sheet of the most suspicious frames.

Everything here draws on RGB uint8 frames and is cheap enough to run on every
frame of a video: the heatmap is coloured and blended only inside each face's
crop box (the model predicts nothing outside it), not over the whole frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .faces import Box, paste

# Colours (RGB)
RED = (255, 40, 40)
GREEN = (60, 220, 60)
YELLOW = (255, 220, 0)
WHITE = (255, 255, 255)
GREY = (160, 160, 160)


@dataclass
class FaceDraw:
    """One face to draw: its probability map in crop coordinates and where it goes."""

    prob: np.ndarray  # (S, S) float32 output map (forged-pixel or blending-boundary probability)
    crop_box: Box  # square crop box in frame coordinates
    face_box: Box
    track_id: int
    score: float  # share of the crop at or above the pixel threshold
    # (S, S) bool suspected forged region (localize.targets.suspected_region); None: the
    # thresholded map itself (a forged-pixel model)
    region: np.ndarray | None = None


def _roi(box: Box, shape: Sequence[int]) -> tuple[int, int, int, int] | None:
    h, w = shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _heat_lut() -> np.ndarray:
    """JET colour table in RGB order, (256, 1, 3) uint8, for cv2.applyColorMap."""
    import cv2

    ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
    return np.ascontiguousarray(cv2.applyColorMap(ramp, cv2.COLORMAP_JET)[..., ::-1]).reshape(256, 1, 3)


_LUT = None


def heat_colors(prob: np.ndarray) -> np.ndarray:
    """(H, W) probabilities -> (H, W, 3) RGB JET colours."""
    import cv2

    global _LUT  # a constant table, built once
    if _LUT is None:
        _LUT = _heat_lut()
    p8 = cv2.convertScaleAbs(np.asarray(prob, np.float32), alpha=255.0)
    return cv2.applyColorMap(p8, _LUT)


def draw_face(frame: np.ndarray, face: FaceDraw, *, pixel_threshold: float = 0.5, opacity: float = 0.6,
              fake: bool | None = None) -> None:
    """Blend the heatmap (alpha grows with the probability), outline the suspected region
    (the thresholded map, or what a boundary band encloses) and draw the face box with its
    track id and score, in place."""
    import cv2

    roi = _roi(face.crop_box, frame.shape)
    if roi is not None:
        x0, y0, x1, y1 = roi
        b = face.crop_box
        local = (b[0] - x0, b[1] - y0, b[2] - x0, b[3] - y0)
        p = paste(face.prob, local, (y1 - y0, x1 - x0))
        region = frame[y0:y1, x0:x1]
        # transparent where nothing is suspected (no tinted square around every face)
        alpha = np.clip((p - 0.05) / 0.95, 0, 1) * np.float32(opacity)
        region[...] = cv2.blendLinear(np.ascontiguousarray(region), heat_colors(p), 1 - alpha, alpha)
        if face.region is None:
            mask = (p >= pixel_threshold).astype(np.uint8)
        else:  # resampled to the frame and thresholded again, so it stays a region
            mask = (paste(face.region.astype(np.float32), local, (y1 - y0, x1 - x0)) >= 0.5).astype(np.uint8)
        if mask.any():
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(region, contours, -1, YELLOW, 2, lineType=cv2.LINE_AA)
    colour = RED if fake else (GREEN if fake is False else WHITE)
    fx0, fy0, fx1, fy1 = (int(round(v)) for v in face.face_box)
    cv2.rectangle(frame, (fx0, fy0), (fx1, fy1), colour, 1, lineType=cv2.LINE_AA)
    label = f"#{face.track_id} {face.score * 100:.1f}%"
    cv2.putText(frame, label, (fx0, max(12, fy0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, _font_scale(frame) * 0.8, colour,
                1, cv2.LINE_AA)


def _font_scale(frame: np.ndarray) -> float:
    return max(0.35, min(1.0, frame.shape[0] / 720))


def draw_banner(frame: np.ndarray, lines: Sequence[str], colour=WHITE) -> None:
    """Text lines on a dark band at the top of the frame (the running score), in place."""
    import cv2

    fs = _font_scale(frame)
    lh = int(22 * fs) + 4
    h = lh * len(lines) + 6
    band = frame[:h]
    band[...] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(frame, text, (6, lh * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, fs * 0.6, colour, 1, cv2.LINE_AA)


def timeline_png(times: Sequence[float], frame_scores: Sequence[float | None], *, threshold: float | None,
                 track_series: dict[int, tuple[list[float], list[float]]] | None = None,
                 title: str = "", xlabel: str = "time (s)", duration: float | None = None,
                 ylabel: str = "forged area (% of face crop)") -> bytes:
    """Per-frame score plot with the threshold line; frames without a face are marked
    on the axis. Returns PNG bytes (matplotlib Agg, no pyplot global state)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    t = np.asarray(times, float)
    s = np.array([np.nan if v is None else v for v in frame_scores], float)
    if track_series and len(track_series) > 1:
        for tid, (tt, ss) in sorted(track_series.items()):
            ax.plot(tt, np.asarray(ss) * 100, lw=1, marker=".", ms=3, label=f"face #{tid}")
        ax.legend(loc="upper right", fontsize=7)
    else:
        ax.plot(t, s * 100, lw=1.2, marker=".", ms=4, color="tab:blue", label="frame score")
    nf = np.isnan(s)
    if nf.any():
        ax.plot(t[nf], np.zeros(nf.sum()), "|", color="grey", ms=8, label="no face")
    if threshold is not None:
        ax.axhline(threshold * 100, color="tab:red", ls="--", lw=1, label=f"threshold {threshold * 100:.1f}%")
    top = np.nanmax(s) if (~nf).any() else 0.0
    ax.set_ylim(0, max(5.0, (max(top, threshold or 0) * 100) * 1.15))
    if duration:  # the whole video, so the plot lines up with a player's time line
        ax.set_xlim(0, duration)
    elif len(t):
        ax.set_xlim(t.min() - 0.02, t.max() + 0.02 if t.max() > t.min() else t.min() + 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles and not (track_series and len(track_series) > 1):
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def contact_sheet(tiles: Sequence[np.ndarray], captions: Sequence[str], *, cols: int = 4,
                  tile_width: int = 320) -> np.ndarray:
    """Grid of frames (RGB) with a caption under each; frames keep their aspect ratio."""
    import cv2

    if not tiles:
        raise ValueError("a contact sheet needs at least one frame")
    cols = max(1, min(cols, len(tiles)))
    rows = (len(tiles) + cols - 1) // cols
    scaled = []
    for t in tiles:
        h, w = t.shape[:2]
        th = max(1, round(h * tile_width / w))
        scaled.append(cv2.resize(t, (tile_width, th), interpolation=cv2.INTER_AREA))
    th = max(s.shape[0] for s in scaled)
    cap = 22
    sheet = np.full((rows * (th + cap), cols * tile_width, 3), 24, np.uint8)
    for i, (s, c) in enumerate(zip(scaled, captions)):
        r, k = divmod(i, cols)
        y, x = r * (th + cap), k * tile_width
        sheet[y:y + s.shape[0], x:x + tile_width] = s
        cv2.putText(sheet, c, (x + 4, y + th + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, WHITE, 1, cv2.LINE_AA)
    return sheet


def encode_png(rgb: np.ndarray, compression: int = 1) -> bytes:
    """PNG bytes at a low compression level (fast; key frames are written often)."""
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
