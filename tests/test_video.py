"""Decoding (localize/video.py): sparse frames reached by seeking are the frames a sequential
decode gives, pixel for pixel, and timestamps that do not allow seeking fall back to it."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from localize import video as V


def _frames(path, indices, seek_gap):
    return dict(V.iter_frames(path, indices, seek_gap=seek_gap))


@pytest.fixture(scope="module")
def short_gop(carphone, tmp_path_factory):
    """The carphone clip as H.264 with B-frames and a keyframe every 12 frames (looped to 360)."""
    import imageio_ffmpeg

    out = tmp_path_factory.mktemp("v") / "gop12.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-stream_loop", "2", "-i",
                    str(carphone), "-c:v", "libx264", "-g", "12", "-bf", "3", "-crf", "28", str(out)], check=True)
    return out


def test_seeking_gives_the_sequential_frames(short_gop):
    n = V.probe(short_gop).n_frames
    pts = V.frame_timestamps(short_gop)
    assert len(pts) == n and pts == sorted(pts)
    want = sorted(set(V.sample_indices(n, count=16)) | {0, 1, 13, 35, n - 1})
    seq = _frames(short_gop, want, None)
    for gap in (1, 5, 40):
        got = _frames(short_gop, want, gap)
        assert list(got) == list(seq) == want
        assert all(np.array_equal(got[i], seq[i]) for i in want), gap


def test_indices_past_the_end_yield_nothing(short_gop):
    """A header's frame count can exceed the stream's: indices past the last frame are skipped,
    after a seek or in order, and neither the frames before them nor the video are lost."""
    n = V.probe(short_gop).n_frames
    for gap in (None, 5):
        got = _frames(short_gop, [0, n - 1, n + 3, n + 40], gap)
        assert list(got) == [0, n - 1], gap
        assert _frames(short_gop, [n + 3], gap) == {}, gap


def test_seeking_on_real_footage(shared_data):
    """Long-GOP H.264 (FF++ c23) and VP9 (GHOST): every sampled frame identical."""
    for path in (shared_data / "ffpp/original_sequences/youtube/c23/videos/519.mp4",
                 shared_data / "pairs/ghost/swap_mark.webm"):
        n = V.probe(path).n_frames
        want = V.sample_indices(n, count=12)
        seq, got = _frames(path, want, None), _frames(path, want, 2)
        assert list(got) == list(seq) == want and all(np.array_equal(got[i], seq[i]) for i in want), path


def test_frames_of_an_unaligned_width_are_contiguous(carphone, tmp_path):
    """PyAV pads the rows of a frame whose width is not a multiple of 16 (616 here, 854x480 in the
    wild); dlib reads such strided arrays wrongly, so every decoded frame is handed on contiguous,
    sequential or sought, and equal to what FFmpeg decodes."""
    import imageio_ffmpeg

    frames = [np.ascontiguousarray(np.pad(f, ((0, 0), (0, 616 - f.shape[1]), (0, 0)), mode="edge"))
              for f in V.read_frames(carphone)[:30]]
    path = tmp_path / "w616.mp4"
    V.write_video(path, frames, 25, crf=18)
    seq, sought = _frames(path, [0, 7, 29], None), _frames(path, [0, 7, 29], 2)
    assert seq[7].shape == (144, 616, 3)
    assert all(f.flags["C_CONTIGUOUS"] for f in [*seq.values(), *sought.values()])
    reader = imageio_ffmpeg.read_frames(str(path))
    next(reader)
    ref = [np.frombuffer(b, np.uint8).reshape(144, 616, 3) for b in reader]
    assert all(np.array_equal(seq[i], ref[i]) and np.array_equal(sought[i], ref[i]) for i in seq)


def test_anamorphic_frames_are_shown_with_square_pixels(carphone, tmp_path):
    """Stored pixels that are not square (carphone's 128:117, QCIF's 4:3 picture; SAR 4:3, a 16:9 picture squeezed into
    4:3 storage, as one registry webcam clip has) decode as a player shows them, sequential or sought,
    and probe says so: faces keep their proportions, and boxes and overlays share one geometry."""
    import cv2
    import imageio_ffmpeg

    info = V.probe(carphone)
    assert (info.width, info.height, info.sample_aspect_ratio) == (192, 144, pytest.approx(128 / 117, abs=1e-4))
    path = tmp_path / "sar43.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(carphone), "-t", "2",
                    "-vf", "scale=176:144,setsar=4/3", "-c:v", "libx264", "-g", "12", "-crf", "18", str(path)],
                   check=True)
    info = V.probe(path)
    assert (info.width, info.height, info.sample_aspect_ratio) == (234, 144, pytest.approx(4 / 3, abs=1e-4))
    seq, sought = _frames(path, [0, 7, 40], None), _frames(path, [0, 7, 40], 2)
    assert all(f.shape == (144, 234, 3) and f.flags["C_CONTIGUOUS"] for f in [*seq.values(), *sought.values()])
    assert all(np.array_equal(seq[i], sought[i]) for i in seq)
    shown = V.read_frames(carphone, [7])[0]  # the same picture at carphone's own aspect
    back = cv2.resize(seq[7], (shown.shape[1], 144), interpolation=cv2.INTER_AREA)
    assert np.abs(back.astype(np.float32) - shown).mean() < 6  # only the re-encode and resampling differ


def test_unusable_timestamps_fall_back_to_sequential(short_gop, monkeypatch):
    monkeypatch.setattr(V, "frame_timestamps", lambda path: [])  # e.g. a stream without pts
    n = V.probe(short_gop).n_frames
    want = [3, n // 2, n - 2]
    assert list(_frames(short_gop, want, 1)) == want

    def broken(path):  # a stream that does not demux to the end
        raise V.InputError(path, "corrupt video stream")

    monkeypatch.setattr(V, "frame_timestamps", broken)
    assert list(_frames(short_gop, want, 1)) == want
    # a pts list that does not match the stream: what was found is kept, the rest decoded in order
    monkeypatch.setattr(V, "frame_timestamps", lambda path: [t * 3 + 1 for t in range(n)])  # matches no frame
    got = _frames(short_gop, want, 1)
    seq = _frames(short_gop, want, None)
    assert list(got) == want and all(np.array_equal(got[i], seq[i]) for i in want)


def test_photos_opencv_cannot_read_are_decoded_by_ffmpeg(tmp_path, monkeypatch):
    """iPhone photos are HEIC, which OpenCV cannot decode; FFmpeg can (checked by hand on a
    pillow-heif HEIC of the astronaut: same face, score within 0.003 of the PNG's). Here OpenCV
    is made to fail so the fallback reads a PNG; an undecodable file is still one clear error."""
    import cv2

    from localize.errors import InputError
    from localize.media import astronaut_image

    assert {".heic", ".heif", ".avif"} <= V.IMAGE_SUFFIXES
    img = astronaut_image()
    V.write_image(tmp_path / "a.png", img)
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: None)
    got = V.read_image(tmp_path / "a.png")
    assert got.shape == img.shape and np.array_equal(got, img)
    (tmp_path / "b.heic").write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="b.heic: not a decodable image"):
        V.read_image(tmp_path / "b.heic")


@pytest.mark.parametrize("suffix", [".webp", ".png", ".gif"])
def test_animated_pictures_are_read_as_videos(tmp_path, suffix):
    """Social-media clips come as animated WebP, PNG (APNG) and GIF. FFmpeg's WebP decoder rejects
    animated files and OpenCV reads only their first frame, which would judge one frame of a clip in
    silence: every frame is read, each at its own time, and a still picture stays a photo."""
    from PIL import Image

    from localize.errors import InputError
    from localize.media import astronaut_image

    a = astronaut_image()
    frames = [Image.fromarray(np.roll(a, 8 * i, axis=1)) for i in range(5)]
    path = tmp_path / f"clip{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[40, 40, 80, 0, 40], loop=0)
    assert not V.is_image(path) and suffix in V.VIDEO_SUFFIXES | V.ANIMATED_SUFFIXES
    info = V.probe(path)
    assert (info.is_image, info.n_frames, info.width, info.height) == (False, 5, 512, 512)
    if suffix != ".gif":  # GIF durations are centiseconds, as FFmpeg reads them
        assert info.times == pytest.approx((0, 0.04, 0.08, 0.16, 0.26))  # no duration: shown for 0.1 s
    got = dict(V.iter_frames(path, [1, 3]))
    assert sorted(got) == [1, 3] and got[1].shape == a.shape
    err = np.abs(got[1].astype(int) - np.asarray(frames[1])).mean()
    assert err < (0.1 if suffix == ".png" else 10)  # WebP is lossy, GIF paletted
    frames[0].save(tmp_path / "still.webp")
    assert V.is_image(tmp_path / "still.webp") and V.probe(tmp_path / "still.webp").n_frames == 1
    if suffix == ".png":  # a truncated animation: one error naming the file and the frame
        (tmp_path / "cut.png").write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
        with pytest.raises(InputError, match=r"cut.png: not a readable animated PNG"):
            V.probe(tmp_path / "cut.png")
        with pytest.raises(InputError, match=r"cut.png: animated PNG unreadable at frame \d"):
            list(V.iter_frames(tmp_path / "cut.png"))


def test_a_cover_picture_stream_placed_first_is_not_the_video(carphone, tmp_path):
    """Downloaders and muxers embed a thumbnail as a one-frame picture stream, sometimes before the
    video: the video analysed is the one FFmpeg would play, not the first stream listed."""
    import imageio_ffmpeg

    from localize.media import astronaut_image

    V.write_image(tmp_path / "cover.png", astronaut_image())
    path = tmp_path / "with_cover.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(tmp_path / "cover.png"),
                    "-i", str(carphone), "-map", "0", "-map", "1:v", "-c:v:0", "png", "-c:v:1", "copy", str(path)],
                   check=True)
    info = V.probe(path)
    assert (info.codec, info.n_frames, info.height) == ("h264", V.probe(carphone).n_frames, 144)
    got = dict(V.iter_frames(path, [0, 100]))
    want = dict(V.iter_frames(carphone, [0, 100]))
    assert all(np.array_equal(got[i], want[i]) for i in (0, 100))
    assert V.media_metadata(path)["pix_fmt"] == "yuv420p"


def test_an_audio_file_with_cover_art_is_refused_not_analysed_as_a_picture(tmp_path):
    """An MP3 or M4A with artwork has one video stream, the cover (disposition attached_pic):
    judging that picture as if it were the recording would be a verdict on the wrong thing."""
    import imageio_ffmpeg

    from localize.media import astronaut_image

    V.write_image(tmp_path / "cover.png", astronaut_image())
    for name, codec in (("song.mp3", "libmp3lame"), ("song.m4a", "aac")):
        path = tmp_path / name
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                        "sine=duration=1", "-i", str(tmp_path / "cover.png"), "-map", "0", "-map", "1",
                        "-c:a", codec, "-c:v", "png", "-disposition:v:0", "attached_pic", str(path)], check=True)
        for read in (V.probe, lambda p: list(V.iter_frames(p))):
            with pytest.raises(V.InputError, match=rf"{name}: holds only an embedded cover picture"):
                read(path)


def test_media_metadata_says_what_wrote_the_file(carphone, short_gop, tmp_path):
    """Container tags for the analyst: an FFmpeg re-encode names its encoder; photos give EXIF."""
    from PIL import Image

    from localize.media import astronaut_image

    m = V.media_metadata(short_gop)
    assert m["format"].startswith("mov") and m["tags"]["encoder"].startswith("Lavf") and m["pix_fmt"] == "yuv420p"
    assert "libx264" in m["stream_tags"].get("encoder", "") and m["interlaced"] is False
    im = Image.fromarray(astronaut_image())
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Canon", "EOS 5D", "Adobe Photoshop 25.0"
    im.save(tmp_path / "p.jpg", exif=exif)
    assert V.media_metadata(tmp_path / "p.jpg") == {"format": "JPEG", "exif": {
        "Make": "Canon", "Model": "EOS 5D", "Software": "Adobe Photoshop 25.0"}}
    (tmp_path / "x.mp4").write_bytes(b"junk")
    assert V.media_metadata(tmp_path / "x.mp4") == {}


def test_variable_frame_rate_is_detected(carphone, vfr_clip, shared_data):
    assert not V.variable_frame_rate([0, 33, 67, 100, 133, 167, 200])  # 30 fps in ms ticks: rounding only
    assert V.variable_frame_rate([0, 40, 80, 120, 200, 280, 360, 440])  # 25 then 12.5 fps
    assert V.variable_frame_rate(V.frame_timestamps(vfr_clip))
    times = V.probe(vfr_clip).times  # seconds from the first frame, from probe's one demux pass
    assert V.variable_frame_rate(times) and times[0] == 0 and times[100] == pytest.approx(5.6, abs=0.01)
    assert not V.variable_frame_rate(V.frame_timestamps(carphone))
    # real footage does this: reals/talking_09 alternates 33 ms and 67 ms frames (dropped frames)
    assert V.variable_frame_rate(V.frame_timestamps(shared_data / "reals" / "talking_09.mp4"))


def test_timed_writer_keeps_each_frames_time(tmp_path):
    """VideoWriter(timed=True): frames at their own times (variable frame rate), read back exactly."""
    times = [0.0, 0.04, 0.08, 0.2, 0.28, 1.0, 1.04]
    frames = np.random.default_rng(0).integers(0, 255, (len(times), 32, 48, 3), dtype=np.uint8)
    with V.VideoWriter(tmp_path / "t.mp4", 25, timed=True, preset="ultrafast") as w:
        for f, t in zip(frames, times):
            w.write(f, time=t)
    assert V.probe(tmp_path / "t.mp4").times == pytest.approx(times, abs=1e-4)
    with pytest.raises(ValueError, match="time"), V.VideoWriter(tmp_path / "u.mp4", 25, timed=True) as w:
        w.write(frames[0])
    assert not (tmp_path / "u.mp4").exists()


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_display_matrix_as_ffmpeg_applies_it(carphone, tmp_path, rotation):
    """Every turn and mirror a display matrix can hold (ffmpeg -display_rotation, -display_hflip,
    -display_vflip) gives the frame ffmpeg's own autorotate gives, and probe's size matches it."""
    import subprocess

    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    for hflip in (False, True):
        for vflip in (False, True):
            f = tmp_path / f"r{rotation}{int(hflip)}{int(vflip)}.mp4"
            subprocess.run([ff, "-y", "-loglevel", "error", "-display_rotation", str(rotation),
                            *(["-display_hflip"] if hflip else []), *(["-display_vflip"] if vflip else []),
                            "-i", str(carphone), "-frames:v", "1", "-c", "copy", str(f)], check=True)
            # ffmpeg's raw output keeps carphone's non-square pixels (128:117): resampled to square ones
            # after its autorotate, which turns the pixel aspect with the frame
            square = ("scale=w='trunc(if(gte(sar,1),iw*sar,iw)/2)*2':h='trunc(if(gte(sar,1),ih,ih/sar)/2)*2'"
                      ":flags=bicubic,setsar=1")
            ref = subprocess.run([ff, "-loglevel", "error", "-i", str(f), "-frames:v", "1", "-vf", square,
                                  "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
            got = next(V.iter_frames(f))[1]
            info = V.probe(f)
            assert (info.height, info.width, 3) == got.shape and len(ref) == got.size, (hflip, vflip)
            want = np.frombuffer(ref, np.uint8).reshape(got.shape)
            assert np.abs(want.astype(int) - got).mean() < 3, (hflip, vflip)
            if not vflip:
                assert (info.rotation, info.mirrored) == (rotation, hflip)
