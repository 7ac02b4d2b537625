"""Decoding, sampling and encoding of videos (PyAV). Nothing else opens video files.

Frames are RGB ``uint8`` arrays (H, W, 3), upright as a player shows them: phone videos
are stored sideways with a display rotation (the container's display matrix, which can also
mirror them), which every player applies, so analysis, training crops and overlays apply it
too. Still images (PNG, JPEG, ...) are read as one-frame videos so every pipeline accepts both
(OpenCV applies a JPEG's EXIF orientation).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import InputError
from .fileio import atomic_path

# What a folder search treats as video (decoding itself accepts whatever FFmpeg can open)
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts",
                  ".gif"}
# HEIC/HEIF (iPhone photos) and AVIF: OpenCV cannot decode them, FFmpeg (PyAV) can
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
# x264 output depends on its thread count; a fixed count keeps outputs byte-identical
# across machines (the forge promises "same seed, same bytes").
X264_THREADS = "2"


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float
    n_frames: int
    codec: str
    is_image: bool = False
    rotation: int = 0  # display rotation applied to the stored frames (degrees counter-clockwise)
    mirrored: bool = False  # the display matrix also mirrors the frames left-right (after the rotation)
    # stored pixels' width / height (QCIF's 128:117, anamorphic SD broadcast, a 16:9 clip squeezed into
    # 640x480): frames are resampled to square pixels before anything sees them, as a player shows them
    sample_aspect_ratio: float = 1.0
    hdr: str | None = None  # the HDR transfer (PQ, HLG) its frames are tone-mapped from (localize.hdr)
    # each frame's presentation time in seconds from the first, display order; () when the
    # timestamps are unusable (and for images)
    times: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps if self.fps else 0.0


def is_image(path: str | Path) -> bool:
    """A still picture: an image suffix and not an animation (animated WebP and PNG are videos)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES and not is_animated(path)


# Animated pictures (social-media clips, stickers): FFmpeg's WebP decoder rejects animated WebP and
# OpenCV reads only their first frame, so these are decoded with Pillow, frame by frame, as videos.
ANIMATED_SUFFIXES = {".webp", ".png"}
_NO_DURATION_S = 0.1  # a frame without a duration shows for 0.1 s, as browsers show it


def is_animated(path: str | Path) -> bool:
    """An animated WebP or PNG (APNG) of two frames or more (Pillow reads the header only)."""
    path = Path(path)
    if path.suffix.lower() not in ANIMATED_SUFFIXES or not path.is_file():
        return False
    from PIL import Image

    try:
        with Image.open(path) as im:
            return bool(getattr(im, "is_animated", False)) and getattr(im, "n_frames", 1) > 1
    except Exception:  # noqa: BLE001 - not a readable picture: read_image says what is wrong
        return False


def _probe_animated(path: Path) -> VideoInfo:
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            fmt = (im.format or path.suffix[1:]).lower()
            durations = []
            for i in range(im.n_frames):
                im.seek(i)
                im.load()  # WebP sets a frame's duration when it is decoded
                d = float(im.info.get("duration") or 0) / 1000
                durations.append(d if d > 0.01 else _NO_DURATION_S)
    except Exception as e:  # noqa: BLE001 - Pillow raises OSError, EOFError, ValueError... on bad data
        raise InputError(path, f"not a readable animated {path.suffix[1:].upper()} ({type(e).__name__}: {e})") from None
    times = tuple(float(t) for t in np.concatenate([[0.0], np.cumsum(durations)[:-1]]))
    return VideoInfo(str(path), int(w), int(h), len(durations) / sum(durations), len(durations), f"{fmt} (animated)",
                     times=times)


def _animated_frames(path: Path, wanted: list[int] | None) -> Iterator[tuple[int, np.ndarray]]:
    from PIL import Image, ImageSequence

    want = None if wanted is None else set(wanted)
    last = max(want) if want else -1
    i = -1
    try:
        with Image.open(path) as im:
            for i, frame in enumerate(ImageSequence.Iterator(im)):
                if want is not None and i > last:
                    return
                if want is None or i in want:
                    yield i, np.asarray(frame.convert("RGB"))
    except Exception as e:  # noqa: BLE001 - a truncated or corrupt animation
        raise InputError(path, f"animated {path.suffix[1:].upper()} unreadable at frame {i + 1} "
                               f"({type(e).__name__}: {e})") from None


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a video or image file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")


