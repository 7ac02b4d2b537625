"""Choose the identity scorer's one-class model per family and the fusion rule by
measurement (the issue's "choose by measurement").

Data: ../shared/data through the evaluation protocols (people/ + reals/ split into
reference part and held-out clip, FF++ 519 POI split with 519_515, GHOST pairs).
For each configuration: AUC of held-out real clips vs identity-replaced fakes
(519_515, GHOST swaps) and vs impostors (every other identity's real held-out clip
claimed as this person), and the FPR of held-out real clips at p >= 0.5.
Writes benchmarks/results/identity_models.json. Run with `nice -n 10`.
"""
from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localize.evaluate import protocols as P  # noqa: E402
from localize.evaluate.detectors import IdentityDetector  # noqa: E402
from localize.evaluate.metrics import bootstrap_auc_ci, roc_auc  # noqa: E402
from localize.evaluate.run import default_cache  # noqa: E402
from localize.fileio import versions, write_json  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def shared_plan(work: Path = Path("/tmp/localize-bench-identity")) -> P.Plan:
    """The evaluation's people, FF++ POI and GHOST protocols on ../shared/data (no forge)."""
    plan = P.Plan()
    P.people_protocol(plan, DATA / "people", work, reals=DATA / "reals")
    P.ffpp_poi_protocol(plan, DATA / "ffpp", work)
    P.pairs_protocol(plan, DATA / "pairs" / "ghost", work, shown={"swap_elon_musk": "elon_musk"})
    return plan


def main() -> int:
    plan = shared_plan()
    reals = [c for c in plan.cases if c.label == 0]
    fakes = [c for c in plan.cases if c.label == 1]
    configs = [{"appearance_model": a, "behaviour_model": b, "fusion": f}
               for a, b, f in itertools.product(("nearest", "ocsvm", "mahalanobis"), ("nearest", "ocsvm", "mahalanobis"),
                                                ("mean", "max"))]
    only = sys.argv[1:]  # optional filter, e.g. "nearest,ocsvm,mean"
    if only:
        configs = [c for c in configs if ",".join(c.values()) in only]
    out = {"data": "../shared/data people/ + reals/ (reference 55 % / held-out), FF++ 519 POI, GHOST pairs",
           "n_real": len(reals), "n_replaced": len(fakes), "versions": versions(), "results": []}
    for cfg in configs:
        t0 = time.time()
        det = IdentityDetector(plan, default_cache(), {"scoring": cfg}, progress=False)
        res = {}
        for fam in ("appearance", "behaviour", "fused"):
            def s(c, who=None):
                import copy

                cc = copy.copy(c)
                if who:
                    cc.identity = who
                r = det.score(cc, cc.path)
                v = (r.get(fam) or {}).get("score")
                return np.nan if v is None else v

            sr = np.array([s(c) for c in reals])
            sf = np.array([s(c) for c in fakes])
            imp = np.array([s(c, who) for c in reals for who in sorted({r.identity for r in reals}) if who != c.identity])
            ok = lambda a: a[np.isfinite(a)]  # noqa: E731
            y_f = np.r_[np.zeros(len(ok(sr))), np.ones(len(ok(sf)))]
            y_i = np.r_[np.zeros(len(ok(sr))), np.ones(len(ok(imp)))]
            res[fam] = {
                "auc_replaced": roc_auc(y_f, np.r_[ok(sr), ok(sf)]),
                "auc_replaced_ci": bootstrap_auc_ci(y_f, np.r_[ok(sr), ok(sf)], n_boot=500),
                "auc_impostor": roc_auc(y_i, np.r_[ok(sr), ok(imp)]),
                "fpr_at_0.5": float(np.mean(ok(sr) >= 0)) if len(ok(sr)) else None,
                "tpr_replaced_at_0.5": float(np.mean(ok(sf) >= 0)) if len(ok(sf)) else None,
                "tpr_impostor_at_0.5": float(np.mean(ok(imp) >= 0)) if len(ok(imp)) else None,
                "n_real_scored": int(len(ok(sr))), "n_replaced_scored": int(len(ok(sf))),
                "n_impostor_scored": int(len(ok(imp)))}
        out["results"].append({"config": cfg, "metrics": res, "seconds": round(time.time() - t0, 1)})
        print(cfg, {f: {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()
                        if k in ("auc_replaced", "auc_impostor", "fpr_at_0.5")} for f, m in res.items()}, flush=True)
        write_json(ROOT / "benchmarks" / "results" / "identity_models.json", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
