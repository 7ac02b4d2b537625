"""How many ensemble members the speed goals of issue #5 allow: every shipped candidate since the
10-seed ensemble is an ensemble, and a pre-registered candidate ships only if it also meets
`benchmarks/analyze_speed.py`'s goals (32 frames of 10 s 720p in <= 5 s; every frame of 640x480
at >= 15 frames/s). Timing does not depend on the weights, so each size is the shipped
architecture with random weights and the shipped calibration, k members averaged in one ONNX
graph (`model.members`), timed by analyze_speed.py itself.

    nice python benchmarks/ensemble_speed.py [--members 1 2 5 10]

Writes benchmarks/results/ensemble_speed.json (one analyze_speed result per size). Run it on an
idle machine: the every-frame figure halves under load.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ensemble_like_shipped(k: int, dest: Path) -> Path:
    """The shipped model's architecture and calibration with k random members."""
    import dataclasses

    import torch

    from localize.model import DEFAULT_MODEL, ModelConfig, build_model, save_checkpoint

    shipped = torch.load(DEFAULT_MODEL, map_location="cpu", weights_only=False)
    cfg = dataclasses.replace(ModelConfig.from_dict(shipped["model_config"]), members=k, encoder_weights=None)
    torch.manual_seed(k)
    save_checkpoint(dest, build_model(cfg), cfg, half=True, model_id=f"speed-{cfg.encoder}-x{k}",
                    calibration=shipped["calibration"], config=shipped.get("config"))
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, nargs="+", default=[1, 2, 5, 10])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ensemble_speed.json"))
    args = ap.parse_args()
    from localize.fileio import versions, write_json

    res: dict = {"what": "analyze_speed.py with k-member ensembles of the shipped architecture (random weights)",
                 "sizes": {}, "versions": versions()}
    with tempfile.TemporaryDirectory() as td:
        for k in args.members:
            ckpt = ensemble_like_shipped(k, Path(td) / f"x{k}.pt")
            out = Path(td) / f"speed{k}.json"
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "analyze_speed.py"), "--model", str(ckpt),
                            "--repeat", str(args.repeat), "--out", str(out)], check=True, cwd=ROOT)
            r = json.loads(out.read_text())
            m32, mall = r["mode_32_frames_720p_10s"]["best"], r["mode_all_frames_640x480"]["best"]
            res["sizes"][str(k)] = {
                "32_frames_720p_wall_s": m32["wall_s"], "32_frames_720p_model_s": m32["split_s"].get("model"),
                "every_frame_640x480_fps": mall["frames_per_s"], "every_frame_model_s": mall["split_s"].get("model"),
                "meets_both_goals": bool(m32["wall_s"] <= 5.0 and mall["frames_per_s"] >= 15.0),
                "load_avg": [m32["load_avg"], mall["load_avg"]], "analyze_speed": r}
            print(f"{k} member(s): 32 frames {m32['wall_s']:.2f} s, every frame {mall['frames_per_s']:.1f} frames/s "
                  f"(load {mall['load_avg']:.1f})", flush=True)
    write_json(args.out, res)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
