"""The CI-sized run: `localize forge --out runs/forge-ci` (built-in corpus, if missing),
then configs/ci.yaml; records wall time and validation pixel IoU (goal >= 0.5 in <= 5 min
on 2 CPU cores).

    python benchmarks/train_ci.py
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from localize import training as T
    from localize.fileio import versions, write_json

    os.chdir(ROOT)
    corpus = ROOT / "runs" / "forge-ci"
    t0 = time.time()
    if not corpus.exists():
        from localize.forge.corpus import build_corpus

        build_corpus(corpus, progress=False)
    t_forge = time.time() - t0
    cfg = T.load_config(ROOT / "configs" / "ci.yaml", sys.argv[1:] + ["train.out=runs/ci-bench", "train.progress=false"])
    t1 = time.time()
    res = T.train(cfg)
    t_train = time.time() - t1
    rows = (ROOT / "runs/ci-bench/log.csv").read_text().splitlines()
    out = {"train_seconds": t_train, "forge_seconds": t_forge, "epochs": res.epochs, "best": res.metrics,
           "goal_iou": 0.5, "reached": res.metrics.get("iou", 0) >= 0.5, "log": rows,
           "load_average": os.getloadavg(), "cpu_count": os.cpu_count(), "versions": versions()}
    write_json(ROOT / "benchmarks/results/train_ci.json", out)
    print(json.dumps({k: out[k] for k in ("train_seconds", "epochs", "reached")}),
          {k: round(v, 3) for k, v in res.metrics.items() if isinstance(v, float)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
