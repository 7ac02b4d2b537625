"""The localizer model: smp U-Net factory, checkpoint I/O and a predictor with torch
or onnxruntime backends that every consumer (analysis, server, evaluation) uses.

Input: RGB uint8 face crops (N, S, S, 3). Output: forged-pixel probabilities (N, S, S)
and, when the model has a classification head, a frame-level fake probability (N,).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .fileio import atomic_path, read_checkpoint, sha256_file
from .targets import target_of_model

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
WEIGHTS_DIR = Path(__file__).with_name("weights")
DEFAULT_MODEL = WEIGHTS_DIR / "default.pt"


@dataclass
class ModelConfig:
    arch: str = "Unet"
    encoder: str = "resnet18"
    input_size: int = 256
    aux_head: bool = True  # frame-level real/fake head (smp aux_params)
    encoder_weights: str | None = None  # a local weights file, never a download
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    # Encoder stages used (smp ``encoder_depth``; one decoder channel per stage). Fewer
    # stages = a smaller receptive field: the model must find local blending evidence and
    # cannot recognise a whole face (identity, face shape), the shortcut it learns otherwise.
    encoder_depth: int = 5
    # Independently trained copies (seeds) whose logits are averaged: a seed ensemble, built
    # by packaging (`train.py --package A.pt B.pt DEST`), never trained jointly. Small runs
    # here differ a lot between seeds; averaging cuts that variance at k times the model cost.
    members: int = 1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "decoder_channels" in d:
            d["decoder_channels"] = tuple(d["decoder_channels"])
        return cls(**d)


def build_model(cfg: ModelConfig):
    """An smp model with random weights, or encoder weights from a local file; a
    :class:`~localize.ensemble.LogitMean` of ``cfg.members`` such models when ``members`` > 1."""
    if cfg.members < 1:
        raise ValueError(f"model.members must be >= 1, got {cfg.members}")
    if cfg.members > 1:
        from .ensemble import LogitMean

        return LogitMean([_build_one(cfg) for _ in range(cfg.members)])
    return _build_one(cfg)


def _build_one(cfg: ModelConfig):
    import segmentation_models_pytorch as smp

    arch = getattr(smp, cfg.arch)
    kwargs: dict[str, Any] = dict(encoder_name=cfg.encoder, encoder_weights=None, classes=1)
    if cfg.arch == "Unet":
        kwargs["decoder_channels"] = list(cfg.decoder_channels)
    if cfg.encoder_depth != 5:
        if len(cfg.decoder_channels) != cfg.encoder_depth:
            raise ValueError(f"model.decoder_channels needs {cfg.encoder_depth} entries for "
                             f"encoder_depth={cfg.encoder_depth}, got {list(cfg.decoder_channels)}")
        kwargs["encoder_depth"] = cfg.encoder_depth
    if cfg.aux_head:
        kwargs["aux_params"] = dict(classes=1, dropout=0.2)
    model = arch(**kwargs)
    if cfg.encoder_depth != 5:
        _drop_unused_stages(model.encoder, cfg.encoder_depth)
    if cfg.encoder_weights:
        load_encoder_weights(model.encoder, cfg.encoder_weights)
    return model


def load_encoder_weights(encoder, path: str | Path) -> None:
    """Initialise ``encoder`` from a local state dict (e.g. torchvision's ImageNet
    mobilenet_v2 file, `scripts/fetch_encoder_weights.sh`). Every tensor the encoder has must
    be in the file with its shape; extra tensors (a classifier, stages dropped by
    ``encoder_depth``) are ignored. A file that fits nothing is an error, not a silent
    random start."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "encoder weights file not found (weights are never downloaded)")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(p, f"not a PyTorch state dict ({type(e).__name__}: {e})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    own = encoder.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        bad = (missing + wrong)[0]
        raise InputError(p, f"does not fit the encoder: {len(missing)} of {len(own)} tensors missing, "
                            f"{len(wrong)} of another shape (first: {bad})")
    encoder.load_state_dict({k: state[k] for k in own})


def cut_encoder_weights(cfg: ModelConfig, dest: str | Path) -> int:
    """Write only the tensors ``cfg``'s encoder has, from ``cfg.encoder_weights``, to ``dest``.
    A shallow encoder (``encoder_depth`` < 5) uses a sliver of an ImageNet file (mobilenet_v2:
    270 KB of 14 MB), and a GPU box can be sent only so much; the start it gives is the same
    (checkpoints record it as ``encoder_init.tensors_sha256``). Returns the tensor count."""
    import torch

    if not cfg.encoder_weights:
        raise ValueError("model.encoder_weights names no file to cut")
    encoder = build_model(dataclasses.replace(cfg, members=1)).encoder  # loads and checks the file
    state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    with atomic_path(dest) as tmp:
        torch.save(state, tmp)
    return len(state)


def _drop_unused_stages(encoder, depth: int) -> None:
    """smp keeps every encoder block even when ``encoder_depth`` < 5; unused blocks would
    bloat the checkpoint and never get a gradient. Dropped for the encoders whose layout is
    known (tested: mobilenet_v2, resnet); others keep them (training tells DDP to expect
    unused parameters)."""
    features, indexes = getattr(encoder, "features", None), getattr(encoder, "_out_indexes", None)
    if features is not None and indexes is not None:  # torchvision-style `features` (mobilenet_v2, vgg)
        encoder.features = features[: indexes[depth - 1] + 1]
    for stage in range(depth + 1, 6):  # resnet-style encoders: layer<k> is stage k + 1
        if hasattr(encoder, f"layer{stage - 1}"):
            delattr(encoder, f"layer{stage - 1}")


