"""Is a pair aligned well enough to subtract? Checked before (and while) deriving masks.

A mask is a per-pixel difference, so it is only meaningful when both videos have the
same frame size, the same frames, and no temporal shift. A pair that fails is refused
with a reason (:class:`AlignmentError`), never silently masked: a one-frame shift
turns every moving edge into "forged" pixels.

Frame counts come from ``probe`` (packets, no decoding). The temporal offset is
estimated while the derivation streams the frames: small grey thumbnails of the last
few frames of both videos are kept, and at a few checkpoints the manipulated frame is
compared with the original frames ``-w..w`` around it. Offset 0 must be the best, up to
a margin (a static shot makes every offset look alike, which is not a misalignment).
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from localize.errors import InputError
from localize.video import VideoInfo, probe

THUMB = (96, 72)  # thumbnail size (w, h) for the offset search


class AlignmentError(InputError):
    """The pair is not pixel/frame aligned; ``problem`` says how."""


@dataclass
class Alignment:
    """What the checks found; stored in the manifest."""

    width: int
    height: int
    n_original: int
    n_manipulated: int
    n_frames: int                  # frames that are derived (the common length)
    trailing_dropped: str | None = None  # "manipulated" / "original" when one extra last frame was dropped
    fps_original: float = 0.0
    fps_manipulated: float = 0.0
    offset: int | None = 0         # best temporal offset found (0 when aligned)
    offset_checks: list[dict] = field(default_factory=list)  # per checkpoint: frame, scores by offset

    def to_dict(self) -> dict:
        return asdict(self)


def check_static(original: str | Path, manipulated: str | Path, *, max_extra: int = 1) -> tuple[Alignment, VideoInfo, VideoInfo]:
    """Size and frame-count checks from the file headers/packets (no decoding).

    One extra trailing frame (lip-sync tools emit one) is accepted, reported and
    dropped; any other difference in length is refused."""
    a, b = probe(original), probe(manipulated)
    if a.is_image != b.is_image:
        raise AlignmentError(manipulated, f"cannot pair an image with a video ({original} vs {manipulated})")
    if (a.width, a.height) != (b.width, b.height):
        raise AlignmentError(manipulated, f"frame size {b.width}x{b.height} differs from the original's "
                                          f"{a.width}x{a.height} ({original})")
    trailing = None
    n = min(a.n_frames, b.n_frames)
    diff = b.n_frames - a.n_frames
    if diff:
        if abs(diff) > max_extra:
            raise AlignmentError(manipulated, f"{b.n_frames} frames but the original has {a.n_frames} "
                                              f"({original}); only {max_extra} trailing extra frame may differ")
        trailing = "manipulated" if diff > 0 else "original"
    return (Alignment(width=a.width, height=a.height, n_original=a.n_frames, n_manipulated=b.n_frames,
                      n_frames=n, trailing_dropped=trailing, fps_original=a.fps, fps_manipulated=b.fps), a, b)


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    import cv2

    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


class OffsetMonitor:
    """Streaming temporal-offset check on a few checkpoints (see module docstring).

    Feed it ``(index, original, manipulated)`` in order; it raises
    :class:`AlignmentError` at the first checkpoint where a non-zero offset is clearly
    better than 0. ``margin``: offset 0 is accepted unless its mean absolute thumbnail
    difference exceeds the best one's by this factor and by ``min_gap`` grey levels.
    """

    def __init__(self, n_frames: int, *, window: int = 3, checkpoints: int = 4, margin: float = 1.25,
                 min_gap: float = 0.75, path: str | Path | None = None):
        self.window = window
        self.margin = margin
        self.min_gap = min_gap
        self.path = path
        w = window
        if n_frames < 2 * w + 1:
            self.checks: list[int] = []
        else:
            lo, hi = w, n_frames - 1 - w
            self.checks = sorted({int(round(x)) for x in np.linspace(lo, hi, checkpoints)})
        self._needed = {c + o for c in self.checks for o in range(-w, w + 1)}
        self._orig: deque = deque(maxlen=2 * w + 1)
        self._man: deque = deque(maxlen=2 * w + 1)
        self.results: list[dict] = []

    def update(self, idx: int, original: np.ndarray, manipulated: np.ndarray) -> None:
        if idx not in self._needed:
            return
        self._orig.append((idx, thumbnail(original)))
        self._man.append((idx, thumbnail(manipulated)))
        w = self.window
        centre = idx - w  # the checkpoint is evaluated once w frames after it are in
        if centre in self.checks and len(self._orig) == 2 * w + 1 and self._orig[0][0] == centre - w:
            man = dict(self._man)[centre]
            scores = {int(j - centre): float(np.abs(t - man).mean()) for j, t in self._orig}
            best = min(scores, key=scores.get)
            entry = {"frame": centre, "best": best, "scores": {str(k): round(v, 3) for k, v in sorted(scores.items())}}
            self.results.append(entry)
            s0, sb = scores[0], scores[best]
            if best != 0 and s0 > self.margin * sb and s0 - sb > self.min_gap:
                raise AlignmentError(self.path, f"temporal offset: at frame {centre} the manipulated frame matches "
                                                f"original frame {centre + best} (offset {best:+d}, mean difference "
                                                f"{sb:.2f} vs {s0:.2f} at offset 0); the pair is not frame aligned")

    @property
    def offset(self) -> int:
        bests = [r["best"] for r in self.results]
        return int(np.median(bests)) if bests else 0


def channel_max(d: np.ndarray) -> np.ndarray:
    """Per-pixel max over the colour channels (20x faster than ``d.max(axis=2)``)."""
    import cv2

    if d.ndim == 2:
        return d
    c = cv2.split(np.ascontiguousarray(d))
    out = c[0]
    for x in c[1:]:
        out = cv2.max(out, x)
    return out


@dataclass
class NoiseSample:
    """Difference statistics outside the faces in one frame (grey levels)."""

    raw_mean: float   # mean |difference| (max over RGB): the codec/compression noise level
    blur_mean: float  # mean and spread of the same difference after the derivation's blur,
    blur_std: float   # which is what the threshold is compared with
    blur_scale: float = 1.0  # the blur was widened by this factor (noisy pairs)


def noise_stats(original: np.ndarray, manipulated: np.ndarray, exclude: list[tuple[float, float, float, float]],
                sigma: float, stride: int = 4, *, target_std: float = 0.0, max_scale: float = 3.0) -> NoiseSample | None:
    """Noise outside the ``exclude`` boxes on a ``stride`` grid: the raw difference
    level and its distribution after a Gaussian blur of ``sigma`` (full-resolution
    pixels). With ``target_std``, a blurred spread above it widens the blur (up to
    ``max_scale``) until the spread drops to it: heavy compression noise is averaged
    out instead of raising the threshold above the manipulation itself. None when the
    boxes cover (nearly) the whole frame."""
    import cv2

    a = original[::stride, ::stride]
    b = manipulated[::stride, ::stride]
    d = channel_max(cv2.absdiff(a, b))
    keep = np.ones(d.shape, bool)
    for x0, y0, x1, y1 in exclude:
        keep[max(0, int(y0 // stride)):max(0, int(np.ceil(y1 / stride))),
             max(0, int(x0 // stride)):max(0, int(np.ceil(x1 / stride)))] = False
    if keep.sum() < 0.05 * keep.size:
        return None
    df = d.astype(np.float32)
    scale = 1.0
    while True:
        bl = cv2.GaussianBlur(df, (0, 0), max(0.3, scale * sigma / stride))
        v = bl[keep]
        std = float(v.std())
        if not target_std or std <= target_std or scale >= max_scale:
            break
        scale = min(max_scale, scale * 1.5)
    return NoiseSample(float(d[keep].mean()), float(v.mean()), std, scale)
