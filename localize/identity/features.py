"""Per-track identity features: appearance (dlib 128-d descriptors) and behaviour
(facial-motion time series from 68 landmarks), summarized over sliding windows.

Why two families: a face swap replaces the appearance but usually keeps the
performer's expressions; a reenactment or lip-sync keeps the appearance but drives
it with someone else's (or a generator's) motion. Behaviour follows Agarwal et al.
2019 ("Protecting World Leaders Against Deep Fakes"): per-frame facial signals whose
*pairwise correlations* over a few seconds are characteristic of a person, plus
dynamics statistics (how much and how fast each signal moves, blink rate).

All landmark signals are measured in a face-aligned frame (eye line horizontal,
unit = inter-ocular distance) so they do not depend on image size or head roll.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..faces import FaceAnalyzer, Track, track_faces
from ..video import iter_frames, probe

# Names of the per-frame behaviour signals, in column order.
SIGNALS = (
    "mouth_open", "mouth_width", "lip_corner_l", "lip_corner_r", "upper_lip_nose", "lower_lip_chin",
    "brow_l", "brow_r", "brow_gap", "ear_l", "ear_r", "yaw", "pitch", "roll", "nose_chin",
)
FEATURES_VERSION = 1

FrameTransform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FeatureParams:
    """How features are sampled; part of the cache key and of every profile."""

    target_fps: float = 15.0        # landmarks are fitted at about this rate
    detect_interval_s: float = 0.4  # fresh detections this often, landmark tracking between
    descriptor_interval_s: float = 0.5  # one 128-d descriptor per track this often
    window_s: float = 3.0           # behaviour/appearance window length
    hop_s: float = 0.5
    min_window_s: float = 1.2       # a track shorter than window_s but >= this gives one window
    min_face: float = 40.0          # px; smaller faces give unreliable landmarks
    min_track_s: float = 0.5        # shorter tracks are detector noise
    blink_ratio: float = 0.75       # EAR below this x the track's median EAR = eye closed

    def key(self) -> str:
        d = asdict(self)
        d["version"] = FEATURES_VERSION
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class TrackFeatures:
    """One face track: per-frame signals and descriptors, and its windows."""

    track_id: int
    frames: np.ndarray              # (T,) frame indices with landmarks
    signals: np.ndarray             # (T, len(SIGNALS)) float32
    desc_frames: np.ndarray         # (D,) frame indices with a descriptor
    descriptors: np.ndarray         # (D, 128) float32
    windows: np.ndarray             # (W, 2) frame ranges [first, last] (inclusive)
    behaviour: np.ndarray           # (W, n_behaviour) window vectors; NaN rows: too short / photo
    appearance: np.ndarray          # (W, 128) mean descriptor per window; NaN rows: none in it
    face_size: float = 0.0          # median box side, px


@dataclass
class VideoFeatures:
    path: str
    sha256: str
    params: FeatureParams
    fps: float
    n_frames: int
    width: int
    height: int
    is_image: bool
    tracks: list[TrackFeatures] = field(default_factory=list)

    @property
    def n_windows(self) -> int:
        return sum(len(t.windows) for t in self.tracks)


# ---------------------------------------------------------------- per-frame signals

# Generic 3D face model for head pose (nose tip, chin, eye outer corners, mouth
# corners), in the camera convention: x right, y down, z away from the camera, so a
# frontal face has the identity rotation.
_MODEL_3D = np.array([
    (0.0, 0.0, 0.0), (0.0, 330.0, 65.0), (-225.0, -170.0, 135.0),
    (225.0, -170.0, 135.0), (-150.0, 150.0, 125.0), (150.0, 150.0, 125.0)], dtype=np.float64)
_MODEL_IDX = [30, 8, 36, 45, 48, 54]


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupova & Cech 2016: (|p2-p6| + |p3-p5|) / (2 |p1-p4|) for 6 eye landmarks."""
    a = np.linalg.norm(eye[1] - eye[5])
    b = np.linalg.norm(eye[2] - eye[4])
    c = np.linalg.norm(eye[0] - eye[3])
    return float((a + b) / (2.0 * c)) if c > 1e-6 else 0.0


