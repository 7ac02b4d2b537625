"""Analyze a suspect video or image: per-frame forgery masks, per-face scores, the
video decision and the files an analyst (or the server's viewer) reads.

Pipeline: probe -> choose frames -> decode only those (RGB conversion only for
them) -> detect faces on a downscaled copy and track them between detections ->
crop each face exactly as in training (``crop_box(landmark_box(landmarks), 1.3)``,
resized to the model's input size) -> batched prediction (torch or onnxruntime)
-> frame/track/video scores (localize.decision) -> overlay video, key frames,
contact sheet, timeline and ``report.json``.

Everything for one input is written into a temporary folder beside ``out_dir``
and renamed into place at the end, so a failure leaves nothing partial behind.
Output names (stable, the server reads them): ``report.json``, ``overlay.mp4``,
``timeline.png``, ``contact_sheet.png`` (only when a face was found),
``frames/<frame index>.png`` (the most suspicious frames).
"""
from __future__ import annotations

import contextlib
import dataclasses
import heapq
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from . import decision as D
from .detect_scale import DetectScale, Rescale, RetryDetector, survey_picks, survey_top, surveyed
from .errors import InputError
from .fileio import sha256_file, versions, write_json, write_text
from .targets import OutputMeaning, meaning, suspected_region

SCHEMA_VERSION = 1
# A face that decides a fake verdict darker than this (luma of its centre, 0-255) is warned of: the
# lower third of the deciding faces of 54 real inputs (benchmarks/analyze_shared.py, 2026-11-23).
# Why: cross-fit candidate I scored darker real faces higher out of fold (Spearman -0.22 over 684
# real items). For the shipped model it is not shown either way: over its 31 held-out real inputs
# rho is 0.00 [-0.35, 0.38]; the -0.26 over all 56 came from the brightly lit videos it trained on,
# which it scores near 0. Dim light and dark skin both lower luma.
DIM_FACE_LUMA = 115.0
# Faces with less colour than this (mean max-min of R, G, B, localize.faces.face_chroma) are grayscale:
# decoded grayscale footage measures 0-2, colour faces of ../shared/data and the registry 13-100
# (1st percentile 32). No model here trained or was calibrated on grayscale footage: grayscale copies of
# 19 real clips moved the shipped model's P(fake) from a median 0.42 to 0.66, every one to 0.59-0.77
# around its threshold of 0.70, two above it (benchmarks/grayscale_probe.py).
GRAY_FACE_CHROMA = 5.0
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"  # the same, as a page to open without a server (localize.report_page)
OVERLAY_MP4 = "overlay.mp4"
TIMELINE_PNG = "timeline.png"
CONTACT_SHEET_PNG = "contact_sheet.png"
FRAMES_DIR = "frames"

# progress(stage, done, total); stages: "faces", "model", "write"
Progress = Callable[[str, int, int], None]


@dataclass
class AnalyzeOptions:
    """How to analyze one input. ``frames``: "count" (``count`` evenly spaced
    frames, default 32 like the published detectors), "every" (every ``every``-th
    frame) or "all"."""

    frames: str = "count"
    count: int = 32
    every: int = 1
    detect_every: int | None = None  # None: 1 for sparse samples, 5 when frames are consecutive
    detect_side: int = 640  # faces are detected on a copy scaled to this long side
    detect_retry_side: int = 1280  # nothing found: look again at this scale (small faces; 0 = off)
    # sampled frames also detected at detect_retry_side for faces the detect_side copy misses
    # (group footage): if one is found, the whole input is detected at a larger scale (detect_scale.surveyed)
    survey_frames: int = 3
    batch_size: int = 16
    overlay: bool = True
    overlay_max_side: int = 1280
    overlay_min_side: int = 480  # small videos are upscaled so the labels stay readable
    overlay_crf: int = 23
    overlay_preset: str = "ultrafast"  # x264 preset of overlay.mp4: speed first (files ~2x veryfast)
    key_frames: int = 8
    heat_opacity: float = 0.6
    smooth_window: int = 5  # landmarks averaged over this many consecutive frames, as in training
    min_track_frames: int = D.MIN_TRACK_FRAMES  # shorter tracks (spurious detections) do not decide, unless none is longer
    verify_faces: bool = True  # a track is judged only once a second detector (MMOD) confirms it is a face
    verify_attempts: int = 3  # appearances of a track checked before it is given up as not a face
    memory_budget_mb: int = 512  # above it frames are decoded twice instead of kept in memory

    def indices(self, n_frames: int) -> list[int]:
        from .video import sample_indices

        if self.frames == "count":
            if self.count < 1:
                raise ValueError("count must be >= 1")
            return sample_indices(n_frames, count=self.count)
        if self.frames == "every":
            return sample_indices(n_frames, every=max(1, self.every))
        if self.frames == "all":
            return sample_indices(n_frames)
        raise ValueError(f"frames must be count, every or all (got {self.frames!r})")


@dataclass
class FaceResult:
    """One face in one frame."""

    track_id: int
    box: list[float]  # face box (x0, y0, x1, y1) from the landmarks, frame pixels
    crop_box: list[float]  # the square model crop, frame pixels (may leave the frame)
    score: float  # share of the crop at or above the pixel threshold (decision.frame_score)
    max_prob: float  # highest probability of the output map in the crop
    mean_prob: float
    frame_prob: float | None  # the model's frame-level head, when it has one
    detected: bool  # a fresh detection (False: carried by the tracker)
    # share of the crop in the suspected forged region (localize.targets.suspected_region):
    # the score itself for a forged-pixel model; for a boundary model the band and the hull of its pieces
    region_fraction: float | None = None


