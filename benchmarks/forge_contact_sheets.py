"""Contact sheets for eyeballing forged faces: one PNG per method.

Each row is one fake at its middle frame (c23, as a detector sees it): the original,
the fake, a 2x zoom of the fake's face, and the fake with the exact mask's outline.

    python benchmarks/forge_contact_sheets.py [--corpus DIR] [--rows 6]

Writes benchmarks/results/forge_sheet_<method>.png (each kept under 300 KB).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tile(img: np.ndarray, h: int) -> np.ndarray:
    import cv2

    w = int(round(img.shape[1] * h / img.shape[0]))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def save_png(path: Path, rgb: np.ndarray) -> None:
    """A 256-colour PNG (Pillow's median-cut palette): a third of the size of RGB."""
    from PIL import Image

    from localize.fileio import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(rgb).quantize(256, dither=Image.Dither.NONE).save(tmp, format="PNG", optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/tmp/forge_bench_reals")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--height", type=int, default=150)
    ap.add_argument("--comp", default="c23")
    ap.add_argument("--prefix", default="forge_sheet")
    ap.add_argument("--outdir", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()

    import cv2

    from localize.forge.corpus import fake_path, mask_path, real_path
    from localize.forge.methods import METHODS
    from localize.video import probe, read_frames
    from masks.maskio import read_mask_video

    root = Path(args.corpus)
    man = json.loads((root / "manifest.json").read_text())
    for key, m in METHODS.items():
        fakes = [f for f in man["fakes"] if f["method"] == key]
        # spread the rows over different targets
        seen, chosen = set(), []
        for f in fakes:
            if f["target"] not in seen:
                chosen.append(f)
                seen.add(f["target"])
        chosen = chosen[:args.rows]
        if not chosen:
            continue
        rows = []
        for f in chosen:
            n = probe(fake_path(root, m, f["name"], args.comp)).n_frames
            i = n // 2
            orig = read_frames(real_path(root, f["target"], args.comp), [i])[0]
            fake = read_frames(fake_path(root, m, f["name"], args.comp), [i])[0]
            mask = read_mask_video(mask_path(root, m, f["name"]), [i])[0]
            ys, xs = np.nonzero(mask)
            cx, cy = xs.mean(), ys.mean()
            side = 1.3 * max(np.ptp(xs), np.ptp(ys)) / 2
            x0, y0 = int(max(0, cx - side)), int(max(0, cy - side))
            x1, y1 = int(min(fake.shape[1], cx + side)), int(min(fake.shape[0], cy + side))
            zoom = fake[y0:y1, x0:x1]
            outline = fake.copy()
            cnts, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(outline, cnts, -1, (255, 40, 40), max(1, fake.shape[0] // 200))
            row = np.concatenate([tile(orig, args.height), tile(fake, args.height), tile(zoom, args.height),
                                  tile(outline, args.height)], 1)
            rows.append(row)
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows]
        sheet = np.concatenate(rows, 0)
        out = Path(args.outdir) / f"{args.prefix}_{key}.png"
        while True:
            save_png(out, sheet)
            if out.stat().st_size < 300_000 or sheet.shape[0] < 200:
                break
            sheet = cv2.resize(sheet, (sheet.shape[1] * 9 // 10, sheet.shape[0] * 9 // 10), interpolation=cv2.INTER_AREA)
        print(out, sheet.shape, out.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
