"""The forge's manipulation methods: key, FF++-style folder name, ForgeryNet identity tag.

Folder names carry a ``Forge`` prefix so a corpus made here is never mistaken for the
real FF++ methods (Deepfakes, Face2Face, FaceSwap, NeuralTextures, FaceShifter).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from . import faceswap, lipsync, reenact, selfblend

Forger = Callable[..., Iterator[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class Method:
    key: str
    folder: str
    identity: str  # "identity-replaced" | "identity-remained"
    source: str  # what the <source> id names: "face" (swapped in), "driver" (motion), "self"
    forge: Forger
    description: str


METHODS: dict[str, Method] = {
    m.key: m
    for m in (
        Method("faceswap", "ForgeFaceSwap", faceswap.IDENTITY, "face", faceswap.forge,
               "source face warped onto the target (68-point piecewise-affine), colour-matched, feathered hull"),
        Method("reenact", "ForgeReenact", reenact.IDENTITY, "driver", reenact.forge,
               "target's mouth/jaw/brows follow the driver's expression; retrieved mouth; re-rendered face hull"),
        Method("lipsync", "ForgeLipSync", lipsync.IDENTITY, "driver", lipsync.forge,
               "lower-face box re-rendered at 96 px with the driver's mouth motion, feathered box paste"),
        Method("selfblend", "ForgeSelfBlend", selfblend.IDENTITY, "self", selfblend.forge,
               "altered copy of the face blended into itself through a deformed feathered hull (SBI)"),
    )
}


def get(keys: list[str] | None) -> list[Method]:
    """Methods by key (all when None); unknown keys raise ValueError naming the choices."""
    if not keys:
        return list(METHODS.values())
    bad = [k for k in keys if k not in METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {', '.join(bad)}; choose from {', '.join(METHODS)}")
    return [METHODS[k] for k in keys]
