"""Training data: sources, identity splits, crop cache, sampling, augmentation."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from localize import data as D


def make_tiny_ffpp(root: Path, carphone: Path, analyzer, n_ids: int = 4, frames: int = 30) -> Path:
    """An FF++-layout tree from carphone: ``n_ids`` clips (odd ones mirrored) as
    originals, each with a 'Synth' fake whose inner face (an ellipse from the landmarks)
    is colour-shifted and blurred, its exact mask video and official-style splits."""
    import cv2

    from localize.video import read_frames, write_video
    from masks.maskio import write_mask_video

    allf = read_frames(carphone)
    orig_dir = root / "original_sequences" / "youtube" / "c23" / "videos"
    fake_dir = root / "manipulated_sequences" / "Synth" / "c23" / "videos"
    mask_dir = root / "manipulated_sequences" / "Synth" / "masks" / "videos"
    ids = [f"{i:03d}" for i in range(n_ids)]
    for k, ident in enumerate(ids):
        clip = allf[(k * frames) % len(allf):][:frames]
        if k % 2:
            clip = clip[:, :, ::-1]
        clip = np.ascontiguousarray(clip)
        write_video(orig_dir / f"{ident}.mp4", clip, 25, crf=18)
        fakes, masks = [], []
        lms = None
        for f in clip:
            faces = analyzer.detect(f)
            lms = faces[0].landmarks if faces else lms
            m = np.zeros(f.shape[:2], np.uint8)
            (cx, cy), r = lms[27:68].mean(0), np.ptp(lms[:, 0]) * 0.32
            cv2.ellipse(m, (int(cx), int(cy + r * 0.3)), (int(r), int(r * 1.25)), 0, 0, 360, 1, -1)
            alt = cv2.GaussianBlur(f, (7, 7), 2).astype(np.int16) + np.array([40, -25, 10], np.int16)
            fakes.append(np.where(m[..., None] > 0, np.clip(alt, 0, 255), f).astype(np.uint8))
            masks.append(m > 0)
        partner = ids[k + 1] if k % 2 == 0 else ids[k - 1]
        write_video(fake_dir / f"{ident}_{partner}.mp4", fakes, 25, crf=18)
        write_mask_video(mask_dir / f"{ident}_{partner}.mp4", masks, 25)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    half = n_ids // 2
    pairs = [[ids[i], ids[i + 1]] for i in range(0, n_ids, 2)]
    (root / "splits" / "train.json").write_text(json.dumps(pairs[: max(1, len(pairs) - 1)]))
    (root / "splits" / "val.json").write_text(json.dumps(pairs[max(1, len(pairs) - 1):]))
    (root / "splits" / "test.json").write_text("[]")
    return root


@pytest.fixture(scope="module")
def tiny_ffpp(tmp_path_factory, carphone, face_analyzer) -> Path:
    return make_tiny_ffpp(tmp_path_factory.mktemp("ffpp"), carphone, face_analyzer)
