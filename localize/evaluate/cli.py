"""``localize evaluate CONFIG --out DIR``: the mask-based detector, the zero-shot
identity scorer and MesoNet on the same test videos (see localize.evaluate.run)."""
from __future__ import annotations

import argparse

from .run import EvalResult, run_evaluation  # noqa: F401  (public API)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="evaluation config (YAML), e.g. configs/eval_shared.yaml, or \"builtin\" for the "
                                  "built-in corpus (pip-installed media only)")
    p.add_argument("--out", required=True, help="output folder: report.md, report.html, results.json, plots")
    p.add_argument("--cache", default=None, help="feature/score cache (default $LOCALIZE_HOME/cache/evaluate "
                                                 "or ~/.cache/localize/evaluate)")
    p.add_argument("--degradations", default=None,
                   help="comma-separated subset of none,crf23,crf40,blur1,blur2,blur3,half (default: the config's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from .run import load_config

    cfg = load_config(args.config)
    if args.cache:
        cfg["cache"] = args.cache
    if args.degradations:
        cfg["degradations"] = [d.strip() for d in args.degradations.split(",") if d.strip()]
    res = run_evaluation(cfg, args.out, progress=not args.quiet)
    c = res.results["counts"]
    print(f"{res.report_md} ({c['cases']} videos, {res.seconds:.0f} s)")
    for m in res.results["metrics"]:
        if m["degradation"] == "none" and m["kind"] != "all":
            print(f"  {m['detector']:22s} {m['kind']:18s} AUC {m['auc']:.3f} "
                  f"[{m['auc_ci'][0]:.2f}, {m['auc_ci'][1]:.2f}]  FPR {m['fpr']:.3f}  (reals {m['n_real']}, "
                  f"fakes {m['n_fake']})")
    for k, v in res.results.get("detector_problems", {}).items():
        print(f"  {k}: not run ({v})")
    return 0