def head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from cv2.solvePnP on six landmarks and a generic
    3D face, pinhole camera with focal length = frame width (no calibration known)."""
    import cv2

    h, w = frame_size
    cam = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], dtype=np.float64)
    img_pts = landmarks[_MODEL_IDX].astype(np.float64)
    ok, rvec, _ = cv2.solvePnP(_MODEL_3D, img_pts, cam, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return 0.0, 0.0, 0.0
    rot, _ = cv2.Rodrigues(rvec)
    # R = Rz(roll) Ry(yaw) Rx(pitch)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rot[2, 0]))))
    pitch = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    return yaw, pitch, roll


def frame_signals(lms: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """The SIGNALS of one frame's 68 landmarks (face-aligned, unit inter-ocular distance)."""
    lms = np.asarray(lms, dtype=np.float64)
    le, re = lms[36:42].mean(0), lms[42:48].mean(0)
    d = float(np.linalg.norm(re - le)) or 1.0
    ang = math.atan2(re[1] - le[1], re[0] - le[0])
    c, s = math.cos(-ang), math.sin(-ang)
    rot = np.array([[c, -s], [s, c]])
    a = ((lms - (le + re) / 2) @ rot.T) / d  # aligned: x right, y down, eye line at y=0
    mouth_c_y = (a[51, 1] + a[57, 1]) / 2
    yaw, pitch, roll = head_pose(lms, frame_size)
    return np.array([
        np.linalg.norm(a[61:64].mean(0) - a[65:68].mean(0)),  # mouth_open (inner lips)
        np.linalg.norm(a[48] - a[54]),                          # mouth_width
        mouth_c_y - a[48, 1],                                   # lip_corner_l (up = positive)
        mouth_c_y - a[54, 1],                                   # lip_corner_r
        a[51, 1] - a[33, 1],                                    # upper_lip_nose
        a[8, 1] - a[57, 1],                                     # lower_lip_chin
        a[36:42, 1].mean() - a[17:22, 1].mean(),                # brow_l
        a[42:48, 1].mean() - a[22:27, 1].mean(),                # brow_r
        np.linalg.norm(a[21] - a[22]),                          # brow_gap
        eye_aspect_ratio(a[36:42]),                             # ear_l
        eye_aspect_ratio(a[42:48]),                             # ear_r
        yaw / 30.0, pitch / 30.0, roll / 30.0,                  # head pose (~unit scale)
        a[8, 1] - a[33, 1],                                     # nose_chin
    ], dtype=np.float32)


def count_blinks(ear: np.ndarray, ratio: float = 0.75, min_frames: int = 1) -> int:
    """Blinks = runs of frames whose eye aspect ratio falls below ``ratio`` x the
    series median (relative, so it works for narrow and wide eyes alike)."""
    ear = np.asarray(ear, dtype=np.float64)
    if ear.size < 3:
        return 0
    closed = ear < ratio * float(np.median(ear))
    runs, n = 0, 0
    for cl in closed:
        if cl:
            n += 1
        else:
            runs += n >= min_frames
            n = 0
    runs += n >= min_frames
    # a run touching both ends is a squint, not a blink
    return int(runs) if not closed.all() else 0


# ---------------------------------------------------------------- window summaries

def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(k, 1)


BEHAVIOUR_NAMES = tuple(
    [f"corr:{SIGNALS[i]}~{SIGNALS[j]}" for i, j in zip(*_pairs(len(SIGNALS)))]
    + [f"std:{s}" for s in SIGNALS] + [f"speed:{s}" for s in SIGNALS] + ["blinks_per_min"])