def read_image(path: str | Path) -> np.ndarray:
    """Read a still image as RGB uint8."""
    import cv2

    path = Path(path)
    _check_exists(path)
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        rgb = _decode_still(path)
        if rgb is None:
            raise InputError(path, "not a decodable image")
        return rgb
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _decode_still(path: Path) -> np.ndarray | None:
    """First picture of an image file OpenCV cannot read (HEIC, AVIF) via FFmpeg, upright."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            s = video_stream(c)
            for frame in c.decode(s):
                return _display(frame, sample_aspect(s))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return None
    return None


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB (or single-channel) image atomically; format from the suffix."""
    import cv2

    path = Path(path)
    arr = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(path.suffix or ".png", arr)
    if not ok:
        raise InputError(path, "could not encode image")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())


def video_stream(container):
    """The file's main video stream, as FFmpeg chooses it (``av_find_best_stream``): not an
    embedded cover picture or thumbnail stream that a downloader or a muxer placed first."""
    return container.streams.best("video") or container.streams.video[0]


@contextlib.contextmanager
def _open(path: Path):
    import av

    _check_exists(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"not a readable video ({type(e).__name__}: {e})") from None
    try:
        if not container.streams.video:
            raise InputError(path, "contains no video stream")
        if all(s.disposition & av.stream.Disposition.attached_pic for s in container.streams.video):
            raise InputError(path, "holds only an embedded cover picture (an audio file with artwork?), "
                                   "no video to analyse")
        yield container
    finally:
        container.close()


def _quarter_turns(rotation: float | None) -> int:
    """Counter-clockwise quarter turns of a display rotation in degrees (nearest multiple of 90)."""
    return int(round(float(rotation or 0) / 90.0)) % 4


# How a player shows a stored frame: (transpose, mirror left-right, flip upside down), in that order.
Transform = tuple[bool, bool, bool]
IDENTITY: Transform = (False, False, False)
# the counter-clockwise quarter turns of np.rot90 as transforms
_TURNS: tuple[Transform, ...] = (IDENTITY, (True, False, True), (False, True, True), (True, True, False))
# each transform as (degrees counter-clockwise, mirrored): the turn, then a left-right mirror (as
# ffmpeg's -display_rotation and -display_hflip write them)
_DESCRIBED: dict[Transform, tuple[int, bool]] = {
    **{t: (90 * k, False) for k, t in enumerate(_TURNS)},
    (False, True, False): (0, True), (True, True, True): (90, True),
    (False, False, True): (180, True), (True, False, False): (270, True)}


def display_transform(frame) -> Transform:
    """How a player turns and mirrors a decoded frame, as ffmpeg's autorotate does: from the
    frame's display matrix where it is axis-aligned (x' = a x + c y, y' = b x + d y; a mirrored
    phone or webcam recording has a negative determinant, which PyAV's ``rotation`` reports as a
    half turn, so reading only that would turn such a video upside down), else the nearest
    quarter turn of its rotation."""
    for sd in getattr(frame, "side_data", None) or ():
        if "DISPLAYMATRIX" in str(getattr(sd, "type", "")):
            m = np.frombuffer(bytes(sd), "<i4")
            if m.size >= 5:
                a, b, c, d = (int(round(float(m[i]) / 65536.0)) for i in (0, 1, 3, 4))
                if b == c == 0 and abs(a) == abs(d) == 1:
                    return (False, a < 0, d < 0)
                if a == d == 0 and abs(b) == abs(c) == 1:
                    return (True, c < 0, b < 0)
    return _TURNS[_quarter_turns(getattr(frame, "rotation", 0))]


