"""The built-in corpus evaluation (what `localize demo` runs), timed; the goal is
under 5 minutes on 2 cores. Writes benchmarks/results/evaluate_builtin.json.
Usage: nice -n 10 python benchmarks/evaluate_builtin.py [OUT]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluate_shared import timed  # noqa: E402


def main() -> int:
    from localize.evaluate.run import load_config

    out = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="eval-builtin-")
    # a fresh cache: the timing must include feature extraction and forging
    cfg = {**load_config("builtin"), "cache": str(Path(out) / "cache")}
    return timed(cfg, out, "evaluate_builtin", " (goal < 300 s on 2 cores)")


if __name__ == "__main__":
    raise SystemExit(main())