def window_vector(sig: np.ndarray, dt: float, blink_ratio: float = 0.75,
                  ear_median: float | None = None) -> np.ndarray:
    """Summary of one window of signals (T, K): pairwise Pearson correlations
    (Agarwal et al.), per-signal standard deviation, mean absolute speed (per second)
    and blink rate (per minute). Constant signals correlate 0."""
    sig = np.asarray(sig, dtype=np.float64)
    t, k = sig.shape
    x = sig - sig.mean(0)
    sd = np.sqrt((x ** 2).mean(0))
    ok = sd > 1e-6
    z = np.zeros_like(x)
    z[:, ok] = x[:, ok] / sd[ok]
    corr = (z.T @ z) / max(t, 1)
    iu = _pairs(k)
    speed = np.abs(np.diff(sig, axis=0)).mean(0) / dt if t > 1 else np.zeros(k)
    ear = sig[:, [SIGNALS.index("ear_l"), SIGNALS.index("ear_r")]].mean(1)
    if ear_median is not None:
        blinks = _blinks_abs(ear, blink_ratio * ear_median)  # threshold from the whole track
    else:
        blinks = count_blinks(ear, blink_ratio)
    rate = blinks / (t * dt / 60.0) if t > 1 else 0.0
    return np.concatenate([np.clip(corr[iu], -1, 1), sd, speed, [rate]]).astype(np.float32)


def _blinks_abs(ear: np.ndarray, thr: float) -> int:
    closed = ear < thr
    if closed.all():
        return 0
    edges = np.diff(np.concatenate([[0], closed.astype(np.int8), [0]]))
    return int((edges == 1).sum())


def _runs(frames: np.ndarray, max_step: int) -> list[tuple[int, int]]:
    """Split sorted frame indices into runs without gaps larger than max_step: [lo, hi) positions."""
    if len(frames) == 0:
        return []
    cuts = np.where(np.diff(frames) > max_step)[0] + 1
    bounds = [0, *cuts.tolist(), len(frames)]
    return list(zip(bounds[:-1], bounds[1:]))


def make_windows(frames: np.ndarray, fps: float, stride: int, params: FeatureParams) -> list[tuple[int, int]]:
    """Sliding windows over contiguous runs of a track: (lo, hi) positions into ``frames``."""
    out = []
    per_s = fps / stride
    wlen = max(2, int(round(params.window_s * per_s)))
    hop = max(1, int(round(params.hop_s * per_s)))
    wmin = max(2, int(round(params.min_window_s * per_s)))
    for lo, hi in _runs(frames, max_step=2 * stride):
        n = hi - lo
        if n >= wlen:
            starts = list(range(lo, hi - wlen + 1, hop))
            if starts[-1] + wlen < hi:  # cover the tail too
                starts.append(hi - wlen)
            out.extend((s, s + wlen) for s in starts)
        elif n >= wmin:
            out.append((lo, hi))
    return out


# ---------------------------------------------------------------- extraction

def _transformed(frames: Iterable[tuple[int, np.ndarray]], transform: FrameTransform | None):
    for i, f in frames:
        yield i, (transform(f) if transform else f)


