"""``run_evaluation(config, out)``: build the protocol plan, make the degraded
variants, score every (case, degradation) with every detector, compute the metrics
and write the report.

Resumable: features are cached per file hash + parameters, detector results per
(detector, file hash[, claimed identity]), clips and degraded variants are written
once under the work folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..fileio import sha256_file, versions
from . import protocols as P
from .detectors import IdentityDetector, MaskDetector, MesoDetector, ScoreCache
from .metrics import binary_metrics

DEGRADATIONS = ("none", "crf23", "crf40", "blur1", "blur2", "blur3", "half")
KINDS = ("identity-replaced", "identity-remained")


@dataclass
class EvalResult:
    out: Path
    results: dict[str, Any]
    report_md: Path
    report_html: Path
    results_json: Path
    seconds: float


def default_cache() -> Path:
    home = os.environ.get("LOCALIZE_HOME")
    if home:
        return Path(home) / "cache" / "evaluate"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "localize" / "evaluate"


# The built-in corpus evaluation (`localize demo`): only pip-installed media, a few
# minutes on 2 cores. It ships inside the package, so an installed copy has it too.
BUILTIN_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "eval_builtin.yaml"


def load_config(config: str | Path | dict) -> dict:
    """A YAML file, a dict, or "builtin" (:data:`BUILTIN_CONFIG`)."""
    if isinstance(config, dict):
        return dict(config)
    if str(config) == "builtin":
        config = BUILTIN_CONFIG
    from ..fileio import read_yaml

    p = Path(config)
    if not p.exists():
        raise InputError(p, "no such evaluation config")
    cfg = read_yaml(p) or {}
    if not isinstance(cfg, dict):
        raise InputError(p, "an evaluation config is a mapping (protocols:, detectors:, degradations:)")
    cfg.setdefault("name", p.stem)
    return cfg


# ---------------------------------------------------------------- degradations

def degrade(src: str, deg: str, dst: Path) -> str:
    """A degraded copy of ``src`` (written once): libx264 CRF re-encode, Gaussian blur
    (sigma 1/2/3) or half resolution; blur/half are written losslessly so only the
    named degradation differs."""
    import cv2

    from ..video import iter_frames, probe, reencode, write_video

    if deg == "none":
        return src
    if dst.exists():
        return str(dst)
    if deg.startswith("crf"):
        reencode(src, dst, int(deg[3:]))
        return str(dst)
    info = probe(src)
    if deg.startswith("blur"):
        sigma = float(deg[4:])
        fn = lambda f: cv2.GaussianBlur(f, (0, 0), sigma)  # noqa: E731
    elif deg == "half":
        w, h = max(2, info.width // 2), max(2, info.height // 2)
        fn = lambda f: cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    else:
        raise InputError(None, f"unknown degradation {deg!r}; choose from {', '.join(DEGRADATIONS)}")
    write_video(dst, (fn(f) for _, f in iter_frames(src)), info.fps, lossless=True)
    return str(dst)


def variant_path(case: P.Case, deg: str, work: Path) -> str:
    if deg in ("crf23", "crf40") and case.variants.get("c" + deg[3:]):
        return case.variants["c" + deg[3:]]
    safe = case.case_id.replace("/", "__").replace("@", "_at_")
    return degrade(case.path, deg, work / "degraded" / deg / f"{safe}.mp4")


# ---------------------------------------------------------------- plan

def build_plan(cfg: dict, work: Path, progress: bool = True) -> P.Plan:
    plan = P.Plan()
    prot = cfg.get("protocols", {}) or {}
    if "people" in prot:
        c = prot["people"] or {}
        P.people_protocol(plan, Path(c.get("root", "../shared/data/people")), work,
                          reference_fraction=float(c.get("reference_fraction", 0.55)),
                          reals=Path(c["reals"]) if c.get("reals") else None,
                          max_test_frames=c.get("max_test_frames", 150))
    if "builtin" in prot:
        builtin_sources(plan, work, prot["builtin"] or {})
    if "ffpp_poi" in prot:
        c = prot["ffpp_poi"] or {}
        P.ffpp_poi_protocol(plan, Path(c.get("root", "../shared/data/ffpp")), work,
                            compression=c.get("compression", "c23"),
                            reference_seconds=float(c.get("reference_seconds", 20)),
                            n_reference=int(c.get("n_reference", 5)),
                            test_clip_seconds=float(c.get("test_clip_seconds", 3.3)))
    if "pairs" in prot:
        c = prot["pairs"] or {}
        P.pairs_protocol(plan, Path(c.get("root", "../shared/data/pairs/ghost")), work,
                         name=c.get("identity", "ghost_performer"), shown=c.get("shown") or {})
    if "forge" in prot:
        c = prot["forge"] or {}
        if not (work / "test_sources").exists():
            raise InputError(None, "the forge protocol forges the people/builtin test clips: enable one of them")
        P.forge_protocol(plan, [work / "test_sources"], work, methods=list(c.get("methods", ["faceswap", "reenact",
                                                                                               "lipsync"])),
                         max_frames=int(c.get("max_frames", 150)), seed=int(c.get("seed", 0)), progress=progress)
    if "csv" in prot:
        c = prot["csv"] or {}
        P.csv_protocol(plan, Path(c["path"]))
        for name, refs in (c.get("identities") or {}).items():
            plan.add_identity(name, [P.Segment(str(r)) for r in refs])
    if not plan.cases:
        raise InputError(None, "the evaluation plan has no test videos (check the protocols' paths)")
    return plan


def builtin_sources(plan: P.Plan, work: Path, c: dict) -> None:
    """The built-in media as a tiny identity corpus: carphone's first half enrols
    'carphone', its second half is the real test clip (and the forge's target); the
    astronaut photo enrols 'astronaut' (and is the faceswap source)."""
    from ..media import astronaut_image, carphone_path
    from ..video import probe, write_image

    cp = carphone_path()
    n = probe(cp).n_frames
    k = int(round(float(c.get("reference_fraction", 0.5)) * n))
    plan.add_identity("carphone", [P.Segment(str(cp), 0, k)])
    test = P.cut(P.Segment(str(cp), k, n), work / "test_sources" / "carphone" / "carphone_test0.mp4")
    plan.cases.append(P.Case("builtin/carphone/0", test, 0, "real", "real", "carphone", "people",
                             original=str(cp), group=str(cp)))
    photo = work / "test_sources" / "astronaut" / "astronaut.png"
    if not photo.exists():
        write_image(photo, astronaut_image())
    plan.add_identity("astronaut", [P.Segment(str(photo))])


# ---------------------------------------------------------------- scoring

def _training_sources(cfg: dict) -> set[str]:
    """Videos the shipped localizer and MesoNet were trained on (every config named)."""
    from ..data import collect_sources
    from ..training import load_config as load_train

    tcs = cfg.get("training_config", "configs/default.yaml")
    out: set[str] = set()
    for tc in [tcs] if isinstance(tcs, str) else tcs:  # one config per training stage
        try:
            t = load_train(tc)
        except Exception:
            continue
        try:
            out |= {str(Path(s.video).resolve())
                    for s in collect_sources(t["data"]["sources"], t["data"].get("exclude", ()))}
        except Exception:
            pass  # sources missing here: their forge manifests below may still name the originals
        # a forge corpus names the real videos it was made from: those were seen too
        for spec in t["data"]["sources"]:
            man = Path(os.path.expanduser(str(spec.get("path", "")))) / "manifest.json"
            try:
                m = json.loads(man.read_text()) if man.is_file() else {}
            except (OSError, json.JSONDecodeError):
                continue
            for item in P.manifest_list(m, "reals") + P.manifest_list(m, "photos"):
                if item.get("source"):
                    out.add(str(Path(item["source"]).resolve()))
    return out


def _make_detectors(cfg: dict, plan: P.Plan, cache_dir: Path, problems: dict, progress: bool) -> dict:
    dcfg = cfg.get("detectors", {"identity": {}, "mask": {}, "mesonet": {}}) or {}
    dets: dict[str, Any] = {}
    if "identity" in dcfg:
        dets["identity"] = IdentityDetector(plan, cache_dir, dcfg["identity"] or {}, progress)
    if "mask" in dcfg:
        try:
            c = dcfg["mask"] or {}
            dets["mask"] = MaskDetector(c.get("model"), int(c.get("frames", 16)))
        except Exception as e:  # no shipped model yet, or analyze unavailable
            problems["mask"] = f"{type(e).__name__}: {e}"
    if "mesonet" in dcfg:
        c = dcfg["mesonet"] or {}
        w = c.get("weights") or str(Path(__file__).resolve().parents[1] / "weights" / "mesonet.pt")
        try:
            dets["mesonet"] = MesoDetector(w, int(c.get("frames", 16)))
        except Exception as e:
            problems["mesonet"] = f"{type(e).__name__}: {e}"
    return dets


def degraded_subset(cases: list[P.Case], max_per_kind: int | None) -> list[P.Case]:
    """The cases that also get degraded variants: all, or at most ``max_per_kind`` per
    kind (real / identity-replaced / identity-remained), spread over sources and
    methods (round-robin over (protocol, method, group)), deterministic."""
    if not max_per_kind:
        return list(cases)
    out = []
    for kind in ("real", *KINDS):
        buckets: dict[tuple, list[P.Case]] = {}
        for c in sorted((c for c in cases if c.kind == kind), key=lambda c: c.case_id):
            buckets.setdefault((c.protocol, c.method, c.group), []).append(c)
        order, queues = [], [list(v) for _, v in sorted(buckets.items())]
        while queues and len(order) < max_per_kind:
            for q in queues:
                if q and len(order) < max_per_kind:
                    order.append(q.pop(0))
            queues = [q for q in queues if q]
        out += order
    return out


def score_all(plan: P.Plan, dets: dict, degradations: list[str], work: Path, cache: ScoreCache,
              seen: set[str], progress: bool = True, max_per_kind: int | None = None) -> list[dict]:
    from tqdm import tqdm

    rows = []
    sub = degraded_subset(plan.cases, max_per_kind)
    jobs = [(c, d) for d in degradations for c in (plan.cases if d == "none" else sub)]
    bar = tqdm(jobs, desc="evaluate", unit="video", disable=not progress)
    in_sub = {c.case_id for c in sub}
    for case, deg in bar:
        try:
            path = variant_path(case, deg, work)
        except InputError as e:
            for dn in dets:
                rows.append(_row(case, deg, dn, None, {"status": f"error: {e}"}, seen))
            continue
        sha = sha256_file(path)
        for dn, det in dets.items():
            key = f"{det.key}_{sha[:24]}" + (f"_{_h(case.identity)}" if dn == "identity" else "")
            res = cache.get(dn, key)
            if res is None:
                try:
                    res = det.score(case, path)
                except InputError as e:
                    res = {"score": None, "probability": None, "status": f"error: {e.problem}"}
                cache.put(dn, key, res)
            if dn == "identity":
                new = [_row(case, deg, f"identity:{fam}", None, {**res, **(res.get(fam) or {})}, seen)
                       for fam in IdentityDetector.families]
            else:
                new = [_row(case, deg, dn, None, res, seen)]
            for r in new:
                r["degraded_subset"] = case.case_id in in_sub
            rows += new
    return rows


def _h(s: str | None) -> str:
    return hashlib.sha256(str(s).encode()).hexdigest()[:8]


def _row(case: P.Case, deg: str, det: str, _unused, res: dict, seen: set[str]) -> dict:
    orig = case.original or case.path
    return {"case_id": case.case_id, "label": case.label, "kind": case.kind, "method": case.method,
            "identity": case.identity, "protocol": case.protocol, "checked_as": case.checked_as,
            "degradation": deg, "detector": det, "score": res.get("score"), "probability": res.get("probability"),
            "decision": res.get("decision"), "status": res.get("status"),
            "seen_in_training": str(Path(orig).resolve()) in seen}


# ---------------------------------------------------------------- metrics

def thresholds(dets: dict) -> dict[str, float]:
    out = {f"identity:{f}": 0.5 for f in IdentityDetector.families}
    if "mask" in dets:
        out["mask"] = 0.5
    if "mesonet" in dets:
        out["mesonet"] = dets["mesonet"].threshold
    return out


def compute_metrics(rows: list[dict], thr: dict[str, float], n_boot: int, *, subset=None) -> list[dict]:
    """Metrics per detector x degradation x manipulation kind (reals shared)."""
    out = []
    rows = [r for r in rows if subset is None or subset(r)]
    for det in sorted({r["detector"] for r in rows}):
        for deg in [d for d in DEGRADATIONS if any(r["degradation"] == d for r in rows)]:
            rs = [r for r in rows if r["detector"] == det and r["degradation"] == deg]
            reals = [r for r in rs if r["label"] == 0]
            for kind in ("all", *KINDS):
                fakes = [r for r in rs if r["label"] == 1 and (kind == "all" or r["kind"] == kind)]
                if not fakes or not reals:
                    continue
                sel = reals + fakes
                use_dec = det == "mask"
                m = binary_metrics([r["label"] for r in sel], [_num(r["score"]) for r in sel], thr.get(det, 0.5),
                                   probs=[_num(r["probability"]) for r in sel],
                                   decisions=[None if r["decision"] is None else r["decision"] == "fake" for r in sel]
                                   if use_dec else None, n_boot=n_boot)
                out.append({"detector": det, "degradation": deg, "kind": kind, **m.to_dict()})
    return out


def _num(v):
    return None if v is None else float(v)


def references_curve(plan: P.Plan, det: IdentityDetector, ks: list[int], n_boot: int) -> list[dict]:
    """Identity scorer AUC against the number of reference videos (identities that have
    at least k reference videos; photos are always kept)."""
    out = []
    for k in ks:
        names = {n for n in plan.identities if det.n_reference_videos(n) >= k}
        cases = [c for c in plan.cases if c.identity in names]
        if not any(c.label == 1 for c in cases) or not any(c.label == 0 for c in cases):
            out.append({"n_references": k, "n_identities": len(names), "rows": 0})
            continue
        rec = {"n_references": k, "n_identities": len(names), "identities": sorted(names)}
        for kind in ("all", *KINDS):
            sel = [c for c in cases if c.label == 0 or kind == "all" or c.kind == kind]
            if not any(c.label == 1 for c in sel):
                continue
            res = [det.score(c, c.path, n_videos=k) for c in sel]
            for fam in IdentityDetector.families:
                m = binary_metrics([c.label for c in sel], [(r.get(fam) or {}).get("score") for r in res], 0.5,
                                   probs=[(r.get(fam) or {}).get("probability") for r in res], n_boot=n_boot)
                rec[f"{kind}:{fam}"] = {"auc": m.auc, "auc_ci": m.auc_ci, "fpr": m.fpr, "tpr": m.tpr,
                                        "n_real": m.n_real, "n_fake": m.n_fake}
        out.append(rec)
    return out


def pixel_metrics(plan: P.Plan, det: MaskDetector, progress: bool) -> dict:
    tot = {"tp": 0, "fp": 0, "fn": 0, "frames": 0, "videos": 0}
    by_method: dict[str, dict] = {}
    for c in plan.cases:
        if c.label != 1 or not c.mask:
            continue
        r = det.pixel_counts(c)
        if r is None:
            continue
        for acc in (tot, by_method.setdefault(c.method, {"tp": 0, "fp": 0, "fn": 0, "frames": 0, "videos": 0})):
            for k in ("tp", "fp", "fn", "frames"):
                acc[k] += r[k]
            acc["videos"] += 1

    def fin(a):
        tp, fp, fn = a["tp"], a["fp"], a["fn"]
        return {**a, "iou": tp / max(1, tp + fp + fn), "f1": 2 * tp / max(1, 2 * tp + fp + fn)}

    return {"all": fin(tot), **{m: fin(a) for m, a in by_method.items()}}


# ---------------------------------------------------------------- entry point

def run_evaluation(config: str | Path | dict, out: str | Path, *, progress: bool = True) -> EvalResult:
    from .report import write_report

    t0 = time.time()
    cfg = load_config(config)
    out = Path(out)
    work = Path(cfg.get("work") or out / "work")
    cache_dir = Path(cfg.get("cache") or default_cache())
    work.mkdir(parents=True, exist_ok=True)
    degradations = list(cfg.get("degradations", DEGRADATIONS))
    bad = [d for d in degradations if d not in DEGRADATIONS]
    if bad:
        raise InputError(None, f"unknown degradation(s) {bad}; choose from {', '.join(DEGRADATIONS)}")
    n_boot = int(cfg.get("bootstrap", 2000))
    timings = {}
    plan = build_plan(cfg, work, progress)
    timings["plan"] = round(time.time() - t0, 1)
    problems: dict[str, str] = {}
    dets = _make_detectors(cfg, plan, cache_dir, problems, progress)
    seen = _training_sources(cfg) if ("mask" in dets or "mesonet" in dets) else set()
    t1 = time.time()
    max_per_kind = cfg.get("degraded_max_per_kind")
    rows = score_all(plan, dets, degradations, work, ScoreCache(cache_dir / "scores"), seen, progress,
                     max_per_kind=max_per_kind)
    if max_per_kind:
        plan.notes.append(f"degraded variants were scored on at most {max_per_kind} videos per kind (real, "
                          "identity-replaced, identity-remained), spread over sources and methods; full quality "
                          "('none') uses every video, so compare degradations with each other, not with 'none' "
                          "of the main table")
    timings["scoring"] = round(time.time() - t1, 1)
    thr = thresholds(dets)
    metrics = compute_metrics(rows, thr, n_boot)
    # degradations compared on the same videos ('none' restricted to the degraded subset)
    metrics_deg = compute_metrics(rows, thr, n_boot, subset=lambda r: r.get("degraded_subset", True)) \
        if max_per_kind else metrics
    # only when the training sources could be matched to test videos (a training corpus of
    # derived files, e.g. a forge corpus, cannot be matched by path: no table then)
    unseen = compute_metrics(rows, thr, n_boot, subset=lambda r: not r["seen_in_training"]) \
        if any(r["seen_in_training"] for r in rows) else []
    t2 = time.time()
    refs = references_curve(plan, dets["identity"], list(cfg.get("references", [1, 2, 3, 5])), n_boot) \
        if "identity" in dets else []
    pix = pixel_metrics(plan, dets["mask"], progress) if "mask" in dets else {}
    timings["curves"] = round(time.time() - t2, 1)
    fpr_people = {}
    for det in sorted({r["detector"] for r in rows}):
        rr = [r for r in rows if r["detector"] == det and r["degradation"] == "none" and r["label"] == 0]
        vals = [r for r in rr if r["probability"] is not None or r["decision"] is not None]
        if det == "mask":
            fp = [r["decision"] == "fake" for r in vals if r["decision"] is not None]
        else:
            fp = [r["probability"] >= thr.get(det, 0.5) for r in vals if r["probability"] is not None]
        fpr_people[det] = {"fpr": float(np.mean(fp)) if fp else None, "n_real": len(fp),
                           "false_positives": sorted(r["case_id"] for r, f in zip(vals, fp) if f),
                           "threshold": thr.get(det, 0.5)}
    results = {
        "name": cfg.get("name", "evaluation"), "config": cfg, "versions": versions(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "detectors": {k: getattr(v, "key", "") for k, v in dets.items()}, "detector_problems": problems,
        "thresholds": thr, "plan": plan.to_dict(), "degradations": degradations,
        "metrics": metrics, "metrics_degradation": metrics_deg, "metrics_unseen_by_trained_detectors": unseen, "references_curve": refs,
        "pixel": pix, "fpr_on_reals": fpr_people, "rows": rows,
        "counts": {"cases": len(plan.cases), "reals": sum(c.label == 0 for c in plan.cases),
                   "fakes": {k: sum(c.label == 1 and c.kind == k for c in plan.cases) for k in KINDS},
                   "identities": len(plan.identities)},
    }
    timings["total"] = round(time.time() - t0, 1)
    results["timings_s"] = timings
    md, html, js = write_report(results, out)
    return EvalResult(out, results, md, html, js, time.time() - t0)
