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