def extract_features(path: str | Path, analyzer: FaceAnalyzer | None = None, params: FeatureParams | None = None,
                     *, transform: FrameTransform | None = None, frame_range: tuple[int, int] | None = None,
                     sha256: str | None = None, progress: bool = False) -> VideoFeatures:
    """Track faces in a video (or photo) and compute both feature families per track.

    ``frame_range`` = [start, end) restricts to a segment (reference/test splits of
    one video); ``transform`` degrades frames on the fly (blur, resize) for
    robustness tests without writing files.
    """
    from ..fileio import sha256_file

    params = params or FeatureParams()
    analyzer = analyzer or FaceAnalyzer()
    path = Path(path)
    info = probe(path)
    sha = sha256 or sha256_file(path)
    vf = VideoFeatures(str(path), sha, params, info.fps, info.n_frames, info.width, info.height, info.is_image)
    if info.is_image:
        img = next(iter_frames(path))[1]
        img = transform(img) if transform else img
        for k, face in enumerate(f for f in analyzer.detect(img) if f.size >= params.min_face):
            desc = analyzer.descriptor(img, face.landmarks)[None]
            vf.tracks.append(TrackFeatures(
                k, np.array([0]), frame_signals(face.landmarks, img.shape[:2])[None], np.array([0]), desc,
                np.array([[0, 0]]), np.full((1, len(BEHAVIOUR_NAMES)), np.nan, np.float32), desc, face.size))
        return vf

    stride = max(1, int(round(info.fps / params.target_fps)))
    lo, hi = frame_range or (0, info.n_frames)
    lo, hi = max(0, lo), min(info.n_frames, hi)
    indices = list(range(lo, hi, stride))
    detect_every = max(1, int(round(params.detect_interval_s * info.fps / stride)))
    frames_iter = _transformed(iter_frames(path, indices), transform)
    if progress:
        from tqdm import tqdm

        frames_iter = tqdm(frames_iter, total=len(indices), desc=f"faces {path.name}", unit="fr", leave=False)
    size_hw = None
    tracks: list[Track] = []

    def remember_size(it):
        nonlocal size_hw
        for i, f in it:
            size_hw = f.shape[:2]
            yield i, f

    tracks = track_faces(analyzer, remember_size(frames_iter), detect_every=detect_every,
                         min_face=params.min_face)
    min_len = max(2, int(round(params.min_track_s * info.fps / stride)))
    tracks = [t for t in tracks if len(t.landmarks) >= min_len]
    if not tracks:
        return vf

    # second pass: descriptors every descriptor_interval_s on each track
    dstep = max(1, int(round(params.descriptor_interval_s * info.fps)))
    want: dict[int, list[int]] = {}
    for ti, t in enumerate(tracks):
        fr = sorted(t.landmarks)
        last = -10 ** 9
        for i in fr:
            if i - last >= dstep:
                want.setdefault(i, []).append(ti)
                last = i
    descs: dict[int, list[tuple[int, np.ndarray]]] = {ti: [] for ti in range(len(tracks))}
    for i, img in _transformed(iter_frames(path, sorted(want)), transform):
        for ti in want.get(i, []):
            descs[ti].append((i, analyzer.descriptor(img, tracks[ti].landmarks[i])))

    dt = stride / info.fps
    nb = len(BEHAVIOUR_NAMES)
    for ti, t in enumerate(tracks):
        fr = np.array(sorted(t.landmarks))
        sig = np.stack([frame_signals(t.landmarks[i], size_hw) for i in fr])
        ear_med = float(np.median(sig[:, [SIGNALS.index("ear_l"), SIGNALS.index("ear_r")]].mean(1)))
        wins = make_windows(fr, info.fps, stride, params)
        dfr = np.array([i for i, _ in descs[ti]], dtype=np.int64)
        dmat = (np.stack([d for _, d in descs[ti]]) if descs[ti] else np.zeros((0, 128))).astype(np.float32)
        if wins:
            ranges = [(int(fr[a]), int(fr[b - 1])) for a, b in wins]
            beh = np.array([window_vector(sig[a:b], dt, params.blink_ratio, ear_med) for a, b in wins])
        else:  # too short for behaviour: one appearance-only window over the whole track
            ranges = [(int(fr[0]), int(fr[-1]))]
            beh = np.full((1, nb), np.nan)
        app = np.full((len(ranges), 128), np.nan, np.float32)
        for w, (a, b) in enumerate(ranges):
            sel = (dfr >= a) & (dfr <= b)
            if sel.any():
                app[w] = dmat[sel].mean(0)
        sizes = [max(bx[2] - bx[0], bx[3] - bx[1]) for bx in t.boxes.values()]
        vf.tracks.append(TrackFeatures(
            t.track_id, fr, sig, dfr, dmat, np.array(ranges, dtype=np.int64).reshape(-1, 2),
            beh.astype(np.float32).reshape(-1, nb), app, float(np.median(sizes))))
    return vf


# ---------------------------------------------------------------- cache

def default_cache_dir() -> Path:
    home = os.environ.get("LOCALIZE_HOME")
    if home:
        return Path(home) / "cache" / "features"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "localize" / "features"