def sample_aspect(stream) -> float:
    """Width / height of a stored pixel (the container's, else the codec's, as FFmpeg reads it);
    1.0 when unset, square within 1 % or implausible (outside 1/4..4)."""
    sar = getattr(stream, "sample_aspect_ratio", None) or getattr(stream.codec_context, "sample_aspect_ratio", None)
    try:
        r = float(sar) if sar else 1.0
    except (TypeError, ZeroDivisionError, ValueError):
        return 1.0
    return r if 0.25 <= r <= 4.0 and abs(r - 1.0) >= 0.01 else 1.0


def _square_width(width: int, sar: float) -> int:
    """The width of a stored row of ``width`` pixels of aspect ``sar`` in square pixels, kept even."""
    return width if sar == 1.0 else max(2, 2 * int(round(width * sar / 2)))


def square_pixels(rgb: np.ndarray, sar: float) -> np.ndarray:
    """A stored frame of non-square pixels resampled to square ones (the width times ``sar``, kept
    even), as a player shows it: faces keep their proportions (a face squeezed to three quarters of
    its width is not a face the model learned), and boxes, masks and overlays share one geometry."""
    if sar == 1.0:
        return rgb
    import cv2

    h, w = rgb.shape[:2]
    nw = _square_width(w, sar)
    return cv2.resize(rgb, (nw, h), interpolation=cv2.INTER_AREA if nw < w else cv2.INTER_CUBIC)


def _display(frame, sar: float) -> np.ndarray:
    """A decoded PyAV frame as a player shows it: HDR tone-mapped to SDR (localize.hdr), square
    pixels, turned and mirrored, contiguous."""
    from .hdr import frame_rgb

    return upright(square_pixels(frame_rgb(frame), sar), display_transform(frame))


def upright(rgb: np.ndarray, transform: Transform) -> np.ndarray:
    """A decoded frame as a player shows it (``transform``: :func:`display_transform`), always
    C-contiguous: PyAV pads the rows of a frame whose width is not a multiple of 16 (854x480,
    a 1080-wide portrait clip), and dlib's HOG detector reads such a strided array wrongly,
    silently and not even repeatably (no face, or different faces, run to run)."""
    if not any(transform):
        return np.ascontiguousarray(rgb)
    t, mirror, flip = transform
    out = rgb.swapaxes(0, 1) if t else rgb
    if mirror:
        out = out[:, ::-1]
    if flip:
        out = out[::-1]
    return np.ascontiguousarray(out)


def _scan(path: Path, c, *, orientation: bool = False) -> tuple[int, list[int], Transform]:
    """One demux pass over the video stream of the open container ``c``: (frames = packets
    with data, their presentation timestamps in display order, or [] when any is missing or
    two coincide, and, with ``orientation``, the display transform of the first frame, decoded from
    the first packets on the way, or after flushing the decoder: no transform when no frame
    decodes)."""
    import av

    s = video_stream(c)
    n, pts, usable, turn = 0, [], True, None if orientation else IDENTITY
    try:
        for pkt in c.demux(s):
            if not pkt.size:
                continue
            n += 1
            if pkt.pts is None:
                usable = False
            elif usable:
                pts.append(int(pkt.pts))
            if turn is None:
                try:
                    for frame in pkt.decode():
                        turn = display_transform(frame)
                        break
                except av.error.FFmpegError:
                    turn = IDENTITY
        if turn is None:  # a short video whose decoder held its frames back: flush it
            try:
                for frame in s.codec_context.decode(None):
                    turn = display_transform(frame)
                    break
            except av.error.FFmpegError:
                turn = IDENTITY
    except av.error.FFmpegError as e:
        raise InputError(path, f"corrupt video stream ({e})") from None
    pts.sort()
    if not usable or len(set(pts)) != len(pts):
        pts = []
    return n, pts, turn or IDENTITY


