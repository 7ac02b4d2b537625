"""Validation metrics of checkpoints on their validation videos with some identities left
out: how much a decision made on validation depends on them (here: the forge identity of
Ocasio-Cortez's video_3, a training person, see MODEL_CARD "A leak in validation").

Each model is validated exactly as training does (``localize.training.validate``: the
config's validation crops plus fixed self-blends, video scores, calibration), once on the
full validation set and once without the dropped identities.

    python benchmarks/validation_subset.py --drop 011 --model localize/weights/default.pt \
        --model runs/ens10.pt [--set data.bundle=...] [--out benchmarks/results/validation_subset.json]
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localize.fileio import versions, write_json  # noqa: E402


def main() -> int:
    import numpy as np
    import torch

    from localize import training as T
    from localize.fileio import sha256_file
    from localize.model import load_checkpoint

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True, help="checkpoint (repeatable)")
    ap.add_argument("--drop", action="append", required=True, metavar="IDENTITY",
                    help="validation identity to leave out (repeatable)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="adjust the models' config, e.g. data.bundle=DIR for runs trained elsewhere")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "validation_subset.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    res = {"dropped_identities": args.drop, "versions": versions(), "models": {}}
    data_cache: dict[str, tuple] = {}
    for path in args.model:
        model, _, meta = load_checkpoint(path)
        cfg = copy.deepcopy(meta["config"])
        for o in args.overrides:
            if o.split("=", 1)[0] == "data.bundle" and not cfg["data"].get("bundle"):
                continue  # a run trained from the videos keeps its sources
            T.set_key(cfg, o)
        key = repr(cfg["data"]) + repr(cfg["model"]["input_size"])
        if key not in data_cache:
            data_cache[key] = T.prepare_data(cfg, progress=False)
        _, val_sets, _, _ = data_cache[key]
        kept = [s for s in val_sets if s.source.identity not in set(args.drop)]
        base = meta.get("baseline_mask")
        baseline = None if base is None else np.asarray(base, np.float32)
        out = {"sha256": sha256_file(path), "model_id": meta.get("model_id")}
        for name, sets in (("all", val_sets), ("without_dropped", kept)):
            m, cal = T.validate(model, T._val_dataset(sets, cfg), baseline, torch.device("cpu"), cfg)
            out[name] = {"videos": len(sets), "identities": sorted({s.source.identity for s in sets}),
                         "frame_auc": m["frame_auc"], "video_auc": m.get("video_auc"), "iou": m["iou"],
                         "threshold": cal.get("threshold")}
        res["models"][str(path)] = out
        print(path, {k: (round(v["frame_auc"], 3), round(v["video_auc"], 3)) for k, v in out.items()
                     if isinstance(v, dict)}, flush=True)
    write_json(args.out, res)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