@dataclass
class FrameResult:
    index: int
    time: float  # seconds from the start
    status: str  # "ok" or "no_face"
    faces: list[FaceResult] = field(default_factory=list)
    score: float | None = None  # max over faces; None when no_face
    max_prob: float | None = None


@dataclass
class TrackResult:
    track_id: int
    n_frames: int
    first_frame: int
    last_frame: int
    score: float  # decision.aggregate_track over its frame scores
    max_frame_score: float
    mean_frame_score: float
    used_in_decision: bool  # False for tracks shorter than min_track_frames
    probability: float | None
    fake: bool | None
    frames: list[int] = field(default_factory=list)
    frame_scores: list[float] = field(default_factory=list)
    face_px: float | None = None  # median face size (the box's longer side) in frame pixels
    main: bool = False  # the face the video is about: the track with most frames (ties: the larger face)
    face_luma: float | None = None  # median luma (0-255) of the face's centre (localize.faces.face_luma)
    face_chroma: float | None = None  # median chroma (0-255) of the face's centre; ~0: grayscale (face_chroma)


@dataclass
class Report:
    """Everything ``report.json`` holds (schema in the README, ``schema_version``)."""

    schema_version: int
    status: str  # "ok" or "no_face"
    input: dict[str, Any]
    video: dict[str, Any]  # score, probability, decision, calibrated, operating_point
    model: dict[str, Any]
    rule: dict[str, Any]
    options: dict[str, Any]
    frames: list[FrameResult]
    tracks: list[TrackResult]
    overlay: dict[str, Any]
    key_frames: list[int]
    files: dict[str, Any]
    warnings: list[str]
    timings: dict[str, float]  # wall seconds per stage and total
    timings_cpu: dict[str, float]  # process CPU seconds per stage (all threads)
    versions: dict[str, str]
    created_utc: str
    # the zero-shot identity scorer's verdict on the same file (`--person`; localize.identity.check),
    # reported beside the localizer's, never fused into it
    identity: dict[str, Any] | None = None

    @property
    def decision(self) -> str:
        return self.video["decision"]

    @property
    def probability(self) -> float | None:
        return self.video["probability"]

    @property
    def score(self) -> float | None:
        return self.video["score"]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Timer:
    """Wall seconds per stage (``t``) and process CPU seconds per stage (``cpu``: all
    threads; on a busy shared machine it shows what the stage costs, not what it waited)."""

    def __init__(self):
        self.t: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0, time.process_time() - c0)

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.t[name] = self.t.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu


def calibration_of(localizer) -> D.Calibration | None:
    """The model's stored calibration, or None (the report then says uncalibrated)."""
    try:
        return D.Calibration.from_dict(getattr(localizer, "calibration", None))
    except (ValueError, TypeError):
        return None


class _TrackCheck:
    """Which face tracks are faces (``faces.FaceVerifier``), asked as a track's faces stream past:
    until a track is confirmed each appearance is checked, and skipped when not confirmed; after
    ``attempts`` failed checks the track is given up and its remaining appearances are skipped
    unchecked. A confirmed track is not checked again, so a video costs one check per face."""

    def __init__(self, verifier, attempts: int):
        self.verifier = verifier
        self.attempts = max(1, attempts)
        self.confirmed: set[int] = set()
        self.tries: dict[int, list[float]] = {}  # track id -> confidences of its failed checks
        self.skipped: dict[int, list[int]] = {}  # track id -> frames not judged

    def accept(self, tid: int, idx: int, image: np.ndarray, box) -> bool:
        if tid in self.confirmed:
            return True
        tried = self.tries.setdefault(tid, [])
        if len(tried) < self.attempts:
            c = self.verifier.confidence(image, box)
            if c >= self.verifier.min_confidence:
                self.confirmed.add(tid)
                return True
            tried.append(round(c, 4))
        self.skipped.setdefault(tid, []).append(idx)
        return False

    def unconfirmed(self) -> list[dict[str, Any]]:
        """Tracks with frames left unjudged: never confirmed (``confirmed`` False) or confirmed late."""
        return [{"track_id": t, "confirmed": t in self.confirmed, "frames": f, "checks": self.tries.get(t, [])}
                for t, f in sorted(self.skipped.items())]


def _face_crops(tracks, window: int = 5) -> dict[int, list[tuple[int, np.ndarray, bool]]]:
    """frame index -> [(track id, smoothed landmarks, freshly detected)]."""
    from .faces import smooth_landmarks

    per_frame: dict[int, list[tuple[int, np.ndarray, bool]]] = {}
    for t in tracks:
        lms = smooth_landmarks(t, window) if window > 1 else t.landmarks
        for idx, l in lms.items():
            per_frame.setdefault(idx, []).append((t.track_id, l, idx in t.detected))
    return per_frame


