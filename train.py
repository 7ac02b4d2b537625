#!/usr/bin/env python
"""Train the localizer: ``python train.py --config configs/default.yaml [--set k=v ...]``.

A thin entry point over :mod:`localize.training` (the same as ``localize train``), so
``torchrun --nproc_per_node N train.py ...`` scales it out with DDP.
"""
import sys

from localize.training import main

if __name__ == "__main__":
    sys.exit(main())