def save_features(path: str | Path, vf: VideoFeatures) -> None:
    """One .npz per video (atomic): arrays per track + a JSON header."""
    from ..fileio import atomic_path

    arrays: dict[str, np.ndarray] = {}
    head = {k: getattr(vf, k) for k in ("path", "sha256", "fps", "n_frames", "width", "height", "is_image")}
    head["params"] = asdict(vf.params)
    head["tracks"] = []
    for k, t in enumerate(vf.tracks):
        head["tracks"].append({"track_id": t.track_id, "face_size": t.face_size})
        for name in ("frames", "signals", "desc_frames", "descriptors", "windows", "behaviour", "appearance"):
            arrays[f"t{k}_{name}"] = getattr(t, name)
    arrays["header"] = np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def load_features(path: str | Path) -> VideoFeatures:
    with np.load(path) as z:
        head = json.loads(bytes(z["header"]).decode())
        vf = VideoFeatures(head["path"], head["sha256"], FeatureParams(**head["params"]), head["fps"],
                           head["n_frames"], head["width"], head["height"], head["is_image"])
        for k, th in enumerate(head["tracks"]):
            vf.tracks.append(TrackFeatures(
                th["track_id"], *(z[f"t{k}_{n}"] for n in (
                    "frames", "signals", "desc_frames", "descriptors", "windows", "behaviour", "appearance")),
                face_size=th["face_size"]))
    return vf


class FeatureCache:
    """Features per (file sha256, params, segment, degradation) on disk, so repeated
    enrolments and evaluations never decode a video twice."""

    def __init__(self, root: str | Path | None = None, analyzer: FaceAnalyzer | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self._analyzer = analyzer
        self.hits = 0
        self.misses = 0

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer()
        return self._analyzer

    def get(self, path: str | Path, params: FeatureParams | None = None, *,
            frame_range: tuple[int, int] | None = None, transform: FrameTransform | None = None,
            transform_key: str = "", progress: bool = False, sha256: str | None = None) -> VideoFeatures:
        """``sha256``: the file's, when the caller has already hashed it (a large video takes a while)."""
        from ..fileio import sha256_file

        if transform is not None and not transform_key:
            raise ValueError("a frame transform needs a transform_key for the cache")
        params = params or FeatureParams()
        sha = sha256 or sha256_file(path)
        seg = f"{frame_range[0]}-{frame_range[1]}" if frame_range else "all"
        tk = hashlib.sha256(transform_key.encode()).hexdigest()[:8] if transform_key else "none"
        f = self.root / f"{sha[:24]}_{params.key()}_{seg}_{tk}.npz"
        if f.exists():
            try:
                vf = load_features(f)
                vf.path = str(path)
                self.hits += 1
                return vf
            except Exception:  # a damaged cache entry is recomputed, never trusted
                f.unlink(missing_ok=True)
        self.misses += 1
        vf = extract_features(path, self.analyzer, params, transform=transform, frame_range=frame_range,
                              sha256=sha, progress=progress)
        save_features(f, vf)
        return vf


def restrict(vf: VideoFeatures, lo: int, hi: int) -> VideoFeatures:
    """The features of frames [lo, hi) only: windows entirely inside, descriptors inside.
    Cheaper than re-extracting a segment (tracking context at the edges differs slightly)."""
    out = VideoFeatures(vf.path, vf.sha256, vf.params, vf.fps, vf.n_frames, vf.width, vf.height, vf.is_image)
    for t in vf.tracks:
        wsel = (t.windows[:, 0] >= lo) & (t.windows[:, 1] < hi)
        fsel = (t.frames >= lo) & (t.frames < hi)
        dsel = (t.desc_frames >= lo) & (t.desc_frames < hi)
        if not wsel.any():
            continue
        out.tracks.append(TrackFeatures(t.track_id, t.frames[fsel], t.signals[fsel], t.desc_frames[dsel],
                                        t.descriptors[dsel], t.windows[wsel], t.behaviour[wsel],
                                        t.appearance[wsel], t.face_size))
    return out
