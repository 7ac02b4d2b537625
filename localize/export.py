"""Checkpoint -> ONNX for onnxruntime inference (analysis backend, the server).

The exported graph takes ImageNet-normalized float32 NCHW RGB crops (``input``,
dynamic batch/height/width; height and width must be multiples of 32) and returns
probabilities, the sigmoid is inside: ``mask`` (N, 1, H, W) forged-pixel
probability and, when the model has the classification head, ``frame`` (N, 1).
The metadata (``custom_metadata_map``, values JSON-encoded) carries what analysis
needs so an .onnx file is self-sufficient: input size, normalization, calibration
and threshold, model id, training config hash, source checkpoint hash.
``localize.model.load_localizer`` reads it back.

Optional int8: static QDQ quantization (onnxruntime.quantization) calibrated on
real face crops; it is only worth shipping when it is faster and the IoU drop on
held-out crops is under one point (benchmarks/onnx_quant.py measures both).
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import InputError
from .fileio import atomic_path

OPSET = 17
# Bump when the exported metadata changes meaning: cached exports of older formats are not reused
# (2: the output map's training target, localize.targets).
METADATA_FORMAT = 2
INPUT = "input"
OUTPUT_MASK = "mask"
OUTPUT_FRAME = "frame"


def config_hash(cfg: Any) -> str | None:
    """sha256 of the canonical JSON of the training config (None when absent)."""
    if not cfg:
        return None
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()


def _wrapper(model):
    import torch

    class WithSigmoid(torch.nn.Module):
        """The smp model with the sigmoid inside, so consumers get probabilities."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            out = self.m(x)
            if isinstance(out, tuple):
                mask, logit = out
                return torch.sigmoid(mask), torch.sigmoid(logit)
            return torch.sigmoid(out)

    return WithSigmoid(model).eval()


def export_metadata(cfg, meta: dict[str, Any], checkpoint: Path | None, sha256: str | None) -> dict[str, str]:
    """The custom metadata map (every value a JSON string)."""
    import dataclasses

    from .fileio import versions
    from .model import MEAN, STD
    from .targets import meaning, target_of_model

    cal = meta.get("calibration") or {}
    target = target_of_model(meta)
    values = {
        "model_id": str(meta.get("model_id") or (checkpoint.stem if checkpoint else "model")),
        "input_size": int(cfg.input_size),
        "normalization": {"layout": "NCHW", "channels": "RGB", "scale": 1 / 255, "mean": list(MEAN), "std": list(STD)},
        "target": target,
        "outputs": {OUTPUT_MASK: f"{meaning(target).heatmap} (N,1,H,W), sigmoid applied"}
        | ({OUTPUT_FRAME: "frame fake probability (N,1), sigmoid applied"} if cfg.aux_head else {}),
        "calibration": cal,
        "threshold": cal.get("threshold"),
        "model_config": dataclasses.asdict(cfg),
        "training_config_hash": config_hash(meta.get("config")),
        "data_manifest_hash": meta.get("data_manifest_hash"),
        "source_checkpoint_sha256": sha256,
        "metrics": meta.get("metrics"),
        "quality_warning": meta.get("quality_warning"),
        "exported_with": versions(),
    }
    return {k: json.dumps(v, default=str) for k, v in values.items() if v is not None or k != "quality_warning"}


def export_onnx(checkpoint: str | Path | None, out: str | Path, *, opset: int = OPSET, check: bool = True) -> Path:
    """Export a checkpoint (the shipped default when None) to ``out`` (atomic).
    Runs ``onnx.checker`` and a quick parity check against torch before renaming."""
    import warnings

    import onnx
    import torch

    from .fileio import sha256_file
    from .model import DEFAULT_MODEL, load_checkpoint

    if opset < 17:
        raise InputError(None, f"opset {opset} is too old: the exporter needs >= 17")
    ckpt = Path(checkpoint) if checkpoint is not None else DEFAULT_MODEL
    if not ckpt.exists():
        hint = " (the shipped default model is missing from this install)" if checkpoint is None else ""
        raise InputError(ckpt, "checkpoint not found" + hint)
    model, cfg, meta = load_checkpoint(ckpt)
    model = model.float()
    wrapped = _wrapper(model)
    s = int(cfg.input_size)
    dummy = torch.randn(2, 3, s, s)
    out = Path(out)
    outputs = [OUTPUT_MASK, OUTPUT_FRAME] if cfg.aux_head else [OUTPUT_MASK]
    dyn = {INPUT: {0: "batch", 2: "height", 3: "width"}, OUTPUT_MASK: {0: "batch", 2: "height", 3: "width"}}
    if cfg.aux_head:
        dyn[OUTPUT_FRAME] = {0: "batch"}
    with atomic_path(out) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapped, (dummy,), str(tmp), opset_version=opset, input_names=[INPUT],
                              output_names=outputs, dynamic_axes=dyn, do_constant_folding=True, dynamo=False)
        proto = onnx.load(str(tmp))
        for k, v in export_metadata(cfg, meta, ckpt, sha256_file(ckpt)).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        proto.producer_name = "localize"
        onnx.save(proto, str(tmp))
        if check:
            onnx.checker.check_model(str(tmp))
            diff = _parity(wrapped, tmp, dummy.numpy())
            if diff > 1e-3:
                raise RuntimeError(f"exported model disagrees with torch (max abs diff {diff:.2e})")
    return out


