"""Is it the exposure? An intervention on the face crops the model sees (issue 5).

Real faces that are darker score higher (``localize.evaluate.luma``; shipped model rho -0.26 over
56 real inputs, candidate I out of fold -0.22 over 684). Luma mixes skin tone and lighting, and no
data here labels either, so the association alone cannot say which one the model reacts to. This
probe changes only the exposure: every crop a model is given goes through a fixed tone curve
(``out = 255 (in / 255) ** gamma``) while faces, tracks and frames stay the same, and each input is
analysed once per curve with the default analysis (32 frames, the model's own operating point).

Conditions: ``as_is`` (gamma 1); ``darker`` (gamma 2: a face of luma 150 goes to about 88);
``brighter`` (gamma 0.5: 81 goes to about 144); ``exposure_norm`` (each crop's own gamma that
brings the luma of its central face region to 140, the bright third of the real inputs; an
exploratory test-time correction, judged here on the same inputs it would be tuned on).

How the result is read, written down before the first run (2026-11-23):
- Exposure drives real scores if darkening raises the real inputs' median score by about the gap
  between the darkest and the brightest third (0.35 vs 0.26 for the shipped model) and brightening
  lowers the darkest third's scores by a similar amount.
- If scores barely move (median change under a fifth of that gap), the model reacts to something
  else that dark faces have (skin tone, low-key light's shadows, the noise of a dim camera), and no
  tone curve, whether in training or at test time, is the fix.
- A test-time correction is worth pre-registering only if it also keeps every fake of the pairs
  above its original and does not lower the fakes' scores more than the reals'.

Added after the first run (its rows are unchanged): the summaries are also given for the real
inputs the model never saw (``unseen_*``, as in ``analyze_shared.py --seen``). The shipped model
scores its own training reals near 0, and those are brightly lit: any tone curve takes them out of
what it learned, which alone made darkening look like it raised bright faces' scores.

    nice -n 10 python benchmarks/exposure_probe.py [--model M] [--seen GLOB...] \\
        --extra-reals runs/registry-reals runs/registry-more \\
        --out benchmarks/results/exposure_probe_default.json
    python benchmarks/exposure_probe.py --from-rows benchmarks/results/exposure_probe_default.json  # summaries only

Out of fold (a cross-fit candidate, whose ensemble has seen nearly every input here): the items of
a judged candidate's out-of-fold calibration record, each analysed by the fold model that never
saw it (the ``-F<k>.pt`` packages), with the same tone curves; photos evenly subsampled:

    nice -n 10 python benchmarks/exposure_probe.py \\
        --oof benchmarks/results/xray_cf_pre_defocus/calibration.json \\
        --fold-models runs/xray-cf-pre-defocus-F{0,1,2,3,4}.pt --max-photos 200 \\
        --out benchmarks/results/exposure_probe_xray_cf_pre_defocus_oof.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("LOCALIZE_SHARED_DATA", ROOT.parent / "shared" / "data"))

CONDITIONS = {"as_is": 1.0, "darker": 2.0, "brighter": 0.5, "exposure_norm": None}
NORM_TARGET = 140.0
# what each condition is, as the results record it
CONDITION_NAMES = {c: ("per-crop gamma to centre luma %.0f" % NORM_TARGET if g is None else g)
                   for c, g in CONDITIONS.items()}
# the crop is the landmark box x 1.3, so the central 60 % of the face box (where face_luma
# measures) is the central 0.6 / 1.3 of the crop
CENTRE = 0.6 / 1.3


def tone(crops: np.ndarray, gamma: float) -> np.ndarray:
    """uint8 crops through out = 255 (in / 255) ** gamma."""
    lut = np.clip(np.round(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)
    return lut[crops]


def centre_luma(crop: np.ndarray) -> float:
    s = crop.shape[0]
    m = int(round((1 - CENTRE) / 2 * s))
    px = crop[m:s - m, m:s - m].astype(np.float64)
    return float((0.299 * px[..., 0] + 0.587 * px[..., 1] + 0.114 * px[..., 2]).mean())


def normalized(crops: np.ndarray, target: float = NORM_TARGET) -> np.ndarray:
    """Each crop through the gamma that takes its centre luma to ``target`` (bounded to 0.33-3)."""
    out = np.empty_like(crops)
    for i, c in enumerate(crops):
        y = min(max(centre_luma(c), 1.0), 254.0) / 255.0
        g = float(np.clip(np.log(target / 255.0) / np.log(y), 1 / 3, 3.0))
        out[i] = tone(c, g)
    return out


class ToneCurve:
    """A localizer that shows the model every crop through a tone curve; all else delegates."""

    def __init__(self, inner, gamma: float | None):
        self._inner, self._gamma = inner, gamma

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def predict(self, crops: np.ndarray, batch_size: int = 16):
        crops = normalized(crops) if self._gamma is None else (crops if self._gamma == 1.0 else tone(crops, self._gamma))
        return self._inner.predict(crops, batch_size=batch_size)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--extra-reals", nargs="*", default=[], metavar="PATH")
    ap.add_argument("--seen", nargs="*", default=None, metavar="GLOB",
                    help="keys of inputs the model trained or was calibrated on (default: the shipped model's "
                    "when no --model is given, else none)")
    ap.add_argument("--from-rows", default=None, metavar="JSON",
                    help="recompute the summaries of an earlier run's rows (no analysis); rewrites that file "
                    "unless --out is given")
    ap.add_argument("--oof", default=None, metavar="CALIBRATION_JSON",
                    help="analyse the items of a judged cross-fit candidate's out-of-fold calibration record, each "
                    "with its fold's model (--fold-models), instead of ../shared/data")
    ap.add_argument("--fold-models", nargs="*", default=[], metavar="PT", help="fold 0, 1, ... models, in order")
    ap.add_argument("--max-photos", type=int, default=200, help="out of fold: photos kept, evenly (videos: all)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from analyze_shared import SHIPPED_MODEL_SEEN

    from localize.fileio import write_json

    seen = args.seen if args.seen is not None else (SHIPPED_MODEL_SEEN if args.model is None and not args.oof else [])
    if args.from_rows:
        out = json.loads(Path(args.from_rows).read_text())
        if args.seen is None:
            seen = out.get("seen_patterns", seen)
        out.update(summaries(out["rows"], out["pair_keys"], seen))
        path = args.out or args.from_rows
    else:
        out = analyse_oof(args) if args.oof else analyse(args)
        out.update(summaries(out["rows"], out["pair_keys"], seen))
        path = args.out or str(ROOT / "benchmarks" / "results" / "exposure_probe_default.json")
    write_json(path, out)
    for part in ("reals", "darkest_third", "brightest_third", "unseen_reals", "unseen_darkest_third",
                 "unseen_brightest_third", "real_videos", "real_photos", "fakes"):
        if part not in out:
            continue
        s = out[part]
        print(f"{part} (n={s['n']}): " + "; ".join(
            f"{c} median {s[c]['median_score']}" + (f" (change {s[c]['median_change']:+})" if c != "as_is" else "")
            + f", fake {len(s[c]['called_fake'])}" for c in CONDITIONS))
    for c in CONDITIONS:
        print(f"{c}: pairs ordered {sum(bool(x['ordered']) for x in out['pairs'][c])}/{len(out['pairs'][c])}")
    print(f"wrote {path}")
    return 0


def analyse(args) -> dict:
    """Every input analysed once per tone curve: rows keyed by input, with the pairs' keys."""
    from tqdm import tqdm

    from localize.analyze import AnalyzeOptions, calibration_of, open_localizer
    from localize.calibrate import footage
    from localize.faces import FaceAnalyzer
    from localize.fileio import versions

    loc = open_localizer(args.model, args.backend)
    cal = calibration_of(loc)
    fa = FaceAnalyzer()
    opts = AnalyzeOptions(count=args.frames, overlay=False, key_frames=0)
    ff, gh = SHARED / "ffpp", SHARED / "pairs" / "ghost"
    pairs = [(ff / "original_sequences/youtube/c23/videos/519.mp4",
              ff / "manipulated_sequences/Deepfakes/c23/videos/519_515.mp4")]
    pairs += [(gh / "original.webm", m) for m in sorted(gh.glob("swap_*.webm"))]
    reals = sorted((SHARED / "reals").glob("*.mp4")) + sorted((SHARED / "people").glob("*/video_*")) + \
        sorted((SHARED / "people").glob("*/photo_*"))
    reals += [p for p, _ in footage(args.extra_reals, 0)]
    originals = sorted({o for o, _ in pairs})
    items = [(p, 0) for p in originals + reals] + [(m, 1) for _, m in pairs]

    def key(p: Path) -> str:  # relative to ../shared/data, else to the repository, else absolute
        p = p.resolve()
        for base in (SHARED.resolve(), ROOT):
            if p.is_relative_to(base):
                return str(p.relative_to(base))
        return str(p)

    rows: dict[str, dict] = {}
    t0 = time.perf_counter()
    for p, label in tqdm(items, unit="input"):
        row = {"label": label}
        row.update(_curves(p, loc, fa, opts))
        rows[key(p)] = row
    return {"model": {"path": loc.path, "id": loc.model_id, "sha256": loc.sha256, "backend": loc.backend},
            "operating_point": None if cal is None else cal.to_dict(), "frames": args.frames,
            "conditions": CONDITION_NAMES,
            "rows": rows, "pair_keys": [[key(o), key(m)] for o, m in pairs], "extra_reals": args.extra_reals,
            "seconds": round(time.perf_counter() - t0, 1), "versions": versions()}


