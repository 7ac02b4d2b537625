#!/usr/bin/env python
"""Export a localizer checkpoint to ONNX (same as `localize export`).

    python export_onnx.py [CHECKPOINT] --out model.onnx [--int8 model.int8.onnx --calib VIDEO...]
"""
import sys

from localize.export import main

if __name__ == "__main__":
    sys.exit(main())
