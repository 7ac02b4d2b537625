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

from ..errors import InputError
from ..video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

MEDIA = VIDEO_SUFFIXES | IMAGE_SUFFIXES  # what a folder given to enroll contributes, as for analyze

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
            files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in MEDIA
                           and not f.name.startswith("."))  # not macOS ._ resource forks
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


def run_enroll(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .enroll import enroll
    from .features import FeatureCache
    from .profile import ScoringConfig

    cfg = ScoringConfig(appearance_model=args.appearance_model, behaviour_model=args.behaviour_model,
                        fusion=args.fusion)
    cohort = _expand(args.cohort) if args.cohort else []
    prof, d = enroll(args.person, _expand(args.files), cohort, profiles=args.profiles, cache=FeatureCache(args.cache),
                     config=cfg, force=args.force, progress=not args.quiet)
    fams = {f: {"model": fm.kind, "references": len(fm.refs), "cohort_windows": int(len(fm.cohort)),
                "calibration": fm.calibration.method, "threshold_distance": round(fm.calibration.threshold, 4)}
            for f, fm in prof.families.items()}
    if prof.stability is not None:
        fams["stability"] = {"reference_step": round(prof.stability.reference_step, 4),
                             "reference_steps": prof.stability.n_reference_steps,
                             "calibration": "global split-half (stability.py)"}
    print(json.dumps({"person": prof.name, "profile": str(d), "references": prof.sources, "families": fams,
                      "missing_families": [f for f in ("appearance", "behaviour", "stability") if f not in fams],
                      "params": asdict(prof.params)}, indent=2))
    unused = [s["path"] for s in prof.sources if not s.get("used")]
    for u in unused:
        print(f"localize enroll: warning: {u}: no face found, not used", file=sys.stderr)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..fileio import versions
    from .check import IdentityCheck, require_scored
    from .enroll import frame_range

    check = IdentityCheck(args.person, args.profiles, args.cache)
    (path, rng), = _expand([args.video])
    fr = frame_range(path, rng)
    rec = require_scored(check.record(path, fr, range_s=rng, progress=not args.quiet, windows=args.windows), path)
    print(json.dumps({**rec, "versions": versions()}, indent=2))
    return 0
