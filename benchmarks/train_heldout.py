"""Held-out evaluation of a localizer on real pairs of ../shared/data it never saw in
training or model selection: the FF++ c23 Deepfakes pair 519 / 519_515, the three GHOST
face swaps of pairs/ghost, and reals/talking_09 + talking_10 (false positives).

Ground truth: masks derived from each aligned pair with masks.derive.derive_video_masks
(FF++ ships official masks only for raw footage). Crops: K evenly spaced frames per
video with the training/analysis crop rule (localize.data). Reports, per set: pixel IoU
(all frames and fake frames only), F1, pixel AUC, frame AUC from the forged-area score,
real-frame flag rates, per-video scores and decisions with the model's calibration, and
the same pixel figures for the constant face-shaped mask (the training mean fake mask,
and an *oracle* one: the mean held-out fake mask).

    python benchmarks/train_heldout.py [--model localize/weights/default.pt] [--frames 32]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localize import data as D  # noqa: E402
from localize.fileio import versions, write_json  # noqa: E402


def derived_mask(work: Path, original: Path, manipulated: Path) -> Path:
    from masks.derive import derive_video_masks
    from masks.maskio import write_mask_video

    out = work / "masks" / f"{original.parent.name}_{manipulated.stem}.mask.mp4"
    if not out.exists():
        dm = derive_video_masks(original, manipulated)
        write_mask_video(out, dm.masks, dm.fps or 25)
    return out


def heldout_sources(shared: Path, work: Path) -> dict[str, list[D.VideoSource]]:
    ff_o = shared / "ffpp/original_sequences/youtube/c23/videos/519.mp4"
    ff_m = shared / "ffpp/manipulated_sequences/Deepfakes/c23/videos/519_515.mp4"
    gh = shared / "pairs/ghost"
    sets = {"ffpp_519_515": [
        D.VideoSource("ffpp/519", ff_o, 0, "519"),
        D.VideoSource("ffpp/519_515", ff_m, 1, "519", mask=derived_mask(work, ff_o, ff_m), track_video=ff_o)]}
    sets["ghost"] = [D.VideoSource("ghost/original", gh / "original.webm", 0, "ghost")]
    for f in sorted(gh.glob("swap_*.webm")):
        sets["ghost"].append(D.VideoSource(f"ghost/{f.stem}", f, 1, "ghost", mask=derived_mask(work, gh / "original.webm", f),
                                           track_video=gh / "original.webm"))
    sets["reals_fp"] = [D.VideoSource(f"reals/{n}", shared / "reals" / f"{n}.mp4", 0, n)
                        for n in ("talking_09", "talking_10")]
    return sets


def evaluate(loc, crops: list[D.CropSet], baseline: np.ndarray | None, oracle: np.ndarray | None) -> dict:
    from localize.decision import PIXEL_THRESHOLD, Calibration, aggregate_track, aggregate_video, frame_scores
    from localize.targets import suspected_region, xray_target
    from localize.training import SegMetrics

    out: dict = {}
    target = loc.target
    px = float(loc.calibration.get("pixel_threshold", PIXEL_THRESHOLD)) if loc.calibration else PIXEL_THRESHOLD
    for name, base in (("", baseline), ("oracle_", oracle)):
        m = SegMetrics(base, pixel_stride=4)
        per_video = {}
        inter = union = 0  # suspected region vs forged mask, fake frames (what an analyst sees outlined)
        for cs in crops:
            probs, head = loc.predict(cs.images)
            forged = cs.masks.astype(np.float32) / 255.0
            # pixel metrics against what the model was trained to output (a boundary band for xray)
            tg = np.stack([xray_target(f) for f in forged]) if target == "xray" else forged
            if name == "" and cs.source.label == 1:
                for p, f in zip(probs, forged):
                    r, g = suspected_region(p, target, px), f >= 0.5
                    inter += int((r & g).sum())
                    union += int((r | g).sum())
            lab = np.full(len(probs), float(cs.source.label), np.float32)
            m.update(probs, tg, lab, head, [cs.source.key] * len(probs), 0.0)
            fs = frame_scores(probs)
            score = aggregate_video([aggregate_track(fs)])
            cal = Calibration.from_dict(loc.calibration) if loc.calibration else None
            per_video[cs.source.key] = {
                "label": int(cs.source.label), "frames": int(len(probs)), "video_score": score,
                "fake": bool(cal.is_fake(score)) if cal else None,
                "probability": cal.probability(score) if cal else None,
                "frame_score_mean": float(fs.mean()),
                "frames_over_threshold": float(np.mean(fs > cal.threshold)) if cal else None,
                "head_mean": float(head.mean()) if head is not None else None}
        r = m.compute()
        r.pop("loss", None)
        if name == "":
            from localize.evaluate.metrics import frame_auc_ci

            # frames resampled within each video, videos kept: frame-sampling uncertainty only
            r["frame_auc_ci95_frames"] = list(frame_auc_ci(m.frame_y, m.frame_area, m.videos))
            out.update(r)
            out["target"] = target
            out["region_iou_fake"] = inter / union if union else float("nan")
            out["videos"] = per_video
        else:
            out.update({f"oracle_{k}": v for k, v in r.items() if k.startswith("base_")})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "localize/weights/default.pt"))
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--work", default=str(ROOT / "runs" / "heldout"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/train_heldout.json"))
    ap.add_argument("--masks-only", action="store_true", help="derive the ground-truth masks and stop")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    work = Path(args.work)
    sets = heldout_sources(Path(args.shared), work)
    if args.masks_only:
        print("masks ready in", work / "masks", f"({time.time() - t0:.0f} s)")
        return 0
    from localize.model import load_localizer

    loc = load_localizer(args.model, threads=1)
    crop = D.CropParams(input_size=loc.input_size, scale=1.3, frames_per_video=args.frames)
    base = loc.meta.get("baseline_mask")
    base = None if base is None else np.asarray(base, np.float32)
    result = {"model": str(args.model), "model_id": loc.model_id, "sha256": loc.sha256, "frames_per_video": args.frames,
              "calibration_threshold": loc.calibration.get("threshold"), "versions": versions(), "sets": {}}
    for name, sources in sets.items():
        crops = D.build_cache(sources, crop, work / "cache", progress=False)
        fakes = [cs.masks for cs in crops if cs.source.label == 1]
        oracle = None
        if fakes:
            from localize.targets import xray_target

            f = np.concatenate(fakes).astype(np.float32) / 255
            oracle = np.mean([xray_target(x) for x in f], 0) if loc.target == "xray" else f.mean(0)
        result["sets"][name] = evaluate(loc, crops, base, oracle)
        s = result["sets"][name]
        print(f"{name}: IoU {s['iou']:.3f} IoU-fake {s['iou_fake']:.3f} region-IoU-fake {s['region_iou_fake']:.3f} "
              f"F1 {s['f1']:.3f} pixAUC {s['pixel_auc']:.3f} "
              f"frameAUC {s['frame_auc']:.3f} real-flag {s['real_flag_rate']:.2f} | const-mask IoU "
              f"{s.get('base_iou', float('nan')):.3f} oracle {s.get('oracle_base_iou', float('nan')):.3f}", flush=True)
    result["seconds"] = time.time() - t0
    write_json(args.out, result)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