def analyse_oof(args) -> dict:
    """The out-of-fold calibration record's items, each analysed by the model of its own fold
    (which never saw that person), once per tone curve."""
    from tqdm import tqdm

    from localize.analyze import AnalyzeOptions, open_localizer
    from localize.faces import FaceAnalyzer
    from localize.fileio import versions
    from localize.video import is_image

    cal = json.loads(Path(args.oof).read_text())
    items = [v for v in cal["videos"] if v.get("fold") is not None and v.get("score") is not None]
    photos = [v for v in items if is_image(Path(v["video"]))]
    keep = {id(photos[int(i)]) for i in np.linspace(0, len(photos) - 1, min(args.max_photos, len(photos)))} \
        if photos and args.max_photos > 0 else set()
    items = [v for v in items if not is_image(Path(v["video"])) or id(v) in keep]
    folds = sorted({int(v["fold"]) for v in items})
    if len(args.fold_models) <= max(folds):
        raise SystemExit(f"exposure_probe: --fold-models needs a model for folds {folds}")
    fa = FaceAnalyzer()
    opts = AnalyzeOptions(count=args.frames, overlay=False, key_frames=0)
    rows: dict[str, dict] = {}
    t0 = time.perf_counter()
    with tqdm(total=len(items), unit="input") as bar:
        for j in folds:
            loc = open_localizer(args.fold_models[j], args.backend)
            for v in (v for v in items if int(v["fold"]) == j):
                p = Path(v["video"]) if Path(v["video"]).is_absolute() else ROOT / v["video"]
                photo = is_image(p)
                # the candidate's decision at its out-of-fold operating point (not the fold model's own)
                thr = cal["still_threshold"] if photo and cal.get("still_threshold") is not None else cal["threshold"]
                row = {"label": int(v["label"]), "fold": j, "photo": photo, "recorded_score": v["score"]}
                row.update(_curves(p, loc, fa, opts, thr))
                rows[v["video"]] = row
                bar.update()
    return {"oof": args.oof, "fold_models": args.fold_models, "frames": args.frames, "threshold": cal.get("threshold"),
            "conditions": CONDITION_NAMES,
            "rows": rows, "pair_keys": [], "max_photos": args.max_photos,
            "seconds": round(time.perf_counter() - t0, 1), "versions": versions()}


