"""Out of fold, do a cross-fit candidate's real validation items score higher when the face is
darker? (localize.evaluate.luma; candidate I's highest real was a dark-skinned face in low-key
light.) Reads the out-of-fold calibration record of `benchmarks/judge_candidate.py` (every
validation item with its out-of-fold score), measures the luma of each real item's largest face
(``localize.faces.face_luma`` of its HOG box, median over up to 5 evenly spaced frames) and reports the association over all real items,
videos alone and photos alone.

    nice -n 10 python benchmarks/score_vs_luma.py \\
        --calibration benchmarks/results/xray_cf_pre_defocus/calibration.json \\
        --out benchmarks/results/score_vs_luma_xray_cf_pre_defocus.json

The largest face stands in for the face that decided the score (the same in single-person
clips; in group footage it may not be). Photos are mostly studio portraits (controlled light), so
their luma is mostly skin tone; videos mix both.
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibration", required=True, help="calibration.json of a judged candidate")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    from tqdm import tqdm

    from localize.evaluate.luma import luma_association
    from localize.faces import FaceAnalyzer, face_luma
    from localize.fileio import versions, write_json
    from localize.video import is_image, iter_frames, probe, sample_indices

    cal = json.loads(Path(args.calibration).read_text())
    reals = [v for v in cal["videos"] if int(v["label"]) == 0]
    fa = FaceAnalyzer()
    rows = []
    t0 = time.perf_counter()
    for v in tqdm(reals, unit="item"):
        path = ROOT / v["video"] if not Path(v["video"]).is_absolute() else Path(v["video"])
        lumas = []
        try:
            n = probe(path).n_frames
            for _, img in iter_frames(path, sample_indices(n, count=min(args.frames, n))):
                faces = fa.detect(img, landmarks=False)
                if faces and (y := face_luma(img, faces[0].box)) is not None:
                    lumas.append(y)
        except Exception as e:  # a missing or unreadable file: listed, not fatal
            rows.append({"video": v["video"], "score": v["score"], "luma": None, "error": str(e)})
            continue
        rows.append({"video": v["video"], "score": v["score"], "fold": v.get("fold"),
                     "photo": is_image(path), "luma": round(float(np.median(lumas)), 2) if lumas else None})

    def assoc(sel):
        r = [x for x in sel if x["luma"] is not None and x["score"] is not None]
        return luma_association([x["score"] for x in r], [x["luma"] for x in r])

    out = {"calibration": args.calibration, "threshold": cal.get("threshold"),
           "all": assoc(rows), "videos": assoc([r for r in rows if not r.get("photo")]),
           "photos": assoc([r for r in rows if r.get("photo")]),
           "top_reals": sorted(rows, key=lambda r: -(r["score"] or 0))[:10],
           "no_face": [r["video"] for r in rows if r["luma"] is None],
           "seconds": round(time.perf_counter() - t0, 1), "versions": versions()}
    write_json(args.out, out)
    for k in ("all", "videos", "photos"):
        a = out[k]
        print(f"{k}: n={a['n']} Spearman rho (score, luma) {a['spearman_rho']} 95 % {a['ci95']}; median score "
              f"darkest third {a['darkest_third_median']}, brightest third {a['brightest_third_median']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
