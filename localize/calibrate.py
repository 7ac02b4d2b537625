"""Refit a model's operating point with the analysis pipeline itself.

The trainer calibrates on validation crops scored inside the training loop (K cached crops
per video). `localize analyze` scores a video from its own tracked frames (32 by default,
onnxruntime), so a validation real whose training-loop score set the threshold can land just
above it in analysis and be called fake. This step scores the model's validation videos
exactly as `localize analyze` does and refits the calibration on those scores; the weights
are untouched. Run it after packaging: ``localize calibrate MODEL --config CONFIG``. A
cross-fit ensemble is calibrated out of fold: each fold's validation videos are scored by
the runs that never saw them.

A newsroom can also set the operating point on its own verified footage
(``--reals DIR [--fakes DIR]``): a threshold set above the highest of a handful of validation
reals is the weakest part of a shipped model (a new real like them exceeds it with probability
1/(n+1)), and real videos of the kind an analyst checks are what it should be set on.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import tempfile
from pathlib import Path
from typing import Any, Sequence

from .errors import InputError

log = logging.getLogger(__name__)


def validation_sources(cfg: dict) -> list:
    """The validation videos of a training config: the same sources, exclusions and
    identity split as `prepare_data`, without cropping anything."""
    from .training import split_sources

    sources, splits = split_sources(cfg)
    return [s for s in sources if splits.get(s.identity) == "val"]


def score_media(paths: list[Path], localizer, frames: int = 32
                ) -> tuple[list[float | None], list[tuple[Path, InputError]]]:
    """(scores, unreadable files with their errors): every file is tried, so one corrupt
    video among hundreds of an analyst's reals is named with all the others at once."""
    from tqdm import tqdm

    from .analyze import AnalyzeOptions, analyze_path
    from .faces import FaceAnalyzer

    fa = FaceAnalyzer()
    opts = AnalyzeOptions(count=frames, overlay=False, key_frames=0)
    scores: list[float | None] = []
    bad: list[tuple[Path, InputError]] = []
    with tempfile.TemporaryDirectory() as td:
        for i, p in enumerate(tqdm(paths, desc="calibrate", unit="video")):
            try:
                r = analyze_path(p, Path(td) / str(i), localizer=localizer, options=opts, analyzer=fa)
            except InputError as e:
                bad.append((Path(p), e))
                scores.append(None)
                continue
            scores.append(r.score)
    return scores, bad


def out_of_fold_sources(cfg: dict, payload: dict, config: Path) -> list[list]:
    """Per fold of a cross-fit ensemble, the validation videos ``cfg`` gives that fold: the
    people the fold's runs never saw. The config must split people as the runs did (checked
    against the validation identities each fold recorded), else the scores would be in-sample."""
    from .training import _fold

    k = int(payload["cross_fit"]["folds"])
    if (_fold(cfg) or (None, None))[1] != k:
        raise InputError(config, f"not a {k}-fold cross-fitting config (data.folds), as the model's runs were")
    recorded = (payload.get("data") or {}).get("cross_fit") or {}
    out = []
    for j in range(k):
        c = copy.deepcopy(cfg)
        c["data"]["fold"] = j
        vals = validation_sources(c)
        want = set(((recorded.get(f"fold{j}") or {}).get("val") or {}).get("identities") or [])
        if {s.identity for s in vals} != want:
            raise InputError(config, f"does not give fold {j} the people the model's fold-{j} runs were validated "
                             f"on ({', '.join(sorted(want)) or 'none recorded'}): not this model's config")
        out.append(vals)
    return out


