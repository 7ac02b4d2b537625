"""Ground-truth forgery masks from an original/manipulated pair.

The recipe (each step answers a failure seen on real data):

1. **Alignment first** (:mod:`masks.align`): same size, same length (one trailing
   extra frame is dropped and reported), temporal offset 0 at a few checkpoints.
2. **Faces**: dlib detections on the *original* every ``detect_every`` frames, followed
   in between by re-fitting the 68 landmarks (1 ms a frame instead of 60 ms for a
   detection). The face region is the convex hull of the landmarks plus the brows
   raised towards the forehead (``region_dilate`` widens it; 0 by default: the
   official NeuralTextures masks stop at the jaw line). Manipulations (Deepfakes boxes,
   DeepFakeDetection, NeuralTextures' rendered face) live there, compression noise
   lives everywhere: restricting to it removes nearly all false positives.
3. **Noise-adaptive threshold**: the per-pixel difference (max over RGB) is
   Gaussian-blurred at a scale relative to the face size and thresholded at
   ``max(t_min, mean + noise_z x std)`` of the same blurred difference measured
   outside the faces (the pair's codec noise: about 0 in raw FF++, 3 in c23, 7 in
   c40, 4.5 in the VP9 GHOST pairs, max over RGB), smoothed over frames. When that
   noise stays spread out after blurring (heavy compression), the blur is widened
   (up to 5x) first, so noise is averaged away rather than out-thresholding the fake.
4. **Shape**: components smaller than a fraction of the face are dropped (noise
   speckle), and the rest are closed into their convex hull per face (MSCCNet-style
   fill): manipulations replace a face-shaped or box-shaped region whose interior can
   change very little (smooth skin), which a pixel threshold alone would leave as holes.
   A face whose changed area is tiny is unchanged (no mask), so untouched frames stay empty.
5. **Texture noise next to the face** (hysteresis): a re-encode of a locally edited
   frame differs across the whole textured face while the flat background stays
   bit-identical, so the outside-face threshold passes codec noise on the face (eye rows
   above a lip-sync edit). Changed pixels therefore count only within ``grow`` x face
   size of a seed above ``median + ring_z x MAD`` of the blurred difference in a ring
   just outside the face (hair, ears, neck).

Frames with no face fall back to the whole frame (same threshold, small components
dropped, holes filled), counted in ``frames_without_face``.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np

from localize.errors import InputError
from localize.faces import Box, FaceAnalyzer, box_iou
from localize.video import is_image, iter_frames, read_image

from .align import (Alignment, AlignmentError, NoiseSample, OffsetMonitor, channel_max, check_static,
                    noise_stats)


@dataclass
class MaskParams:
    """Parameters of the derivation (stored in every manifest row)."""

    blur: float = 0.02            # Gaussian sigma of the difference map, fraction of face size
    t_min: float = 1.0            # lowest threshold, grey levels (raw/lossless pairs)
    noise_z: float = 4.5          # threshold = max(t_min, mean + noise_z * std of the blurred noise)
    noise_std: float = 2.0        # widen the blur (up to max_blur_scale x) until the noise std is below this
    max_blur_scale: float = 5.0   # (heavy compression: c40 noise needs about 3-5x)
    forehead: float = 0.2         # brows raised by this fraction of the brow-chin distance
    region_dilate: float = 0.0    # face region dilation, fraction of face size
    ring_z: float = 3.0           # seeds must exceed median + ring_z * MAD (sigma) of the ring around the face (0: off)
    ring_in: float = 0.05         # the ring: from this fraction of the face size outside the face region ...
    ring_out: float = 0.25        # ... to this one (hair, ears, neck: textured like the face, rarely forged)
    grow: float = 0.1             # changed pixels count only within this fraction of the face size of a seed
    min_component: float = 0.01   # drop changed blobs below this fraction of the face area
    min_relative: float = 0.0     # ... and blobs below this fraction of the face's largest blob
    min_area: float = 0.03        # a face with less changed area (fraction) is unchanged
    shape: str = "hull"           # "hull" (convex hull per face) or "fill" (fill holes)
    detect_every: int = 25        # detection every n frames; landmarks follow in between
    full_detect_every: int = 4    # every n-th detection scans the whole frame (others: near tracks)
    noise_every: int = 2          # measure the noise every n frames (it is smoothed anyway)
    detect_side: int = 0          # detection scale (long side, px); 0 = auto (640, larger if no face)
    no_face: str = "frame"        # frames without a face: "frame" (whole-frame diff) or "empty"
    noise_window: int = 15        # frames over which the noise level is smoothed (median)
    offset_window: int = 3        # temporal offsets searched at each checkpoint: -w..w
    offset_checks: int = 4        # checkpoints for the offset search
    soft: bool = False            # keep the soft difference maps (uint8 grey levels, blurred)

    def __post_init__(self):
        if self.shape not in ("hull", "fill"):
            raise ValueError(f"shape must be 'hull' or 'fill', not {self.shape!r}")
        if self.no_face not in ("frame", "empty"):
            raise ValueError(f"no_face must be 'frame' or 'empty', not {self.no_face!r}")
        if self.detect_every < 1 or self.full_detect_every < 1 or self.noise_every < 1:
            raise ValueError("detect_every, full_detect_every and noise_every must be at least 1")

    @classmethod
    def from_dict(cls, d: dict | None) -> "MaskParams":
        if not d:
            return cls()
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown mask parameters: {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FrameResult:
    """One derived frame (streamed by :func:`iter_derive`)."""

    index: int
    mask: np.ndarray              # (H, W) bool
    soft: np.ndarray | None       # (H, W) uint8 blurred difference in grey levels, or None
    threshold: float
    noise: float | None           # this frame's noise level (None: faces cover the frame)
    boxes: list[Box]              # face boxes from landmarks (frame coordinates)
    original: np.ndarray          # the decoded frames (for contact sheets; not copied)
    manipulated: np.ndarray


@dataclass
class DerivedMasks:
    """Masks of a whole pair and what is needed to trust them."""

    masks: np.ndarray             # (N, H, W) bool
    soft: np.ndarray | None       # (N, H, W) uint8 or None
    areas: np.ndarray             # (N,) mask area as a fraction of the frame
    alignment: Alignment
    params: MaskParams
    fps: float
    noise: dict                   # noise statistics over frames (grey levels)
    thresholds: np.ndarray        # (N,) threshold used per frame
    boxes: list[list[Box]]        # face boxes per frame
    frames_without_face: int = 0
    seconds: float = 0.0

    @property
    def n_frames(self) -> int:
        return int(self.masks.shape[0])

    @property
    def mean_area(self) -> float:
        return float(self.areas.mean()) if len(self.areas) else 0.0


class DeriveStats:
    """Per-frame numbers accumulated while :func:`iter_derive` streams (noise,
    thresholds, areas, frames without a face, the alignment found)."""

    def __init__(self):
        self.noise: list[float] = []
        self.thresholds: list[float] = []
        self.areas: list[float] = []
        self.no_face = 0
        self.alignment: Alignment | None = None
        self.fps = 0.0

    def summary(self) -> dict:
        n = np.array(self.noise, dtype=np.float64)
        t = np.array(self.thresholds, dtype=np.float64)
        out = {"frames_measured": int(n.size)}
        if n.size:
            out.update(mean=round(float(n.mean()), 3), median=round(float(np.median(n)), 3),
                       p95=round(float(np.quantile(n, 0.95)), 3), max=round(float(n.max()), 3))
        if t.size:
            out.update(threshold_median=round(float(np.median(t)), 3))
        return out


# ------------------------------------------------------------------ faces
def _detect(analyzer: FaceAnalyzer, frame: np.ndarray, side: int):
    old = analyzer.detect_side
    analyzer.detect_side = side
    try:
        return analyzer.detect(frame, landmarks=True)
    finally:
        analyzer.detect_side = old


def _auto_sides(frame: np.ndarray) -> list[int]:
    """640 px first (small frames are scaled up: HOG misses faces under ~80 px), then
    larger scales for big frames with small faces (1080p DeepFakeDetection)."""
    long_side = max(frame.shape[:2])
    sides = [640]
    for s in (1280, 1920):
        if long_side > sides[-1] * 1.2:
            sides.append(min(s, long_side))
    return sides


class FaceFollower:
    """Causal face tracker: detect every ``detect_every`` frames, follow landmarks in
    between. Returns the 68 landmarks of every face present in each frame.

    Detection runs on the whole frame every ``full_every`` detections (new faces) and
    in windows around the tracked faces otherwise (re-anchoring, cheap)."""

    def __init__(self, analyzer: FaceAnalyzer, detect_every: int = 25, detect_side: int = 0,
                 min_face: float = 24.0, full_every: int = 4):
        self.analyzer = analyzer
        self.full_every = max(1, int(full_every))
        self.every = max(1, int(detect_every))
        self.side = int(detect_side)
        self.min_face = min_face
        self.gap = 2 * self.every
        self.tracks: list[dict] = []  # {"box", "lms", "last_det"}
        self.k = 0

    def _detect(self, frame: np.ndarray):
        if self.side:
            return _detect(self.analyzer, frame, self.side)
        for side in _auto_sides(frame):
            faces = [f for f in _detect(self.analyzer, frame, side) if f.size >= self.min_face]
            if faces:
                self.side = side  # keep the scale that found faces for the rest of the video
                return faces
        return []

    def _detect_near_tracks(self, frame: np.ndarray):
        """Re-detect only around the tracked faces, at the full-frame detection scale
        (a 2.5x face-size window costs a fraction of a full-frame scan)."""
        import dataclasses

        h, w = frame.shape[:2]
        scale = (self.side or 640) / max(h, w)
        found = []
        for t in self.tracks:
            x0, y0, x1, y1 = t["box"]
            m = 0.75 * max(x1 - x0, y1 - y0)
            cx0, cy0 = max(0, int(x0 - m)), max(0, int(y0 - m))
            cx1, cy1 = min(w, int(x1 + m) + 1), min(h, int(y1 + m) + 1)
            if cx1 - cx0 < 16 or cy1 - cy0 < 16:
                continue
            crop = frame[cy0:cy1, cx0:cx1]
            side = max(16, int(round(max(crop.shape[:2]) * scale)))
            for f in _detect(self.analyzer, crop, side):
                b = (f.box[0] + cx0, f.box[1] + cy0, f.box[2] + cx0, f.box[3] + cy0)
                lms = f.landmarks + np.array([cx0, cy0], np.float32) if f.landmarks is not None else None
                if all(box_iou(b, g.box) < 0.5 for g in found):
                    found.append(dataclasses.replace(f, box=b, landmarks=lms))
        return found

    def step(self, idx: int, frame: np.ndarray) -> list[np.ndarray]:
        detect = self.k % self.every == 0
        full = self.k % (self.every * self.full_every) == 0 or not self.tracks
        self.k += 1
        if detect:
            dets = self._detect(frame) if full else self._detect_near_tracks(frame)
            dets = [f for f in dets if f.size >= self.min_face]
            pairs = sorted(((box_iou(t["box"], d.box), ti, di) for ti, t in enumerate(self.tracks)
                            for di, d in enumerate(dets)), reverse=True)
            used_t, used_d = set(), set()
            for iou, ti, di in pairs:
                if iou < 0.2 or ti in used_t or di in used_d:
                    continue
                used_t.add(ti)
                used_d.add(di)
                self.tracks[ti].update(box=dets[di].box, lms=dets[di].landmarks, last_det=idx)
            for ti, t in enumerate(self.tracks):
                if ti not in used_t:
                    self._follow(t, frame)
            self.tracks = [t for t in self.tracks if idx - t["last_det"] <= self.gap]
            for di, d in enumerate(dets):
                if di not in used_d:
                    self.tracks.append({"box": d.box, "lms": d.landmarks, "last_det": idx})
        else:
            for t in self.tracks:
                self._follow(t, frame)
        return [t["lms"] for t in self.tracks]

    def _follow(self, t: dict, frame: np.ndarray) -> None:
        box = t["box"]
        lms = self.analyzer.landmarks(frame, box)
        dx, dy = (lms.mean(0) - t["lms"].mean(0)).tolist()
        t["box"] = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
        t["lms"] = lms


def face_hull_points(lms: np.ndarray, forehead: float) -> np.ndarray:
    """Landmarks plus the brow points raised towards the hairline."""
    brows = lms[17:27].copy()
    lift = forehead * max(1.0, float(lms[8, 1] - brows[:, 1].mean()))
    brows[:, 1] -= lift
    return np.vstack([lms, brows]).astype(np.float32)


def _landmark_box(pts: np.ndarray) -> Box:
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    return float(x0), float(y0), float(x1), float(y1)


# ------------------------------------------------------------------ one frame
def _filter_components(c: np.ndarray, min_px: float, min_relative: float = 0.0) -> np.ndarray:
    """Keep blobs of at least ``min_px`` pixels and ``min_relative`` x the largest."""
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(c.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(c, dtype=bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, bool)
    keep[1:] = (areas >= min_px) & (areas >= min_relative * areas.max())
    return keep[lab]


def _shape(c: np.ndarray, how: str) -> np.ndarray:
    import cv2

    out = np.zeros(c.shape, np.uint8)
    if how == "hull":
        ys, xs = np.nonzero(c)
        if len(xs):
            cv2.fillConvexPoly(out, cv2.convexHull(np.stack([xs, ys], 1).astype(np.int32)), 1)
    else:
        cnts, _ = cv2.findContours(c.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, cnts, -1, 1, -1)
    return out.astype(bool)


def derive_frame(original: np.ndarray, manipulated: np.ndarray, faces: list[np.ndarray], threshold: float,
                 params: MaskParams, *, want_soft: bool = False, blur_scale: float = 1.0,
                 out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None, list[Box]]:
    """Mask of one aligned frame pair given the faces' landmarks and a threshold."""
    import cv2

    h, w = original.shape[:2]
    # ``out`` (a slice of a zeroed array) is written only where a face is: untouched
    # pages of a large np.zeros array are never faulted in.
    mask = np.zeros((h, w), bool) if out is None else out
    soft = np.zeros((h, w), np.uint8) if want_soft else None
    boxes: list[Box] = []
    for lms in faces:
        pts = face_hull_points(lms, params.forehead)
        x0, y0, x1, y1 = _landmark_box(pts)
        size = max(x1 - x0, y1 - y0, 8.0)
        boxes.append((x0, y0, x1, y1))
        sigma = max(0.5, params.blur * size * blur_scale)
        dil = int(round(params.region_dilate * size))
        ring_out = int(round(params.ring_out * size)) if params.ring_z > 0 else 0
        pad = max(dil, ring_out) + int(3 * sigma) + 2
        rx0, ry0 = max(0, int(x0) - pad), max(0, int(y0) - pad)
        rx1, ry1 = min(w, int(np.ceil(x1)) + pad + 1), min(h, int(np.ceil(y1)) + pad + 1)
        if rx1 - rx0 < 4 or ry1 - ry0 < 4:
            continue
        d = channel_max(cv2.absdiff(original[ry0:ry1, rx0:rx1], manipulated[ry0:ry1, rx0:rx1]))
        b = cv2.GaussianBlur(d.astype(np.float32), (0, 0), sigma)
        region = np.zeros(b.shape, np.uint8)
        cv2.fillConvexPoly(region, cv2.convexHull((pts - (rx0, ry0)).astype(np.int32)), 1)
        face_area = float(cv2.countNonZero(region))
        seed_thr = threshold
        if ring_out > 0:
            seed_thr = max(threshold, _ring_threshold(b, region, size, params))
        if dil > 0:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dil + 1, 2 * dil + 1))
            region = cv2.dilate(region, k)
        c = (b > threshold) & (region > 0)
        if seed_thr > threshold:
            # hysteresis: keep changes near a seed above the ring's noise level
            r = max(1, int(round(params.grow * size)))
            near = cv2.dilate((b > seed_thr).astype(np.uint8),
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
            c &= near > 0
        c = _filter_components(c, params.min_component * face_area, params.min_relative)
        if soft is not None:
            s = np.clip(b, 0, 255).astype(np.uint8)
            sub = soft[ry0:ry1, rx0:rx1]
            np.maximum(sub, np.where(region > 0, s, 0).astype(np.uint8), out=sub)
        if np.count_nonzero(c) < params.min_area * face_area:
            continue
        mask[ry0:ry1, rx0:rx1] |= _shape(c, params.shape)
    if not faces and params.no_face == "frame":
        d = channel_max(cv2.absdiff(original, manipulated))
        sigma = max(0.5, params.blur * 0.25 * min(h, w) * blur_scale)
        b = cv2.GaussianBlur(d.astype(np.float32), (0, 0), sigma)
        c = _filter_components(b > threshold, 1e-3 * h * w)
        mask[:] = _shape(c, "fill")
        if soft is not None:
            soft = np.clip(b, 0, 255).astype(np.uint8)
    return mask, soft, boxes


def _ring(n: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * n + 1, 2 * n + 1))