def save_checkpoint(path: str | Path, model, cfg: ModelConfig, *, half: bool = False, **meta: Any) -> None:
    """Atomic checkpoint: weights + config + whatever metadata the trainer adds
    (training config, data manifest hash, versions, metrics, calibration).

    ``half=True`` stores floating-point tensors as fp16 (half the file, for the shipped
    model); ``load_checkpoint`` always returns an fp32 model."""
    import torch

    from .fileio import versions

    state = {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()}
    if half:
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    payload = {"state_dict": state, "model_config": dataclasses.asdict(cfg), "versions": versions(),
               "weights_dtype": "float16" if half else "float32", **meta}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _unwrap(model):
    return getattr(model, "module", model)


def load_checkpoint(path: str | Path):
    """(model in eval mode, ModelConfig, metadata dict)."""
    path = Path(path)
    payload = read_checkpoint(path, keys=("state_dict", "model_config"), missing="model file not found")
    try:
        cfg = ModelConfig.from_dict(payload["model_config"])
        # every weight comes from the checkpoint: the encoder's initial weights file (a training
        # input, recorded in the config) need not exist where the model is used
        model = build_model(dataclasses.replace(cfg, encoder_weights=None))
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()})
    except Exception as e:  # a config or weights that do not make a model
        raise InputError(path, f"not a localizer checkpoint ({type(e).__name__}: {' '.join(str(e).split())[:160]})") from None
    model.eval()
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", "model_config")}
    return model, cfg, meta


def normalize(crops: np.ndarray) -> np.ndarray:
    """uint8 NHWC RGB -> float32 NCHW, ImageNet-normalized."""
    x = crops.astype(np.float32) / 255.0
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@dataclass
class Localizer:
    """A loaded model ready to predict, with the metadata analysis needs.

    ``calibration`` and ``threshold`` come from the checkpoint (fitted on validation
    data by the trainer); analysis must not invent them.
    """

    backend: str
    input_size: int
    path: str
    sha256: str
    model_id: str
    calibration: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    _impl: Any = None
    has_frame_head: bool = False
    target: str = "mask"  # what the output map means (localize.targets): forged pixels or blending boundary

    def predict(self, crops: np.ndarray, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray | None]:
        """(pixel probabilities (N, S, S) float32, frame probabilities (N,) or None)."""
        if len(crops) == 0:
            s = self.input_size
            return np.zeros((0, s, s), np.float32), (np.zeros(0, np.float32) if self.has_frame_head else None)
        masks, frames = [], []
        for i in range(0, len(crops), batch_size):
            m, f = self._predict_batch(normalize(crops[i:i + batch_size]))
            masks.append(m)
            if f is not None:
                frames.append(f)
        return np.concatenate(masks), (np.concatenate(frames) if frames else None)

    def _predict_batch(self, x: np.ndarray):
        if self.backend == "onnx":
            outs = self._impl.run(None, {"input": x})
            mask = outs[0][:, 0]
            frame = outs[1][:, 0] if len(outs) > 1 else None
            return mask.astype(np.float32), (None if frame is None else frame.astype(np.float32))
        import torch

        with torch.inference_mode():
            out = self._impl(torch.from_numpy(x))
            if isinstance(out, tuple):
                mask, logit = out
                return torch.sigmoid(mask)[:, 0].numpy(), torch.sigmoid(logit)[:, 0].numpy()
            return torch.sigmoid(out)[:, 0].numpy(), None


def load_localizer(path: str | Path | None = None, backend: str = "auto", threads: int | None = None) -> Localizer:
    """Load a checkpoint (.pt) or an exported model (.onnx); the shipped default when
    ``path`` is None. ``backend='auto'`` uses onnxruntime for .onnx files, else torch."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.exists():
        hint = " (the shipped default model is missing from this install)" if path == DEFAULT_MODEL else ""
        raise InputError(path, "model file not found" + hint)
    sha = sha256_file(path)
    if path.suffix == ".onnx":
        import onnxruntime as ort

        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        try:
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise InputError(path, f"not a loadable ONNX model ({e})") from None
        meta_raw = sess.get_modelmeta().custom_metadata_map
        meta = {k: _maybe_json(v) for k, v in meta_raw.items()}
        return Localizer(backend="onnx", input_size=int(meta.get("input_size", 256)), path=str(path), sha256=sha,
                         model_id=str(meta.get("model_id", path.stem)), calibration=meta.get("calibration", {}) or {},
                         meta=meta, _impl=sess, has_frame_head=len(sess.get_outputs()) > 1,
                         target=_known_target(path, meta))
    if backend == "onnx":
        raise InputError(path, "the onnx backend needs an exported .onnx model (see `localize export`)")
    import torch

    if threads:
        torch.set_num_threads(threads)
    model, cfg, meta = load_checkpoint(path)
    return Localizer(backend="torch", input_size=cfg.input_size, path=str(path), sha256=sha,
                     model_id=str(meta.get("model_id", path.stem)), calibration=meta.get("calibration", {}) or {},
                     meta=meta, _impl=model, has_frame_head=cfg.aux_head,
                     target=_known_target(path, meta))


def _known_target(path: Path, meta: dict[str, Any]) -> str:
    from .targets import TARGETS

    t = target_of_model(meta)
    if t not in TARGETS:
        raise InputError(path, f"model output target {t!r} is unknown to this version (one of {', '.join(TARGETS)})")
    return t


def _maybe_json(v: str):
    import json

    try:
        return json.loads(v)
    except (ValueError, TypeError):
        return v
