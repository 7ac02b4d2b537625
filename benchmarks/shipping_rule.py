"""Apply a pre-registered shipping rule to a candidate model and write the verdict
(benchmarks/results/preregistration_xray.md, "The shipping rule"): so the decision is
the rule's, computed the same way for every candidate, not a reading of the numbers.

    python benchmarks/analyze_shared.py --model CAND.pt --out A.json
    python benchmarks/shipping_rule.py --model CAND.pt --analyze A.json [--out R.json]

Criteria (validation and non-held-out media only; held-out figures never enter):
1. the analysis knows the model's output target (reports, overlays and viewer name it);
2. its operating point calls no validation real fake and detects >= ``--min-val-tpr`` of the
   validation fake videos;
3. validation frame AUC >= ``--min-val-frame-auc`` (addendum 8: over video crops, where the
   validation holds photos);
4. `localize analyze` calls none of the real videos/photos of reals/ and people/ fake except
   those held out (``--held-out``, globs relative to ../shared/data);
   (addendum 8) where photos set their own operating point as a quantile (hundreds of them), the
   videos are judged by the video threshold and the photos reported apart;
5. (addendum 4) the video operating point rests on at least ``--min-real-videos`` validation
   real videos (a new like real lands above the highest of n with probability 1/(n+1));
   (addendum 5) counted as distinct footage: a forge corpus's re-encoded original is its source
   file, photos do not count.
For a cross-fit candidate (addendum 5) criterion 4 is judged out of fold: each non-held-out real
is scored by the runs of its own fold (``--oof F0.json ... Fk-1.json``: `analyze_shared.py` of each
fold's runs, packaged per fold with `train.py --package`; the fold is read from the model id's
``-f<j>of<k>``) against the candidate's threshold for its kind. Without them criterion 4 fails.

    python benchmarks/shipping_rule.py --model CF.pt --analyze A.json --oof F0.json F1.json ...
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HELD_OUT = ("reals/talking_09.mp4", "reals/talking_10.mp4", "people/elon_musk/*")


def real_validation_footage(cfg: dict, cross_fit: bool, calibration: dict | None = None) -> list[str]:
    """The distinct real videos (files) a candidate's video operating point was fitted on: the
    validation reals of its config (every real of a cross-fit, where each person validates once),
    a forge corpus's original mapped to the file it was made from, photos left out; plus
    (addendum 6) the real videos its ``calibration`` was set on (`localize calibrate --reals`)
    that none of its runs trained on: files outside the config's sources altogether."""
    from localize import data as D
    from localize import training as T
    from localize.video import is_image

    sources, splits = T.split_sources(cfg)
    reals = [s for s in sources if s.label == 0 and (cross_fit or splits.get(s.identity) == "val")]
    made_from: dict[str, str] = {}
    for root in {Path(s.video).parents[4] for s in sources if "original_sequences" in Path(s.video).parts}:
        for r in D.forge_manifest(root).get("reals", []):
            for comp in ("c0", "c23", "c40"):
                made_from[str(root / "original_sequences" / "youtube" / comp / "videos" / f"{r['id']}.mp4")] = \
                    str(Path(r["source"]).resolve())
    def footage(video) -> str:
        return made_from.get(str(video)) or str(Path(video).resolve())

    out = {footage(s.video) for s in reals if not is_image(s.video)}
    used = {footage(s.video) for s in sources}  # trained or validated on by some run
    for v in (calibration or {}).get("videos") or []:
        if v.get("label") == 0 and v.get("score") is not None and not is_image(v["video"]):
            if footage(v["video"]) not in used:
                out.add(footage(v["video"]))
    return sorted(out)