def _windowed_faces(analyzer, frames: Iterator[tuple[int, np.ndarray]], windows: dict[int, list[int]],
                    window: int, min_iou: float = 0.1, memory: int = 3) -> dict[int, list[tuple[int, np.ndarray, bool]]]:
    """Landmarks of every face at each sampled frame from its own short window (one
    detection at the window start, tracked through it, averaged over it: the
    training crop rule of localize.data.face_landmarks), then faces linked across
    samples into tracks by box IoU (greedy, best first) with any of a track's last
    ``memory`` boxes, so one odd box (a poor landmark fit) does not split a person in two.
    Holds one window of frames."""
    from .faces import box_iou, landmark_box, smooth_landmarks, track_faces

    samples = sorted(windows)
    buf: dict[int, np.ndarray] = {}
    per_sample: dict[int, list[tuple[np.ndarray, bool]]] = {}
    k = 0

    def close(i: int) -> None:
        seq = [(j, buf[j]) for j in windows[i] if j in buf]
        found = []
        if any(j == i for j, _ in seq):
            for t in track_faces(analyzer, iter(seq), detect_every=max(1, len(seq)), landmarks=True):
                if i in t.landmarks:
                    found.append((smooth_landmarks(t, window)[i], i in t.detected))
        per_sample[i] = found

    for idx, img in frames:
        buf[idx] = img
        while k < len(samples) and windows[samples[k]][-1] <= idx:
            close(samples[k])
            k += 1
            nxt = windows[samples[k]][0] if k < len(samples) else idx + 1
            for j in [j for j in buf if j < nxt]:
                del buf[j]
    while k < len(samples):  # a truncated stream: close what is left
        close(samples[k])
        k += 1
    buf.clear()

    per_frame: dict[int, list[tuple[int, np.ndarray, bool]]] = {}
    last: dict[int, list[tuple]] = {}  # track id -> its last boxes, newest last
    n_tracks = 0
    for i in samples:
        faces = per_sample.get(i, [])
        boxes = [landmark_box(l) for l, _ in faces]
        pairs = sorted(((max(box_iou(b, tb) for tb in tbs), fi, tid) for fi, b in enumerate(boxes)
                        for tid, tbs in last.items()), reverse=True)
        assigned: dict[int, int] = {}
        used: set[int] = set()
        for iou, fi, tid in pairs:
            if iou < min_iou or fi in assigned or tid in used:
                continue
            assigned[fi] = tid
            used.add(tid)
        for fi, (l, det) in enumerate(faces):
            if fi not in assigned:
                assigned[fi] = n_tracks
                n_tracks += 1
            tid = assigned[fi]
            last[tid] = (last.get(tid, []) + [boxes[fi]])[-memory:]
            per_frame.setdefault(i, []).append((tid, l, det))
    return per_frame


def _prepare_out(out_dir: Path) -> Path:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".part", dir=out_dir.parent))


