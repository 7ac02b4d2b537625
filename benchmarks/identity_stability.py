"""Calibration of the identity-stability family (localize/identity/stability.py).

Genuine log ratios: each reference clip's main track, second half against first half
(and the reverse), on the references the shared-data evaluation enrols (people/ +
reals/ reference parts, FF++ 519's POI references, the GHOST performer). Their 95th
percentile is the 0.5 point (STABILITY_THRESHOLD). Also reports, on the held-out real
test clips of the same protocols, the log ratio against their person's references
(these must mostly fall below the threshold: they are the family's false positives).
Writes benchmarks/results/identity_stability.json. Run with `nice -n 10`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from identity_models import shared_plan  # noqa: E402

from localize.evaluate.detectors import IdentityDetector  # noqa: E402
from localize.evaluate.run import default_cache  # noqa: E402
from localize.fileio import versions, write_json  # noqa: E402
from localize.identity.profile import main_track  # noqa: E402
from localize.identity.stability import STABILITY_THRESHOLD, StabilityModel, split_half_ratios  # noqa: E402


def main() -> int:
    plan = shared_plan()
    det = IdentityDetector(plan, default_cache(), {}, progress=True)
    genuine, per_person, test_ratios = [], {}, []
    for name in sorted(plan.identities):
        tracks = [t for f in det.ref_features(name) if not f.is_image for t in [main_track(f)] if t is not None]
        r = split_half_ratios(tracks)
        genuine += r
        model = StabilityModel.fit(tracks)
        per_person[name] = {"split_half": r, "reference_step": model.reference_step if model else None}
        if model is None:
            continue
        for c in plan.cases:
            if c.label == 0 and c.identity == name:
                vf = det.features.get(c.path, det.params)
                t = main_track(vf)
                lr = model.log_ratio(t) if t is not None else None
                if lr is not None:
                    test_ratios.append({"case": c.case_id, "log_ratio": lr})
    g = np.array(genuine)
    tr = np.array([x["log_ratio"] for x in test_ratios])
    out = {"n_genuine": int(len(g)), "median": float(np.median(g)), "p90": float(np.percentile(g, 90)),
           "p95": float(np.percentile(g, 95)), "p99": float(np.percentile(g, 99)), "sd": float(g.std()),
           "threshold_in_code": STABILITY_THRESHOLD,
           "held_out_real_clips": test_ratios,
           "held_out_real_fpr_at_threshold": float(np.mean(tr >= STABILITY_THRESHOLD)) if len(tr) else None,
           "per_person": per_person, "versions": versions()}
    write_json(ROOT / "benchmarks" / "results" / "identity_stability.json", out)
    print(f"split-half log ratios n={len(g)} median {out['median']:.3f} p95 {out['p95']:.3f}; "
          f"held-out real clips {len(tr)}, FPR at {STABILITY_THRESHOLD} = {out['held_out_real_fpr_at_threshold']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