def _score_by_fold(model: Path, payload: dict, items: list, fold_of: list, frames: int, backend: str):
    """(scores, unreadable files, the backend that scored them): items of a cross-fit fold
    scored by that fold's runs alone (:func:`ensemble.member_subset`), the rest by the whole
    model (opened only when some item needs it)."""
    from .analyze import open_localizer

    if len(fold_of) != len(items):
        raise ValueError("every item needs its fold (None: the whole model)")
    scores: list = [None] * len(items)
    bad: list = []
    used = backend
    with tempfile.TemporaryDirectory() as td:
        for j in sorted({f for f in fold_of if f is not None}) + [None]:
            idx = [i for i, f in enumerate(fold_of) if f == j]
            if not idx:
                continue
            if j is None:
                use = open_localizer(model, backend)
            else:
                import torch

                from .ensemble import member_subset

                keep = [i for i, m in enumerate(payload.get("ensemble_of") or []) if m.get("fold") == j]
                if not keep:
                    raise InputError(model, f"no member of fold {j} in this cross-fit ensemble")
                sub = Path(td) / f"fold{j}.pt"
                torch.save(member_subset(payload, keep, model_id_suffix=f"-oof{j}"), sub)
                use = open_localizer(sub, backend)
            used = use.backend
            s, b = score_media([items[i][0] for i in idx], use, frames)
            for i, v in zip(idx, s):
                scores[i] = v
            bad += b
    return scores, bad, used


def footage(paths: Sequence[str | Path], label: int) -> list[tuple[Path, int]]:
    """(file, label) of every video and photo named: files, or folders searched recursively."""
    from .data import sources_from_reals

    out: list[tuple[Path, int]] = []
    for p in paths:
        found = sources_from_reals(p, photos=True)  # InputError naming a path that does not exist
        if not found:
            raise InputError(Path(p), "no videos or photos in this folder")
        out += [(s.video, label) for s in found]
    return out


