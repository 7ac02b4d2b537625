"""Refit a model's operating point with the analysis pipeline itself.

The trainer calibrates on validation crops scored inside the training loop (K cached crops
per video). `localize analyze` scores a video from its own tracked frames (32 by default,
onnxruntime), so a validation real whose training-loop score set the threshold can land just
above it in analysis and be called fake. This step scores the model's validation videos
exactly as `localize analyze` does and refits the calibration on those scores; the weights
are untouched. Run it after packaging: ``localize calibrate MODEL --config CONFIG``.
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from .errors import InputError

log = logging.getLogger(__name__)


def validation_sources(cfg: dict) -> list:
    """The validation videos of a training config: the same sources, exclusions and
    identity split as `prepare_data`, without cropping anything."""
    from .training import split_sources

    sources, splits = split_sources(cfg)
    return [s for s in sources if splits.get(s.identity) == "val"]


def score_videos(paths: list[Path], localizer, frames: int = 32) -> list[float | None]:
    """Video scores exactly as `localize analyze` computes them (None: no face found)."""
    from tqdm import tqdm

    from .analyze import AnalyzeOptions, analyze_path
    from .faces import FaceAnalyzer

    fa = FaceAnalyzer()
    opts = AnalyzeOptions(count=frames, overlay=False, key_frames=0)
    scores: list[float | None] = []
    with tempfile.TemporaryDirectory() as td:
        for i, p in enumerate(tqdm(paths, desc="calibrate", unit="video")):
            r = analyze_path(p, Path(td) / str(i), localizer=localizer, options=opts, analyzer=fa)
            scores.append(r.score)
    return scores


def calibrate(model: str | Path, config: str | Path, out: str | Path | None = None, *, frames: int = 32,
              backend: str = "auto", target_fpr: float | None = None) -> dict[str, Any]:
    """Score the validation videos of ``config`` with ``model`` as analysis does, refit the
    calibration, write the model (to ``out``, default in place) with the new calibration and
    the previous one kept as ``calibration_training_loop``. Returns the new calibration."""
    import torch

    from .analyze import open_localizer
    from .decision import Calibration, fit_calibration
    from .fileio import atomic_path
    from .training import load_config
    from .video import is_image

    model = Path(model)
    cfg = load_config(config)
    vals = validation_sources(cfg)
    if not vals:
        raise InputError(Path(config), "the config has no validation videos to calibrate on")
    if not model.exists():
        raise InputError(model, "model file not found")
    try:
        payload = torch.load(model, map_location="cpu", weights_only=False)
    except Exception as e:  # corrupt or foreign file
        raise InputError(model, f"not a localizer checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise InputError(model, "not a localizer checkpoint (.pt) to calibrate")
    try:
        old = Calibration.from_dict(payload.get("calibration"))
    except ValueError:  # an uncalibrated checkpoint: the analysis defaults
        old = Calibration()
    loc = open_localizer(model, backend)
    scores = score_videos([s.video for s in vals], loc, frames)
    kept = [(s, v) for s, v in zip(vals, scores) if v is not None]
    for s, v in zip(vals, scores):
        if v is None:
            log.warning("%s: no face found, left out of the calibration", s.video)
    fpr = float(target_fpr if target_fpr is not None else cfg["train"]["target_fpr"])
    cal = fit_calibration([v for _, v in kept], [s.label for s, _ in kept], fpr,
                          pixel_threshold=old.pixel_threshold, track_quantile=old.track_quantile,
                          still=[is_image(s.video) for s, _ in kept]).to_dict()
    n_real = sum(1 for s, _ in kept if s.label == 0)
    n_photos = sum(1 for s, _ in kept if is_image(s.video))
    cal["fitted_on"] = (f"{len(kept)} validation videos and photos ({n_real} real, {n_photos} photos) scored by "
                        f"`localize analyze` ({frames} frames, {loc.backend} backend)")
    cal["videos"] = [{"video": str(s.video), "label": s.label, "score": v} for s, v in kept]
    if "calibration_training_loop" not in payload and payload.get("calibration"):
        payload["calibration_training_loop"] = payload["calibration"]
    payload["calibration"] = cal
    dst = Path(out) if out else model
    with atomic_path(dst) as tmp:
        torch.save(payload, tmp)
    return cal


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a localizer checkpoint (.pt), e.g. localize/weights/default.pt")
    p.add_argument("--config", "-c", required=True, help="the training config whose validation videos to use")
    p.add_argument("--out", help="write the calibrated model here (default: in place)")
    p.add_argument("--frames", type=int, default=32, help="frames per video, as `localize analyze --frames`")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--target-fpr", type=float, help="default: the config's train.target_fpr")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    cal = calibrate(args.model, args.config, args.out, frames=args.frames, backend=args.backend,
                    target_fpr=args.target_fpr)
    print(json.dumps({k: cal[k] for k in ("threshold", "a", "b", "val_fpr", "val_tpr", "small_sample", "fitted_on")}))
    return 0
