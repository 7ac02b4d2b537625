"""The scale faces are detected at, per input. dlib's HOG finds faces from about 80 px of the
copy it runs on, and analysis detects on a copy of ``detect_side`` px (640) for speed, so the small
faces of group footage or a face far from a 1080p camera would go unjudged. Two remedies: a frame
with no face at all is looked at again larger (:class:`RetryDetector`), and a survey of a few
sampled frames at a larger scale (:func:`surveyed`) restarts pass 1 of ``localize.analyze`` at a
scale that finds the face it missed (:class:`DetectScale` records which and why)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:
    from .analyze import AnalyzeOptions


class RetryDetector:
    """A FaceAnalyzer that looks again at a larger scale when it finds nothing: dlib's
    HOG misses faces under ~80 px, which a 640 px copy of a 1080p portrait clip makes of
    an ordinary head-and-shoulders face. Costs time only on frames without a face."""

    def __init__(self, analyzer, retry_side: int):
        self.analyzer = analyzer
        self.retry_side = retry_side

    def detect(self, image: np.ndarray, *, landmarks: bool = True):
        faces = self.analyzer.detect(image, landmarks=landmarks)
        long_side = max(image.shape[:2])
        if faces or not self.retry_side or long_side <= self.analyzer.detect_side * 1.1:
            return faces
        base = self.analyzer.detect_side
        try:
            self.analyzer.detect_side = min(self.retry_side, long_side)
            return self.analyzer.detect(image, landmarks=landmarks)
        finally:
            self.analyzer.detect_side = base

    def landmarks(self, image: np.ndarray, box):
        return self.analyzer.landmarks(image, box)


# HOG finds faces from about 80 px of the copy it runs on (dlib's window); aim a little above it
SURVEY_FACE_PX = 96


@dataclass
class DetectScale:
    """The scale faces are detected at for one input and why (the report's ``options.detection``)."""

    side: int  # long side of the copy faces are detected on
    surveyed: list[int] = field(default_factory=list)  # frames also detected at the larger scale
    missed: list[dict[str, Any]] = field(default_factory=list)  # faces only the larger scale found
    reason: str = ""


class Rescale(Exception):
    """Pass 1 met a surveyed frame with a face its detection scale misses: start it again larger."""


def survey_picks(indices: Sequence[int], n: int) -> list[int]:
    """``n`` of the sampled frames, each the middle one of its share of them (not the first
    frames alone: a group shot may come late)."""
    n = min(n, len(indices))
    return sorted({int(indices[int((k + 0.5) * len(indices) / n)]) for k in range(n)})


def survey_top(long_side: int, opts: AnalyzeOptions) -> int:
    """The larger scale of the survey: ``detect_retry_side``, never above the input's own size;
    not above ``detect_side`` (no survey) when the input is no larger than that."""
    top = min(max(opts.detect_retry_side, opts.detect_side), long_side)
    return top if opts.survey_frames and top > opts.detect_side * 1.1 else opts.detect_side


def missed_faces(image: np.ndarray, analyzer, base: int, top: int, verifier=None) -> list:
    """Faces found at ``top`` px and not at ``base`` px (a face under ~80 px of the small copy:
    the people of group footage, a face far from a 1080p camera). Only faces HOG is sure of
    (score >= 0) and, with ``verifier``, that MMOD confirms: a stray box costs a slower analysis."""
    from .faces import box_iou

    saved = analyzer.detect_side
    try:
        analyzer.detect_side = base
        small = analyzer.detect(image, landmarks=False)
        analyzer.detect_side = top
        large = analyzer.detect(image, landmarks=False)
    finally:
        analyzer.detect_side = saved
    return [f for f in large if f.score >= 0 and not any(box_iou(f.box, g.box) > 0.3 for g in small)
            and (verifier is None or verifier.is_face(image, f.box))]


def rescaled_side(long_side: int, smallest_px: float, base: int, top: int) -> int:
    """The smallest detection side (a multiple of 32) that brings a face of ``smallest_px`` frame
    pixels to ``SURVEY_FACE_PX``, at least 1.5 x ``base`` (a face missed although big enough was
    missed for its pose or light, which a finer copy helps with) and at most ``top``."""
    need = max(long_side * SURVEY_FACE_PX / max(smallest_px, 1.0), base * 1.5)
    return int(min(top, math.ceil(need / 32.0) * 32))


def surveyed(frames: Iterator[tuple[int, np.ndarray]], picks: set[int], analyzer, detection: DetectScale,
             base: int, top: int, long_side: int, verifier=None) -> Iterator[tuple[int, np.ndarray]]:
    """Pass 1's frames, unchanged; each of ``picks`` is also detected at ``top`` px on its way. At
    the first face ``base`` px misses, ``detection`` is set to a side that finds it and
    :class:`Rescale` stops the pass, which then runs again at that side. One-face footage pays
    for three larger detections, group footage for a second pass 1."""
    for idx, img in frames:
        if idx in picks:
            detection.surveyed.append(int(idx))
            found = missed_faces(img, analyzer, base, top, verifier)
            if found:
                detection.missed = [{"frame": int(idx), "box": [round(float(v), 1) for v in f.box],
                                     "px": round(float(f.size), 1)} for f in found]
                smallest = min(m["px"] for m in detection.missed)
                detection.side = rescaled_side(long_side, smallest, base, top)
                detection.reason = (f"{len(found)} face(s) of {smallest:.0f} px and more in frame {idx} were found "
                                    f"only at {top} px")
                raise Rescale
        yield idx, img
    detection.reason = f"no face missed at {base} px in {len(detection.surveyed)} surveyed frames"