def _parity(wrapped, onnx_path: Path, x: np.ndarray) -> float:
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {INPUT: x})
    with torch.inference_mode():
        ref = wrapped(torch.from_numpy(x))
    ref = ref if isinstance(ref, tuple) else (ref,)
    return max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))


def quantize_int8(src: str | Path, dst: str | Path, calibration_crops: np.ndarray, *, per_channel: bool = True) -> Path:
    """Static int8 (QDQ) quantization calibrated on uint8 NHWC RGB face crops; the
    metadata is copied over and marked ``quantization = int8``."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .model import normalize

    class Reader(CalibrationDataReader):
        def __init__(self, crops: np.ndarray, bs: int = 8):
            self.batches = [normalize(crops[i:i + bs]) for i in range(0, len(crops), bs)]
            self.i = 0

        def get_next(self):
            if self.i >= len(self.batches):
                return None
            self.i += 1
            return {INPUT: self.batches[self.i - 1]}

    src, dst = Path(src), Path(dst)
    if len(calibration_crops) == 0:
        raise ValueError("int8 calibration needs face crops")
    with atomic_path(dst) as tmp:
        pre = tmp.with_suffix(".pre.onnx")
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(tmp), Reader(calibration_crops), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8)
        finally:
            pre.unlink(missing_ok=True)
        proto = onnx.load(str(tmp))
        meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
        meta["quantization"] = json.dumps("int8 static QDQ, per-channel weights" if per_channel else "int8 static QDQ")
        del proto.metadata_props[:]
        for k, v in meta.items():
            e = proto.metadata_props.add()
            e.key, e.value = k, v
        onnx.save(proto, str(tmp))
        onnx.checker.check_model(str(tmp))
    return dst


def face_crops(paths: Sequence[str | Path], size: int, per_video: int = 16) -> np.ndarray:
    """Real face crops (the analysis crop rule) from videos/images, for calibration and parity."""
    from .faces import FaceAnalyzer, crop, crop_box, landmark_box, track_faces
    from .video import iter_frames, probe, sample_indices

    fa = FaceAnalyzer()
    out = []
    for p in paths:
        info = probe(p)
        idx = sample_indices(info.n_frames, count=per_video)
        frames = dict(iter_frames(p, idx))
        for t in track_faces(fa, iter(sorted(frames.items())), detect_every=1):
            for i, lms in t.landmarks.items():
                out.append(crop(frames[i], crop_box(landmark_box(lms), 1.3), size))
    if not out:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack(out)


# ---------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", nargs="?", default=None, help="checkpoint .pt (default: the shipped model)")
    p.add_argument("--out", required=True, help="output .onnx path")
    p.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (>= 17, default {OPSET})")
    p.add_argument("--int8", metavar="OUT_INT8", help="also write a static int8 model here")
    p.add_argument("--calib", nargs="+", default=None, metavar="VIDEO",
                   help="real videos/images for int8 calibration (default: the built-in carphone clip)")


def run(args) -> int:
    from .fileio import sha256_file
    from .model import load_localizer

    out = export_onnx(args.checkpoint, args.out, opset=args.opset)
    loc = load_localizer(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, sha256 {sha256_file(out)[:12]}, model {loc.model_id}, "
          f"input {loc.input_size}, calibrated: {'yes' if loc.calibration else 'no'})")
    if args.int8:
        from .media import carphone_path

        crops = face_crops(args.calib or [carphone_path()], loc.input_size)
        q = quantize_int8(out, args.int8, crops)
        print(f"wrote {q} ({q.stat().st_size / 1e6:.1f} MB, int8; calibrated on {len(crops)} crops; "
              "see benchmarks/onnx_quant.py before shipping it)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python export_onnx.py``: the same as ``localize export``."""
    from .cli import script_main

    return script_main("export", "export_onnx.py", None if argv is None else list(argv))
