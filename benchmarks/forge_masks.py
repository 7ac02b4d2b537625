"""Mask derivation (masks.derive) against the forge's exact masks.

Builds (or resumes) a forged corpus from real talking-head clips (default
../shared/data/reals), derives masks from each original/fake pair at c0, c23 and c40
with ``masks.derive.derive_video_masks`` and reports the IoU with the exact blend
masks (pixels summed over all frames of a video; mean and median over videos).

    python benchmarks/forge_masks.py [--reals DIR] [--work DIR] [--max-frames 60]

Writes benchmarks/results/forge_masks.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {"c23": {"faceswap": 0.85, "reenact": 0.7, "lipsync": 0.7, "selfblend": 0.7},
           "c40": {"faceswap": 0.7, "reenact": 0.55, "lipsync": 0.55, "selfblend": 0.55}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reals", default=str(ROOT.parent / "shared" / "data" / "reals"))
    ap.add_argument("--work", default="/tmp/forge_bench_reals")
    ap.add_argument("--max-frames", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--comps", default="c0,c23,c40")
    ap.add_argument("--methods", default=None, help="comma-separated subset (default: all)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "forge_masks.json"))
    args = ap.parse_args()

    from localize.faces import FaceAnalyzer
    from localize.fileio import versions, write_json
    from localize.forge.corpus import build_corpus, fake_path, mask_path, real_path
    from localize.forge.methods import METHODS
    from masks.derive import derive_video_masks
    from masks.maskio import read_mask_video

    t0 = time.time()
    methods = args.methods.split(",") if args.methods else None
    summary = build_corpus(args.work, sources=[args.reals], methods=methods, seed=args.seed,
                           workers=args.workers, max_frames=args.max_frames, progress=False)
    build_s = time.time() - t0
    man = json.loads(Path(summary.manifest).read_text())
    out = Path(args.work)
    analyzer = FaceAnalyzer()
    rows = []
    for f in man["fakes"]:
        m = METHODS[f["method"]]
        exact = read_mask_video(mask_path(out, m, f["name"]))
        for comp in args.comps.split(","):
            d = derive_video_masks(real_path(out, f["target"], comp), fake_path(out, m, f["name"], comp),
                                   analyzer=analyzer)
            inter = np.logical_and(d.masks, exact).sum()
            union = np.logical_or(d.masks, exact).sum()
            frame_ious = [float(np.logical_and(a, b).sum() / max(1, np.logical_or(a, b).sum()))
                          for a, b in zip(d.masks, exact)]
            rows.append({"method": m.key, "name": f["name"], "comp": comp, "iou": float(inter / max(union, 1)),
                         "frame_iou_mean": float(np.mean(frame_ious)),
                         "precision": float(inter / max(d.masks.sum(), 1)),
                         "recall": float(inter / max(exact.sum(), 1)),
                         "exact_fraction": float(exact.mean()), "derived_fraction": float(d.masks.mean())})
            print(f"{m.key:10s} {f['name']} {comp}: IoU {rows[-1]['iou']:.3f} "
                  f"P {rows[-1]['precision']:.2f} R {rows[-1]['recall']:.2f}", flush=True)
    table = {}
    for comp in args.comps.split(","):
        for key in METHODS:
            sel = [r for r in rows if r["method"] == key and r["comp"] == comp]
            if not sel:
                continue
            ious = [r["iou"] for r in sel]
            tgt = TARGETS.get(comp, {}).get(key)
            table.setdefault(comp, {})[key] = {
                "videos": len(sel), "iou_mean": round(float(np.mean(ious)), 4),
                "iou_median": round(float(np.median(ious)), 4), "iou_min": round(float(np.min(ious)), 4),
                "precision_mean": round(float(np.mean([r["precision"] for r in sel])), 4),
                "recall_mean": round(float(np.mean([r["recall"] for r in sel])), 4),
                "target": tgt, "meets_target": None if tgt is None else bool(np.mean(ious) >= tgt)}
    result = {"benchmark": "masks.derive vs forge exact masks", "data": args.reals,
              "corpus": {"reals": summary.reals, "fakes": summary.fakes, "skipped": summary.skipped,
                         "max_frames": args.max_frames, "seed": args.seed, "build_seconds": round(build_s, 1)},
              "iou_rule": "per video: pixels summed over all frames; table: mean/median over videos",
              "table": table, "rows": rows, "seconds": round(time.time() - t0, 1), "versions": versions()}
    write_json(args.out, result)
    print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
