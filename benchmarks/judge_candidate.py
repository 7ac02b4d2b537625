"""Judge a cross-fit candidate end to end, the same way every time: package, calibrate out of
fold, score the shared media, apply the pre-registered shipping rule, then (whatever the
verdict) the held-out figures, and the speed benchmark only if the rule passed.

    python benchmarks/judge_candidate.py -c configs/xray-cf-pre.yaml --runs runs/xray-cf-pre \\
        --name xray_cf_pre --note "candidate E (addendum 10)"

``--runs`` holds the runs as `scripts/train_seeds.sh` leaves them: ``fold<j>/seed<s>/last.pt``
(the folds of the config's ``data.folds``; every seed found is a member). Runs trained from a
crop bundle carry ``data.sources=[]``; packaging and calibration need the videos, so the
config's own ``data.sources`` are put back (``--set`` overrides for `train.py --package`).

Writes, beside the runs (``runs/<stem>.pt``, ``-F<j>.pt``, ``-cal.pt``) and under
``benchmarks/results``: ``shipping_rule_<name>.json``, ``analyze_shared_<name>.json``,
``train_heldout_<name>.json``, ``score_vs_luma_<name>.json`` (reported only: do darker real
faces score higher out of fold?) and ``<name>/`` (per-fold analyses, the out-of-fold calibration,
logs). Each step is skipped when its output exists, so an interrupted judgement resumes; every
tool it runs writes atomically. ``--dry-run`` prints the plan. The step order is the
pre-registered one (preregistration_xray.md, addenda 5, 6, 11): held-out media are scored
only after the verdict is written, and cannot change it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Step:
    """One command and the file whose existence means it is done."""

    name: str
    argv: list[str]
    done: Path
    log: Path | None = None  # stdout of the step goes here (stderr too), appended
    stdout_to: Path | None = None  # the step's stdout is its output (written atomically here)
    env: dict[str, str] = field(default_factory=dict)


def find_runs(runs: Path, folds: int) -> dict[int, list[Path]]:
    """fold -> its runs' last.pt, sorted by seed; every fold must have at least one."""
    found: dict[int, list[Path]] = {}
    for j in range(folds):
        d = runs / f"fold{j}"
        seeds = sorted(d.glob("seed*/last.pt"), key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))
        if not seeds:
            raise ValueError(f"{d}: no seed*/last.pt (a {folds}-fold config needs runs of every fold)")
        found[j] = seeds
    return found


def unfinished(paths: list[Path]) -> list[str]:
    """The runs that stopped before their config's last epoch (the training loop writes last.pt
    after every epoch, and the pre-registrations accept only runs that completed), as
    'path (epoch e of n)'."""
    import torch

    out = []
    for p in paths:
        meta = torch.load(p, map_location="cpu", weights_only=False)
        done, want = int(meta.get("epoch") or 0), int(meta["config"]["train"]["epochs"])
        if done < want:
            out.append(f"{p} (epoch {done} of {want})")
    return out


def plan(config: Path, runs: Path, name: str, note: str, *, folds: int, sources: list, out_dir: Path,
         model_dir: Path, results: Path, python: str = sys.executable, speed: bool = True,
         extra_reals: tuple[str, ...] = ()) -> list[Step]:
    """The ordered steps (nothing is run here)."""
    members = find_runs(runs, folds)
    stem = runs.name
    cand, cal = model_dir / f"{stem}.pt", model_dir / f"{stem}-cal.pt"
    per_fold = [model_dir / f"{stem}-F{j}.pt" for j in range(folds)]
    src = ["--set", "data.sources=" + json.dumps(sources), "--set", "data.bundle=null",
           "--set", "data.num_workers=0"]
    env = {"HF_HUB_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1", "PYTHONUNBUFFERED": "1"}
    log = out_dir / "judge.log"
    train = str(ROOT / "train.py")
    bench = ROOT / "benchmarks"
    steps = [Step("package", [python, train, "--package", *map(str, sum(members.values(), [])), str(cand), *src,
                              "--quiet"], cand, log, env=env)]
    for j in range(folds):
        # a fold of one run keeps that run's own validation (its fold, out of fold) and calibration:
        # `--package` validates again only an ensemble, so it takes no --set for one checkpoint
        again = src if len(members[j]) > 1 else []
        steps.append(Step(f"package fold {j}", [python, train, "--package", *map(str, members[j]), str(per_fold[j]),
                                                *again, "--quiet"], per_fold[j], log, env=env))
    steps.append(Step("calibrate out of fold", [python, "-m", "localize", "calibrate", str(cand), "-c", str(config),
                                                "--out", str(cal)], cal, log, env=env))
    analyze = results / f"analyze_shared_{name}.json"
    steps.append(Step("analyze shared media", [python, str(bench / "analyze_shared.py"), "--model", str(cal),
                                               "--note", f"{note}, out-of-fold operating point", "--out",
                                               str(analyze)], analyze, log, env=env))
    oof = [out_dir / f"analyze_shared_fold{j}.json" for j in range(folds)]
    for j in range(folds):
        steps.append(Step(f"analyze shared media, fold {j}", [
            python, str(bench / "analyze_shared.py"), "--model", str(per_fold[j]), "--note",
            f"{note}, fold {j} runs (out of fold for its reals)", "--out", str(oof[j]),
            *(["--extra-reals", *extra_reals] if extra_reals else [])], oof[j], log, env=env))
    verdict = results / f"shipping_rule_{name}.json"
    steps.append(Step("shipping rule", [python, str(bench / "shipping_rule.py"), "--model", str(cal), "--analyze",
                                        str(analyze), "--oof", *map(str, oof), "--out", str(verdict)],
                      verdict, log, env=env))
    heldout = results / f"train_heldout_{name}.json"
    steps.append(Step("held-out figures", [python, str(bench / "train_heldout.py"), "--model", str(cal), "--out",
                                           str(heldout)], heldout, log, env=env))
    if speed:
        steps.append(Step("speed (only if the rule passed)", [python, str(bench / "analyze_speed.py"), "--model",
                                                               str(cal), "--out",
                                                               str(results / f"analyze_speed_{name}.json")],
                          results / f"analyze_speed_{name}.json", log, env=env))
    steps.append(Step("out-of-fold calibration record", [python, "-c", _EXTRACT, str(cal)],
                      out_dir / "calibration.json", stdout_to=out_dir / "calibration.json", env=env))
    # reported, never decided on: do darker real faces score higher out of fold? (localize.evaluate.luma)
    luma = results / f"score_vs_luma_{name}.json"
    steps.append(Step("score vs face luma (reported)", [python, str(bench / "score_vs_luma.py"), "--calibration",
                                                         str(out_dir / "calibration.json"), "--out", str(luma)],
                      luma, log, env=env))
    return steps


