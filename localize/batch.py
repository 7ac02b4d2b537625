"""``localize analyze``: many videos and images from the command line, each analysed by
:func:`localize.analyze.analyze_path` into its own result folder.

Why apart from the analysis: what belongs to a run over many inputs (expanding folders, unique
result names, ``--resume``, the identity check each input claims, ``summary.csv`` /
``summary.html``, the DFDC submission and metrics against given labels) is not part of
analysing one input, which the server, calibration, evaluation and the demo call directly.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import decision as D
from .analyze import REPORT_JSON, AnalyzeOptions, analyze_path, calibration_of, open_localizer
from .errors import InputError
from .fileio import sha256_file, write_json, write_text

SUMMARY_CSV = "summary.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_IMAGE",
                   help="videos, images or folders of them (one result sub-folder per input)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", default=None, help="checkpoint (.pt) or exported model (.onnx); default: shipped model")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"],
                   help="auto/onnx: onnxruntime (a .pt is exported once to $LOCALIZE_CACHE/onnx); torch: eager "
                        "PyTorch (auto falls back to it if the export fails)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--frames", type=int, default=32, metavar="N", help="N evenly spaced frames (default 32)")
    g.add_argument("--every", type=int, metavar="N", help="every N-th frame")
    g.add_argument("--all-frames", action="store_true", help="every frame")
    p.add_argument("--detect-every", type=int, default=None, metavar="K",
                   help="run the face detector every K analysed frames, track in between (default: auto)")
    p.add_argument("--detect-side", type=int, default=640, metavar="PX",
                   help="detect faces on a copy scaled to this long side (default 640); a larger scale is chosen "
                        "for the whole input when the survey finds faces this one misses (--survey-frames)")
    p.add_argument("--survey-frames", type=int, default=3, metavar="N",
                   help="also detect N of the sampled frames, spread over the input, at up to 1280 px; if that "
                        "finds a face --detect-side misses (group footage), detect the whole input again at a "
                        "scale that finds it (default 3; 0 = off)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: all cores)")
    p.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4 (faster)")
    p.add_argument("--no-verify-faces", action="store_true",
                   help="judge every HOG detection, also those the second detector (MMOD) does not confirm as faces")
    p.add_argument("--key-frames", type=int, default=8, help="most suspicious frames saved as PNG")
    p.add_argument("--dfdc-csv", metavar="FILE", help="also write a DFDC submission (filename,label=probability)")
    p.add_argument("--no-face-prob", type=float, default=None, metavar="P",
                   help="probability written to the DFDC csv for inputs without a usable result "
                        "(default: leave them out and say so)")
    p.add_argument("--labels", metavar="CSV", help="filename,label (0/1 or REAL/FAKE): report log loss, AUC, accuracy (a bare name "
                        "matches the one input of that name, a path that file)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--person", metavar="NAME",
                     help="also score every input against NAME's identity profile (`localize enroll`): the "
                          "zero-shot identity scorer's verdict, reported beside the localizer's, never fused")
    who.add_argument("--people", metavar="CSV",
                     help="as --person, with the person each input claims to show: filename,person per line "
                          "(inputs not listed get no identity check)")
    p.add_argument("--profiles", metavar="DIR", default=None,
                   help="identity profiles folder (default $LOCALIZE_HOME/profiles or ~/.local/share/localize/profiles)")
    p.add_argument("--feature-cache", metavar="DIR", default=None,
                   help="identity feature cache (default ~/.cache/localize/features)")
    p.add_argument("--resume", action="store_true",
                   help="skip inputs whose result folder already holds a report for the same file, model and options")


def _expand(inputs: Sequence[str]) -> list[Path]:
    from .video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    out: list[Path] = []
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in
                           (VIDEO_SUFFIXES | IMAGE_SUFFIXES) and not f.name.startswith("."))
            if not found:
                out.append(p)  # reported as an error: an empty folder
            out.extend(found)
        else:
            out.append(p)
    return out


def _names(paths: Sequence[Path]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        base = p.stem or p.name or "input"
        n = seen.get(base, 0)
        seen[base] = n + 1
        names.append(base if n == 0 else f"{base}_{n + 1}")
    return names


def _options(args) -> AnalyzeOptions:
    if args.all_frames:
        o = AnalyzeOptions(frames="all")
    elif args.every:
        o = AnalyzeOptions(frames="every", every=args.every)
    else:
        if args.frames < 1:
            raise InputError(None, "--frames must be >= 1")
        o = AnalyzeOptions(frames="count", count=args.frames)
    o.detect_every = args.detect_every
    if args.detect_side < 160:
        raise InputError(None, "--detect-side must be >= 160")
    o.detect_side = args.detect_side
    if args.survey_frames < 0:
        raise InputError(None, "--survey-frames must be >= 0")
    o.survey_frames = args.survey_frames
    o.batch_size = max(1, args.batch_size)
    o.overlay = not args.no_overlay
    o.verify_faces = not args.no_verify_faces
    o.key_frames = max(0, args.key_frames)
    return o


def _identity_checks(args, paths: list[Path]) -> dict[Path, Any] | None:
    """Each input's identity check (``--person``: every input against one person; ``--people``: the
    person each input claims to show), or None when neither is asked for. Every profile named is
    loaded first, so a missing one stops the run before anything is analysed."""
    if not (args.person or args.people):
        return None
    from .identity.check import IdentityCheck
    from .identity.features import FeatureCache

    claims = (dict.fromkeys(paths, args.person) if args.person else
              _assign(Path(args.people), _read_listing(Path(args.people), "person", str), paths))
    cache = FeatureCache(args.feature_cache)  # one face analyzer for all the people
    checks = {who: IdentityCheck(who, args.profiles, cache) for who in dict.fromkeys(claims.values())}
    return {p: checks[who] for p, who in claims.items()}


def _read_labels(path: Path, paths: list[Path]) -> dict[Path, int]:
    def label(v: str) -> int:
        if v.upper() in ("1", "FAKE", "1.0"):
            return 1
        if v.upper() in ("0", "REAL", "0.0"):
            return 0
        raise ValueError(f"label {v!r} is not 0/1/REAL/FAKE")

    return _assign(path, _read_listing(path, "label", label), paths)


@dataclasses.dataclass(frozen=True)
class _Listed:
    """One ``file,value`` line of a --labels or --people file."""
    file: str  # as written: a bare file name, or a path
    value: Any
    line: int


def _read_listing(path: Path, what: str, value: Callable[[str], Any]) -> list[_Listed]:
    """``filename,<what>`` lines (a header line and blank lines allowed; more columns ignored).
    ``value`` parses the second column (ValueError: the problem). A malformed line is one error
    naming the line."""
    if not path.is_file():
        raise InputError(path, f"{what} file not found")
    out: list[_Listed] = []
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not any(c.strip() for c in row) or (n == 1 and row[0].strip().lower() in ("filename", "file", "name")):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise InputError(path, f"line {n}: expected filename,{what}")
            try:
                out.append(_Listed(row[0].strip(), value(row[1].strip()), n))
            except ValueError as e:
                raise InputError(path, f"line {n}: {e}") from None
    if not out:
        raise InputError(path, f"no filename,{what} lines")
    return out


def _assign(path: Path, listing: list[_Listed], inputs: list[Path]) -> dict[Path, Any]:
    """Each listed input's value. A line naming a path (relative to the working folder or to the
    listing's own folder) matches that file; otherwise its file name matches inputs by name, which
    must then be unique: a claim about ``a/x.mp4`` must never reach ``b/x.mp4`` (an identity check
    against the wrong person, a wrong label in the metrics). A path line wins over a name line for
    the same input; two lines giving one input different values are an error naming the line."""
    def key(p: Path) -> Path:
        return p.expanduser().resolve()

    by_path: dict[Path, list[Path]] = {}
    by_name: dict[str, list[Path]] = {}
    for p in dict.fromkeys(inputs):
        by_path.setdefault(key(p), []).append(p)
        by_name.setdefault(p.name, []).append(p)
    chosen: dict[Path, tuple[_Listed, bool]] = {}  # input -> (line, matched by path)
    unmatched: list[str] = []
    for item in listing:
        f = Path(item.file)
        hits: list[Path] = []
        if item.file != f.name:  # written as a path ("./x.mp4" too)
            bases = [f] if f.is_absolute() else [f, path.parent / f]
            hits = list(dict.fromkeys(p for b in bases for p in by_path.get(key(b), [])))
        exact = bool(hits)
        if not hits:
            hits = by_name.get(f.name, [])
            if len({key(p) for p in hits}) > 1:
                shown = ", ".join(str(p) for p in hits[:3]) + (", ..." if len(hits) > 3 else "")
                raise InputError(path, f"line {item.line}: {f.name} matches {len(hits)} inputs in different "
                                       f"folders ({shown}): list each by its path")
        if not hits:
            unmatched.append(item.file)
        for p in hits:
            prev = chosen.get(p)
            if prev is None or (exact and not prev[1]):
                chosen[p] = (item, exact)
            elif prev[1] == exact and prev[0].value != item.value:
                raise InputError(path, f"line {item.line}: {p} is listed twice, as {prev[0].value} "
                                       f"(line {prev[0].line}) and {item.value}")
    if unmatched:
        print(f"localize analyze: warning: {path}: {len(unmatched)} listed file(s) are not among the inputs "
              f"({', '.join(unmatched[:3])}{', ...' if len(unmatched) > 3 else ''})", file=sys.stderr)
    return {p: chosen[p][0].value for p in inputs if p in chosen}


_DERIVED_OPTIONS = ("detect_every_used", "detection")  # what analysis chose, recorded beside the options


def _resumable(folder: Path, src: Path, loc, opts: AnalyzeOptions, identity=None) -> dict | None:
    rp = folder / REPORT_JSON
    if not rp.exists() or not src.is_file():
        return None
    try:
        old = json.loads(rp.read_text(encoding="utf-8"))
        same = (old["input"]["sha256"] == sha256_file(src) and old["model"]["sha256"] == loc.sha256 and
                {k: v for k, v in old["options"].items() if k not in _DERIVED_OPTIONS} == dataclasses.asdict(opts))
        was = old.get("identity") or {}
        # the same person's profile as enrolled then (re-enrolling changes its verdicts), or none either time
        same = same and ((was.get("person"), (was.get("profile") or {}).get("created")) ==
                         ((identity.person, identity.profile.created) if identity is not None else (None, None)))
        return old if same else None
    except (ValueError, KeyError, OSError):
        return None


def run(args) -> int:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    out = Path(args.out)
    opts = _options(args)
    paths = _expand(args.inputs)
    labels = _read_labels(Path(args.labels), paths) if args.labels else None
    checks = _identity_checks(args, paths)  # a missing profile is one error line before any analysis
    loc = open_localizer(args.model, args.backend, args.threads)
    if loc.meta.get("quality_warning"):
        print(f"localize analyze: warning: model {loc.path}: {loc.meta['quality_warning']}", file=sys.stderr)
    if calibration_of(loc) is None:
        print(f"localize analyze: warning: model {loc.path} carries no calibration: scores are reported, "
              "decisions and probabilities are not", file=sys.stderr)
    from .faces import FaceAnalyzer

    analyzer = FaceAnalyzer(detect_side=opts.detect_side)
    rows, errors = [], 0
    bar = tqdm(total=len(paths), unit="file", disable=len(paths) < 2 or not sys.stderr.isatty()) if tqdm else None
    for src, name in zip(paths, _names(paths)):
        folder = out / name
        t0 = time.perf_counter()
        row = {"input": str(src), "name": src.name, "folder": name, "status": "error", "decision": "",
               "probability": "", "score": "", "threshold": "", "threshold_probability": "", "marginal": "",
               "grayscale": "",
               "frames_analyzed": "", "frames_with_face": "", "tracks": "", "seconds": "", "error": ""}
        identity = checks.get(src) if checks is not None else None
        if checks is not None:
            row.update(identity_person=identity.person if identity is not None else "", identity_decision="",
                       identity_probability="")
        try:
            old = _resumable(folder, src, loc, opts, identity) if args.resume else None
            if old is not None:
                rep = old
            else:
                with _StageBar(src.name, enabled=tqdm is not None and sys.stderr.isatty()) as stage_bar:
                    rep = analyze_path(src, folder, localizer=loc, options=opts, analyzer=analyzer,
                                       progress=stage_bar, identity=identity).to_dict()
            v = rep["video"]
            op = v.get("operating_point") or {}
            row.update(status=rep["status"], decision=v["decision"], probability=_fmt(v["probability"]),
                       score=_fmt(v["score"]), threshold=_fmt(op.get("threshold")),
                       threshold_probability=_fmt(op.get("threshold_probability")),
                       marginal="" if not v.get("stability") else str(v["stability"]["marginal"]).lower(),
                       grayscale="" if v["decision"] not in ("fake", "real") else str(bool(v.get("grayscale"))).lower(),
                       frames_analyzed=rep["input"]["frames_analyzed"],
                       frames_with_face=rep["input"]["frames_with_face"], tracks=v["n_tracks"])
            if identity is not None:
                idr = rep.get("identity") or {}
                row.update(identity_decision=idr.get("decision") or idr.get("status", ""),
                           identity_probability=_fmt((idr.get("fake_probability") or {}).get("fused")))
        except InputError as e:
            errors += 1
            row["error"] = e.problem
            print(f"localize analyze: error: {e}", file=sys.stderr)
        except Exception as e:  # one bad file must not stop the others
            errors += 1
            row["error"] = f"unexpected {type(e).__name__}: {e}"
            print(f"localize analyze: error: {src}: unexpected {type(e).__name__}: {e}".splitlines()[0],
                  file=sys.stderr)
        row["seconds"] = f"{time.perf_counter() - t0:.2f}"
        rows.append(row)
        if bar is not None:
            bar.update(1)
        if len(paths) == 1 and row["status"] != "error":
            print(f"{src}: {_verdict_text(row)}" + (f", score {row['score']}" if row["score"] != "" else "")
                  + f" -> {folder}")
    if bar is not None:
        bar.close()
    if len(paths) > 1:
        _write_csv(out / SUMMARY_CSV, rows)
        from .report_page import render_summary

        write_text(out / "summary.html", render_summary(rows))
        for r in rows:
            print(f"{r['input']}: {_verdict_text(r) if r['decision'] else 'error'}")
        print(f"summary: {out / SUMMARY_CSV}")
    if args.dfdc_csv:
        _write_dfdc(Path(args.dfdc_csv), rows, args.no_face_prob)
    if labels is not None:
        m = metrics(rows, {str(p): y for p, y in labels.items()})
        write_json(out / "metrics.json", m)
        print("metrics: " + ", ".join(f"{k}={v}" for k, v in m.items() if not isinstance(v, list)))
    return 2 if errors else 0


class _StageBar:
    """A tqdm bar per analysis stage of one input (a progress callback)."""

    def __init__(self, name: str, enabled: bool):
        self.name, self.enabled, self.bar, self.stage = name, enabled, None, None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=f"{self.name} {stage}", unit="frame", leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "_StageBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _verdict_text(row: dict) -> str:
    """One input's verdict for the terminal. The probability and the decision answer different
    questions (the operating point is set for a false-positive rate, not at 50 %), so a real
    decision can come with P(fake) above 0.5: the line says where this model calls fake."""
    text = row["decision"]
    if row.get("probability"):
        text += f", P(fake) {float(row['probability']):.3f}"
        if row.get("threshold_probability"):
            text += f" (called fake above {float(row['threshold_probability']):.3f})"
    if row.get("marginal") == "true":
        text += ", marginal"
    if row.get("grayscale") == "true":
        text += ", grayscale footage: not validated"
    if row.get("identity_person"):
        said = row.get("identity_decision") or "error"
        text += f"; identity check against {row['identity_person']}: {said.replace('_', ' ')}"
        if row.get("identity_probability"):
            text += f", P(fake) {float(row['identity_probability']):.3f}"
    return text


def _fmt(v) -> str:
    return "" if v is None else f"{v:.6f}"


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def _write_dfdc(path: Path, rows: list[dict], fallback: float | None) -> None:
    lines = ["filename,label"]
    left_out = []
    for r in rows:
        if r["probability"] != "":
            lines.append(f"{r['name']},{float(r['probability']):.6f}")
        elif fallback is not None:
            lines.append(f"{r['name']},{fallback:.6f}")
        else:
            left_out.append(r["name"])
    write_text(path, "\n".join(lines) + "\n")
    if left_out:
        print(f"localize analyze: note: {len(left_out)} input(s) without a probability left out of {path} "
              f"(no face, uncalibrated model or error; use --no-face-prob P to write P): {', '.join(left_out)}",
              file=sys.stderr)


def metrics(rows: list[dict], labels: dict[str, int]) -> dict[str, Any]:
    """Log loss (DFDC clipping), ROC AUC and accuracy over labelled inputs with a probability
    (``labels`` keyed by each row's ``input``)."""
    ys, ps, decided = [], [], []
    missing = []
    for r in rows:
        y = labels.get(r["input"])
        if y is None:
            continue
        if r["probability"] == "":
            missing.append(r["input"])
            continue
        ys.append(y)
        ps.append(float(r["probability"]))
        decided.append(1 if r["decision"] == "fake" else 0)
    out: dict[str, Any] = {"n": len(ys), "n_real": ys.count(0), "n_fake": ys.count(1), "excluded": missing}
    if ys:
        out["log_loss"] = round(D.log_loss(ps, ys), 6)
        out["accuracy"] = round(float(np.mean(np.array(decided) == np.array(ys))), 6)
        out["auc"] = None
        if 0 < sum(ys) < len(ys):
            from sklearn.metrics import roc_auc_score

            out["auc"] = round(float(roc_auc_score(ys, ps)), 6)
    return out
