"""Temporal stability and locality of derived masks on the real FF++ c23 pair
(../shared/data/ffpp: Deepfakes 519_515 vs original 519, 640x480, 751 frames).

Targets (issue 2): median IoU between consecutive frames' masks >= 0.8, and at most
2% of mask pixels outside the dilated face box. The face box is an independent dlib
detection (not the derivation's tracker) every ``--every`` frames, dilated by 25% of
its size on each side; the locality figure is measured on those frames.

    python benchmarks/masks_ffpp_c23.py [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localize.faces import FaceAnalyzer  # noqa: E402
from localize.fileio import versions, write_json  # noqa: E402
from localize.video import iter_frames  # noqa: E402
from masks.derive import MaskParams, derive_video_masks, mask_iou  # noqa: E402
from masks.pairs import find_pairs  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--every", type=int, default=10, help="independent face detection every n frames")
    ap.add_argument("--dilate", type=float, default=0.25)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "masks_ffpp_c23.json")
    args = ap.parse_args()
    pair = [p for p in find_pairs(args.data / "ffpp") if p.ok][0]
    params = MaskParams()
    analyzer = FaceAnalyzer()
    r = derive_video_masks(pair.original, pair.manipulated, params, analyzer=analyzer)
    m = r.masks
    ious = np.array([mask_iou(m[i], m[i + 1]) for i in range(len(m) - 1)])
    outside = inside = 0
    checked = no_det = 0
    for idx, frame in iter_frames(pair.original, range(0, len(m), args.every)):
        faces = analyzer.detect(frame, landmarks=False)
        if not faces:
            no_det += 1
            continue
        keep = np.zeros(m[idx].shape, bool)
        for f in faces:
            x0, y0, x1, y1 = f.box
            dx, dy = args.dilate * (x1 - x0), args.dilate * (y1 - y0)
            keep[max(0, int(y0 - dy)):int(np.ceil(y1 + dy)), max(0, int(x0 - dx)):int(np.ceil(x1 + dx))] = True
        outside += int((m[idx] & ~keep).sum())
        inside += int((m[idx] & keep).sum())
        checked += 1
    frac_out = outside / max(1, outside + inside)
    res = {
        "benchmark": "masks_ffpp_c23", "pair": pair.key, "original": str(pair.original),
        "manipulated": str(pair.manipulated), "n_frames": r.n_frames, "params": params.to_dict(),
        "consecutive_iou_median": round(float(np.median(ious)), 4),
        "consecutive_iou_p10": round(float(np.quantile(ious, 0.1)), 4),
        "consecutive_iou_mean": round(float(ious.mean()), 4),
        "outside_dilated_face_box_fraction": round(frac_out, 5),
        "locality_frames_checked": checked, "locality_frames_without_detection": no_det,
        "face_box_dilation": args.dilate,
        "mean_mask_area": round(r.mean_area, 5), "frames_with_empty_mask": int((r.areas == 0).sum()),
        "frames_without_face": r.frames_without_face, "noise": r.noise,
        "alignment": r.alignment.to_dict(), "seconds": round(r.seconds, 2),
        "targets": {"consecutive_iou_median": ">= 0.8", "outside_dilated_face_box_fraction": "<= 0.02"},
    }
    res["pass"] = res["consecutive_iou_median"] >= 0.8 and frac_out <= 0.02
    write_json(args.out, {**res, "versions": versions()})
    print(f"{pair.key}: consecutive-frame IoU median {res['consecutive_iou_median']:.3f} (p10 "
          f"{res['consecutive_iou_p10']:.3f}); {100 * frac_out:.2f}% of mask pixels outside the dilated face box "
          f"({checked} frames); noise {r.noise.get('median')} grey levels -> {'PASS' if res['pass'] else 'FAIL'}")
    print(f"wrote {args.out}")
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
