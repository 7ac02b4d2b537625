"""The full evaluation on ../shared/data (configs/eval_shared.yaml), timed.

Writes the report to runs/eval_shared/ (not committed: it holds forged clips) and a
compact summary - main table, degradation table, FPR on reals, AUC vs references,
answers, timings - to benchmarks/results/evaluate_shared.json.
Usage: nice -n 10 python benchmarks/evaluate_shared.py [CONFIG] [OUT]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def summarize(res, wall: float, name: str) -> None:
    from localize.fileio import write_json

    r = res.results
    keep = ("name", "counts", "thresholds", "detector_problems", "fpr_on_reals", "references_curve", "pixel",
            "answers", "timings_s", "versions", "degradations")
    out = {k: r.get(k) for k in keep}
    out["metrics_full_quality"] = [m for m in r["metrics"] if m["degradation"] == "none"]
    out["metrics_degradation"] = r.get("metrics_degradation")
    out["metrics_unseen_by_trained_detectors"] = [m for m in r.get("metrics_unseen_by_trained_detectors") or []
                                                  if m["degradation"] == "none"]
    out["notes"] = r["plan"].get("notes")
    out["wall_s"] = round(wall, 1)
    out["cpu_count"] = os.cpu_count()
    out["report"] = str(res.report_md)
    write_json(ROOT / "benchmarks" / "results" / f"{name}.json", out)


def timed(cfg, out: str, name: str, goal: str = "") -> int:
    """Run one evaluation, write its summary as benchmarks/results/<name>.json, print the time."""
    from localize.evaluate.run import run_evaluation

    t0 = time.time()
    res = run_evaluation(cfg, out)
    summarize(res, time.time() - t0, name)
    print(f"{res.report_md}: {time.time() - t0:.0f} s{goal}")
    return 0


def main() -> int:
    cfg = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "configs" / "eval_shared.yaml")
    out = sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "runs" / "eval_shared")
    os.chdir(ROOT)
    return timed(cfg, out, "evaluate_shared")


if __name__ == "__main__":
    raise SystemExit(main())
