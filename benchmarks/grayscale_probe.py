"""Grayscale footage (black-and-white film, a night camera's infrared) and GIFs (256 colours, the
social-media clip format): what does a model make of them?

No model here trained or was calibrated on grayscale or palette-quantised faces. This probe takes
every real video of ../shared/data (``reals/``, ``people/*/video_*``) and the fake pairs (FF++ 519 /
519_515, GHOST) and makes two copies of the first ``--seconds`` of each: one as it is (libx264 CRF
18) and one of ``--variant``: ``gray``, the same encoder without colour (``format=gray``), so the
only difference is the colour; ``sepia`` or ``green``, the same encoder after a tint (FFmpeg's
sepia matrix; a night camera's green), monochrome footage whose faces still have chroma; or
``gif``, a GIF at the same size and frame rate with its own 256-colour palette (FFmpeg's
palettegen/paletteuse, default dithering), as a converter writes one.
Both copies are analysed with the default analysis, and the results say how the real videos'
P(fake) moves, how many are called fake, and whether the fakes still score above their originals.
``localize analyze`` warns of grayscale verdicts (``analyze.GRAY_FACE_CHROMA``) because of it.

    nice -n 10 python benchmarks/grayscale_probe.py [--model M] [--variant gray|gif|sepia|green] \\
        --out benchmarks/results/grayscale_probe_default.json   # else VARIANT_probe_default.json
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
# variant -> (file suffix, FFmpeg filter); "colour" is the reference copy of every input
COPIES = {"colour": (".mp4", "format=yuv420p"), "gray": (".mp4", "format=gray,format=yuv420p"),
          "gif": (".gif", "split[a][b];[a]palettegen[p];[b][p]paletteuse"),
          # FFmpeg's sepia matrix (as photo tools tint), and a night camera's green
          "sepia": (".mp4", "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131,format=yuv420p"),
          "green": (".mp4", "colorchannelmixer=.1:.2:.05:0:.3:.6:.1:0:.1:.2:.05,format=yuv420p")}


def copy(src: Path, dst: Path, vf: str, seconds: float) -> None:
    import imageio_ffmpeg

    codec = [] if dst.suffix == ".gif" else ["-c:v", "libx264", "-crf", "18"]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(src), "-t", str(seconds),
                    "-an", "-vf", vf, *codec, str(dst)], check=True)


def summary(rows: dict[str, dict], keys: list[str], alt: str) -> dict:
    """The real inputs ``keys`` as copied in colour and as ``alt``: medians, who is called fake, and
    how P(fake) moves from the colour copy to the ``alt`` one."""
    out = {"n": len(keys)}
    for v in ("colour", alt):
        probs = [rows[k][v]["probability"] for k in keys if rows[k][v].get("probability") is not None]
        out[v] = {"median_probability": round(statistics.median(probs), 4) if probs else None,
                  "called_fake": sorted(k for k in keys if rows[k][v].get("decision") == "fake"),
                  "flagged_grayscale": sum(bool(rows[k][v].get("grayscale")) for k in keys)}
    rises = [rows[k][alt]["probability"] - rows[k]["colour"]["probability"] for k in keys
             if rows[k][alt].get("probability") is not None and rows[k]["colour"].get("probability") is not None]
    out["median_rise"] = round(statistics.median(rises), 4) if rises else None
    out["share_raised"] = round(sum(r > 0 for r in rises) / len(rises), 3) if rises else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--variant", default="gray", choices=["gray", "gif", "sepia", "green"])
    ap.add_argument("--out", default=None, help="default: benchmarks/results/grayscale_probe_default.json "
                                                "(gray), else VARIANT_probe_default.json")
    args = ap.parse_args()
    alt = args.variant
    variants = {"colour": COPIES["colour"], alt: COPIES[alt]}
    name = "grayscale_probe_default.json" if args.variant == "gray" else f"{args.variant}_probe_default.json"
    args.out = args.out or str(ROOT / "benchmarks" / "results" / name)

    from tqdm import tqdm

    from analyze_shared import SHIPPED_MODEL_SEEN, is_seen, probe_setup, shared_reals
    from localize.analyze import analyze_path
    from localize.fileio import versions, write_json

    setup = probe_setup("grayscale_probe", args.model, args.backend)
    if setup is None:
        return 2
    loc, cal, fa, opts = setup
    reals = shared_reals()
    ff, gh = SHARED / "ffpp", SHARED / "pairs" / "ghost"
    pairs = [(ff / "original_sequences/youtube/c23/videos/519.mp4",
              ff / "manipulated_sequences/Deepfakes/c23/videos/519_515.mp4")]
    pairs += [(gh / "original.webm", m) for m in sorted(gh.glob("swap_*.webm"))]
    inputs = reals + sorted({p for pair in pairs for p in pair})
    rows: dict[str, dict] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        for p in tqdm(inputs, unit="input"):
            key = str(p.relative_to(SHARED))
            rows[key] = {"real": p in reals or any(p == o for o, _ in pairs)}
            for v, (suffix, vf) in variants.items():
                clip = Path(td) / f"{v}{suffix}"
                copy(p, clip, vf, args.seconds)
                r = analyze_path(clip, Path(td) / v, localizer=loc, options=opts, analyzer=fa)
                deciding = [t for t in r.tracks if t.used_in_decision]
                rows[key][v] = {"decision": r.decision, "score": r.score, "probability": r.probability,
                                "grayscale": r.video.get("grayscale"),
                                "face_chroma": max((t.face_chroma for t in deciding if t.face_chroma is not None),
                                                   default=None)}
                shutil.rmtree(Path(td) / v)
    real_keys = [k for k, r in rows.items() if r["real"]]
    seen = SHIPPED_MODEL_SEEN if args.model is None else []
    pair_rows = []
    for o, m in pairs:
        ko, km = str(o.relative_to(SHARED)), str(m.relative_to(SHARED))
        pair_rows.append({"original": ko, "manipulated": km, **{
            f"{v}_ordered": (rows[km][v]["score"] or 0) > (rows[ko][v]["score"] or 0) for v in variants}})
    out = {"model": {"path": loc.path, "id": loc.model_id, "sha256": loc.sha256, "backend": loc.backend},
           "operating_point": None if cal is None else {"threshold": cal.threshold,
                                                        "threshold_probability": cal.threshold_probability},
           "variant": args.variant, "seconds_per_copy": args.seconds, "rows": rows,
           "reals": summary(rows, real_keys, alt),
           "reals_unseen": summary(rows, [k for k in real_keys if not is_seen(k, seen)], alt),
           "pairs": pair_rows,
           **{f"pairs_ordered_{v}": sum(r[f"{v}_ordered"] for r in pair_rows) for v in variants},
           "n_pairs": len(pair_rows), "seen_patterns": seen,
           "wall_seconds": round(time.perf_counter() - t0, 1), "versions": versions()}
    write_json(args.out, out)
    for part in ("reals", "reals_unseen"):
        s = out[part]
        print(f"{part} (n={s['n']}): median P(fake) colour {s['colour']['median_probability']} -> {alt} "
              f"{s[alt]['median_probability']} (median rise {s['median_rise']}, {s['share_raised']:.0%} rise); "
              f"called fake colour {len(s['colour']['called_fake'])}, {alt} {len(s[alt]['called_fake'])}; "
              f"flagged grayscale colour {s['colour']['flagged_grayscale']}, {alt} {s[alt]['flagged_grayscale']}")
    print(f"pairs ordered: colour {out['pairs_ordered_colour']}/{len(pair_rows)}, {alt} {out[f'pairs_ordered_{alt}']}/"
          f"{len(pair_rows)}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