def _share(folder: Path) -> None:
    """Temp files are created private (0600/0700); results are ordinary files (umask)."""
    mask = os.umask(0)
    os.umask(mask)
    for p in [folder, *folder.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


def _commit_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished temp folder into place (replacing an older result)."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old.{os.getpid()}.{time.monotonic_ns()}"
        os.replace(out_dir, old)
    _share(tmp)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def analyze_path(path: str | Path, out_dir: str | Path, *, localizer, options: AnalyzeOptions | None = None,
                 progress: Progress | None = None, analyzer=None, identity=None) -> Report:
    """Analyze one video or image; write the result folder ``out_dir``; return the Report.

    ``localizer``: a loaded :class:`localize.model.Localizer`. ``analyzer``: an
    optional :class:`localize.faces.FaceAnalyzer` to reuse (a server worker keeps
    one). ``identity``: an optional :class:`localize.identity.check.IdentityCheck`
    whose verdict on the file joins the report (``Report.identity``). Raises
    :class:`InputError` for unreadable input; ``out_dir`` is then not created and
    nothing partial is left.
    """
    path, out_dir = Path(path), Path(out_dir)
    opts = options or AnalyzeOptions()
    made = [p for p in [out_dir.parent, *out_dir.parent.parents] if not p.exists()]
    tmp = _prepare_out(out_dir)
    try:
        report = _analyze(path, tmp, localizer, opts, progress, analyzer, identity)
        _commit_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in made:  # folders this call created, deepest first, if still empty
            with contextlib.suppress(OSError):
                p.rmdir()
        raise
    return report


def _analyze(path: Path, work: Path, localizer, opts: AnalyzeOptions, progress: Progress | None,
             analyzer, identity=None) -> Report:
    from .faces import FaceAnalyzer, crop, crop_box, face_chroma, face_luma, landmark_box, track_faces
    from .video import iter_frames, media_metadata, probe, variable_frame_rate

    timer = _Timer()
    t_start = time.perf_counter()
    report_progress = progress or (lambda stage, done, total: None)

    with timer("decode"):
        info = probe(path)
    indices = opts.indices(info.n_frames)
    cal = calibration_of(localizer)
    if cal is not None and info.is_image:
        cal = cal.for_still()  # photos have their own operating point when validation had photos
    target = getattr(localizer, "target", "mask")
    means = meaning(target)  # load_localizer refused unknown targets
    px_thr = cal.pixel_threshold if cal else D.PIXEL_THRESHOLD
    q = cal.track_quantile if cal else D.TRACK_QUANTILE
    size = int(localizer.input_size)

    if analyzer is None:
        with timer("faces"):
            analyzer = FaceAnalyzer(detect_side=opts.detect_side)
    checks = None
    if opts.verify_faces:
        with timer("faces"):
            checks = _TrackCheck(analyzer.verifier(), opts.verify_attempts)
    long_side = max(info.width, info.height)
    survey_side = survey_top(long_side, opts)
    detection = DetectScale(side=opts.detect_side, reason="no survey" if not opts.survey_frames else
                            "" if survey_side > opts.detect_side else "the input is no larger than the detection scale")
    detector = RetryDetector(analyzer, opts.detect_retry_side)
    steps = np.diff(indices) if len(indices) > 1 else np.array([1])
    detect_every = opts.detect_every or (5 if float(np.median(steps)) <= 2 else 1)

    keep = len(indices) * info.width * info.height * 3 <= opts.memory_budget_mb * 2 ** 20
    kept: list[tuple[int, np.ndarray]] = []
    decoded: list[int] = []
    # Sparse samples (frames > 2 apart): each sampled frame's landmarks come from its
    # own window of ``smooth_window`` consecutive frames, tracked and averaged exactly
    # as localize.data builds training crops; the windows' faces are then linked.
    half = max(0, opts.smooth_window // 2)
    sparse = not info.is_image and detect_every == 1 and half > 0 and float(np.median(steps)) > 2
    wanted = set(indices)
    windows = {i: [j for j in range(i - half, i + half + 1) if 0 <= j < info.n_frames] for i in indices}
    decode_list = sorted({j for w in windows.values() for j in w}) if sparse else indices

    def timed_frames(store: bool) -> Iterator[tuple[int, np.ndarray]]:
        it = iter_frames(path, decode_list if store else indices)
        while True:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                idx, img = next(it)
            except StopIteration:
                timer.add("decode", time.perf_counter() - t0, time.process_time() - c0)
                return
            timer.add("decode", time.perf_counter() - t0, time.process_time() - c0)
            if store and idx in wanted:
                decoded.append(idx)
                if keep:
                    kept.append((idx, img))
                report_progress("faces", len(decoded), len(indices))
            yield idx, img

    # Pass 1: decode the chosen frames, detect and track faces.
    t0, c0, d0, dc0 = time.perf_counter(), time.process_time(), timer.t["decode"], timer.cpu["decode"]
    saved_side = analyzer.detect_side
    picks = set(survey_picks(indices, opts.survey_frames)) if survey_side > opts.detect_side else set()
    try:
        while True:
            analyzer.detect_side = detection.side
            frames = timed_frames(True)
            if picks and not detection.missed:  # surveyed once; after a rescale pass 1 runs plain
                frames = surveyed(frames, picks, analyzer, detection, opts.detect_side, survey_side, long_side,
                                  checks.verifier if checks else None)
            try:
                if sparse:
                    faces_at = _windowed_faces(detector, frames, windows, opts.smooth_window)
                else:
                    tracks = track_faces(detector, frames, detect_every=detect_every, landmarks=True)
                    faces_at = _face_crops(tracks, opts.smooth_window)
                break
            except Rescale:
                decoded.clear()
                kept.clear()
    finally:
        analyzer.detect_side = saved_side  # a shared analyzer (the CLI's, a server worker's) keeps its own
    timer.add("faces", time.perf_counter() - t0 - (timer.t["decode"] - d0),
              time.process_time() - c0 - (timer.cpu["decode"] - dc0))
    if not decoded:  # frames decode, but the stream ends before the first chosen one
        raise InputError(path, f"none of the {len(indices)} chosen frames decodes: the stream ends before "
                               f"frame {min(indices)} of the {info.n_frames} its header counts (truncated?)")

    # Pass 2: crop, predict in batches, score, draw.
    fps = info.fps if not info.is_image else 1.0
    # Frame times: index / rate, or the frames' own timestamps where the rate varies (a dropped-
    # frame or low-light phone recording), so times in the report and the viewer match the file.
    vfr = variable_frame_rate(info.times)

    def t_of(i: int) -> float:
        return info.times[i] if vfr and i < len(info.times) else i / fps
    med_step = float(np.median(np.diff(decoded))) if len(decoded) > 1 else 1.0
    overlay_fps = max(1.0, fps / med_step) if not info.is_image else 1.0
    long_side = max(info.width, info.height)
    scale = min(1.0, opts.overlay_max_side / long_side) if long_side >= opts.overlay_min_side else \
        opts.overlay_min_side / long_side
    frames_out: list[FrameResult] = []
    track_scores: dict[int, list[float]] = {}
    track_frames: dict[int, list[int]] = {}
    track_px: dict[int, list[float]] = {}
    track_span: dict[int, list[float]] = {}
    track_luma: dict[int, list[float]] = {}
    track_chroma: dict[int, list[float]] = {}
    top: list[tuple[float, int, int, np.ndarray]] = []  # min-heap of (score, -index, index, overlay frame)
    writer = None
    if opts.overlay:
        from .video import VideoWriter

        writer = VideoWriter(work / OVERLAY_MP4, overlay_fps, crf=opts.overlay_crf, preset=opts.overlay_preset,
                             timed=vfr)  # variable frame rate: each frame at its own time, as recorded
        writer.__enter__()
    try:
        source = iter(kept) if keep else timed_frames(False)
        pending: list[tuple[int, np.ndarray, list]] = []
        n_done = 0

        def flush() -> None:
            nonlocal n_done
            crops = [c for _, _, faces in pending for (_, _, _, _, c) in faces]
            with timer("model"):
                if crops:
                    probs, fprobs = localizer.predict(np.stack(crops), batch_size=opts.batch_size)
                else:
                    probs, fprobs = np.zeros((0, size, size), np.float32), None
            k = 0
            for idx, img, faces in pending:
                fr = FrameResult(index=idx, time=round(t_of(idx), 4), status="ok" if faces else "no_face")
                draws = []
                for tid, fbox, cbox, detected, _ in faces:
                    p = probs[k]
                    s = D.frame_score(p, px_thr)
                    # a forged-pixel model's region is its thresholded map, whose share is the score
                    region = None if target == "mask" else suspected_region(p, target, px_thr)
                    fr.faces.append(FaceResult(
                        track_id=tid, box=[round(float(v), 2) for v in fbox],
                        crop_box=[round(float(v), 2) for v in cbox], score=round(s, 6),
                        max_prob=round(float(p.max()), 6), mean_prob=round(float(p.mean()), 6),
                        frame_prob=None if fprobs is None else round(float(fprobs[k]), 6), detected=detected,
                        region_fraction=round(s if region is None else float(region.mean()), 6)))
                    track_scores.setdefault(tid, []).append(s)
                    track_px.setdefault(tid, []).append(float(max(fbox[2] - fbox[0], fbox[3] - fbox[1])))
                    # the landmarks' own span (landmark_box adds a fifth of the height for the forehead)
                    track_span.setdefault(tid, []).append(float(max(fbox[2] - fbox[0], (fbox[3] - fbox[1]) / 1.2)))
                    track_frames.setdefault(tid, []).append(idx)
                    if (y := face_luma(img, fbox)) is not None:
                        track_luma.setdefault(tid, []).append(y)
                    if (c := face_chroma(img, fbox)) is not None:
                        track_chroma.setdefault(tid, []).append(c)
                    draws.append((p, cbox, fbox, tid, s, region))
                    k += 1
                if fr.faces:
                    fr.score = max(f.score for f in fr.faces)
                    fr.max_prob = max(f.max_prob for f in fr.faces)
                frames_out.append(fr)
                with timer("overlay"):
                    running, _ = D.video_score(track_scores, q, opts.min_track_frames)
                    need = writer is not None or bool(fr.faces)
                    ov = _draw(img, fr, draws, running, cal, px_thr, scale, opts, means) if need else None
                    if writer is not None:
                        writer.write(ov, time=t_of(idx) if vfr else None)
                    if fr.faces and opts.key_frames > 0:
                        item = (fr.score, -idx, idx, ov)
                        if len(top) < opts.key_frames:
                            heapq.heappush(top, item)
                        elif item[:2] > top[0][:2]:
                            heapq.heapreplace(top, item)
                n_done += 1
                report_progress("model", n_done, len(decoded))
            pending.clear()

        n_pending_crops = 0
        for idx, img in source:
            faces = []
            found = [(tid, landmark_box(lms), detected) for tid, lms, detected in faces_at.get(idx, [])]
            if checks is not None:
                with timer("faces"):
                    found = [f for f in found if checks.accept(f[0], idx, img, f[1])]
            with timer("crop"):
                for tid, fbox, detected in found:
                    cbox = crop_box(fbox, 1.3)
                    faces.append((tid, fbox, cbox, detected, crop(img, cbox, size)))
            pending.append((idx, img, faces))
            n_pending_crops += len(faces)
            if n_pending_crops >= opts.batch_size or len(pending) >= 4 * opts.batch_size:
                flush()
                n_pending_crops = 0
        flush()
        if writer is not None:
            with timer("overlay"):
                writer.__exit__(None, None, None)
            writer = None
    except BaseException:
        if writer is not None:
            writer.__exit__(*sys.exc_info())
        raise
    kept.clear()

    # Decision.
    score, used = D.video_score(track_scores, q, opts.min_track_frames)
    status = "ok" if score is not None else "no_face"
    tracks_out = []
    for tid in sorted(track_scores):
        s = track_scores[tid]
        ts = D.aggregate_track(s, q)
        tracks_out.append(TrackResult(
            track_id=tid, n_frames=len(s), first_frame=min(track_frames[tid]), last_frame=max(track_frames[tid]),
            score=round(ts, 6), max_frame_score=round(max(s), 6), mean_frame_score=round(float(np.mean(s)), 6),
            used_in_decision=tid in used, probability=None if cal is None else round(cal.probability(ts), 6),
            fake=None if cal is None else cal.is_fake(ts), frames=list(track_frames[tid]),
            frame_scores=[round(v, 6) for v in s], face_px=round(float(np.median(track_px[tid])), 1),
            face_luma=round(float(np.median(track_luma[tid])), 1) if track_luma.get(tid) else None,
            face_chroma=round(float(np.median(track_chroma[tid])), 1) if track_chroma.get(tid) else None))
    main_track = max(tracks_out, key=lambda t: (t.n_frames, t.face_px or 0.0), default=None)
    if main_track is not None:
        main_track.main = True
    if score is None:
        decision, prob = "no_face", None
    elif cal is None:
        decision, prob = "uncalibrated", None
    else:
        decision, prob = ("fake" if cal.is_fake(score) else "real"), round(cal.probability(score), 6)
    stability = None
    if score is not None and cal is not None:
        stability = D.decision_stability([track_scores[t] for t in sorted(used)], cal.threshold, q)
    op = None
    if cal is not None:
        op = {"applies_to": "still photos" if info.is_image and cal.still_threshold is not None else "videos",
              "threshold": cal.threshold, "threshold_probability": round(cal.threshold_probability, 6),
              "target_fpr": cal.target_fpr, "val_fpr": _num(cal.val_fpr), "val_tpr": _num(cal.val_tpr),
              "n_real": cal.n_real, "n_fake": cal.n_fake, "small_sample": cal.small_sample,
              "method": cal.method, "note": cal.note}
    n_face_frames = sum(1 for f in frames_out if f.status == "ok")
    warns = []
    if localizer.meta.get("quality_warning"):
        warns.append(f"model: {localizer.meta['quality_warning']}")
    if len(frames_out) < len(indices):
        warns.append(f"only {len(frames_out)} of {len(indices)} requested frames decoded (truncated or corrupt stream)")
    if cal is None:
        warns.append("the model carries no calibration: no probability or decision, only scores")
    elif cal.small_sample:
        warns.append(cal.note)
        n = cal.n_real_still if info.is_image and cal.still_threshold is not None else cal.n_real - cal.n_real_still
        if f"1/{n + 1} =" not in cal.note:  # models calibrated before the bound was stated
            warns.append(f"the operating point rests on {n} validation real {'photos' if info.is_image else 'videos'}: "
                         f"a new real one like them scores above the highest with probability 1/{n + 1} = "
                         f"{1 / (n + 1):.0%}, unlike footage more often")
    fake_by = [t for t in tracks_out if t.fake and t.used_in_decision]
    decider = max(fake_by, key=lambda t: t.score) if decision == "fake" and fake_by else None
    if decider is not None and main_track is not None and not main_track.fake:
        t = decider
        warns.append(f"the face that decided (track #{t.track_id}, median {t.face_px:.0f} px) is not the video's main "
                     f"face (track #{main_track.track_id}, {main_track.face_px:.0f} px, called real): it may be a "
                     "bystander in the background or at the edge of the frame, where real faces have scored as "
                     "fake; check it in the per-face table and the overlay before acting")
    from .faces import MIN_FACE_SPAN

    def small(t: TrackResult) -> bool:
        return float(np.median(track_span[t.track_id])) < MIN_FACE_SPAN

    judged = [t for t in tracks_out if t.used_in_decision]
    if decider is not None and small(decider):
        t = decider
        warns.append(f"the face that decided (track #{t.track_id}, median {t.face_px:.0f} px) is smaller than any "
                     f"forged face the model was trained on ({MIN_FACE_SPAN:.0f} px of landmarks): upscaled to the "
                     "model's input it is mostly blur, which the model never saw as forged; do not act on this "
                     "decision alone, find a larger copy of the footage")
    elif decision in ("fake", "real") and judged and all(small(t) for t in judged):
        warns.append(f"every face judged is smaller than any forged face the model was trained on "
                     f"({MIN_FACE_SPAN:.0f} px of landmarks): its verdict at this size is not validated; find a "
                     "larger copy of the footage if one exists")
    if decider is not None and decider.face_luma is not None and decider.face_luma < DIM_FACE_LUMA:
        t = decider
        warns.append(f"the face that decided (track #{t.track_id}) is dark (luma {t.face_luma:.0f} of 255, darker than "
                     "two thirds of the real faces the shipped model was measured on): a model trained here scored darker "
                     "real faces higher out of fold, whether from dim light or dark skin (MODEL_CARD), so a real face "
                     "like this one may be nearer to being called fake; do not act on this decision alone")
    grayscale = decision in ("fake", "real") and bool(judged) and all(
        t.face_chroma is not None and t.face_chroma < GRAY_FACE_CHROMA for t in judged)
    if grayscale:
        warns.append(f"grayscale footage (the faces judged have no colour, chroma at most "
                     f"{max(t.face_chroma for t in judged):.1f} of 255): no model here was trained or calibrated on "
                     "black-and-white or infrared footage, and grayscale copies of 19 real clips all scored near the "
                     "shipped model's threshold (P(fake) 0.59-0.77 against 0.70; in colour a median 0.42), two above "
                     f"it: this {decision} verdict is not validated; find a colour copy of the footage if one exists")
    unconfirmed = checks.unconfirmed() if checks is not None else []
    never = [u for u in unconfirmed if not u["confirmed"]]
    if never:
        warns.append(f"{len(never)} face-like detection track(s) (#{', #'.join(str(u['track_id']) for u in never)}; "
                     f"{sum(len(u['frames']) for u in never)} frame(s)) were not confirmed as faces by the second "
                     "detector (dlib MMOD) and were not judged: patterns such as playing cards or posters can look "
                     "like a face to the first one (video.unconfirmed_faces)")
    if status == "no_face":
        warns.append("no face found in any analysed frame: nothing to decide" if not never else
                     "no confirmed face in any analysed frame: nothing to decide")
    meta = media_metadata(path)
    if vfr:
        warns.append("variable frame rate: frame times in this report and the overlay video are the frames' own "
                     "timestamps")
    if meta.get("interlaced"):
        warns.append("interlaced footage (two fields woven into each frame): combing at moving edges was not in "
                     "the training data; deinterlace it (ffmpeg -vf yadif) and analyse again before relying on it")
    if stability and stability["marginal"]:
        lo, hi = stability["score_interval"]
        warns.append(f"marginal decision: other frames of this video could give the other one (score {score:.4g}, "
                     f"{stability['interval_level']:.0%} resampling interval {lo:.4g}-{hi:.4g} around the threshold "
                     f"{cal.threshold:.4g}; {stability['decision_agreement']:.0%} of resamplings agree): analyse more "
                     "frames (--frames, --every) and do not act on this decision alone")

    # The identity scorer's verdict (--person), before the files (the progress stages run in order).
    ident = None
    input_sha = sha256_file(path)
    if identity is not None:
        report_progress("identity", 0, 1)
        with timer("identity"):
            ident = identity_record(identity, path, warns, input_sha, decision)
        report_progress("identity", 1, 1)

    # Files.
    report_progress("write", 0, 1)
    with timer("write"):
        files: dict[str, Any] = {"report": REPORT_JSON, "page": REPORT_HTML}
        if opts.overlay:
            files["overlay"] = OVERLAY_MP4
        key = [it[2] for it in sorted(top, key=lambda it: (-it[0], it[2]))]
        if key:
            from .overlay import contact_sheet, encode_png

            (work / FRAMES_DIR).mkdir()
            for it in top:
                (work / FRAMES_DIR / f"{it[2]}.png").write_bytes(encode_png(it[3]))
            ranked = sorted(top, key=lambda it: (-it[0], it[2]))
            sheet = contact_sheet([it[3] for it in ranked],
                                  [f"frame {it[2]} ({t_of(it[2]):.2f}s)  {it[0] * 100:.1f}%" for it in ranked])
            (work / CONTACT_SHEET_PNG).write_bytes(encode_png(sheet, 3))
            files["contact_sheet"] = CONTACT_SHEET_PNG
            files["frames"] = [f"{FRAMES_DIR}/{i}.png" for i in key]
        top.clear()
        from .overlay import timeline_png

        series = {tid: ([t_of(i) for i in track_frames[tid]], track_scores[tid]) for tid in track_scores}
        title = f"{path.name}: {decision}" + (f" (p={prob:.2f})" if prob is not None else "")
        (work / TIMELINE_PNG).write_bytes(timeline_png(
            [f.time for f in frames_out], [f.score for f in frames_out],
            threshold=cal.threshold if cal else None, track_series=series, title=title,
            duration=None if info.is_image else info.duration, ylabel=f"{means.area} (% of face crop)"))
        files["timeline"] = TIMELINE_PNG

    timings = {k: round(v, 4) for k, v in timer.t.items()}
    timings["total"] = round(time.perf_counter() - t_start, 4)
    timings_cpu = {k: round(v, 4) for k, v in timer.cpu.items()}
    report = Report(
        schema_version=SCHEMA_VERSION,
        status=status,
        input={"path": str(path), "name": path.name, "sha256": input_sha,
               "size_bytes": path.stat().st_size, "width": info.width, "height": info.height, "fps": info.fps,
               "n_frames": info.n_frames, "duration": round(info.duration, 4), "codec": info.codec,
               "is_image": info.is_image, "rotation": info.rotation, "sample_aspect_ratio": info.sample_aspect_ratio,
               "mirrored": info.mirrored, "hdr": info.hdr, "variable_frame_rate": vfr, "metadata": meta,
               "frames_requested": len(indices), "frames_analyzed": len(frames_out),
               "frames_with_face": n_face_frames},
        video={"status": status, "decision": decision, "score": None if score is None else round(score, 6),
               "probability": prob, "calibrated": cal is not None, "operating_point": op, "stability": stability,
               "grayscale": grayscale,
               "n_tracks": len(tracks_out), "deciding_tracks": sorted(used),
               "fake_tracks": [t.track_id for t in fake_by], "unconfirmed_faces": unconfirmed},
        model={"id": localizer.model_id, "sha256": localizer.sha256, "path": str(localizer.path),
               "backend": localizer.backend, "input_size": size,
               "has_frame_head": bool(getattr(localizer, "has_frame_head", False)),
               "target": target, "output": means.heatmap},
        rule={"frame_score": f"fraction of face-crop pixels with {means.heatmap} >= {px_thr} ({means.area})",
              "pixel_threshold": px_thr,
              "region": f"suspected forged region (faces[].region_fraction, the overlay's outline): {means.region}",
              "track_score": f"quantile {q} (order statistic, method=lower) of the track's frame scores",
              "track_quantile": q,
              "video_score": f"max over tracks with >= {opts.min_track_frames} frames (or the longest tracks)",
              "decision": "fake iff video score > operating_point.threshold",
              "stability": "video.stability: the score's interval over block-bootstrap resamplings of the analysed "
                           "frames (decision.decision_stability); marginal when it straddles the threshold",
              "crop": "crop_box(landmark_box(68 landmarks averaged over a window of smooth_window frames), 1.3), "
                      "square, resized to input_size (the training crop rule, localize.data)"},
        options=dataclasses.asdict(opts) | {"detect_every_used": detect_every, "detection": dataclasses.asdict(detection)},
        frames=frames_out,
        tracks=tracks_out,
        overlay={"file": OVERLAY_MP4 if opts.overlay else None, "fps": round(overlay_fps, 6),
                 "frame_indices": [f.index for f in frames_out], "scale": round(scale, 6)},
        key_frames=key,
        files=files,
        warnings=warns,
        timings=timings,
        timings_cpu=timings_cpu,
        versions=versions(),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        identity=ident,
    )
    from .report_page import render_report

    d = report.to_dict()
    write_json(work / REPORT_JSON, d)
    write_text(work / REPORT_HTML, render_report(d))
    report_progress("write", 1, 1)
    return report


def identity_record(identity, path: Path, warns: list[str], sha256: str | None = None,
                    localizer_decision: str | None = None) -> dict[str, Any]:
    """The identity scorer's record for ``path`` (as `localize verify` prints it, without versions),
    with a warning when the scorer cannot judge the file (no face track long enough, or a file
    it cannot read: an error of the identity check, not of the localizer's analysis), and the
    ``disagreement`` note when its verdict differs from the localizer's."""
    from .identity.check import note_disagreement

    try:
        rec = identity.record(path, sha256=sha256)
    except InputError as e:
        rec = {"person": identity.person, "status": "error", "decision": None, "error": e.problem}
        warns.append(f"identity check ({identity.person}): {e.problem}")
        return rec
    if rec["status"] == "no_face":
        warns.append(f"identity check ({rec['person']}): {rec['note']}; no identity verdict")
    return note_disagreement(rec, localizer_decision)


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _draw(img: np.ndarray, fr: FrameResult, draws, running: float | None, cal, px_thr: float, scale: float,
          opts: AnalyzeOptions, means: OutputMeaning) -> np.ndarray:
    import cv2

    from .overlay import GREY, RED, WHITE, FaceDraw, draw_banner, draw_face
    from .video import even_size

    if scale != 1.0:
        h, w = img.shape[:2]
        ov = cv2.resize(img, (max(2, round(w * scale)), max(2, round(h * scale))),
                        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    else:
        ov = img.copy()
    ov = np.ascontiguousarray(even_size(ov))
    for p, cbox, fbox, tid, s, region in draws:
        sb = tuple(v * scale for v in cbox)
        fb = tuple(v * scale for v in fbox)
        draw_face(ov, FaceDraw(prob=p, crop_box=sb, face_box=fb, track_id=tid, score=s, region=region),
                  pixel_threshold=px_thr, opacity=opts.heat_opacity, fake=None if cal is None else cal.is_fake(s))
    line1 = f"frame {fr.index}  t={fr.time:.2f}s  " + (
        f"{means.area} {fr.score * 100:.1f}%" if fr.score is not None else "no face")
    if running is None:
        line2 = "running score: - (no face yet)"
    elif cal is None:
        line2 = f"running score {running * 100:.1f}%  (model uncalibrated: no decision)"
    else:
        verdict = "FAKE" if cal.is_fake(running) else "real"
        line2 = (f"running score {running * 100:.1f}%  p={cal.probability(running):.2f}  "
                 f"thr {cal.threshold * 100:.1f}%  {verdict}")
    colour = GREY if running is None else (RED if cal is not None and cal.is_fake(running) else WHITE)
    draw_banner(ov, [line1, line2], colour)
    return ov


# ----------------------------------------------------------------------------------------------
# Models for the CLI (and the server): the onnx backend can use a .pt checkpoint through a cached export.

def cache_dir() -> Path:
    return Path(os.environ.get("LOCALIZE_CACHE", Path.home() / ".cache" / "localize"))


def open_localizer(model: str | Path | None = None, backend: str = "auto", threads: int | None = None):
    """Load a model for analysis (the shipped default when ``model`` is None).

    ``onnx`` with a .pt checkpoint exports it once to
    ``$LOCALIZE_CACHE/onnx/<sha256>.onnx`` (atomic, verified against torch) and runs
    that; ``auto`` does the same (onnxruntime is 1.5-4x faster than eager torch on
    2 cores) and falls back to torch, with a warning, if the export fails; ``torch``
    runs the checkpoint eagerly. The report names the checkpoint and its hash."""
    from .fileio import sha256_file
    from .model import DEFAULT_MODEL, load_localizer

    path = Path(model) if model is not None else DEFAULT_MODEL
    if backend not in ("auto", "torch", "onnx"):
        raise InputError(None, f"unknown backend {backend!r} (auto, torch or onnx)")
    if backend == "torch" and path.suffix == ".onnx":
        raise InputError(path, "the torch backend needs a .pt checkpoint")
    if path.suffix == ".onnx":
        return _no_spin(load_localizer(path, backend="onnx", threads=threads), path, threads)
    if backend == "torch" or not path.exists():
        return load_localizer(path, backend="torch", threads=threads)
    from .export import METADATA_FORMAT, export_onnx

    sha = sha256_file(path)
    cached = cache_dir() / "onnx" / f"{sha[:32]}-m{METADATA_FORMAT}.onnx"
    try:
        if not cached.exists():
            export_onnx(path, cached)  # a bad checkpoint raises its own InputError here
        loc = _no_spin(load_localizer(cached, backend="onnx", threads=threads), cached, threads)
    except InputError:
        raise
    except Exception as e:
        if backend == "onnx":
            raise InputError(path, f"could not export to ONNX ({type(e).__name__}: {e})") from None
        print(f"localize: warning: ONNX export of {path} failed ({type(e).__name__}: {e}); using torch",
              file=sys.stderr)
        return load_localizer(path, backend="torch", threads=threads)
    loc.path = str(path)  # report the checkpoint the user named, and its own hash
    loc.sha256 = sha
    return loc


def _no_spin(loc, onnx_path: Path, threads: int | None):
    """Re-open the ONNX session with intra-op spin-waiting off: on a machine shared with
    other work, spinning threads burn the CPU the other thread needs (measured on 2
    busy cores: 39 -> 28 ms wall per 160 px crop); on an idle machine it costs little."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        so.intra_op_num_threads = threads
    loc._impl = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return loc
