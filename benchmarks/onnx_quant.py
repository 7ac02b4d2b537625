"""int8 static quantization of the exported model: speed-up and IoU change on held-out
face crops with ground-truth masks (issue 6: ship int8 only if the IoU drop < 1 point).

    nice -n 10 python benchmarks/onnx_quant.py [--model M.pt] [--rounds 3]

Calibration crops (for the int8 activation ranges): real clips ../shared/data/reals/
talking_0{1,2,3}.mp4 (16 frames each). Held-out evaluation crops: manipulated
frames of the GHOST pairs (../shared/data/pairs/ghost, every 6th frame) and of the
FF++ c23 pair 519_515 (every 25th frame), masks derived from the aligned pairs by
masks.derive (the ground truth the trainer uses), plus the matching original crops
(all-zero masks). Crops follow the analysis crop rule, landmarks from the original.
IoU = pooled pixel IoU over the fake crops at p >= 0.5.
Writes benchmarks/results/onnx_quant.json.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("LOCALIZE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pair_crops(original: Path, manipulated: Path, every: int, size: int, analyzer, limit: int = 40):
    """(fake crops, gt masks, real crops) at every ``every``-th frame of an aligned pair."""
    import numpy as np

    from localize.faces import crop, crop_box, crop_mask, landmark_box
    from masks.derive import iter_derive

    fakes, gts, reals = [], [], []
    for r in iter_derive(original, manipulated, analyzer=analyzer):
        if r.index % every:
            continue
        faces = analyzer.detect(r.original)
        if not faces:
            continue
        box = crop_box(landmark_box(faces[0].landmarks), 1.3)
        fakes.append(crop(r.manipulated, box, size))
        gts.append(crop_mask(r.mask.astype(np.uint8) * 255, box, size) >= 128)
        reals.append(crop(r.original, box, size))
        if len(fakes) >= limit:
            break
    return fakes, gts, reals


def pooled_iou(pred: "np.ndarray", gt: "np.ndarray") -> float:
    import numpy as np

    inter = np.logical_and(pred, gt).sum()
    union = np.logical_or(pred, gt).sum()
    return float(inter / union) if union else 1.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--keep", default=None, help="also copy the int8 model here when it qualifies")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "onnx_quant.json"))
    args = ap.parse_args()

    import numpy as np

    from localize.export import export_onnx, face_crops, quantize_int8
    from localize.faces import FaceAnalyzer
    from localize.fileio import versions, write_json
    from localize.fileio import sha256_file
    from localize.model import DEFAULT_MODEL, load_localizer

    pt = Path(args.model) if args.model else DEFAULT_MODEL
    fa = FaceAnalyzer()
    with tempfile.TemporaryDirectory() as td:
        fp32 = export_onnx(pt, Path(td) / "fp32.onnx")
        lf = load_localizer(fp32)
        size = lf.input_size
        calib_src = [SHARED / "reals" / f"talking_0{i}.mp4" for i in (1, 2, 3)]
        calib = face_crops(calib_src, size, per_video=16)
        t0 = time.perf_counter()
        q = quantize_int8(fp32, Path(td) / "int8.onnx", calib)
        quant_s = time.perf_counter() - t0
        lq = load_localizer(q)
        fakes, gts, reals, srcs = [], [], [], []
        ghost = SHARED / "pairs" / "ghost"
        for m in sorted(ghost.glob("swap_*.webm")):
            f, g, r = pair_crops(ghost / "original.webm", m, 6, size, fa)
            fakes += f; gts += g; reals += r; srcs.append(f"{m.name}: {len(f)} crops")
        ff = SHARED / "ffpp"
        f, g, r = pair_crops(ff / "original_sequences/youtube/c23/videos/519.mp4",
                             ff / "manipulated_sequences/Deepfakes/c23/videos/519_515.mp4", 25, size, fa)
        fakes += f; gts += g; reals += r; srcs.append(f"519_515.mp4: {len(f)} crops")
        X = np.stack(fakes + reals)
        G = np.stack(gts + [np.zeros_like(gts[0])] * len(reals))
        n_fake = len(fakes)
        pf, _ = lf.predict(X, args.batch)
        pq, _ = lq.predict(X, args.batch)
        iou_f = pooled_iou(pf[:n_fake] >= 0.5, G[:n_fake])
        iou_q = pooled_iou(pq[:n_fake] >= 0.5, G[:n_fake])
        agree = pooled_iou(pq >= 0.5, pf >= 0.5)
        real_area_f = float((pf[n_fake:] >= 0.5).mean())
        real_area_q = float((pq[n_fake:] >= 0.5).mean())
        lf.predict(X[: args.batch], args.batch)
        lq.predict(X[: args.batch], args.batch)
        tf, tq = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter(); lf.predict(X, args.batch); tf.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); lq.predict(X, args.batch); tq.append(time.perf_counter() - t0)
        speedup = float(np.median(tf) / np.median(tq))
        drop_points = 100 * (iou_f - iou_q)
        ship = drop_points < 1.0 and speedup > 1.0
        res = {"model": {"path": str(pt), "sha256": sha256_file(pt), "id": lf.model_id, "input_size": size},
               "calibration_crops": len(calib), "calibration_sources": [str(p) for p in calib_src],
               "heldout": {"fake_crops": n_fake, "real_crops": len(reals), "sources": srcs},
               "iou_fp32": round(iou_f, 4), "iou_int8": round(iou_q, 4), "iou_drop_points": round(drop_points, 2),
               "iou_int8_vs_fp32": round(agree, 4), "real_crop_flagged_area_fp32": round(real_area_f, 5),
               "real_crop_flagged_area_int8": round(real_area_q, 5), "max_abs_prob_diff": float(np.abs(pf - pq).max()),
               "ms_per_crop_fp32": round(1000 * float(np.median(tf)) / len(X), 2),
               "ms_per_crop_int8": round(1000 * float(np.median(tq)) / len(X), 2), "speedup": round(speedup, 3),
               "bytes_fp32": fp32.stat().st_size, "bytes_int8": q.stat().st_size, "quantize_s": round(quant_s, 1),
               "ship": ship, "rule": "ship only if IoU drop < 1 point and faster", "load_avg": os.getloadavg(),
               "versions": versions()}
        if ship and args.keep:
            import shutil

            shutil.copyfile(q, args.keep)
    write_json(args.out, res)
    print(f"int8: {res['ms_per_crop_int8']} ms/crop vs fp32 {res['ms_per_crop_fp32']} ({speedup:.2f}x); IoU "
          f"{iou_f:.3f} -> {iou_q:.3f} ({drop_points:+.2f} points drop) on {n_fake} held-out fake crops; "
          f"ship: {ship}\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
