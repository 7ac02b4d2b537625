"""``localize masks``: derive ground-truth masks for one pair or a whole dataset.

    localize masks derive ORIGINAL MANIPULATED --out DIR     (two videos or two images)
    localize masks dataset ROOT --out DIR [--workers N] [--shard i/N]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from localize.errors import InputError


def _params(args) -> dict:
    out: dict = {}
    for item in args.param or []:
        if "=" not in item:
            raise InputError(None, f"--param {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    if getattr(args, "soft", False):
        out["soft"] = True
    from .derive import MaskParams

    try:
        MaskParams.from_dict(out)
    except (TypeError, ValueError) as e:
        raise InputError(None, f"--param: {e}") from None
    return out


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--soft", action="store_true", help="also write the soft difference maps")
    p.add_argument("--sheet-frames", type=int, default=3, metavar="N",
                   help="frames per contact sheet (0: none; default 3)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="override a derivation parameter (see masks.derive.MaskParams), repeatable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="masks_command", metavar="{derive,dataset}")
    d = sub.add_parser("derive", help="masks for one original/manipulated pair (videos or images)")
    d.add_argument("original", type=Path)
    d.add_argument("manipulated", type=Path)
    _common(d)
    s = sub.add_parser("dataset", help="masks for an FF++ tree, DFDC folder(s) or CSV pair list")
    s.add_argument("root", type=Path, help="dataset folder, or a .csv with original,manipulated[,method,split]")
    _common(s)
    s.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    s.add_argument("--shard", default="1/1", metavar="i/N", help="derive only shard i of N (1-based; default 1/1)")
    s.add_argument("--limit", type=int, default=None, help="at most this many pairs (a quick look)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(_masks_parser=parser)


def run(args) -> int:
    cmd = getattr(args, "masks_command", None)
    if cmd == "derive":
        return _derive(args)
    if cmd == "dataset":
        return _dataset(args)
    args._masks_parser.print_help()
    return 2


def _derive(args) -> int:
    from .dataset import _write_manifest, process_pair
    from .derive import MaskParams
    from .pairs import single_pair

    params = MaskParams.from_dict(_params(args))
    for p in (args.original, args.manipulated):
        if not p.exists():
            raise InputError(p, "no such file")
    pair = single_pair(args.original, args.manipulated)
    row = process_pair(pair, args.out, params, sheet_frames=args.sheet_frames, raise_errors=True)
    _write_manifest(args.out / "manifest.jsonl", {row["key"]: row})
    print(f"{args.manipulated}: {row['n_frames']} frame(s), mean mask area {100 * row['mean_area']:.2f}% "
          f"-> {args.out / row['mask']}" + (f" (sheet {args.out / row['sheet']})" if row.get("sheet") else ""))
    return 0


def _dataset(args) -> int:
    from .dataset import derive_dataset, parse_shard

    shard = parse_shard(args.shard)
    if args.workers < 1:
        raise InputError(None, f"--workers {args.workers}: must be at least 1")
    summary = derive_dataset(args.root, args.out, workers=args.workers, shard=shard, params=_params(args),
                             sheet_frames=args.sheet_frames, progress=not args.no_progress, limit=args.limit)
    print(f"{summary.total} pair(s): {summary.ok} derived, {summary.skipped} already done, "
          f"{summary.failed} failed; manifest {summary.manifest}")
    for key, reason in summary.bad:
        print(f"  FAILED {key}: {reason}", file=sys.stderr)
    return summary.exit_code