def calibrate(model: str | Path, config: str | Path | None = None, out: str | Path | None = None, *,
              reals: Sequence[str | Path] = (), fakes: Sequence[str | Path] = (), frames: int = 32,
              backend: str = "auto", target_fpr: float | None = None,
              overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Score videos with ``model`` as analysis does and refit its operating point; write the
    model (to ``out``, default in place) with the new calibration, the one from training kept
    as ``calibration_training_loop``. Returns the new calibration.

    The videos: the validation videos of ``config`` and/or the analyst's own verified
    ``reals`` (and ``fakes``), files or folders. For a cross-fit ensemble, the config's
    videos of each fold are scored by that fold's runs alone (out of fold), the others by
    the whole ensemble. With fakes among them the probability curve is refitted too
    (:func:`decision.fit_calibration`); with reals only the threshold moves and the model's
    curve is kept, shifted (:func:`decision.refit_on_reals`). Unreadable files
    are all named in one InputError and nothing is written."""
    import torch

    from .decision import Calibration, fit_calibration, refit_on_reals
    from .fileio import atomic_path, read_checkpoint
    from .training import load_config
    from .video import is_image

    model = Path(model)
    cfg = load_config(config, overrides) if config else None
    payload = read_checkpoint(model, "localizer checkpoint (.pt) to calibrate", missing="model file not found")
    items: list[tuple[Path, int]] = []
    fold_of: list[int | None] = []  # the cross-fit fold whose runs score each item (None: the whole model)
    if cfg is not None and payload.get("cross_fit"):
        for j, vals in enumerate(out_of_fold_sources(cfg, payload, Path(config))):
            items += [(s.video, s.label) for s in vals]
            fold_of += [j] * len(vals)
    elif cfg is not None:
        vals = validation_sources(cfg)
        if not vals and not reals:
            raise InputError(Path(config), "the config has no validation videos to calibrate on")
        items += [(s.video, s.label) for s in vals]
        fold_of += [None] * len(vals)
    own = footage(reals, 0) + footage(fakes, 1)  # never seen by any run: scored by the whole model
    items += own
    fold_of += [None] * len(own)
    if not items:
        raise InputError(model, "nothing to calibrate on: give --config and/or --reals")
    try:
        old: Calibration | None = Calibration.from_dict(payload.get("calibration"))
    except ValueError:  # an uncalibrated checkpoint
        old = None
    has_fakes = any(lab == 1 for _, lab in items)
    if old is None and not has_fakes:
        raise InputError(model, "the model has no probability curve to keep: give fake videos too (--fakes)")
    scores, bad, used_backend = _score_by_fold(model, payload, items, fold_of, frames, backend)
    if bad:
        for p, e in bad:
            log.error("%s", e)
        raise InputError(bad[0][0] if len(bad) == 1 else None,
                         f"{len(bad)} of {len(items)} files could not be read (named above); fix or remove them "
                         "and run again: nothing was written")
    kept = [(p, lab, v) for (p, lab), v in zip(items, scores) if v is not None]
    for (p, _), v in zip(items, scores):
        if v is None:
            log.warning("%s: no face found, left out of the calibration", p)
    if not any(lab == 0 for _, lab, _ in kept):
        raise InputError(None, "no real video with a face was scored: nothing to set an operating point on")
    fpr = float(target_fpr if target_fpr is not None else (cfg["train"]["target_fpr"] if cfg else old.target_fpr))
    still = [is_image(p) for p, _, _ in kept]
    if has_fakes and any(lab == 1 for _, lab, _ in kept):
        base = old or Calibration()
        new = fit_calibration([v for _, _, v in kept], [lab for _, lab, _ in kept], fpr,
                              pixel_threshold=base.pixel_threshold, track_quantile=base.track_quantile, still=still)
    elif old is None:  # the fakes given had no face, and there is no curve to keep
        raise InputError(None, "no fake video with a face was scored and the model has no probability curve to keep")
    else:
        new = refit_on_reals(old, [v for _, _, v in kept], still=still, target_fpr=fpr)
    cal = new.to_dict()
    n_real = sum(1 for _, lab, _ in kept if lab == 0)
    n_photos = sum(still)
    oof = " (each scored out of fold, by the runs of the fold that never saw it)" if any(
        j is not None for j in fold_of) else ""
    what = " and ".join(w for w in ((f"the validation videos of {config}{oof}" if cfg is not None else ""),
                                   ("the analyst's own footage" if reals or fakes else "")) if w)
    cal["fitted_on"] = (f"{len(kept)} videos and photos ({n_real} real, {n_photos} photos) from {what}, scored by "
                        f"`localize analyze` ({frames} frames, {used_backend} backend)")
    folds = {str(p): j for (p, _), j in zip(items, fold_of)}
    cal["videos"] = [{"video": str(p), "label": lab, "score": v,
                      **({"fold": folds[str(p)]} if folds.get(str(p)) is not None else {})} for p, lab, v in kept]
    cal["no_face"] = [str(p) for (p, _), v in zip(items, scores) if v is None]
    if "calibration_training_loop" not in payload and payload.get("calibration"):
        payload["calibration_training_loop"] = payload["calibration"]
    payload["calibration"] = cal
    dst = Path(out) if out else model
    with atomic_path(dst) as tmp:
        torch.save(payload, tmp)
    return cal


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a localizer checkpoint (.pt), e.g. localize/weights/default.pt")
    p.add_argument("--config", "-c", help="the training config whose validation videos to use (for a cross-fit "
                   "ensemble each fold's videos are scored by that fold's runs: out of fold)")
    p.add_argument("--reals", nargs="+", default=[], metavar="PATH",
                   help="your own verified real videos/photos (files or folders): the operating point is set on "
                        "them; without --fakes the model's probability curve is kept")
    p.add_argument("--fakes", nargs="+", default=[], metavar="PATH",
                   help="known fake videos/photos: refit the probability curve too and measure the TPR")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of --config, as train.py --set (e.g. data.sources for your copy of a dataset)")
    p.add_argument("--out", help="write the calibrated model here (default: in place)")
    p.add_argument("--frames", type=int, default=32, help="frames per video, as `localize analyze --frames`")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--target-fpr", type=float, help="default: the config's train.target_fpr, else the model's")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.overrides and not args.config:
        raise InputError(Path(args.model), "--set changes a config: give --config too")
    if not args.config and not args.reals:
        raise InputError(Path(args.model), "nothing to calibrate on: give --config and/or --reals")
    cal = calibrate(args.model, args.config, args.out, reals=args.reals, fakes=args.fakes, frames=args.frames,
                    backend=args.backend, target_fpr=args.target_fpr, overrides=args.overrides)
    print(json.dumps({k: cal.get(k) for k in ("threshold", "still_threshold", "a", "b", "val_fpr", "val_tpr",
                                              "small_sample", "note", "fitted_on")}))
    return 0
