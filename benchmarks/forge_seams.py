"""Seams of forged faces: colour difference across the mask boundary, fake vs original.

For every fake and every frame, with the exact binary mask M and r = 4 % of the face
size (sqrt of the mask area):

- band contrast: CIE76 distance between the mean L*a*b* colour of the inner band
  (M minus M eroded by r) and the outer band (M dilated by r minus M);
- edge gradient: mean Sobel magnitude of L* on the 3-px contour of M.

Both are measured at the binary mask's edge (where the feathered weight is ~0) and
at the mask eroded by 4 % of the face size ("mid": inside the feather, where the
blend weight is near one half and a seam would show first).

Flicker: mean absolute frame-to-frame change inside the mask (c0), fake over
original; 1.0 means the fake moves exactly as much as the real face does.

The same numbers on the original frame (same bands) are the baseline: a forge whose
fakes show much larger values than the originals has seams a detector would learn
too easily. Reported per method, at c0 and c23.

    python benchmarks/forge_seams.py [--corpus DIR] (default: builds the built-in corpus)

Writes benchmarks/results/forge_seams.json.
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


def band_stats(img: np.ndarray, mask: np.ndarray) -> tuple[float, float] | None:
    import cv2

    area = int(mask.sum())
    if area < 50:
        return None
    r = max(2, int(round(0.04 * np.sqrt(area))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m8 = mask.astype(np.uint8)
    inner = m8 & (1 - cv2.erode(m8, k))
    outer = cv2.dilate(m8, k) & (1 - m8)
    if inner.sum() < 10 or outer.sum() < 10:
        return None
    lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    contrast = float(np.linalg.norm(lab[inner > 0].mean(0) - lab[outer > 0].mean(0)))
    k1 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    contour = cv2.dilate(m8, k1) & (1 - cv2.erode(m8, k1))
    gx = cv2.Sobel(lab[..., 0], cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1, ksize=3)
    grad = float(np.hypot(gx, gy)[contour > 0].mean())
    return contrast, grad


def eroded(mask: np.ndarray, frac: float = 0.04) -> np.ndarray:
    import cv2

    r = max(1, int(round(frac * np.sqrt(max(mask.sum(), 1)))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(mask.astype(np.uint8), k).astype(bool)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=None, help="an existing forge corpus (default: build the built-in one)")
    ap.add_argument("--work", default="/tmp/forge_bench_builtin")
    ap.add_argument("--every", type=int, default=3, help="use every n-th frame")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "forge_seams.json"))
    args = ap.parse_args()

    from localize.fileio import versions, write_json
    from localize.forge.corpus import build_corpus, fake_path, mask_path, real_path
    from localize.forge.methods import METHODS
    from localize.video import read_frames
    from masks.maskio import read_mask_video

    t0 = time.time()
    root = Path(args.corpus) if args.corpus else build_corpus(args.work, progress=False).out
    man = json.loads((root / "manifest.json").read_text())
    per: dict = {}
    for f in man["fakes"]:
        m = METHODS[f["method"]]
        masks = read_mask_video(mask_path(root, m, f["name"]))
        idx = list(range(0, len(masks), args.every))
        o_all = read_frames(real_path(root, f["target"], "c0")).astype(np.int16)
        f_all = read_frames(fake_path(root, m, f["name"], "c0")).astype(np.int16)
        for i in range(1, len(masks)):
            region = masks[i] | masks[i - 1]
            if region.sum() < 50:
                continue
            fl = per.setdefault("flicker_c0", {}).setdefault(m.key, {"fake": [], "orig": []})
            fl["fake"].append(float(np.abs(f_all[i] - f_all[i - 1])[region].mean()))
            fl["orig"].append(float(np.abs(o_all[i] - o_all[i - 1])[region].mean()))
        for comp in ("c0", "c23"):
            orig = read_frames(real_path(root, f["target"], comp), idx)
            fake = read_frames(fake_path(root, m, f["name"], comp), idx)
            for k, i in enumerate(idx):
                for where, mk in (("edge", masks[i]), ("mid", eroded(masks[i]))):
                    a, b = band_stats(fake[k], mk), band_stats(orig[k], mk)
                    if a is None or b is None:
                        continue
                    d = per.setdefault(comp, {}).setdefault(f"{m.key}@{where}", {"fc": [], "oc": [], "fg": [], "og": []})
                    d["fc"].append(a[0])
                    d["oc"].append(b[0])
                    d["fg"].append(a[1])
                    d["og"].append(b[1])
    table = {}
    for key, d in per.pop("flicker_c0", {}).items():
        table.setdefault("flicker_c0", {})[key] = {
            "frame_pairs": len(d["fake"]), "change_fake": round(float(np.mean(d["fake"])), 3),
            "change_original": round(float(np.mean(d["orig"])), 3),
            "ratio": round(float(np.mean(d["fake"]) / max(np.mean(d["orig"]), 1e-6)), 3)}
    for comp, meth in per.items():
        for key, d in meth.items():
            table.setdefault(comp, {})[key] = {
                "frames": len(d["fc"]),
                "band_contrast_fake": round(float(np.mean(d["fc"])), 3),
                "band_contrast_original": round(float(np.mean(d["oc"])), 3),
                "band_contrast_ratio": round(float(np.mean(d["fc"]) / max(np.mean(d["oc"]), 1e-6)), 3),
                "edge_gradient_fake": round(float(np.mean(d["fg"])), 3),
                "edge_gradient_original": round(float(np.mean(d["og"])), 3),
                "edge_gradient_ratio": round(float(np.mean(d["fg"]) / max(np.mean(d["og"]), 1e-6)), 3),
            }
    result = {"benchmark": "seam colour difference across the exact mask boundary, fake vs original",
              "corpus": str(root), "reals": len(man["reals"]), "fakes": len(man["fakes"]),
              "units": "band contrast: CIE76 delta E between inner/outer band means; edge gradient: mean Sobel "
                       "magnitude of L* (0..100 scale) on the mask contour",
              "table": table, "seconds": round(time.time() - t0, 1), "versions": versions()}
    write_json(args.out, result)
    print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