def probe(path: str | Path) -> VideoInfo:
    """Size as displayed (square pixels, after the display rotation), frame rate, exact frame count (counted
    from packets, not the header) and each frame's time from its timestamp; one demux pass."""
    path = Path(path)
    if is_animated(path):
        return _probe_animated(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:  # a still
        img = read_image(path)
        return VideoInfo(str(path), img.shape[1], img.shape[0], 1.0, 1, "image", True)
    with _open(path) as c:
        s = video_stream(c)
        fps = float(s.average_rate or s.guessed_rate or 25)
        n, pts, transform = _scan(path, c, orientation=True)
        w, h = s.codec_context.width, s.codec_context.height
        sar = sample_aspect(s)
        codec = s.codec_context.name
        tb = s.time_base
        from .hdr import HDR_TRANSFERS

        hdr = HDR_TRANSFERS.get(int(getattr(s.codec_context, "color_trc", 0) or 0))
    if n == 0 or not w or not h:
        raise InputError(path, "video has no frames")
    w = _square_width(w, sar)  # as square_pixels resamples the stored frames
    if transform[0]:
        w, h = h, w
    times = tuple(float((t - pts[0]) * tb) for t in pts) if pts and tb and len(pts) == n else ()
    rotation, mirrored = _DESCRIBED[transform]
    return VideoInfo(str(path), int(w), int(h), fps, n, codec, rotation=rotation, mirrored=mirrored, times=times,
                     sample_aspect_ratio=round(sar, 6), hdr=hdr)


# Wanted frames further apart than this are reached by seeking to the keyframe before them
# instead of decoding everything in between (a 32-frame look at an hour-long video).
SEEK_GAP = 250


def frame_timestamps(path: str | Path) -> list[int]:
    """Presentation timestamps of the video's frames in display order (frame i has the i-th
    smallest pts), from one demux pass (no decoding). Empty when any frame lacks a pts."""
    path = Path(path)
    with _open(path) as c:
        return _scan(path, c)[1]


_EXIF_NAMES = {0x010F: "Make", 0x0110: "Model", 0x0131: "Software", 0x0132: "DateTime", 0x0112: "Orientation"}


def media_metadata(path: str | Path) -> dict:
    """What the file says about where it came from, for the analyst: the container format and
    its tags (an ``encoder`` of Lavf/Lavc means FFmpeg wrote it: not a camera original), the
    video stream's tags, codec profile and pixel format; for photos the EXIF make, model,
    software and date. Informative only: tags are trivial to edit. {} when unreadable."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:  # animated WebP and PNG too: Pillow reads their header
        try:
            from PIL import Image

            with Image.open(path) as im:
                exif = im.getexif()
                return {"format": im.format, "exif": {name: str(exif[tag]) for tag, name in _EXIF_NAMES.items()
                                                      if tag in exif}}
        except Exception:  # noqa: BLE001 - e.g. HEIC, which FFmpeg reads below
            pass
    try:
        import av

        with av.open(str(path)) as c:
            s = video_stream(c)
            order = int(getattr(s.codec_context, "field_order", 0) or 0)  # AVFieldOrder: 1 progressive
            return {"format": c.format.name, "bit_rate": c.bit_rate, "tags": dict(c.metadata),
                    "stream_tags": dict(s.metadata), "profile": s.codec_context.profile,
                    "pix_fmt": s.codec_context.pix_fmt, "interlaced": None if order == 0 else order > 1}
    except Exception:  # noqa: BLE001 - metadata never decides anything; a file that cannot be read fails elsewhere
        return {}


def variable_frame_rate(pts: Sequence[float]) -> bool:
    """Whether frame durations vary (phones in low light, screen recordings): more than 5 % of
    them differ from the median by over 25 % (timestamp rounding, e.g. 33/34 ms, does not count)."""
    if len(pts) < 3:
        return False
    d = np.diff(np.asarray(pts, np.float64))
    med = float(np.median(d))
    return med > 0 and float(np.mean(np.abs(d - med) > 0.25 * med)) > 0.05


def iter_frames(path: str | Path, indices: Iterable[int] | None = None, *,
                seek_gap: int | None = SEEK_GAP) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, rgb)`` for every frame, or only for the sorted ``indices``.

    Frame i is the i-th frame in display order, as a sequential decode numbers it. Frames
    that are not wanted are never converted to RGB (the expensive part). Where wanted frames
    lie more than ``seek_gap`` frames apart, the decoder seeks to the keyframe before the next
    one (located by its pts from a demux pass) and decodes forward from there, which gives the
    same pixels as decoding everything; if the stream's timestamps do not allow that (missing
    or duplicate pts, a frame that never appears), it falls back to one sequential decode.
    """
    path = Path(path)
    wanted = None if indices is None else sorted(set(int(i) for i in indices))
    if is_animated(path):
        yield from _animated_frames(path, wanted)
        return
    if path.suffix.lower() in IMAGE_SUFFIXES:  # a still (is_image without reading the header again)
        if indices is None or 0 in set(indices):
            yield 0, read_image(path)
        return
    if wanted and seek_gap is not None and (
            wanted[0] > seek_gap or any(b - a > seek_gap for a, b in zip(wanted, wanted[1:]))):
        try:
            pts = frame_timestamps(path)
        except InputError:  # a stream that does not demux to the end: decode what does, in order
            pts = []
        if pts:
            done = yield from _seeking(path, wanted, pts, seek_gap)
            if done is None:  # every wanted frame was found
                return
            wanted = [i for i in wanted if i > done]  # the rest, sequentially
            if not wanted or (done >= 0 and wanted[0] >= len(pts)):
                return  # only indices past the last frame are left: nothing more to decode
    yield from _sequential(path, wanted)


def _seeking(path: Path, wanted: list[int], pts: list[int], seek_gap: int):
    """Decode ``wanted`` frames by seeking; returns None when all were yielded, else the last
    index yielded (-1: none) so the caller finishes sequentially."""
    import av

    last = -1
    with _open(path) as c:
        s = video_stream(c)
        s.thread_type = "AUTO"
        sar = sample_aspect(s)
        frames = None
        pos = 0  # index of the last decoded frame
        for i in wanted:
            if i >= len(pts):
                return last
            if frames is None or i - pos > seek_gap:
                # a few frames early: a container seeks by decode time, which B-frames put
                # after the presentation time, and the keyframe must precede the target
                c.seek(pts[max(0, i - 8)], stream=s, backward=True, any_frame=False)
                frames = c.decode(s)
            while True:
                try:
                    frame = next(frames)
                except (StopIteration, av.error.FFmpegError):
                    return last
                j = None if frame.pts is None else _index_of(pts, int(frame.pts))
                if j is None or j > i:  # unplaceable, or the target never appeared: stop seeking
                    return last
                pos = j
                if j == i:
                    break
            yield i, _display(frame, sar)
            last = i
    return None


def _index_of(pts: list[int], value: int) -> int | None:
    import bisect

    j = bisect.bisect_left(pts, value)
    return j if j < len(pts) and pts[j] == value else None


def _sequential(path: Path, wanted: list[int] | None) -> Iterator[tuple[int, np.ndarray]]:
    import av

    with _open(path) as c:
        s = video_stream(c)
        s.thread_type = "AUTO"
        sar = sample_aspect(s)
        pos = 0
        decoded = 0
        try:
            for i, frame in enumerate(c.decode(s)):
                decoded += 1
                if wanted is None:
                    yield i, _display(frame, sar)
                    continue
                while pos < len(wanted) and wanted[pos] < i:
                    pos += 1
                if pos >= len(wanted):
                    break
                if wanted[pos] == i:
                    yield i, _display(frame, sar)
        except av.error.FFmpegError as e:
            if decoded == 0:
                raise InputError(path, f"corrupt video, no frame decodes ({e})") from None
            # A truncated tail: keep what decoded, like ffmpeg does.
        if decoded == 0:
            raise InputError(path, "video has no decodable frames")
        # Frames decoded but none was wanted: the indices lie past the end (a frame count from
        # the header can exceed the stream's), which yields nothing rather than calling the
        # video undecodable.


def read_frames(path: str | Path, indices: Sequence[int] | None = None) -> np.ndarray:
    """All (or the chosen) frames as one (N, H, W, 3) array."""
    frames = [f for _, f in iter_frames(path, indices)]
    return np.stack(frames)


def sample_indices(n_frames: int, *, every: int | None = None, count: int | None = None) -> list[int]:
    """Frame indices: all, every n-th, or ``count`` evenly spaced (centre of equal bins)."""
    if n_frames <= 0:
        return []
    if count is not None:
        if count >= n_frames:
            return list(range(n_frames))
        edges = np.linspace(0, n_frames, count + 1)
        return sorted({int((a + b) / 2) for a, b in zip(edges[:-1], edges[1:])})
    step = max(1, every or 1)
    return list(range(0, n_frames, step))


class VideoWriter:
    """H.264 writer: ``crf`` for FF++-style c23/c40, ``lossless=True`` for c0 (exact RGB).

    Writes to a temporary file and renames on ``close()``; use it as a context manager
    so a failure leaves nothing behind. ``timed``: every :meth:`write` gives the frame's own
    time in seconds, so footage of variable frame rate plays as recorded, not at ``fps``.
    """

    TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 24, 25, 30, 50, 60 and their 1001 variants

    def __init__(self, path: str | Path, fps: float, *, crf: int = 23, lossless: bool = False,
                 preset: str = "medium", deterministic: bool = False, timed: bool = False):
        self.path = Path(path)
        # x264's macroblock-tree rate control reads memory it did not initialise for
        # some frame widths (measured: 320, 400, 480 px give different bytes from run to
        # run with any thread count; 352, 512, 640, 720 do not). ``deterministic`` turns
        # mbtree off, which makes CRF output byte-identical for a given input.
        self.deterministic = deterministic
        self.fps = fps
        self.crf = crf
        self.lossless = lossless
        self.preset = preset
        self.timed = timed
        self._last_pts: int | None = None
        self._ctx = None
        self._container = None
        self._stream = None
        self._sized = False

    def __enter__(self) -> "VideoWriter":
        import av

        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        self._container = av.open(str(tmp), mode="w", format="mp4")
        rate = Fraction(self.fps).limit_denominator(1001)
        if self.lossless:
            self._stream = self._container.add_stream("libx264rgb", rate=rate)
            self._stream.pix_fmt = "rgb24"
            self._stream.options = {"qp": "0", "preset": "ultrafast", "threads": X264_THREADS}
        else:
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": self.preset, "threads": X264_THREADS}
            if self.deterministic:
                self._stream.options = {**self._stream.options, "x264-params": "mbtree=0"}
        if self.timed:
            self._stream.codec_context.time_base = self.TIME_BASE
        return self

    def write(self, rgb: np.ndarray, time: float | None = None) -> None:
        """Append a frame; ``time`` (seconds from the first frame) is required when ``timed``."""
        import av

        s = self._stream
        if not self._sized:
            h, w = rgb.shape[:2]
            if not self.lossless and (h % 2 or w % 2):
                raise InputError(self.path, f"yuv420p needs even frame sizes, got {w}x{h}")
            s.width, s.height = w, h
            self._sized = True
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if self.timed:
            if time is None:
                raise ValueError("a timed VideoWriter needs each frame's time")
            pts = int(round(float(time) / self.TIME_BASE))
            pts = pts if self._last_pts is None or pts > self._last_pts else self._last_pts + 1  # strictly rising
            frame.pts, frame.time_base, self._last_pts = pts, self.TIME_BASE, pts
        for pkt in s.encode(frame):
            self._container.mux(pkt)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for pkt in self._stream.encode():
                    self._container.mux(pkt)
        finally:
            self._container.close()
            self._ctx.__exit__(exc_type, exc, tb)


def even_size(rgb: np.ndarray) -> np.ndarray:
    """Crop one row/column if needed so yuv420p can encode the frame."""
    h, w = rgb.shape[:2]
    return rgb[: h - h % 2, : w - w % 2]


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, *, crf: int = 23,
                lossless: bool = False) -> None:
    with VideoWriter(path, fps, crf=crf, lossless=lossless) as w:
        for f in frames:
            w.write(f if lossless else even_size(f))


def reencode(src: str | Path, dst: str | Path, crf: int) -> None:
    """Re-encode with libx264 at a CRF (FF++ made c23/c40 this way)."""
    info = probe(src)
    write_video(dst, (f for _, f in iter_frames(src)), info.fps, crf=crf)