def fold_of_model(model_id: str) -> tuple[int, int] | None:
    """(fold, folds) of a cross-fitting run or of one fold's seed ensemble, from its model id."""
    m = re.search(r"-f(\d+)of(\d+)$", model_id or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def fold_of_shared_media(cfg: dict, shared: Path) -> dict[str, int]:
    """``analyze_shared`` key (path under ../shared/data) -> the fold that validated its person,
    for every real of a cross-fitting config's sources (media the config never used: absent)."""
    from localize import data as D
    from localize import training as T

    sources, _ = T.split_sources(cfg)
    k = T._fold(cfg)[1]
    folds = D.fold_of(sources, k, int(cfg["data"].get("fold_seed", 0)), T._forge_fold_labels(cfg["data"]))
    root = shared.resolve()
    out = {}
    for s in sources:
        try:
            key = Path(s.video).resolve().relative_to(root).as_posix()
        except ValueError:  # a forge corpus file, not a shared medium
            continue
        out[key] = folds[s.identity]
    return out


def out_of_fold_called_fake(checked: list[str], media_fold: dict[str, int], fold_results: dict[int, dict],
                            threshold: float, still_threshold: float | None) -> tuple[list[str], list[str]]:
    """(reals called fake, reals that could not be judged) when each is scored by the runs of its
    own fold and compared with the candidate's threshold for its kind (photos: the still one)."""
    from localize.video import is_image

    fake, missing = [], []
    for key in checked:
        j = media_fold.get(key)
        res = (fold_results.get(j) or {}).get("reals", {}).get(key) if j is not None else None
        if j is None or res is None or res.get("score") is None:
            missing.append(key)
            continue
        thr = still_threshold if (is_image(key) and still_threshold is not None) else threshold
        if float(res["score"]) > thr:
            fake.append(key)
    return sorted(fake), sorted(missing)


def _photo_split(calibration: dict) -> dict | None:
    """(Addendum 8) Criterion 2 apart for videos and photos, from the calibration's scored items,
    when photos set their own threshold as a quantile (enough of them for ``target_fpr``): then up
    to that share of validation photos lie above it by design, and "no validation real called
    fake" is judged on the videos, by the video threshold. None otherwise (the rule as before)."""
    from localize.video import is_image

    items = calibration.get("videos") or []
    n_still = int(calibration.get("n_real_still") or 0)
    if not items or not n_still or n_still * float(calibration.get("target_fpr", 0)) < 1:
        return None
    thr, sthr = float(calibration["threshold"]), float(calibration.get("still_threshold") or calibration["threshold"])
    vid = [(int(i["label"]), float(i["score"])) for i in items if not is_image(i["video"])]
    pho = [(int(i["label"]), float(i["score"])) for i in items if is_image(i["video"])]

    def rate(rows, label, t):
        sel = [v for lab, v in rows if lab == label]
        return (sum(v > t for v in sel) / len(sel)) if sel else None

    return {"video_fpr": rate(vid, 0, thr), "video_tpr": rate(vid, 1, thr), "n_real_videos": sum(1 - l for l, _ in vid),
            "photo_fpr": rate(pho, 0, sthr), "n_real_photos": sum(1 - l for l, _ in pho), "still_threshold": sthr,
            "target_fpr": calibration.get("target_fpr")}


def verdict(meta: dict, calibration: dict, target: str, analyze: dict, *, min_val_tpr: float,
            min_val_frame_auc: float, held_out: tuple[str, ...] = HELD_OUT, min_real_videos: int = 20,
            footage: list[str] | None = None, out_of_fold: tuple[list[str], list[str]] | None = None) -> dict:
    """The rule on one candidate: each criterion with its measured value, and ``ship``.
    ``footage``: the distinct real validation videos (:func:`real_validation_footage`); without
    it criterion 5 fails (the count of addendum 5 cannot be made). ``out_of_fold``: for a
    cross-fit candidate, (called fake, not judged) from :func:`out_of_fold_called_fake`;
    without it criterion 4 fails for such a candidate."""
    from localize.targets import TARGETS

    metrics = meta.get("metrics") or {}
    checked = {k: v for k, v in analyze["reals"].items() if not any(fnmatch.fnmatch(k, g) for g in held_out)}
    errors = sorted(k for k, v in checked.items() if v.get("status") == "error")
    called_fake = sorted(k for k, v in checked.items() if v.get("decision") == "fake")
    val_fpr, val_tpr = calibration.get("val_fpr"), calibration.get("val_tpr")
    photos = _photo_split(calibration)
    if photos is not None:  # addendum 8: videos by the video threshold, photos by their own quantile
        val_fpr, val_tpr = photos["video_fpr"], photos["video_tpr"]
    # addendum 8: the frame AUC over video crops, where many photo identities share validation
    auc = metrics.get("frame_auc_videos", metrics.get("frame_auc"))
    n_videos = int(calibration.get("n_real") or 0) - int(calibration.get("n_real_still") or 0)
    cross_fit = bool(meta.get("cross_fit"))
    crit = {
        "1_analysis_presents_target": {"target": target, "pass": target in TARGETS},
        "2_operating_point": {"val_fpr": val_fpr, "val_tpr": val_tpr, "n_real": calibration.get("n_real"),
                              "min_val_tpr": min_val_tpr, **({"photos": photos} if photos is not None else {}),
                              "pass": val_fpr is not None and val_fpr == 0 and val_tpr is not None
                              and val_tpr >= min_val_tpr},
        "3_validation_frame_auc": {"frame_auc": auc, "min": min_val_frame_auc,
                                   "over": "video crops" if "frame_auc_videos" in metrics else "all crops",
                                   "pass": auc is not None and auc >= min_val_frame_auc},
        "4_no_non_held_out_real_called_fake": (
            {"checked": len(checked), "called_fake": called_fake, "errors": errors,
             "pass": not called_fake and not errors} if not cross_fit else
            {"checked": len(checked), "judged": "out of fold (addendum 5)",
             "called_fake": None if out_of_fold is None else out_of_fold[0],
             "not_judged": None if out_of_fold is None else out_of_fold[1],
             "called_fake_by_the_whole_ensemble": called_fake, "errors": errors,
             **({"note": "cross-fit candidate: give each fold's analyze results (--oof)"} if out_of_fold is None
                else {}),
             "pass": out_of_fold is not None and not out_of_fold[0] and not out_of_fold[1] and not errors}),
        "5_real_validation_videos": {"n_in_calibration": n_videos,
                                     "n_distinct_footage": None if footage is None else len(footage),
                                     "footage": footage, "min": min_real_videos,
                                     "pass": footage is not None and len(footage) >= min_real_videos},
    }
    return {"criteria": crit, "ship": all(c["pass"] for c in crit.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--analyze", required=True, help="benchmarks/analyze_shared.py output for this model")
    ap.add_argument("--min-val-tpr", type=float, default=0.25)
    ap.add_argument("--min-val-frame-auc", type=float, default=0.70)
    ap.add_argument("--min-real-videos", type=int, default=20)
    ap.add_argument("--held-out", nargs="*", default=list(HELD_OUT))
    ap.add_argument("--oof", nargs="*", default=[], metavar="FOLD.json",
                    help="cross-fit candidate: analyze_shared.py results of each fold's runs")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from localize.fileio import write_json
    from localize.model import load_localizer

    loc = load_localizer(args.model)
    analyze = json.loads(Path(args.analyze).read_text())
    if analyze["model"]["sha256"] != loc.sha256:
        print(f"{args.analyze}: analyze results are of another model ({analyze['model']['sha256'][:12]})",
              file=sys.stderr)
        return 2
    cross_fit = bool(loc.meta.get("cross_fit"))
    footage = real_validation_footage(loc.meta["config"], cross_fit, loc.calibration)
    oof = None
    if cross_fit and args.oof:
        shared = Path(os.environ.get("LOCALIZE_SHARED_DATA", ROOT.parent / "shared" / "data"))
        fold_results = {}
        for f in args.oof:
            res = json.loads(Path(f).read_text())
            fk = fold_of_model(res["model"]["id"])
            if fk is None or fk[1] != loc.meta["cross_fit"]["folds"]:
                print(f"{f}: not the results of one fold of this {loc.meta['cross_fit']['folds']}-fold cross-fit "
                      f"(model {res['model']['id']})", file=sys.stderr)
                return 2
            fold_results[fk[0]] = res
        checked = [k for k in analyze["reals"] if not any(fnmatch.fnmatch(k, g) for g in args.held_out)]
        cal = loc.calibration
        oof = out_of_fold_called_fake(checked, fold_of_shared_media(loc.meta["config"], shared), fold_results,
                                      float(cal["threshold"]), cal.get("still_threshold"))
    v = verdict(loc.meta, loc.calibration, loc.target, analyze, min_val_tpr=args.min_val_tpr,
                min_val_frame_auc=args.min_val_frame_auc, held_out=tuple(args.held_out),
                min_real_videos=args.min_real_videos, footage=footage, out_of_fold=oof)
    v = {"model": args.model, "model_id": loc.model_id, "sha256": loc.sha256, **v}
    for k, c in v["criteria"].items():
        print(f"{'PASS' if c['pass'] else 'FAIL'} {k}: " + ", ".join(f"{a}={b}" for a, b in c.items() if a != "pass"))
    print("ship" if v["ship"] else "do not ship")
    if args.out:
        write_json(args.out, v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