def _curves(path: Path, loc, fa, opts, threshold: float | None = None) -> dict:
    """One input analysed once per tone curve: {curve: {score, decision} or {error}} and the
    luma of the face that decided (the frames' own: the same under every curve, unless a face
    went unjudged). ``threshold``: decide at it instead of the model's own operating point."""
    from localize.analyze import analyze_path
    from localize.errors import InputError

    row: dict = {"luma": None}
    for name, g in CONDITIONS.items():
        try:
            with tempfile.TemporaryDirectory() as td:
                r = analyze_path(path, Path(td) / "r", localizer=ToneCurve(loc, g), options=opts, analyzer=fa)
        except InputError as e:
            row[name] = {"error": str(e)}
            continue
        used = [t for t in r.tracks if t.used_in_decision]
        if row["luma"] is None and used:
            row["luma"] = max(used, key=lambda t: t.score).face_luma
        decision = r.decision if threshold is None or r.score is None else \
            ("fake" if r.score > threshold else "real")
        row[name] = {"score": r.score, "decision": decision}
    return row


def _score(r: dict, c: str):
    return (r.get(c) or {}).get("score")


def summary(sel: dict[str, dict]) -> dict:
    """Per condition: median score, the inputs called fake, and (against as_is) the median change
    and the share of inputs whose score rose."""
    out: dict = {"n": len(sel)}
    for c in CONDITIONS:
        s = [_score(r, c) for r in sel.values() if _score(r, c) is not None]
        out[c] = {"median_score": round(float(np.median(s)), 4) if s else None,
                  "called_fake": sorted(k for k, r in sel.items() if (r.get(c) or {}).get("decision") == "fake")}
        if c != "as_is":
            d = [_score(r, c) - _score(r, "as_is") for r in sel.values()
                 if _score(r, c) is not None and _score(r, "as_is") is not None]
            out[c]["median_change"] = round(float(np.median(d)), 4) if d else None
            out[c]["share_raised"] = round(float(np.mean(np.asarray(d) > 0)), 3) if d else None
    return out


