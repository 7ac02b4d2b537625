"""One face API for forge, training, analysis and identity: dlib detection, 68-point
landmarks, 128-d descriptors, tracking across frames and square crop boxes.

dlib's HOG detector misses faces under about 60 px and costs time in proportion to
the pixel count, so detection runs on a copy of the frame scaled to ``detect_side``
on its longer side and boxes are mapped back to frame coordinates.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels


def model_dir() -> Path:
    """Folder of the face-recognition-models data files (found without importing it:
    its ``__init__`` needs ``pkg_resources``, which new setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed (pip install face-recognition-models)")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@dataclass
class Face:
    box: Box
    score: float
    landmarks: np.ndarray | None = None  # (68, 2) float32, frame coordinates

    @property
    def size(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(x1 - x0, y1 - y0)


def _intersection(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def box_iou(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def covered(a: Box, b: Box) -> float:
    """Share of box ``a``'s area that lies inside box ``b``."""
    area = (a[2] - a[0]) * (a[3] - a[1])
    return _intersection(a, b) / area if area > 0 else 0.0


# dlib's own threshold: below it, a detection is one the detector was unsure of
CONFIDENT_SCORE = 0.0


def plausible_faces(faces: Sequence[Face]) -> list[Face]:
    """Detections (largest first) less two kinds of HOG artefact, which analysis would
    otherwise judge as faces of their own (a shirt collar that decided a real portrait's
    verdict): a box mostly (> half its area) inside a larger kept face, a second detection of
    the same face (the chin and neck); and unsure detections (score < 0, kept by the permissive
    ``min_score`` so that a hard frame still yields its face) in a frame that has a confident
    one. A frame with only unsure detections keeps them all."""
    confident = any(f.score >= CONFIDENT_SCORE for f in faces)
    kept: list[Face] = []
    for f in faces:
        if confident and f.score < CONFIDENT_SCORE:
            continue
        if any(covered(f.box, k.box) > 0.5 for k in kept):
            continue
        kept.append(f)
    return kept


# Smallest face the forge makes fakes of, in px of landmark span (forge.footage.plausible upscales
# smaller clips first); analysis warns when a verdict rests on smaller faces.
MIN_FACE_SPAN = 64.0


def landmark_box(landmarks: np.ndarray) -> Box:
    """Face box from 68 landmarks, raised by a fifth of its height to take in the
    forehead (the landmarks stop at the brows, manipulations usually do not)."""
    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    y0 = y0 - 0.2 * (y1 - y0)
    return float(x0), float(y0), float(x1), float(y1)


def crop_box(face_box: Box, scale: float = 1.3) -> Box:
    """Square box of side ``scale`` x the longer side of ``face_box``, same centre."""
    x0, y0, x1, y1 = face_box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = scale * max(x1 - x0, y1 - y0) / 2
    return cx - half, cy - half, cx + half, cy + half


def _crop_matrix(box: Box, size: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    sx = size / max(x1 - x0, 1e-6)
    sy = size / max(y1 - y0, 1e-6)
    return np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], dtype=np.float64)


def crop(image: np.ndarray, box: Box, size: int, *, interpolation: int | None = None) -> np.ndarray:
    """Crop ``box`` (may leave the frame; outside is edge-replicated) resized to size x size."""
    import cv2

    interp = cv2.INTER_LINEAR if interpolation is None else interpolation
    m = _crop_matrix(box, size)
    return cv2.warpAffine(image, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def crop_mask(mask: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Crop a mask like ``crop``; outside the frame is 0 (nothing forged there)."""
    import cv2

    m = _crop_matrix(box, size)
    return cv2.warpAffine(mask, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def paste(crop_values: np.ndarray, box: Box, frame_shape: Sequence[int]) -> np.ndarray:
    """Map a (size, size) float map back into frame coordinates (0 outside the box)."""
    import cv2

    size = crop_values.shape[0]
    m = _crop_matrix(box, size)
    h, w = frame_shape[:2]
    return cv2.warpAffine(crop_values.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _face_centre(image: np.ndarray, box: Sequence[float], inner: float) -> np.ndarray | None:
    """The pixels of the central ``inner`` share of a face box (where skin is), None when empty."""
    x0, y0, x1, y1 = box
    mx, my = (1 - inner) / 2 * (x1 - x0), (1 - inner) / 2 * (y1 - y0)
    h, w = image.shape[:2]
    a, b = max(0, int(y0 + my)), min(h, int(y1 - my))
    c, d = max(0, int(x0 + mx)), min(w, int(x1 - mx))
    return None if b <= a or d <= c else image[a:b, c:d]


def face_luma(image: np.ndarray, box: Sequence[float], inner: float = 0.6) -> float | None:
    """Mean luma (BT.601 Y, 0-255) of the central ``inner`` share of a face box in an RGB frame,
    where skin is (None: empty). It mixes skin tone and lighting; analysis warns of dark deciding
    faces and localize.evaluate.luma measures whether scores follow it."""
    px = _face_centre(image, box, inner)
    if px is None:
        return None
    px = px.astype(np.float64)
    return float((0.299 * px[..., 0] + 0.587 * px[..., 1] + 0.114 * px[..., 2]).mean())


def face_chroma(image: np.ndarray, box: Sequence[float], inner: float = 0.6) -> float | None:
    """Mean chroma (max - min of R, G, B; 0-255) of the central ``inner`` share of a face box in an
    RGB frame (None: empty). About 0 for grayscale footage (black-and-white film, a night camera's
    infrared), which no model here trained on: analysis warns when the faces it judged have none."""
    px = _face_centre(image, box, inner)
    if px is None:
        return None
    return float((px.max(axis=-1).astype(np.int16) - px.min(axis=-1)).mean())


class FaceAnalyzer:
    """dlib HOG detector + 68-point shape predictor + ResNet face descriptor.

    Not picklable and not thread-safe: make one per process.
    """

    def __init__(self, detect_side: int = 640, upsample: int = 0, min_score: float = -0.2):
        import dlib

        self._dlib = dlib
        self.detect_side = detect_side
        self.upsample = upsample
        self.min_score = min_score
        self._detector = dlib.get_frontal_face_detector()
        d = model_dir()
        self._predictor = dlib.shape_predictor(str(d / "shape_predictor_68_face_landmarks.dat"))
        self._encoder = None
        self._encoder_path = d / "dlib_face_recognition_resnet_model_v1.dat"
        self._verifier = None

    def verifier(self) -> "FaceVerifier":
        """The second, stricter detector (:class:`FaceVerifier`), loaded on first use and kept."""
        if self._verifier is None:
            self._verifier = FaceVerifier()
        return self._verifier

    def detect(self, image: np.ndarray, *, landmarks: bool = True) -> list[Face]:
        """Faces in an RGB frame, largest first."""
        import cv2

        h, w = image.shape[:2]
        scale = self.detect_side / max(h, w)
        small = image if abs(scale - 1) < 0.05 else cv2.resize(
            image, (max(1, round(w * scale)), max(1, round(h * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        # dlib's HOG misreads a strided array (rows padded, a crop): nothing found, or other
        # faces from run to run; a copy costs ~1 ms where the caller's frame is not contiguous
        rects, scores, _ = self._detector.run(np.ascontiguousarray(small), self.upsample, self.min_score)
        faces = [Face(box=(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale),
                      score=float(sc)) for r, sc in zip(rects, scores)]
        faces = plausible_faces(sorted(faces, key=lambda f: -f.size))
        if landmarks:
            for face in faces:
                face.landmarks = self.landmarks(image, face.box)
        return faces

    def landmarks(self, image: np.ndarray, box: Box) -> np.ndarray:
        """68 landmarks inside a face box (a detection or a tracked box)."""
        x0, y0, x1, y1 = box
        rect = self._dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))
        shape = self._predictor(image, rect)  # reads strided arrays correctly (tested), unlike the detector
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def descriptor(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """dlib's 128-d face descriptor (distance < ~0.6 means same person)."""
        dlib = self._dlib
        if self._encoder is None:
            self._encoder = dlib.face_recognition_model_v1(str(self._encoder_path))
        pts = [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks]
        x0, y0 = landmarks.min(0)
        x1, y1 = landmarks.max(0)
        rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = dlib.full_object_detection(rect, pts)
        return np.array(self._encoder.compute_face_descriptor(np.ascontiguousarray(image), shape), dtype=np.float32)


class FaceVerifier:
    """A second, stricter opinion on a face box: dlib's CNN face detector (MMOD, shipped with
    face-recognition-models) on a crop around it. Why: HOG fires on face-like patterns (the pips of
    playing cards on a wall behind a singer decided a real clip's verdict), and MMOD gives such boxes
    a confidence near 0 while real faces score about 1, down to 36 px faces and defocused bystanders.
    It costs about 0.2 s per crop on a CPU, so analysis asks once per face track, not per frame.

    Not picklable and not thread-safe: make one per process."""

    def __init__(self, min_confidence: float = 0.5, face_side: int = 100):
        import dlib

        self.min_confidence = min_confidence
        self.face_side = face_side
        self._cnn = dlib.cnn_face_detection_model_v1(str(model_dir() / "mmod_human_face_detector.dat"))

    def confidence(self, image: np.ndarray, box: Box) -> float:
        """Highest MMOD confidence of a detection overlapping ``box`` (IoU >= 0.3), found in a crop
        of twice the box's side around it scaled so the face is ``face_side`` px (MMOD's own
        scale); 0.0 when there is none."""
        import cv2

        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        h, w = image.shape[:2]
        X0, Y0 = int(max(0, cx - side)), int(max(0, cy - side))
        X1, Y1 = int(min(w, cx + side)), int(min(h, cy + side))
        if X1 - X0 < 2 or Y1 - Y0 < 2:
            return 0.0
        f = self.face_side / side
        patch = cv2.resize(image[Y0:Y1, X0:X1], (max(1, round((X1 - X0) * f)), max(1, round((Y1 - Y0) * f))),
                           interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        target = ((x0 - X0) * f, (y0 - Y0) * f, (x1 - X0) * f, (y1 - Y0) * f)
        best = 0.0
        for d in self._cnn(np.ascontiguousarray(patch), 0):
            r = d.rect
            if box_iou(target, (r.left(), r.top(), r.right(), r.bottom())) >= 0.3:
                best = max(best, float(d.confidence))
        return best

    def is_face(self, image: np.ndarray, box: Box) -> bool:
        """Whether MMOD confirms ``box`` as a face (confidence >= ``min_confidence``)."""
        return self.confidence(image, box) >= self.min_confidence


@dataclass
class Track:
    """One face followed over frames: a box (and landmarks when computed) per frame index."""

    track_id: int
    boxes: dict[int, Box] = field(default_factory=dict)
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)
    detected: set[int] = field(default_factory=set)  # frames with a fresh detection

    @property
    def frames(self) -> list[int]:
        return sorted(self.boxes)

    def last_box(self) -> Box:
        return self.boxes[max(self.boxes)]


def track_faces(
    analyzer: FaceAnalyzer,
    frames: Iterable[tuple[int, np.ndarray]],
    *,
    detect_every: int = 1,
    landmarks: bool = True,
    min_iou: float = 0.2,
    max_gap: int | None = None,
    min_face: float = 24.0,
) -> list[Track]:
    """Detect every ``detect_every`` frames and follow faces in between.

    Between detections each track's box is carried by re-fitting landmarks inside the
    previous box (the shape predictor adapts to motion) and re-deriving the box from
    them; a fresh detection re-anchors the track, which corrects drift. Tracks are
    linked greedily by box IoU; a track not re-detected for ``max_gap`` frames
    (default 3 detection intervals) ends.
    """
    gap = max_gap if max_gap is not None else 3 * max(1, detect_every)
    tracks: list[Track] = []
    active: list[Track] = []
    k = 0
    for idx, image in frames:
        run_detector = k % max(1, detect_every) == 0
        k += 1
        if run_detector:
            dets = [f for f in analyzer.detect(image, landmarks=landmarks) if f.size >= min_face]
            used: set[int] = set()
            pairs = sorted(((box_iou(t.last_box(), d.box), ti, di) for ti, t in enumerate(active)
                            for di, d in enumerate(dets)), reverse=True)
            matched_tracks: set[int] = set()
            for iou, ti, di in pairs:
                if iou < min_iou or ti in matched_tracks or di in used:
                    continue
                matched_tracks.add(ti)
                used.add(di)
                _add(active[ti], idx, dets[di].box, dets[di].landmarks, detected=True)
            for ti, t in enumerate(active):
                if ti not in matched_tracks and idx - max(t.detected) <= gap:
                    _follow(analyzer, t, idx, image, landmarks)
            active = [t for t in active if idx - max(t.detected) <= gap]
            for di, d in enumerate(dets):
                if di not in used:
                    t = Track(track_id=len(tracks))
                    _add(t, idx, d.box, d.landmarks, detected=True)
                    tracks.append(t)
                    active.append(t)
        else:
            for t in active:
                _follow(analyzer, t, idx, image, landmarks)
    return tracks


def _add(t: Track, idx: int, box: Box, lms: np.ndarray | None, detected: bool) -> None:
    t.boxes[idx] = box
    if lms is not None:
        t.landmarks[idx] = lms
    if detected:
        t.detected.add(idx)


def _follow(analyzer: FaceAnalyzer, t: Track, idx: int, image: np.ndarray, with_landmarks: bool) -> None:
    prev = t.last_box()
    lms = analyzer.landmarks(image, prev)
    # Re-derive the detector-style box from the landmarks (same width/height ratio as
    # the previous box, centred on the landmark centre) so the box follows the face.
    cx, cy = lms[:, 0].mean(), lms[:, 1].mean()
    pcx, pcy = (prev[0] + prev[2]) / 2, (prev[1] + prev[3]) / 2
    lcx0 = t.landmarks[max(t.landmarks)][:, 0].mean() if t.landmarks else pcx
    lcy0 = t.landmarks[max(t.landmarks)][:, 1].mean() if t.landmarks else pcy
    dx, dy = cx - lcx0, cy - lcy0
    box = (prev[0] + dx, prev[1] + dy, prev[2] + dx, prev[3] + dy)
    _add(t, idx, box, lms if with_landmarks else None, detected=False)


def smooth_landmarks(track: Track, window: int = 5) -> dict[int, np.ndarray]:
    """Temporal moving average of landmarks over consecutive frames (no flicker)."""
    idxs = sorted(track.landmarks)
    if not idxs:
        return {}
    arr = np.stack([track.landmarks[i] for i in idxs])
    half = window // 2
    out = {}
    for j, i in enumerate(idxs):
        lo, hi = max(0, j - half), min(len(idxs), j + half + 1)
        # only average over frames that are really adjacent in time
        sel = [m for m in range(lo, hi) if abs(idxs[m] - i) <= half]
        out[i] = arr[sel].mean(0)
    return out


def largest_track(tracks: Sequence[Track]) -> Track | None:
    """The track with most frames (ties: the larger face), the usual 'main speaker'."""
    if not tracks:
        return None

    def key(t: Track):
        b = t.boxes[t.frames[len(t.frames) // 2]]
        return (len(t.boxes), b[2] - b[0])

    return max(tracks, key=key)
