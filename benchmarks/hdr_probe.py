"""HDR footage (phones record HLG; streaming masters use PQ): does tone mapping it to SDR
(localize.hdr) give the model the footage it learned, and what would reading it as SDR do?

Every real video of ../shared/data (``reals/``, ``people/*/video_*``) is copied three ways from its
first ``--seconds``: SDR (libx264 CRF 18), PQ and HLG (libx265 ultrafast CRF 16, 10-bit BT.2020, graded with
FFmpeg's zscale as BT.2408 places SDR in HDR: SDR white at the 203 cd/m2 reference white; HLG from
the PQ grade). The SDR copy and both HDR copies are analysed as ``localize analyze`` does (tone
mapped), and the HDR copies once more read naively as SDR (8-bit RGB of the stored signal, as
before 2026-11-24). The results say how far each reading moves P(fake) from the SDR copy's and
who is called fake.

    nice -n 10 python benchmarks/hdr_probe.py --out benchmarks/results/hdr_probe_default.json
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("LOCALIZE_SHARED_DATA", ROOT.parent / "shared" / "data"))
GRADE = ("format=gbrpf32le,zscale=tin={tin}:t={t}:pin={pin}:p=bt2020:min=gbr:m=bt2020nc:r=tv:npl=203,"
         "format=yuv420p10le")
X265 = ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "16", "-x265-params", "log-level=error"]


def copies(src: Path, td: Path, seconds: float) -> dict[str, Path]:
    import imageio_ffmpeg

    ff = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error"]
    out = {"sdr": td / "sdr.mp4", "pq": td / "pq.mp4", "hlg": td / "hlg.mp4"}
    subprocess.run([*ff, "-i", str(src), "-t", str(seconds), "-an", "-vf", "format=yuv420p", "-c:v", "libx264",
                    "-crf", "18", str(out["sdr"])], check=True)
    subprocess.run([*ff, "-i", str(out["sdr"]), "-vf", GRADE.format(tin="bt709", t="smpte2084", pin="bt709"),
                    *X265, str(out["pq"])], check=True)
    subprocess.run([*ff, "-i", str(out["pq"]), "-vf", GRADE.format(tin="smpte2084", t="arib-std-b67", pin="bt2020"),
                    *X265, str(out["hlg"])], check=True)
    return out


def summary(rows: dict[str, dict], arm: str) -> dict:
    moves = [abs(r[arm]["probability"] - r["sdr"]["probability"]) for r in rows.values()
             if r[arm].get("probability") is not None and r["sdr"].get("probability") is not None]
    return {"median_abs_move": round(statistics.median(moves), 4) if moves else None,
            "max_abs_move": round(max(moves), 4) if moves else None,
            "median_probability": round(statistics.median(r[arm]["probability"] for r in rows.values()
                                                          if r[arm].get("probability") is not None), 4),
            "called_fake": sorted(k for k, r in rows.items() if r[arm].get("decision") == "fake")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "hdr_probe_default.json"))
    args = ap.parse_args()

    from tqdm import tqdm

    from analyze_shared import probe_setup, shared_reals
    from localize import hdr
    from localize.analyze import analyze_path
    from localize.fileio import versions, write_json

    setup = probe_setup("hdr_probe", args.model, args.backend)
    if setup is None:
        return 2
    loc, cal, fa, opts = setup
    reals = shared_reals()
    tone_mapped = hdr.frame_rgb

    def naive(frame):  # the stored signal as 8-bit RGB, as if it were SDR
        return frame.to_ndarray(format="rgb24")

    rows: dict[str, dict] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        for p in tqdm(reals, unit="input"):
            key = str(p.relative_to(SHARED))
            clips = copies(p, Path(td), args.seconds)
            rows[key] = {}
            for arm, clip, reader in (("sdr", clips["sdr"], tone_mapped), ("pq", clips["pq"], tone_mapped),
                                      ("pq_naive", clips["pq"], naive), ("hlg", clips["hlg"], tone_mapped),
                                      ("hlg_naive", clips["hlg"], naive)):
                hdr.frame_rgb = reader
                try:
                    r = analyze_path(clip, Path(td) / arm, localizer=loc, options=opts, analyzer=fa)
                finally:
                    hdr.frame_rgb = tone_mapped
                rows[key][arm] = {"decision": r.decision, "score": r.score, "probability": r.probability,
                                  "hdr": r.input.get("hdr")}
                shutil.rmtree(Path(td) / arm)
    out = {"model": {"path": loc.path, "id": loc.model_id, "sha256": loc.sha256, "backend": loc.backend},
           "operating_point": None if cal is None else {"threshold": cal.threshold,
                                                        "threshold_probability": cal.threshold_probability},
           "seconds_per_copy": args.seconds, "n": len(rows), "rows": rows,
           "arms": {arm: summary(rows, arm) for arm in ("sdr", "pq", "pq_naive", "hlg", "hlg_naive")},
           "wall_seconds": round(time.perf_counter() - t0, 1), "versions": versions()}
    write_json(args.out, out)
    for arm, s in out["arms"].items():
        print(f"{arm:10s} median P(fake) {s['median_probability']}, |move from SDR| median {s['median_abs_move']} "
              f"max {s['max_abs_move']}, called fake {len(s['called_fake'])} {s['called_fake']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
