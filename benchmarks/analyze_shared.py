"""The default model on ../shared/data at the default operating point (issue 5):
fake pairs must score above their originals, and no real video in reals/ or
people/ may be called fake (any that is, is listed).

    nice -n 10 python benchmarks/analyze_shared.py [--model M] [--backend onnx] [--frames 32]

Pairs: FF++ c23 519 / 519_515 (Deepfakes), GHOST original.webm / swap_{elon_musk,
khabensky,mark}.webm. Reals: reals/talking_01..10.mp4, people/*/video_*.mp4 and the
photos people/*/photo_*. Check MODEL_CARD.md for which of these the model trained on:
only the others are held out. Writes benchmarks/results/analyze_shared.json.

Every real input also records the luma of the face that decided its score, and the results say
whether real scores follow it (``real_score_vs_face_luma``: Spearman's rho, negative when darker
faces score higher). Luma mixes skin tone and lighting; no data here labels either.
The association is also given apart for the inputs the model never saw (``..._unseen``): a model
scores the real videos it trained or was calibrated on low, and when those happen to be brightly
lit (as the shipped model's are) they alone make darker faces look like higher scores. ``--seen``
names them (globs of the keys below); for the shipped model they default to its training and
validation people (MODEL_CARD.md).
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
# the shipped model's training and validation inputs of ../shared/data (MODEL_CARD.md: all of
# people/ but Elon Musk's photos, reals/talking_01..08); held out: talking_09/10, the pairs, the
# registry clips
SHIPPED_MODEL_SEEN = ["reals/talking_0[1-8].mp4", "people/alexandria_ocasio_cortez/*", "people/donald_trump/*",
                      "people/joe_biden/*", "people/katie_hill/*", "people/lin_manuel_miranda/*",
                      "people/kit_harington/*", "people/rose_leslie/*"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--note", default="", help="recorded in the results (e.g. which checkpoint this is)")
    ap.add_argument("--extra-reals", nargs="*", default=[], metavar="PATH",
                    help="more real videos (files or folders) outside ../shared/data, e.g. the registry clips of "
                    "scripts/fetch_registry_reals.sh: reported apart (extra_reals), as footage no model here saw")
    ap.add_argument("--seen", nargs="*", default=None, metavar="GLOB",
                    help="keys of the inputs the model trained or was calibrated on (e.g. 'reals/talking_0[1-8].mp4'); "
                    "the luma association is also reported without them. Default: the shipped model's when no "
                    "--model is given, else none")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "analyze_shared.json"))
    args = ap.parse_args()
    seen = args.seen if args.seen is not None else (SHIPPED_MODEL_SEEN if args.model is None else [])

    from localize.analyze import AnalyzeOptions, analyze_path, calibration_of, open_localizer
    from localize.errors import InputError
    from localize.faces import FaceAnalyzer
    from localize.fileio import versions, write_json

    loc = open_localizer(args.model, args.backend)
    cal = calibration_of(loc)
    fa = FaceAnalyzer()
    opts = AnalyzeOptions(count=args.frames, overlay=False, key_frames=0)
    ff = SHARED / "ffpp"
    gh = SHARED / "pairs" / "ghost"
    pairs = [(ff / "original_sequences/youtube/c23/videos/519.mp4",
              ff / "manipulated_sequences/Deepfakes/c23/videos/519_515.mp4")]
    pairs += [(gh / "original.webm", m) for m in sorted(gh.glob("swap_*.webm"))]
    reals = sorted((SHARED / "reals").glob("*.mp4")) + sorted((SHARED / "people").glob("*/video_*")) + \
        sorted((SHARED / "people").glob("*/photo_*"))
    results: dict[str, dict] = {}

    def run(p: Path, key: str | None = None) -> dict:
        key = key or str(p.relative_to(SHARED))
        if key in results:
            return results[key]
        t0 = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory() as td:
                r = analyze_path(p, Path(td) / "r", localizer=loc, options=opts, analyzer=fa)
            deciding = _deciding_face(r)
            results[key] = {"status": r.status, "decision": r.decision, "score": r.score,
                            "probability": r.probability, "tracks": len(r.tracks),
                            "marginal": (r.video.get("stability") or {}).get("marginal"),
                            "score_interval": (r.video.get("stability") or {}).get("score_interval"),
                            "frames_with_face": r.input["frames_with_face"],
                            "deciding_face": deciding,
                            "faces": [{"track": t.track_id, "main": t.main, "face_px": t.face_px,
                                       "frames": t.n_frames, "score": t.score} for t in r.tracks],
                            # face-like tracks the second detector did not confirm (not judged)
                            "unconfirmed_tracks": [u["track_id"] for u in r.video.get("unconfirmed_faces", [])
                                                   if not u["confirmed"]],
                            "seconds": round(time.perf_counter() - t0, 2)}
        except InputError as e:
            results[key] = {"status": "error", "error": str(e)}
        print(key, results[key], flush=True)
        return results[key]

    pair_rows = []
    for o, m in pairs:
        ro, rm = run(o), run(m)
        ok = ro.get("score") is not None and rm.get("score") is not None and rm["score"] > ro["score"]
        pair_rows.append({"original": str(o.relative_to(SHARED)), "manipulated": str(m.relative_to(SHARED)),
                          "original_score": ro.get("score"), "manipulated_score": rm.get("score"),
                          "manipulated_decision": rm.get("decision"), "fake_above_original": ok})
    real_rows = {str(p.relative_to(SHARED)): run(p) for p in reals}
    fps = [k for k, v in real_rows.items() if v.get("decision") == "fake"]
    from localize.calibrate import footage

    extra_files = [p for p, _ in footage(args.extra_reals, 0)]
    names = [p.name for p in extra_files]  # keyed by file name; by full path where two folders share a name
    extra_keys = [f"extra/{p.name}" if names.count(p.name) == 1 else f"extra/{p.resolve()}" for p in extra_files]
    extra = {k: run(p, k) for p, k in zip(extra_files, extra_keys)}
    originals = sorted({r["original"] for r in pair_rows})  # the pairs' originals are real videos too
    fps_orig = [k for k in originals if results[k].get("decision") == "fake"]
    out = {"model": {"path": loc.path, "id": loc.model_id, "sha256": loc.sha256, "backend": loc.backend,
                     "epoch": loc.meta.get("epoch"), "validation_metrics": loc.meta.get("metrics")},
           "operating_point": None if cal is None else cal.to_dict(), "frames": args.frames,
           "pairs": pair_rows, "pairs_ordered": sum(r["fake_above_original"] for r in pair_rows),
           "n_pairs": len(pair_rows), "reals": real_rows, "n_reals": len(real_rows),
           "reals_called_fake": fps, "pair_originals_called_fake": fps_orig, "note": args.note,
           "fakes_detected": sum(r["manipulated_decision"] == "fake" for r in pair_rows),
           "reals_called_fake_marginal": [k for k in fps if real_rows[k].get("marginal")],
           "marginal": sorted(k for k, v in results.items() if v.get("marginal")),
           **({"extra_reals": extra, "extra_reals_called_fake": sorted(k for k, v in extra.items()
                                                                    if v.get("decision") == "fake"),
               "extra_reals_no_face": sorted(k for k, v in extra.items() if v.get("score") is None)}
              if args.extra_reals else {}),
           "versions": versions()}
    all_reals = {**real_rows, **extra, **{o: results[o] for o in originals}}
    unseen = {k: v for k, v in all_reals.items() if not is_seen(k, seen)}
    out["seen_patterns"] = seen
    out["real_score_vs_face_luma"] = luma_association(all_reals)
    out["real_score_vs_face_luma_unseen"] = luma_association(unseen)
    out["real_score_vs_face_luma_seen"] = luma_association({k: v for k, v in all_reals.items() if k not in unseen})
    write_json(args.out, out)
    for part, name in (("", "all real videos and photos"), ("_unseen", "those the model never saw")):
        a = out["real_score_vs_face_luma" + part]
        print(f"{name}: Spearman rho of score vs the deciding face's luma {a['spearman_rho']} "
              f"(95 % bootstrap {a['ci95']}, n={a['n']}); the darkest third scores {a['darkest_third_median']} "
              f"(median), the brightest third {a['brightest_third_median']}")
    print(f"pairs ordered (fake > original): {out['pairs_ordered']}/{out['n_pairs']}; fakes called fake: "
          f"{out['fakes_detected']}/{out['n_pairs']}; reals called fake: {len(fps)}/{len(real_rows)} {fps}; "
          f"pair originals called fake: {fps_orig}; marginal decisions: {out['marginal']}\n"
          + (f"extra reals called fake: {len(out['extra_reals_called_fake'])}/{len(extra)} "
             f"{out['extra_reals_called_fake']} (no face: {out['extra_reals_no_face']})\n" if args.extra_reals else "")
          + f"wrote {args.out}")
    return 0


def shared_reals(shared: Path = SHARED) -> list[Path]:
    """The real videos of ../shared/data that the probes copy: reals/*.mp4 and people/*/video_*."""
    return sorted((shared / "reals").glob("*.mp4")) + sorted((shared / "people").glob("*/video_*"))


def probe_setup(name: str, model: str | None, backend: str):
    """What a probe of ../shared/data analyses with: (localizer, its calibration, a face analyzer,
    options without overlay or key frames); None after one error line when the folder is missing."""
    from localize.analyze import AnalyzeOptions, calibration_of, open_localizer
    from localize.faces import FaceAnalyzer

    if not SHARED.is_dir():
        print(f"{name}: {SHARED} not found (the shared real-media folder)", file=sys.stderr)
        return None
    loc = open_localizer(model, backend)
    return loc, calibration_of(loc), FaceAnalyzer(), AnalyzeOptions(overlay=False, key_frames=0)


def is_seen(key: str, patterns) -> bool:
    """Whether an input's key matches one of the globs of the inputs a model saw."""
    from fnmatch import fnmatch

    return any(fnmatch(key, p) for p in patterns)


def luma_association(rows: dict[str, dict]) -> dict:
    """localize.evaluate.luma.luma_association over the real inputs that have a score and a luma."""
    from localize.evaluate.luma import luma_association as assoc

    pts = [(v["score"], v["deciding_face"]["luma"]) for v in rows.values()
           if v.get("score") is not None and (v.get("deciding_face") or {}).get("luma") is not None]
    return assoc([p[0] for p in pts], [p[1] for p in pts])


def _deciding_face(r) -> dict | None:
    """The track whose score is the video's (the highest deciding one) and whether it is the
    main face: a real video's high score can come from a bystander, not the person it is about."""
    used = [t for t in r.tracks if t.used_in_decision]
    if not used:
        return None
    t = max(used, key=lambda t: t.score)
    # luma: what analysis recorded for the track (localize.faces.face_luma of its landmark boxes)
    return {"track": t.track_id, "main": t.main, "face_px": t.face_px, "score": t.score, "luma": t.face_luma}


if __name__ == "__main__":
    sys.exit(main())