def summaries(rows: dict[str, dict], pair_keys: list, seen) -> dict:
    """Real inputs (all, and those the model never saw), each also by darkest and brightest third
    of face luma; the fakes; whether each pair stays ordered under each condition."""
    from analyze_shared import is_seen

    real = {k: r for k, r in rows.items() if r["label"] == 0 and _score(r, "as_is") is not None}
    out: dict = {"seen_patterns": list(seen)}
    for prefix, sel in (("", real), ("unseen_", {k: r for k, r in real.items() if not is_seen(k, seen)})):
        lumas = sorted((r["luma"], k) for k, r in sel.items() if r.get("luma") is not None)
        third = max(1, len(lumas) // 3)
        out[prefix + "reals"] = summary(sel)
        out[prefix + "darkest_third"] = summary({k: sel[k] for _, k in lumas[:third]})
        out[prefix + "brightest_third"] = summary({k: sel[k] for _, k in lumas[-third:]})
    if any("photo" in r for r in real.values()):  # out of fold: videos and photos apart
        for part, want in (("real_videos", False), ("real_photos", True)):
            out[part] = summary({k: r for k, r in real.items() if r.get("photo") == want})
    out["fakes"] = summary({k: r for k, r in rows.items() if r["label"] == 1})
    out["pairs"] = {}
    for c in CONDITIONS:
        out["pairs"][c] = [{"original": o, "manipulated": m, "original_score": _score(rows[o], c),
                            "manipulated_score": _score(rows[m], c)} for o, m in pair_keys]
        for x in out["pairs"][c]:
            x["ordered"] = None if None in (x["original_score"], x["manipulated_score"]) else \
                x["manipulated_score"] > x["original_score"]
    return out


if __name__ == "__main__":
    sys.exit(main())