def _ring_threshold(b: np.ndarray, region: np.ndarray, size: float, params: MaskParams) -> float:
    """Codec noise next to the face: the blurred difference in a ring just outside the
    face region (hair, ears, neck). The noise measured far from the faces (flat
    background, often bit-identical in both encodes) underestimates the noise on the
    textured face, where a re-encode of a locally edited frame differs everywhere; the
    ring sees that texture noise. Returns 0 when the ring is (nearly) empty."""
    import cv2

    ri = int(round(params.ring_in * size))
    ro = int(round(params.ring_out * size))
    if ro <= ri:
        return 0.0
    inner = cv2.dilate(region, _ring(ri)) if ri > 0 else region
    ring = (cv2.dilate(region, _ring(ro)) > 0) & (inner == 0)
    v = b[ring]
    if v.size < 50:
        return 0.0
    # median and MAD: a manipulation that spills into part of the ring (NeuralTextures
    # renders past the jaw line) must not pass for noise
    med = float(np.median(v))
    return med + params.ring_z * 1.4826 * float(np.median(np.abs(v - med)))


# ------------------------------------------------------------------ streams
class _Prefetch:
    """Decode a video in a background thread, a few frames ahead: PyAV releases the
    GIL while decoding and converting, so both videos decode while masks are computed
    (about 1.7x faster than decoding them one after the other on 2 cores)."""

    def __init__(self, frames: Iterator, depth: int = 8):
        self._q: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(frames,), daemon=True)
        self._thread.start()

    def _put(self, msg) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(msg, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, frames: Iterator) -> None:
        try:
            for x in frames:
                if not self._put(("item", x)):
                    break
            else:
                self._put(("end", None))
        except BaseException as e:  # handed to the consumer, raised there
            self._put(("error", e))
        finally:
            frames.close()

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        kind, x = self._q.get()
        if kind == "item":
            return x
        self._done = True
        if kind == "end":
            raise StopIteration
        raise x

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def iter_derive(original: str | Path, manipulated: str | Path, params: MaskParams | dict | None = None, *,
                analyzer: FaceAnalyzer | None = None, stats: DeriveStats | None = None,
                alignment: Alignment | None = None, out: np.ndarray | None = None) -> Iterator[FrameResult]:
    """Stream the derivation frame by frame (constant memory). Raises
    :class:`AlignmentError` before the first frame for size/length problems, and at a
    checkpoint for a temporal offset. ``stats`` (optional) collects the numbers;
    ``out`` (optional, a zeroed (N, H, W) bool array) receives the masks in place."""
    params = params if isinstance(params, MaskParams) else MaskParams.from_dict(params)
    stats = stats if stats is not None else DeriveStats()
    if alignment is None:
        alignment, info_o, _ = check_static(original, manipulated)
        stats.fps = info_o.fps
    stats.alignment = alignment
    analyzer = analyzer or FaceAnalyzer()
    follower = FaceFollower(analyzer, params.detect_every, params.detect_side,
                            full_every=params.full_detect_every)
    n = alignment.n_frames
    monitor = OffsetMonitor(n, window=params.offset_window, checkpoints=params.offset_checks, path=manipulated)
    recent: deque = deque(maxlen=max(1, params.noise_window))
    fallback = None
    a_iter = _Prefetch(iter_frames(original))
    b_iter = _Prefetch(iter_frames(manipulated))
    try:
        for k in range(n):
            try:
                ia, fa = next(a_iter)
            except StopIteration:
                raise InputError(original, f"only {k} of {alignment.n_original} frames decode") from None
            try:
                ib, fb = next(b_iter)
            except StopIteration:
                raise InputError(manipulated, f"only {k} of {alignment.n_manipulated} frames decode") from None
            if fa.shape != fb.shape:
                raise AlignmentError(manipulated, f"frame {k} is {fb.shape[1]}x{fb.shape[0]} but the original's is "
                                                  f"{fa.shape[1]}x{fa.shape[0]}")
            monitor.update(k, fa, fb)
            faces = follower.step(k, fa)
            ns = _noise(fa, fb, faces, params) if k % max(1, params.noise_every) == 0 or not recent else None
            if ns is not None:
                recent.append((_threshold(ns, params), ns.blur_scale))
                stats.noise.append(ns.raw_mean)
            if recent:
                thr = float(np.median([t for t, _ in recent]))
                scale = float(np.median([s for _, s in recent]))
            else:
                if fallback is None:  # faces fill the frame: use the border ring
                    fb_ns = _noise(fa, fb, faces, params, border_only=True)
                    fallback = (_threshold(fb_ns, params), fb_ns.blur_scale) if fb_ns else (params.t_min, 1.0)
                thr, scale = fallback
            nz = ns.raw_mean if ns else None
            mask, soft, boxes = derive_frame(fa, fb, faces, thr, params, want_soft=params.soft, blur_scale=scale,
                                             out=None if out is None else out[k])
            stats.thresholds.append(thr)
            stats.areas.append(np.count_nonzero(mask) / mask.size)
            if not faces:
                stats.no_face += 1
            yield FrameResult(k, mask, soft, thr, nz, boxes, fa, fb)
        # the checkpoints near the end need the frames after them: flush is implicit since
        # checkpoints are placed at most n-1-w.
        alignment.offset = monitor.offset
        alignment.offset_checks = monitor.results
    finally:
        a_iter.close()
        b_iter.close()


