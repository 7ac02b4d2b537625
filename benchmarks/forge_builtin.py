"""Time and determinism of the built-in corpus (``localize forge --out DIR``).

Builds the built-in corpus from scratch twice (1 worker, then 2 workers) in fresh
folders, times each build and checks that every video and mask file is
byte-identical between the two (same seed, same bytes whatever the worker count).

    python benchmarks/forge_builtin.py

Writes benchmarks/results/forge_builtin.json.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".forge" not in p.parts
            and p.name != "manifest.json"}


def main() -> int:
    from localize.fileio import versions, write_json
    from localize.forge.corpus import build_corpus

    runs = {}
    trees = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}"
            t0 = time.perf_counter()
            s = build_corpus(out, workers=workers, progress=False)
            dt = time.perf_counter() - t0
            t1 = time.perf_counter()
            build_corpus(out, workers=workers, progress=False)  # resume: nothing to do
            resume = time.perf_counter() - t1
            trees[workers] = hashes(out)
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            man = json.loads(s.manifest.read_text())
            runs[f"workers_{workers}"] = {"seconds": round(dt, 1), "resume_seconds": round(resume, 2),
                                          "reals": s.reals, "photos": s.photos, "fakes": s.fakes,
                                          "frames_forged": sum(f["n_frames"] for f in man["fakes"]),
                                          "splits": s.splits, "bytes": size}
            print(workers, runs[f"workers_{workers}"], flush=True)
    same = trees[1] == trees[2]
    diff = sorted(k for k in trees[1] if trees[1].get(k) != trees[2].get(k))
    result = {"benchmark": "built-in corpus build time and determinism",
              "machine": {"cpus": os.cpu_count()}, "runs": runs,
              "byte_identical_1_vs_2_workers": same, "files_compared": len(trees[1]), "differing": diff[:20],
              "versions": versions()}
    write_json(ROOT / "benchmarks" / "results" / "forge_builtin.json", result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
