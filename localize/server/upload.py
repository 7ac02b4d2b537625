"""Uploads: the multipart body is streamed straight to a file in the results folder
with a byte cap, then its content is sniffed and probed.

Nothing the client sends is used as a path: the file is stored under a name the
server chooses, with a suffix picked from the sniffed content (the decoder treats
images and videos differently by suffix). The client's filename is kept only as a
display string.
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import InputError

FILE_FIELD = "file"
MAX_FIELDS = 16
MAX_FIELD_BYTES = 1024
HEAD_BYTES = 512


class UploadError(Exception):
    """A rejected upload: an HTTP status and one clear line for the client."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Upload:
    path: Path  # server-chosen name (a .part file until the content is known)
    size: int
    filename: str  # the client's name, sanitized, for display only
    fields: dict[str, str] = field(default_factory=dict)
    head: bytes = b""


def display_name(name: str | None) -> str:
    """A safe display string from a client filename: its last component, printable, short."""
    if not name:
        return "upload"
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"[^\w.\- ()+,]", "_", name)[:120].strip(" .")
    return name or "upload"


class _Collector:
    """Callbacks for python-multipart's streaming parser."""

    def __init__(self, dest: Path, max_bytes: int):
        self.dest = dest
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self.head = b""
        self.file_seen = False
        self._fh = None
        self._headers: dict[str, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._part: tuple[str, str | None] | None = None  # (field name, filename)
        self._buf = bytearray()
        self.error: UploadError | None = None

    def callbacks(self) -> dict:
        return dict(on_part_begin=self._begin, on_part_data=self._data, on_part_end=self._end,
                    on_header_field=self._hfield, on_header_value=self._hval, on_header_end=self._hend,
                    on_headers_finished=self._hdone)

    def _begin(self) -> None:
        self._headers, self._part, self._buf = {}, None, bytearray()

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _hval(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def _hend(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def _hdone(self) -> None:
        disp, params = parse_options_header(self._headers.get("content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        fname = params.get(b"filename")
        self._part = (name, None if fname is None else fname.decode("utf-8", "replace"))
        if name == FILE_FIELD:
            if self.file_seen:
                raise UploadError(400, "send exactly one file in the 'file' field")
            self.file_seen = True
            self.filename = self._part[1]
            self._fh = open(self.dest, "wb")
        elif len(self.fields) >= MAX_FIELDS:
            raise UploadError(400, "too many form fields")

    def _data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._part is None:
            return
        if self._part[0] == FILE_FIELD:
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise UploadError(413, f"upload exceeds the {self.max_bytes / 2**20:.0f} MB limit")
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            self._fh.write(chunk)
        else:
            self._buf += chunk
            if len(self._buf) > MAX_FIELD_BYTES:
                raise UploadError(400, f"form field '{self._part[0][:40]}' is too long")

    def _end(self) -> None:
        if self._part is None:
            return
        if self._part[0] == FILE_FIELD:
            self._fh.close()
            self._fh = None
        else:
            self.fields[self._part[0]] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


async def receive_upload(headers, stream: AsyncIterator[bytes], dest: Path, max_bytes: int) -> Upload:
    """Stream a multipart/form-data body to ``dest`` (the part named ``file``), never
    holding more than one network chunk in memory and stopping at ``max_bytes``.
    On any error ``dest`` is removed and an :class:`UploadError` raised."""
    ctype, params = parse_options_header(headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, "send the video or image as multipart/form-data in a field named 'file'")
    length = headers.get("content-length")
    if length is not None:
        try:
            # Reject early what cannot fit (the multipart envelope adds well under 64 KB).
            if int(length) > max_bytes + 65536:
                raise UploadError(413, f"upload exceeds the {max_bytes / 2**20:.0f} MB limit")
        except ValueError:
            raise UploadError(400, "bad Content-Length header") from None
    col = _Collector(dest, max_bytes)
    parser = MultipartParser(params[b"boundary"], col.callbacks())
    try:
        async for chunk in stream:
            if chunk:
                parser.write(chunk)
        parser.finalize()
        if not col.file_seen:
            raise UploadError(400, "no file: send the video or image in a form field named 'file'")
        if col.size == 0:
            raise UploadError(415, "the uploaded file is empty")
    except UploadError:
        col.close()
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        raise
    except Exception as e:  # malformed multipart, client went away
        col.close()
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        raise UploadError(400, f"malformed upload ({type(e).__name__})") from None
    return Upload(path=dest, size=col.size, filename=display_name(col.filename), fields=col.fields, head=col.head)


# Magic numbers of the containers and image formats the decoders accept. Anything else
# is refused before any decoder sees it.
def sniff(head: bytes) -> tuple[str, str] | None:
    """(kind 'image'|'video', suffix) from the first bytes, or None if unrecognized."""
    h = head
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", ".png"
    if h.startswith(b"\xff\xd8\xff"):
        return "image", ".jpg"
    if h[:4] == b"RIFF" and h[8:12] == b"WEBP":
        return "image", ".webp"
    if h[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", ".tif"
    if h.startswith(b"BM") and len(h) >= 26:
        return "image", ".bmp"
    if h[4:8] == b"ftyp" and h[8:12] in (b"heic", b"heix", b"heim", b"heis", b"mif1"):
        return "image", ".heic"  # iPhone photos (HEIF still image)
    if h[4:8] == b"ftyp" and h[8:12] == b"avif":
        return "image", ".avif"
    if h[4:8] == b"ftyp":
        return "video", ".mp4"
    if h[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video", ".mov"
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", ".mkv"
    if h[:4] == b"RIFF" and h[8:12] == b"AVI ":
        return "video", ".avi"
    if h.startswith(b"FLV"):
        return "video", ".flv"
    if h.startswith(b"OggS"):
        return "video", ".ogv"
    if h.startswith(b"\x00\x00\x01\xba"):
        return "video", ".mpg"
    if len(h) > 376 and h[0] == h[188] == h[376] == 0x47:  # MPEG-TS sync bytes
        return "video", ".ts"
    if h.startswith((b"GIF87a", b"GIF89a")):
        return "video", ".gif"
    return None


@dataclass
class MediaInfo:
    kind: str  # image | video
    width: int
    height: int
    fps: float
    n_frames: int
    duration_s: float
    codec: str


def check_media(upload: Upload, job_dir: Path, *, max_duration_s: float, max_pixels: int) -> tuple[Path, MediaInfo]:
    """Sniff and probe the upload; move it to ``job_dir/input<suffix>``.

    Raises UploadError 415 (not a decodable video or image) or 413 (too long, too many
    pixels). The decoder's message is passed on without the server's path."""
    from ..video import probe

    sniffed = sniff(upload.head)
    if sniffed is None:
        raise UploadError(415, "not a video or image format this server decodes "
                               "(MP4/MOV, MKV/WebM, AVI, MPEG, GIF, PNG, JPEG, WebP, BMP, TIFF, HEIC, AVIF)")
    kind, suffix = sniffed
    target = job_dir / f"input{suffix}"
    job_dir.mkdir(parents=True, exist_ok=True)
    os.replace(upload.path, target)
    try:
        info = probe(target)
    except InputError as e:
        problem = e.problem.replace(str(target), "the upload").replace(str(job_dir), "")
        raise UploadError(415, f"not a decodable {kind}: {problem}") from None
    except Exception as e:  # a decoder failure the probe did not anticipate
        raise UploadError(415, f"not a decodable {kind} ({type(e).__name__})") from None
    if info.width * info.height > max_pixels:
        raise UploadError(413, f"frames of {info.width}x{info.height} exceed this server's "
                               f"{max_pixels / 1e6:.1f} megapixel limit")
    if not info.is_image and info.duration > max_duration_s:
        raise UploadError(413, f"the video lasts {info.duration:.1f} s; this server accepts at most "
                               f"{max_duration_s:g} s")
    media = MediaInfo(kind="image" if info.is_image else "video", width=info.width, height=info.height,
                      fps=float(info.fps), n_frames=int(info.n_frames), duration_s=round(info.duration, 3),
                      codec=info.codec)
    return target, media