def _noise(a: np.ndarray, b: np.ndarray, faces: list[np.ndarray], params: MaskParams, *,
           border_only: bool = False) -> NoiseSample | None:
    """Noise outside the faces, blurred like the face regions will be."""
    h, w = a.shape[:2]
    boxes = [_landmark_box(face_hull_points(l, params.forehead)) for l in faces]
    if border_only:
        excl = [_grow((0, 0, w, h), -0.1)]
    else:
        excl = [_grow(bx, 0.35) for bx in boxes]
    size = float(np.median([max(x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes])) if boxes else 0.25 * min(h, w)
    return noise_stats(a, b, excl, max(0.5, params.blur * size), target_std=params.noise_std,
                       max_scale=params.max_blur_scale)


def _threshold(ns: NoiseSample, params: MaskParams) -> float:
    return max(params.t_min, ns.blur_mean + params.noise_z * ns.blur_std)


def _grow(box: Box, frac: float) -> Box:
    x0, y0, x1, y1 = box
    dx, dy = frac * (x1 - x0), frac * (y1 - y0)
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def derive_video_masks(original: str | Path, manipulated: str | Path, params: MaskParams | dict | None = None, *,
                       analyzer: FaceAnalyzer | None = None) -> DerivedMasks:
    """Masks for every frame of an aligned pair of videos (or of two images).

    Raises :class:`masks.align.AlignmentError` (an ``InputError``) for a pair that
    does not align, ``InputError`` for unreadable media."""
    params = params if isinstance(params, MaskParams) else MaskParams.from_dict(params)
    t0 = time.perf_counter()
    stats = DeriveStats()
    alignment, info, _ = check_static(original, manipulated)
    stats.fps = info.fps
    masks = np.zeros((alignment.n_frames, alignment.height, alignment.width), bool)
    softs, thresholds, boxes = [], [], []
    for r in iter_derive(original, manipulated, params, analyzer=analyzer, stats=stats, alignment=alignment,
                         out=masks):
        if r.soft is not None:
            softs.append(r.soft)
        thresholds.append(r.threshold)
        boxes.append(r.boxes)
    return DerivedMasks(masks=masks, soft=np.stack(softs) if softs else None,
                        areas=np.array(stats.areas), alignment=stats.alignment, params=params, fps=stats.fps,
                        noise=stats.summary(), thresholds=np.array(thresholds), boxes=boxes,
                        frames_without_face=stats.no_face, seconds=time.perf_counter() - t0)


def derive_image_masks(original: str | Path | np.ndarray, manipulated: str | Path | np.ndarray,
                       params: MaskParams | dict | None = None, *,
                       analyzer: FaceAnalyzer | None = None) -> DerivedMasks:
    """Mask of one image pair (paths or RGB arrays); same result type, N = 1."""
    params = params if isinstance(params, MaskParams) else MaskParams.from_dict(params)
    t0 = time.perf_counter()
    names = []
    imgs = []
    for x in (original, manipulated):
        if isinstance(x, np.ndarray):
            imgs.append(x)
            names.append("<array>")
        else:
            imgs.append(read_image(x))
            names.append(str(x))
    a, b = imgs
    if a.shape != b.shape:
        raise AlignmentError(names[1], f"image size {b.shape[1]}x{b.shape[0]} differs from the original's "
                                       f"{a.shape[1]}x{a.shape[0]} ({names[0]})")
    analyzer = analyzer or FaceAnalyzer()
    faces = FaceFollower(analyzer, 1, params.detect_side).step(0, a)
    ns = _noise(a, b, faces, params) or _noise(a, b, faces, params, border_only=True)
    thr = _threshold(ns, params) if ns else params.t_min
    nz = ns.raw_mean if ns else 0.0
    mask, soft, boxes = derive_frame(a, b, faces, thr, params, want_soft=params.soft,
                                     blur_scale=ns.blur_scale if ns else 1.0)
    al = Alignment(width=a.shape[1], height=a.shape[0], n_original=1, n_manipulated=1, n_frames=1)
    return DerivedMasks(masks=mask[None], soft=None if soft is None else soft[None],
                        areas=np.array([mask.mean()]), alignment=al, params=params, fps=1.0,
                        noise={"frames_measured": 1, "mean": round(nz, 3), "median": round(nz, 3),
                               "threshold_median": round(thr, 3)},
                        thresholds=np.array([thr]), boxes=[boxes], frames_without_face=int(not faces),
                        seconds=time.perf_counter() - t0)


def derive_pair(original: str | Path, manipulated: str | Path, params: MaskParams | dict | None = None, *,
                analyzer: FaceAnalyzer | None = None) -> DerivedMasks:
    """Images or videos, whichever the pair is."""
    if is_image(original) and is_image(manipulated):
        return derive_image_masks(original, manipulated, params, analyzer=analyzer)
    if is_image(original) != is_image(manipulated):
        raise AlignmentError(manipulated, f"cannot pair an image with a video ({original})")
    return derive_video_masks(original, manipulated, params, analyzer=analyzer)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
