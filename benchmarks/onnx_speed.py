"""onnxruntime vs eager torch on the same real face crops, one run (issue 6: >= 1.5x).

    nice -n 10 python benchmarks/onnx_speed.py [--model M.pt] [--batch 16] [--rounds 5]

Crops: the analysis crop rule on real footage (carphone, the built-in clip, plus
../shared/data/ffpp/original_sequences/youtube/c23/videos/519.mp4 when present).
Both backends go through ``Localizer.predict`` (same normalization, same batches);
rounds alternate torch/ORT so a load change on the shared machine hits both.
Writes benchmarks/results/onnx_speed.json.
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="checkpoint .pt (default: the shipped model)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "onnx_speed.json"))
    args = ap.parse_args()

    import numpy as np
    import torch

    from localize.export import export_onnx, face_crops
    from localize.fileio import versions, write_json
    from localize.media import carphone_path
    from localize.model import DEFAULT_MODEL, load_localizer

    pt = Path(args.model) if args.model else DEFAULT_MODEL
    tl = load_localizer(pt, backend="torch")
    with tempfile.TemporaryDirectory() as td:
        onnx_path = export_onnx(pt, Path(td) / "m.onnx")
        ol = load_localizer(onnx_path)
        sources = [carphone_path()]
        ff = SHARED / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos" / "519.mp4"
        if ff.exists():
            sources.append(ff)
        crops = face_crops(sources, tl.input_size, per_video=24)
        crops = crops[: (len(crops) // args.batch) * args.batch] if len(crops) >= args.batch else crops
        # warm-up both (first ORT run allocates its arena; torch builds its kernels)
        tl.predict(crops[: args.batch], args.batch)
        ol.predict(crops[: args.batch], args.batch)
        t_torch, t_ort = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            m_t, _ = tl.predict(crops, args.batch)
            t_torch.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            m_o, _ = ol.predict(crops, args.batch)
            t_ort.append(time.perf_counter() - t0)
        diff = float(np.abs(m_t - m_o).max())
    n = len(crops)
    res = {
        "model": {"path": str(pt), "id": tl.model_id, "sha256": tl.sha256, "config": tl.meta.get("model_config")
                  or None, "input_size": tl.input_size},
        "crops": n, "crop_sources": [str(s) for s in sources], "batch": args.batch, "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(), "cpu_cores": os.cpu_count(),
        "torch_ms_per_crop_median": round(1000 * float(np.median(t_torch)) / n, 2),
        "ort_ms_per_crop_median": round(1000 * float(np.median(t_ort)) / n, 2),
        "speedup_median": round(float(np.median(t_torch) / np.median(t_ort)), 3),
        "speedup_best": round(min(t_torch) / min(t_ort), 3),
        "goal_speedup": 1.5, "max_abs_diff": diff, "load_avg": os.getloadavg(), "versions": versions(),
    }
    res["pass"] = res["speedup_median"] >= 1.5
    write_json(args.out, res)
    print(f"{n} crops {tl.input_size}px, batch {args.batch}: torch {res['torch_ms_per_crop_median']} ms/crop, "
          f"onnxruntime {res['ort_ms_per_crop_median']} ms/crop -> {res['speedup_median']}x (goal >= 1.5x); "
          f"max abs diff {diff:.2e}\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
