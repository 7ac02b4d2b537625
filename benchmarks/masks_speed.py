"""Speed of mask derivation against the floor of decoding both videos, same run.

Target (issue 2): deriving the 751-frame 640x480 FF++ c23 pair takes at most 2.5x the
time of decoding both videos to RGB. The two are timed alternately ``--repeat`` times
and the fastest of each is compared (the machine is shared; minima are the least
disturbed). Derivation includes loading the face models, alignment checks, face
detection/tracking and the masks (kept in memory, nothing written).

    nice -n 10 python benchmarks/masks_speed.py [--data ../shared/data] [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localize.fileio import versions, write_json  # noqa: E402
from localize.video import iter_frames  # noqa: E402
from masks.derive import MaskParams, derive_video_masks  # noqa: E402
from masks.pairs import find_pairs  # noqa: E402


def decode_both(a: Path, b: Path) -> int:
    n = 0
    for _ in zip(iter_frames(a), iter_frames(b)):
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "masks_speed.json")
    args = ap.parse_args()
    pair = [p for p in find_pairs(args.data / "ffpp") if p.ok][0]
    params = MaskParams()
    dec, der = [], []
    n = 0
    for _ in range(args.repeat):
        t = time.perf_counter()
        n = decode_both(pair.original, pair.manipulated)
        dec.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = derive_video_masks(pair.original, pair.manipulated, params)  # fresh FaceAnalyzer: load included
        der.append(time.perf_counter() - t)
        del r
    ratio = min(der) / min(dec)
    res = {"benchmark": "masks_speed", "pair": pair.key, "frames": n, "decode_both_s": [round(x, 3) for x in dec],
           "derive_s": [round(x, 3) for x in der], "ratio_of_minima": round(ratio, 3), "target": "<= 2.5",
           "pass": ratio <= 2.5, "derive_fps": round(n / min(der), 1), "cpu_count": os.cpu_count(),
           "load_avg": os.getloadavg(), "params": params.to_dict(), "versions": versions()}
    write_json(args.out, res)
    print(f"{pair.key}: {n} frames; decoding both {min(dec):.2f} s, deriving {min(der):.2f} s -> "
          f"{ratio:.2f}x the decoding floor ({'PASS' if ratio <= 2.5 else 'FAIL'}; target <= 2.5x)")
    print(f"wrote {args.out}")
    return 0 if ratio <= 2.5 else 1


if __name__ == "__main__":
    sys.exit(main())
