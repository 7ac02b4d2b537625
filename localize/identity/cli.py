"""``localize enroll`` and ``localize verify``: the zero-shot identity scorer.

    localize enroll --person NAME FILES... [--cohort FILES/DIRS] [--profiles DIR]
    localize verify --person NAME VIDEO [--profiles DIR]

A file may carry a time range in seconds, ``clip.mp4@0-15``, to enrol (or verify)
only part of it. Profiles are stored in ``--profiles DIR``, else
``$LOCALIZE_HOME/profiles``, else ``~/.local/share/localize/profiles`` (one folder
per person: profile.json + features.npz). ``verify`` prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ..errors import InputError, NoFaceError

MEDIA = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".png", ".jpg", ".jpeg", ".bmp", ".webp"}
RANGE_RE = re.compile(r"^(?P<path>.+)@(?P<a>\d+(\.\d+)?)-(?P<b>\d+(\.\d+)?)$")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--person", required=True, help="profile name (letters, digits, _ - .)")
    p.add_argument("--profiles", default=None, help="profiles folder (default $LOCALIZE_HOME/profiles or "
                                                    "~/.local/share/localize/profiles)")
    p.add_argument("--cache", default=None, help="feature cache folder (default ~/.cache/localize/features)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_enroll_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="real videos/photos of the person (folders are "
                   "searched); FILE@START-END uses seconds START..END only")
    p.add_argument("--cohort", nargs="*", default=[], metavar="PATH",
                   help="real videos/photos of OTHER people for score normalization (folders are searched); "
                        "other enrolled profiles are always added")
    p.add_argument("--appearance-model", default="nearest", choices=["nearest", "mahalanobis", "ocsvm"])
    p.add_argument("--behaviour-model", default="ocsvm", choices=["nearest", "mahalanobis", "ocsvm"])
    p.add_argument("--fusion", default="sum", choices=["sum", "mean", "max"],
                   help="how family log-odds combine: sum (independent evidence, default), mean or max")
    p.add_argument("--force", action="store_true", help="replace an existing profile of that name")


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("video", help="video (or photo) to score; VIDEO@START-END for a part")
    p.add_argument("--windows", action="store_true", help="include per-window log-odds in the JSON")


def _expand(items: list[str]) -> list[tuple[Path, tuple[float, float] | None]]:
    out = []
    for it in items:
        m = RANGE_RE.match(it)
        path, rng = (Path(m["path"]), (float(m["a"]), float(m["b"]))) if m and not Path(it).exists() else (Path(it), None)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in MEDIA)
            if not files:
                raise InputError(path, "folder holds no videos or photos")
            out += [(f, None) for f in files]
        elif not path.exists():
            raise InputError(path, "no such file")
        else:
            if rng and rng[1] <= rng[0]:
                raise InputError(path, f"empty time range {rng[0]:g}-{rng[1]:g} s")
            out.append((path, rng))
    return out


def _features(cache, params, path: Path, rng, progress: bool):
    from ..video import probe

    fr = None
    if rng is not None:
        info = probe(path)
        fr = (int(rng[0] * info.fps), min(info.n_frames, int(rng[1] * info.fps)))
        if fr[1] <= fr[0]:
            raise InputError(path, f"time range {rng[0]:g}-{rng[1]:g} s is outside the video ({info.duration:.1f} s)")
    return cache.get(path, params, frame_range=fr, progress=progress)


def run_enroll(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..identity.features import FeatureCache, FeatureParams
    from .profile import (ScoringConfig, build_profile, check_name, list_profiles, profile_cohort, profiles_dir,
                          save_profile)

    name = check_name(args.person)
    if name in list_profiles(args.profiles) and not args.force:
        raise InputError(profiles_dir(args.profiles) / name, "profile exists; use --force to replace it")
    params = FeatureParams()
    cache = FeatureCache(args.cache)
    refs_in = _expand(args.files)
    refs = [_features(cache, params, p, r, not args.quiet) for p, r in refs_in]
    labels = [{"range_s": list(r) if r else None} for _, r in refs_in]
    coh_in = _expand(args.cohort) if args.cohort else []
    ref_paths = {p.resolve() for p, _ in refs_in}
    coh_in = [(p, r) for p, r in coh_in if p.resolve() not in ref_paths]
    cohort = [_features(cache, params, p, r, not args.quiet) for p, r in coh_in]
    cohort_labels = [{"path": str(p), "range_s": list(r) if r else None} for p, r in coh_in]
    # other enrolled people join the cohort (their reference windows)
    mats, prof_labels = profile_cohort(name, args.profiles)
    import numpy as np

    from .profile import cohort_matrix

    cfg = ScoringConfig(appearance_model=args.appearance_model, behaviour_model=args.behaviour_model,
                        fusion=args.fusion)
    coh = {}
    for fam in ("appearance", "behaviour"):
        parts = [cohort_matrix(cohort, fam)]
        if len(mats[fam]) and mats[fam].shape[1] == parts[0].shape[1]:
            parts.append(mats[fam].astype(np.float32))
        coh[fam] = np.concatenate(parts)
    prof = build_profile(name, refs, coh, cfg, source_labels=labels, cohort_labels=cohort_labels + prof_labels)
    d = save_profile(prof, args.profiles)
    fams = {f: {"model": fm.kind, "references": len(fm.refs), "cohort_windows": int(len(fm.cohort)),
                "calibration": fm.calibration.method, "threshold_distance": round(fm.calibration.threshold, 4)}
            for f, fm in prof.families.items()}
    if prof.stability is not None:
        fams["stability"] = {"reference_step": round(prof.stability.reference_step, 4),
                             "reference_steps": prof.stability.n_reference_steps,
                             "calibration": "global split-half (stability.py)"}
    print(json.dumps({"person": name, "profile": str(d), "references": prof.sources, "families": fams,
                      "missing_families": [f for f in ("appearance", "behaviour", "stability") if f not in fams],
                      "params": asdict(params)}, indent=2))
    unused = [s["path"] for s in prof.sources if not s.get("used")]
    for u in unused:
        print(f"localize enroll: warning: {u}: no face found, not used", file=sys.stderr)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..fileio import versions
    from ..identity.features import FeatureCache
    from .profile import load_profile, profiles_dir, score_video

    prof = load_profile(args.person, args.profiles)
    (path, rng), = _expand([args.video])
    vf = _features(FeatureCache(args.cache), prof.params, path, rng, not args.quiet)
    res = score_video(prof, vf)
    if res.status == "no_face":
        raise NoFaceError(path, "no face track long enough to score (need a face of >= "
                          f"{prof.params.min_face:g} px for >= {prof.params.min_track_s:g} s)")
    d = res.to_dict()
    if not args.windows:
        for t in d["tracks"]:
            t.pop("window_log_odds", None)
    out = {
        "person": res.person, "video": str(path), "range_s": list(rng) if rng else None, "sha256": res.sha256,
        "status": res.status, "fake_probability": res.fake_probability, "decision": res.decision,
        "threshold": res.threshold, "log_odds": res.log_odds, "families_available": res.families_available,
        "chosen_track": res.chosen_track, "tracks": d["tracks"],
        "rule": {"window_s": prof.params.window_s, "hop_s": prof.params.hop_s,
                 "track": f"{prof.config.track_quantile:g}-quantile of window log-odds per family; "
                          "stability from the whole track",
                 "video": "minimum over tracks (the most person-like face)",
                 "fusion": f"{prof.config.fusion} of the track's family log-odds"},
        "profile": {"path": str(profiles_dir(args.profiles) / prof.name), "created": prof.created,
                    "reference_videos": prof.n_reference_videos,
                    "reference_photos": sum(1 for s in prof.sources if s.get("is_image")),
                    "families": {**{f: {"model": fm.kind, "calibration": fm.calibration.method}
                                    for f, fm in prof.families.items()},
                                 **({"stability": {"model": "reference step log ratio",
                                                   "calibration": "global split-half"}}
                                    if prof.stability else {})}},
        "versions": versions(),
    }
    print(json.dumps(out, indent=2))
    return 0