# The calibration a candidate was judged by, as JSON (results/<name>/calibration.json).
_EXTRACT = ("import json, sys, torch; "
            "p = torch.load(sys.argv[1], map_location='cpu', weights_only=False); "
            "print(json.dumps(p['calibration'], indent=1))")


def passed(verdict: Path) -> bool:
    return bool(json.loads(verdict.read_text()).get("ship"))


def run(steps: list[Step], *, dry_run: bool = False, out=sys.stdout) -> int:
    """Run the steps not yet done, in order; stop at the first failure (non-zero exit).
    The speed step runs only when the shipping rule's verdict is to ship (addendum 11)."""
    verdict = next((s.done for s in steps if s.name == "shipping rule"), None)
    for s in steps:
        if s.done.exists():
            print(f"= {s.name}: done ({s.done})", file=out)
            continue
        if s.name.startswith("speed") and not dry_run and verdict is not None and not passed(verdict):
            print(f"- {s.name}: skipped, the rule did not pass ({verdict})", file=out)
            continue
        cmd = " ".join(shlex.quote(a) for a in s.argv)
        print(f"> {s.name}: {cmd}", file=out, flush=True)
        if dry_run:
            continue
        t0 = time.time()
        env = {**os.environ, **s.env}
        if s.log:
            s.log.parent.mkdir(parents=True, exist_ok=True)
        if s.stdout_to is not None:
            tmp = s.stdout_to.with_name(s.stdout_to.name + ".tmp")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w") as f:
                rc = subprocess.run(s.argv, cwd=ROOT, env=env, stdout=f).returncode
            if rc == 0:
                os.replace(tmp, s.stdout_to)
            else:
                tmp.unlink(missing_ok=True)
        else:
            with open(s.log, "a") as f:
                f.write(f"\n### {time.strftime('%Y-%m-%d %H:%M:%S')} {s.name}\n$ {cmd}\n")
                f.flush()
                rc = subprocess.run(s.argv, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            print(f"! {s.name} failed (exit {rc}); see {s.log or s.stdout_to}", file=out)
            return rc
        if not s.done.exists():
            print(f"! {s.name} exited 0 but wrote no {s.done}", file=out)
            return 1
        print(f"  {s.name}: {time.time() - t0:.0f} s", file=out, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-c", "--config", required=True, help="the candidate's cross-fit training config")
    ap.add_argument("--runs", required=True, help="its runs: fold<j>/seed<s>/last.pt")
    ap.add_argument("--name", required=True, help="results name, e.g. xray_cf_pre")
    ap.add_argument("--note", default="", help="what the candidate is (recorded in the analyses)")
    ap.add_argument("--models", default=None, help="where the packaged models go (default: beside the runs)")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--no-speed", action="store_true", help="leave out the speed benchmark")
    ap.add_argument("--extra-reals", nargs="+", default=[], metavar="PATH",
                    help="more real footage that each fold's analysis scores too, per face (a clip is out of fold "
                         "in its own person's fold): for per-face reports a pre-registration promises; the rule "
                         "does not read them")
    ap.add_argument("--dry-run", action="store_true", help="print the steps, run nothing")
    ap.add_argument("--allow-unfinished", action="store_true",
                    help="judge runs that stopped before their last epoch (no pre-registration here allows it)")
    args = ap.parse_args(argv)

    from localize.training import load_config

    config = Path(args.config)
    cfg = load_config(config)
    folds = int((cfg.get("data") or {}).get("folds") or 0)
    if folds < 2:
        print(f"{config}: not a cross-fitting config (data.folds)", file=sys.stderr)
        return 2
    sources = cfg["data"].get("sources") or []
    if not sources:
        print(f"{config}: no data.sources to validate and calibrate on", file=sys.stderr)
        return 2
    runs = Path(args.runs)
    results = Path(args.results)
    try:
        steps = plan(config, runs, args.name, args.note or args.name, folds=folds, sources=sources,
                     out_dir=results / args.name, model_dir=Path(args.models) if args.models else runs.parent,
                     results=results, speed=not args.no_speed, extra_reals=tuple(args.extra_reals))
        short = [] if args.allow_unfinished else unfinished(sum(find_runs(runs, folds).values(), []))
    except ValueError as e:
        print(f"judge_candidate: {e}", file=sys.stderr)
        return 2
    if short:
        print("judge_candidate: runs that did not complete their epochs (resume them, or give "
              "--allow-unfinished): " + "; ".join(short), file=sys.stderr)
        return 2
    return run(steps, dry_run=args.dry_run)


if __name__ == "__main__":
    raise SystemExit(main())
