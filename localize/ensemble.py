"""Seed ensembles: several independently trained localizers answering as one model.

Small CPU runs here differ a lot from seed to seed (the same config gave frame AUC 0.41
and 0.92 on one pair), so one run's ranking is partly luck. Averaging the logits of k runs
of one config cuts that variance at k times the (small) model cost. The ensemble is built
when packaging (`train.py --package A.pt B.pt DEST`) and is then an ordinary checkpoint
(``model.members = k``): analysis, ONNX export and the server need nothing new.
"""
from __future__ import annotations

import torch


class LogitMean(torch.nn.Module):
    """The mean of the members' mask logits (and frame-head logits).

    Logits, not probabilities, are averaged so the output contract of one model (logits out,
    sigmoid applied by the consumer) is unchanged."""

    def __init__(self, models):
        super().__init__()
        if not models:
            raise ValueError("an ensemble needs at least one member")
        self.members = torch.nn.ModuleList(models)

    def forward(self, x):
        outs = [m(x) for m in self.members]
        if isinstance(outs[0], tuple):
            return tuple(torch.stack(parts).mean(0) for parts in zip(*outs))
        return torch.stack(outs).mean(0)


def member_subset(payload: dict, keep: list[int], *, model_id_suffix: str = "") -> dict:
    """A packaged ensemble's checkpoint payload reduced to the members ``keep`` (indices into
    its ``ensemble_of``), loadable like any checkpoint.

    Why: a cross-fit ensemble's members saw every person but their own fold's, so its own
    validation videos are scored fairly only by the runs of their fold (out of fold); the
    whole ensemble scores them in-sample, too low."""
    n = int(payload["model_config"].get("members", 1))
    keep = list(keep)
    if not keep or len(set(keep)) != len(keep) or not all(0 <= i < n for i in keep):
        raise ValueError(f"members to keep must be distinct indices in 0..{n - 1}, got {keep}")
    state = {}
    for new, old in enumerate(keep):
        pre = f"members.{old}."
        for k, v in payload["state_dict"].items():
            if k.startswith(pre):
                state[(f"members.{new}." if len(keep) > 1 else "") + k[len(pre):]] = v
    out = {k: v for k, v in payload.items() if k not in ("state_dict", "model_config", "ensemble_of", "cross_fit")}
    out["state_dict"] = state
    out["model_config"] = {**payload["model_config"], "members": len(keep)}
    if payload.get("ensemble_of"):
        out["ensemble_of"] = [payload["ensemble_of"][i] for i in keep]
    out["model_id"] = f"{payload.get('model_id', 'model')}{model_id_suffix}"
    return out
