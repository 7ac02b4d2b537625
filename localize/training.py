"""``localize train`` / ``train.py``: train the U-Net localizer.

A YAML config (``configs/*.yaml``) over built-in defaults, overridden from the command
line with ``--set section.key=value``. One loop for one process and for DDP under
``torchrun --nproc_per_node N train.py ...`` (gloo on CPU, nccl on GPU), with a
DistributedSampler over a seeded, balanced epoch plan. Validation each epoch (rank 0)
reports pixel IoU / F1 / AUC, frame AUC from the forged-area score, the real-frame
flag rate and the same figures for a constant face-shaped mask, so a model that only
learned "where is the face" shows up as one that does not beat the baseline.
Checkpoints (best, last) are written atomically; ``--resume`` continues from last.
"""
from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import InputError
from .fileio import read_checkpoint, read_yaml, sha256_file
from .model import ModelConfig

log = logging.getLogger("localize.training")

DEFAULTS: dict[str, Any] = {
    "name": "localizer",
    "seed": 0,
    "model": dataclasses.asdict(ModelConfig()),
    "data": {
        "sources": [],            # [{path, kind: pairs|manifest|reals, identity, split, name, derived}]
        "exclude": [],            # glob patterns of held-out paths never used
        "val_fraction": 0.2,      # identities without a dataset split that go to validation
        "folds": 0,               # > 1: cross-fitting, identities in this many folds (forge --folds labels win)
        "fold": 0,                # the fold that validates (0 .. folds-1); the others train
        "fold_seed": 0,           # deals identities without a fold label; not the training seed, so
                                  # every seed and fold of one cross-fit sees the same folds
        "cache_dir": None,        # default ~/.cache/localize/crops (LOCALIZE_CACHE)
        "bundle": None,           # a crop bundle folder (train.py --export-bundle) instead of sources
        "crop_scale": 1.3,
        "frames_per_video": 16,
        "selfblend": 0.5,         # share of fake samples self-blended from real crops
        "blend_threshold": 0.05,
        "balanced": True,
        "paired": False,          # (real, fake) pairs of the same frame in every batch (needs an even batch)
        "target": "mask",         # what the U-Net segments: mask (forged pixels) or xray (blending boundary)
        "augment": 1.0,           # augmentation strength (0: off)
        "defocus": 0.0,           # probability of a strong blur on any training crop, real or fake
                                  # (data.train_transform; only with augment > 0)
        "low_light": 0.0,         # probability of an under-exposed, noisy copy of any training crop
                                  # (data.train_transform; only with augment > 0)
        "other_faces": False,     # also crop every other face of real videos as real (data.with_other_faces)
        # draw each training crop's augmentation from (seed, epoch, index), so a run, resumed or
        # not, sees the same pixels; false: albumentations' own unseeded streams (runs before
        # 2026-11-23 evening, and candidate K, registered with them)
        "seed_augment": True,
        "num_workers": 2,
    },
    "loss": {
        "kind": "bce_dice",       # or soft_l2 (MSE of the probability map)
        "dice_weight": 1.0,
        "frame_weight": 0.5,      # classification head BCE weight (when model.aux_head)
        # Weight of forged pixels in the mask BCE. Balanced paired batches make ~0.5 the best
        # answer on a patch the model cannot judge (smooth skin), so a real face's forged area
        # is a coin flip at the 0.5 pixel threshold; < 1 moves that answer below 0.5 (real).
        "pos_weight": 1.0,
    },
    "train": {
        "out": "runs/localizer",
        "epochs": 20,
        "steps_per_epoch": 0,     # 0: one pass over the balanced plan
        "batch_size": 16,
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "warmup_steps": 100,
        "min_lr_ratio": 0.02,
        "grad_clip": 1.0,
        "amp": "auto",            # auto: on for CUDA
        "monitor": "iou",         # validation metric for best.pt and early stopping (higher is better)
        "patience": 5,            # epochs without improvement before stopping (0: never)
        "time_limit_min": 0,      # stop (after validating) when exceeded (0: none)
        # with a time limit: stop only between epochs, before one that would not end in time
        # (its length predicted from the epochs so far), so --resume continues the exact run
        "stop_at_epoch_end": False,
        "threads": 0,             # torch intra-op threads (0: torch default)
        # NHWC activations and weights: about 15 % faster training steps on a 2-core CPU with oneDNN
        # (MobileNetV2 U-Net, 18.5 -> 21.4 images/s, 2026-11-23); the same model, only the floating-point order differs
        "channels_last": False,
        "init_from": None,        # start from this checkpoint's weights (fine-tuning; same model config)
        "val_batch_size": 32,
        # validate every n-th epoch (and the first, the last, and any a time limit cuts short):
        # validation never changes the weights, and on a CPU it is a quarter of a small epoch;
        # a checkpoint between validations carries the latest metrics (metrics_epoch says whose)
        "validate_every": 1,
        "target_fpr": 0.01,       # calibration operating point on validation reals
        "progress": True,
    },
}


# ---------------------------------------------------------------- config
def _merge(base: dict, over: dict, path: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if k not in out:
            raise InputError(None, f"unknown config key {path + k!r}")
        if isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = _merge(out[k], v, path + k + ".")
        else:
            out[k] = v
    return out


def set_key(cfg: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML: 3, 1e-3, true, [1, 2], text)."""
    import yaml

    if "=" not in assignment:
        raise InputError(None, f"--set expects key=value, got {assignment!r}")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = cfg
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            raise InputError(None, f"unknown config key {key!r}")
        node = node[p]
    if parts[-1] not in node:
        raise InputError(None, f"unknown config key {key!r}")
    node[parts[-1]] = _coerce(yaml.safe_load(raw))


def _coerce(v: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` as text: turn number-looking strings into numbers."""
    if isinstance(v, dict):
        return {k: _coerce(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_coerce(x) for x in v]
    if isinstance(v, str):
        try:
            return float(v) if any(c in v for c in ".eE") else int(v)
        except ValueError:
            return v
    return v


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> dict:
    """Defaults <- YAML file <- ``--set`` overrides; unknown keys are errors."""
    cfg = copy.deepcopy(DEFAULTS)
    if path:
        p = Path(path)
        if not p.is_file():
            raise InputError(p, "config file not found")
        cfg = _merge(cfg, _coerce(read_yaml(p) or {}))
    for o in overrides:
        set_key(cfg, o)
    return cfg


# ---------------------------------------------------------------- losses and metrics
def seg_loss(logits, target, kind: str = "bce_dice", dice_weight: float = 1.0, pos_weight: float = 1.0):
    """BCE + soft Dice over the whole batch (empty real masks are fine: the batch-level
    Dice only counts forged pixels), or the soft L2 alternative. ``pos_weight`` weighs
    forged pixels in the BCE (see the ``loss.pos_weight`` default)."""
    import torch
    import torch.nn.functional as F

    logits = logits.float()
    if kind == "bce_dice":
        pw = None if pos_weight == 1.0 else torch.tensor(float(pos_weight), device=logits.device)
        bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pw)
        p = logits.sigmoid()
        inter = (p * target).sum()
        dice = 1 - (2 * inter + 1) / (p.sum() + target.sum() + 1)
        return bce + dice_weight * dice
    if kind == "soft_l2":
        return F.mse_loss(logits.sigmoid(), target)
    raise InputError(None, f"unknown loss kind {kind!r} (bce_dice or soft_l2)")


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, s))


class SegMetrics:
    """Streaming validation metrics (global pixel counts, sampled pixels for AUC)."""

    def __init__(self, baseline: np.ndarray | None = None, pixel_stride: int = 8):
        self.baseline = None if baseline is None else (baseline >= 0.5)
        self.stride = pixel_stride
        self.c = dict(tp=0, fp=0, fn=0, tp_f=0, fp_f=0, fn_f=0, btp=0, bfp=0, bfn=0, btp_f=0, bfp_f=0, bfn_f=0)
        self.pix_y: list[np.ndarray] = []
        self.pix_s: list[np.ndarray] = []
        self.frame_y: list[float] = []
        self.frame_area: list[float] = []
        self.frame_head: list[float] = []
        self.videos: list[str] = []
        self.tracks: list[str] = []  # which face of its video each frame shows (CropDataset.track_of)
        self.loss_sum = 0.0
        self.n = 0

    def update(self, probs: np.ndarray, targets: np.ndarray, labels: np.ndarray, head: np.ndarray | None,
               videos: Sequence[str], loss: float, tracks: Sequence[str] | None = None) -> None:
        from .decision import frame_scores

        pred = probs >= 0.5
        tgt = targets >= 0.5
        fake = labels > 0.5
        self._count(pred, tgt, fake, "")
        if self.baseline is not None:
            b = np.broadcast_to(self.baseline, pred.shape)
            self._count(b, tgt, fake, "b")
        st = self.stride
        self.pix_y.append(tgt[:, ::st, ::st].ravel())
        self.pix_s.append(probs[:, ::st, ::st].astype(np.float32).ravel())
        self.frame_y.extend(labels.tolist())
        self.frame_area.extend(frame_scores(probs).tolist())
        if head is not None:
            self.frame_head.extend(head.tolist())
        self.videos.extend(videos)
        self.tracks.extend(tracks if tracks is not None else ["main"] * len(videos))
        self.loss_sum += loss * len(probs)
        self.n += len(probs)

    def _count(self, pred, tgt, fake, pre):
        c = self.c
        c[pre + "tp"] += int(np.count_nonzero(pred & tgt))
        c[pre + "fp"] += int(np.count_nonzero(pred & ~tgt))
        c[pre + "fn"] += int(np.count_nonzero(~pred & tgt))
        pf, tf = pred[fake], tgt[fake]
        c[pre + "tp_f"] += int(np.count_nonzero(pf & tf))
        c[pre + "fp_f"] += int(np.count_nonzero(pf & ~tf))
        c[pre + "fn_f"] += int(np.count_nonzero(~pf & tf))

    def video_scores(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Per-video scores with the analysis rule (``decision.video_score``): a video's main
        face is one track and its other faces, pooled, another; the max over them decides,
        as analysis takes the max over a video's tracks. (Pooling the two would let a
        bystander's high scores sink under the main face's many low ones, and validation
        would then set an operating point below what analysis scores the same video.)"""
        from .decision import video_score

        by: dict[str, dict[str, list[float]]] = {}
        lab: dict[str, float] = {}
        for v, t, s, y in zip(self.videos, self.tracks, self.frame_area, self.frame_y):
            by.setdefault(v, {}).setdefault(t, []).append(s)
            lab[v] = y
        keys = sorted(by)
        scores = np.array([video_score(by[k])[0] for k in keys])
        return keys, scores, np.array([int(lab[k]) for k in keys])

    def compute(self, stills: set[str] | frozenset[str] = frozenset()) -> dict[str, float]:
        """``stills``: the source keys of photos; with any, ``frame_auc_videos`` is the frame AUC
        over crops of videos alone, so many one-crop photo identities (and their self-blends) in
        validation cannot stand in for the video frames the criteria are about."""
        from . import data as D
        from .decision import MIN_THRESHOLD

        c = self.c

        def iou(tp, fp, fn):
            return tp / (tp + fp + fn) if tp + fp + fn else float("nan")

        def f1(tp, fp, fn):
            return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")

        y = np.asarray(self.frame_y)
        area = np.asarray(self.frame_area)
        out = {
            "loss": self.loss_sum / max(1, self.n),
            "iou": iou(c["tp"], c["fp"], c["fn"]),
            "iou_fake": iou(c["tp_f"], c["fp_f"], c["fn_f"]),
            "f1": f1(c["tp"], c["fp"], c["fn"]),
            "pixel_auc": _auc(np.concatenate(self.pix_y), np.concatenate(self.pix_s)) if self.pix_y else float("nan"),
            "frame_auc": _auc(y, area),
            "real_flag_rate": float(np.mean(area[y < 0.5] > MIN_THRESHOLD)) if np.any(y < 0.5) else float("nan"),
            "fake_flag_rate": float(np.mean(area[y > 0.5] > MIN_THRESHOLD)) if np.any(y > 0.5) else float("nan"),
            "frames": int(self.n),
        }
        if self.frame_head:
            out["frame_auc_head"] = _auc(y, np.asarray(self.frame_head))
        if self.baseline is not None:
            out["base_iou"] = iou(c["btp"], c["bfp"], c["bfn"])
            out["base_iou_fake"] = iou(c["btp_f"], c["bfp_f"], c["bfn_f"])
            out["base_f1"] = f1(c["btp"], c["bfp"], c["bfn"])
        if self.videos:
            _, vs, vy = self.video_scores()
            out["video_auc"] = _auc(vy, vs)
            if stills:
                vid = np.array([v.removesuffix(D.BLEND_KEY_SUFFIX) not in stills for v in self.videos])
                out["frame_auc_videos"] = _auc(y[vid], area[vid])
        return out


def _still_keys(sets) -> set[str]:
    """The source keys of the photos among crop sets."""
    from .video import is_image

    return {cs.source.key for cs in sets if is_image(cs.source.video)}


# ---------------------------------------------------------------- the run
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_init(device_type: str) -> Dist:
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)))


def _barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def lr_lambda(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up then cosine decay to ``min_ratio`` of the peak rate."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass
class TrainResult:
    out: Path
    best: Path
    last: Path
    metrics: dict[str, float]
    epochs: int
    model: Any = None


def split_sources(cfg: dict) -> tuple[list, dict[str, str]]:
    """A config's videos (after exclusions) and identity -> train/val/test split."""
    from . import data as D

    dc = cfg["data"]
    if not dc["sources"]:
        raise InputError(None, "no training data: set data.sources in the config (or --data PATH)")
    sources = D.collect_sources(dc["sources"], dc.get("exclude", ()))
    if not sources:
        raise InputError(None, "no usable training videos after exclusions")
    fold = _fold(cfg)
    if fold:
        return sources, D.assign_splits(sources, 0.0, int(dc.get("fold_seed", 0)), fold=fold,
                                         fold_labels=_forge_fold_labels(dc))
    return sources, D.assign_splits(sources, float(dc["val_fraction"]), int(cfg["seed"]))


def _forge_fold_labels(dc: dict) -> dict[str, int]:
    """person -> fold of every `forge --folds` corpus among the pair sources (they must agree)."""
    from . import data as D

    out: dict[str, int] = {}
    for spec in dc["sources"]:
        if spec.get("kind", "auto") in ("pairs", "auto"):
            path = Path(os.path.expanduser(str(spec["path"])))
            for ident, j in D.forge_folds(path).items():
                if out.get(ident, j) != j:
                    raise InputError(path, f"puts {ident!r} in fold{j}, another corpus in fold{out[ident]}")
                out[ident] = j
    return out


def _fold(cfg: dict) -> tuple[int, int] | None:
    """(validating fold, number of folds) of a cross-fitting config, or None."""
    k = int(cfg["data"].get("folds") or 0)
    return (int(cfg["data"].get("fold") or 0), k) if k else None


# settings that change how a run is carried out (where, how fast, how it reports), not the model
_NOT_RECIPE = {"data": {"sources", "exclude", "bundle", "cache_dir", "num_workers", "fold", "seed_augment"},
               "train": {"out", "time_limit_min", "stop_at_epoch_end", "threads", "progress", "val_batch_size",
                         "amp", "init_from", "channels_last", "validate_every"}}


# settings added after model ids carried a recipe hash, left out at their default so the
# recipes (and ids) of earlier runs stay what they were
_ADDED_LATER = {"data": {"other_faces": False, "defocus": 0.0, "low_light": 0.0}}


def recipe_hash(cfg: dict, encoder_init: dict | None = None) -> str:
    """Six hex digits naming everything beside the data (manifest hash), the seed and the fold
    that makes two runs different models: model, loss, optimisation and sampling settings, the
    initial weights by content. Without it, two recipes trained on one corpus (a random and an
    ImageNet start) got the same model id."""
    rec = {"model": {k: v for k, v in cfg["model"].items() if k != "encoder_weights"},
           "encoder_init": (encoder_init or {}).get("tensors_sha256"), "loss": cfg["loss"],
           "init_from": _file_sha256_or_none(cfg["train"].get("init_from"))}
    for part in ("data", "train"):
        rec[part] = {k: v for k, v in cfg[part].items() if k not in _NOT_RECIPE[part]
                     and not (k in _ADDED_LATER.get(part, {}) and v == _ADDED_LATER[part][k])}
    return hashlib.sha256(json.dumps(rec, sort_keys=True, default=str).encode()).hexdigest()[:6]


def _tensors_sha256(module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _file_sha256_or_none(path: str | None) -> str | None:
    return sha256_file(path) if path and Path(path).is_file() else None


def _crop_params(cfg: dict):
    from . import data as D

    dc = cfg["data"]
    return D.CropParams(input_size=int(cfg["model"]["input_size"]), scale=float(dc["crop_scale"]),
                        frames_per_video=int(dc["frames_per_video"]))


def crop_sets(cfg: dict, d: Dist | None = None, progress: bool = True):
    """(crop sets of the train + val identities, identity -> split, manifest hash, source
    keys in config order): from the config's sources through the crop cache, or from
    ``data.bundle``."""
    from . import data as D

    d = d or Dist()
    dc = cfg["data"]
    crop = _crop_params(cfg)
    if dc.get("bundle"):
        if dc["sources"]:
            raise InputError(None, "data.bundle replaces data.sources: set only one of them")
        return D.load_bundle(dc["bundle"], crop, fold=_fold(cfg))
    sources, splits = split_sources(cfg)
    # test-split identities are held out: never cropped, never seen
    sources = [s for s in sources if splits.get(s.identity) != "test"]
    if dc.get("other_faces"):
        sources = D.with_other_faces(sources)
    mhash = D.manifest_hash(sources, crop)
    if d.main:
        sets = D.build_cache(sources, crop, dc.get("cache_dir"), progress=progress)
    _barrier(d)
    if not d.main:
        sets = D.build_cache(sources, crop, dc.get("cache_dir"), progress=False)
    return sets, splits, mhash, [s.key for s in sources]


def export_bundle(cfg: dict, dest: str | Path, progress: bool = True, quality: int | None = None) -> dict[str, Any]:
    """The config's cropped train/val data as a crop bundle (see :func:`localize.data.save_bundle`;
    ``quality``: lossy WebP crops)."""
    from . import data as D

    if Path(dest).exists():  # before cropping, which can take long
        raise InputError(Path(dest), "already exists: choose a new folder for the bundle")
    D.bundle_codec(quality, Path(dest))  # a bad quality is refused before cropping, which can take long
    sets, splits, mhash, keys = crop_sets(cfg, progress=progress)
    folds = None
    if _fold(cfg):  # every fold's split travels with the crops, so each fold trains from this one bundle
        sources, _ = split_sources(cfg)
        k = _fold(cfg)[1]
        folds = (k, D.fold_of(sources, k, int(cfg["data"].get("fold_seed", 0)), _forge_fold_labels(cfg["data"])))
    return D.save_bundle(sets, splits, dest, crop=_crop_params(cfg), manifest_hash=mhash, source_keys=keys,
                         progress=progress, folds=folds, quality=quality)


def prepare_data(cfg: dict, d: Dist | None = None, progress: bool = True):
    """Sources -> splits -> cached crops -> (train sets, val sets, manifest hash, summary)."""
    from . import data as D

    sets, splits, mhash, keys = crop_sets(cfg, d, progress)
    parts = D.split_sets(sets, splits)
    if not parts["train"]:
        raise InputError(None, "no training videos (every identity landed in validation/test)")
    if not parts["val"]:
        raise InputError(None, "no validation videos: add data or set data.val_fraction > 0")
    summary = {"train": D.summarize_sets(parts["train"]), "val": D.summarize_sets(parts["val"]),
               "sources": keys, "manifest_hash": mhash}
    overlap = set(summary["train"]["identities"]) & set(summary["val"]["identities"])
    if overlap:
        raise InputError(None, f"identities in both train and validation: {sorted(overlap)}")
    return parts["train"], parts["val"], mhash, summary


def train(cfg: dict, *, resume: bool = False) -> TrainResult:
    """Run one training job (any rank of a DDP job); returns paths and best metrics."""
    import torch
    from torch.utils.data import DataLoader

    from . import data as D
    from .fileio import write_json, write_text
    from .model import ModelConfig, build_model, save_checkpoint

    tc, dc, lc = cfg["train"], cfg["data"], cfg["loss"]
    _target(dc)  # a bad value fails before any cropping
    if int(cfg["model"].get("members", 1)) != 1:
        raise InputError(None, "model.members > 1 is a seed ensemble of separately trained runs: train each "
                         "run with members 1, then `train.py --package RUN1.pt RUN2.pt ... DEST`")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = _dist_init(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    if tc["threads"]:
        torch.set_num_threads(int(tc["threads"]))
    seed = int(cfg["seed"])
    torch.manual_seed(seed)
    out = Path(tc["out"])
    best_path, last_path = out / "best.pt", out / "last.pt"
    progress = bool(tc["progress"]) and d.main

    train_sets, val_sets, mhash, summary = prepare_data(cfg, d, progress)
    spec = D.SampleSpec(selfblend=float(dc["selfblend"]), blend_threshold=float(dc["blend_threshold"]),
                        balanced=bool(dc["balanced"]), paired=bool(dc["paired"]), target=_target(dc))
    bs = int(tc["batch_size"])
    if spec.paired and bs % 2:
        raise InputError(None, f"data.paired needs an even train.batch_size (got {bs})")
    if int(tc["steps_per_epoch"]):
        spec.length = int(tc["steps_per_epoch"]) * bs * d.world
    train_ds = D.CropDataset(train_sets, spec, train=True, seed=seed, augment=float(dc["augment"]),
                             seed_augment=bool(dc["seed_augment"]),
                             defocus=float(dc["defocus"]), low_light=float(dc["low_light"]))
    val_ds = _val_dataset(val_sets, cfg)
    baseline = D.mean_fake_mask(train_sets, spec, seed)
    sampler = D.EpochSampler(train_ds, num_replicas=d.world, rank=d.rank, seed=seed)
    steps_per_epoch = len(train_ds) // (bs * d.world)
    if steps_per_epoch < 1:
        raise InputError(None, f"batch size {bs} x {d.world} ranks exceeds the {len(train_ds)} samples per epoch")
    epochs = int(tc["epochs"])
    total_steps = epochs * steps_per_epoch

    mcfg = ModelConfig.from_dict(cfg["model"])
    model = build_model(mcfg).to(device)
    if tc.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    # which initial weights: the file, and the values it gave the encoder (the same for a copy
    # cut to the stages used, as carried to a GPU box)
    encoder_init = ({"file": str(mcfg.encoder_weights), "sha256": sha256_file(mcfg.encoder_weights),
                     "tensors_sha256": _tensors_sha256(model.encoder)} if mcfg.encoder_weights else None)
    opt = torch.optim.AdamW(model.parameters(), lr=float(tc["lr"]), weight_decay=float(tc["weight_decay"]))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_lambda(s, int(tc["warmup_steps"]), total_steps, float(tc["min_lr_ratio"])))
    use_amp = device.type == "cuda" and tc["amp"] in ("auto", True, "true", "on")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start_epoch, step, best_score, bad, history = 0, 0, -math.inf, 0, []
    prior_seconds = 0.0  # training time of the runs this one resumes
    validated = None  # (metrics, calibration, epoch) of the latest validation
    if tc.get("init_from") and not (resume and last_path.exists()):
        src = Path(tc["init_from"])
        payload = read_checkpoint(src, "localizer checkpoint (train.init_from)", ("state_dict", "model_config"),
                                  missing="train.init_from checkpoint not found")
        if ModelConfig.from_dict(payload["model_config"]) != mcfg:
            raise InputError(src, "train.init_from has a different model config")
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()})
        if d.main:
            log.info("initialised from %s", src)
    if resume and last_path.exists():
        payload = torch.load(last_path, map_location="cpu", weights_only=False)
        # a run carried to another machine resumes only on the crops it started on
        if payload.get("data_manifest_hash") not in (None, mhash):
            raise InputError(last_path, f"this run trained on data {payload['data_manifest_hash'][:8]}, the config's "
                             f"data is {mhash[:8]}: resume it on the same data, or train a new run")
        model.load_state_dict(payload["state_dict"])
        st = payload["train_state"]
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        scaler.load_state_dict(st["scaler"])
        start_epoch, step, best_score, bad, history = st["epoch"] + 1, st["step"], st["best_score"], st["bad"], \
            st["history"]
        prior_seconds = float(payload.get("training_seconds", 0.0))
        if payload.get("metrics"):
            validated = (payload["metrics"], payload.get("calibration"),
                         int(payload.get("metrics_epoch") or payload.get("epoch") or 0))
        if d.main:
            log.info("resumed from %s at epoch %d (step %d)", last_path, start_epoch, step)
    elif resume and d.main:
        log.warning("%s not found: starting from scratch", last_path)
    ddp_model = model
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # an unweighted frame head, or encoder stages build_model could not drop (encoder_depth < 5)
        unused = bool(mcfg.aux_head) and float(lc["frame_weight"]) == 0 or mcfg.encoder_depth != 5
        ddp_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
                        find_unused_parameters=unused)

    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        import yaml

        write_text(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
        write_json(out / "data.json", summary)
        log.info("train %s | val %s | %d steps/epoch x %d epochs", _brief(summary["train"]), _brief(summary["val"]),
                 steps_per_epoch, epochs)
    model_id = f"unet-{mcfg.encoder}-{mcfg.input_size}-{mhash[:8]}-{recipe_hash(cfg, encoder_init)}-s{seed}"
    if _fold(cfg):
        model_id += "-f{}of{}".format(*_fold(cfg))
    t_start = time.time()
    time_limit = float(tc["time_limit_min"]) * 60
    nw = int(dc["num_workers"])
    # spawned (not forked) persistent workers: a fork after OpenCV/dlib/PyAV threads ran
    # in this process can deadlock; the epoch travels inside the sampler's indices.
    loader = DataLoader(train_ds, batch_size=bs, sampler=sampler, num_workers=nw, drop_last=True,
                        persistent_workers=nw > 0, worker_init_fn=_worker_init if nw > 0 else None,
                        multiprocessing_context="spawn" if nw > 0 else None, prefetch_factor=4 if nw > 0 else None)
    best_metrics: dict[str, float] = {}
    epoch = start_epoch - 1
    stop = False
    at_epoch_end = bool(tc.get("stop_at_epoch_end"))
    epoch_times: list[float] = []
    for epoch in range(start_epoch, epochs):
        late = bool(at_epoch_end and time_limit and epoch_times and
                    time.time() - t_start + sum(epoch_times) / len(epoch_times) > time_limit)
        if _bcast_flag(late, d):  # rank 0 decides, so every rank stops at the same epoch
            if d.main:
                log.info("time limit: stopping before epoch %d of %d (continue with --resume)", epoch + 1, epochs)
            epoch -= 1
            break
        t_epoch = time.time()
        train_ds.set_epoch(epoch)
        sampler.set_epoch(epoch)
        model.train()
        loss_sum, n_seen, t0 = 0.0, 0, time.time()
        from tqdm import tqdm

        bar = tqdm(loader, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   leave=False, dynamic_ncols=True)
        for x, y, lab in bar:
            loss = train_step(ddp_model, model, (x, y, lab), opt, sched, scaler, cfg, device, use_amp)
            step += 1
            loss_sum += loss * len(x)
            n_seen += len(x)
            if progress:
                bar.set_postfix(loss=f"{loss_sum / n_seen:.4f}", lr=f"{sched.get_last_lr()[0]:.2e}")
            if time_limit and not at_epoch_end and time.time() - t_start > time_limit:
                stop = True
                break
        bar.close()
        train_time = time.time() - t0
        _sync_buffers(model, d)
        train_loss = _reduce_mean(loss_sum / max(1, n_seen), d)
        stop = _reduce_flag(stop, d)
        if d.main:
            now = (validated is None or (epoch + 1) % max(1, int(tc["validate_every"])) == 0 or epoch + 1 == epochs
                   or stop)
            if now:
                validated = (*validate(model, val_ds, baseline, device, cfg, use_amp), epoch + 1)
            m, cal, m_epoch = validated
            row = {"epoch": epoch + 1, "step": step, "lr": sched.get_last_lr()[0], "train_loss": train_loss,
                   "train_images_per_s": n_seen * d.world / max(train_time, 1e-9),
                   "elapsed_s": time.time() - t_start, **{f"val_{k}": v if now else "" for k, v in m.items()}}
            history.append(row)
            _append_csv(out / "log.csv", row)
            score = m.get(tc["monitor"], float("nan")) if now else float("nan")
            improved = not math.isnan(score) and score > best_score
            # metrics and calibration are those of epoch metrics_epoch (the latest validated)
            meta = dict(model_id=model_id, config=cfg, data_manifest_hash=mhash, data=summary, metrics=m,
                        calibration=cal, metrics_epoch=m_epoch, epoch=epoch + 1, step=step, encoder_init=encoder_init,
                        training_seconds=prior_seconds + time.time() - t_start,
                        baseline_mask_area=float((baseline >= 0.5).mean()),
                        baseline_mask=(baseline >= 0.5).astype(np.uint8))
            if improved:
                best_score, bad, best_metrics = score, 0, m
                save_checkpoint(best_path, model, mcfg, **meta)
            elif now:
                bad += 1
            save_checkpoint(last_path, model, mcfg, **meta, train_state=dict(
                optimizer=opt.state_dict(), scheduler=sched.state_dict(), scaler=scaler.state_dict(), epoch=epoch,
                step=step, best_score=best_score, bad=bad, history=history))
            if now:
                log.info("epoch %d: train loss %.4f (%.1f img/s) | val loss %.4f IoU %.3f (const-mask %.3f) "
                         "IoU-fake %.3f (%.3f) F1 %.3f pixAUC %.3f frameAUC %.3f real-flag %.2f%s",
                         epoch + 1, train_loss, row["train_images_per_s"], m["loss"], m["iou"], m.get("base_iou", 0),
                         m["iou_fake"], m.get("base_iou_fake", 0), m["f1"], m["pixel_auc"], m["frame_auc"],
                         m["real_flag_rate"], " *" if improved else "")
            else:
                log.info("epoch %d: train loss %.4f (%.1f img/s) | not validated (train.validate_every %d)",
                         epoch + 1, train_loss, row["train_images_per_s"], int(tc["validate_every"]))
            patience = int(tc["patience"])
            if patience and bad >= patience:
                log.info("early stop: %s did not improve for %d epochs", tc["monitor"], patience)
                stop = True
        stop = _bcast_flag(stop, d)
        epoch_times.append(time.time() - t_epoch)
        if stop:
            break
    _barrier(d)
    if d.main and best_metrics:
        write_json(out / "metrics.json", {"best": best_metrics, "monitor": tc["monitor"], "epochs_run": epoch + 1,
                                          "model_id": model_id, "data_manifest_hash": mhash})
    if d.main and not best_metrics and best_path.exists():
        best_metrics = torch.load(best_path, map_location="cpu", weights_only=False).get("metrics", {})
    return TrainResult(out=out, best=best_path, last=last_path, metrics=best_metrics, epochs=epoch + 1, model=model)


def train_step(ddp_model, model, batch, opt, sched, scaler, cfg: dict, device, use_amp: bool = False) -> float:
    """One optimisation step (segmentation loss + optional frame-head BCE); returns the loss."""
    import torch

    lc, tc = cfg["loss"], cfg["train"]
    x, y, lab = (t.to(device, non_blocking=True) for t in batch)
    if tc.get("channels_last"):
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, enabled=use_amp):
        outp = ddp_model(x)
    mask_logits, head = outp if isinstance(outp, tuple) else (outp, None)
    loss = seg_loss(mask_logits, y, lc["kind"], float(lc["dice_weight"]), float(lc.get("pos_weight", 1.0)))
    if head is not None and float(lc["frame_weight"]) > 0:
        loss = loss + float(lc["frame_weight"]) * torch.nn.functional.binary_cross_entropy_with_logits(
            head.float()[:, 0], lab)
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if float(tc["grad_clip"]) > 0:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(tc["grad_clip"]))
    scaler.step(opt)
    scaler.update()
    if sched is not None:
        sched.step()
    return float(loss.detach())


def _brief(s: dict) -> str:
    return (f"{s['videos']} videos ({s['real_videos']} real, {s['fake_videos']} fake), {s['real_crops']} real / "
            f"{s['fake_crops']} fake crops, {len(s['identities'])} identities")


def _worker_init(worker_id: int) -> None:
    import torch

    torch.set_num_threads(1)
    import cv2

    cv2.setNumThreads(1)


def _reduce_mean(v: float, d: Dist) -> float:
    if d.world <= 1:
        return v
    import torch
    import torch.distributed as dist

    t = torch.tensor([v], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / d.world


def _sync_buffers(model, d: Dist) -> None:
    """Average BatchNorm running statistics over ranks. DDP broadcasts rank 0's buffers
    at the start of each forward, so after the last step every rank holds statistics
    updated by its own batch: without this the ranks' final models differ."""
    if d.world <= 1:
        return
    import torch.distributed as dist

    for b in model.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b /= d.world


def _reduce_flag(flag: bool, d: Dist) -> bool:
    if d.world <= 1:
        return flag
    import torch
    import torch.distributed as dist

    t = torch.tensor([int(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _bcast_flag(flag: bool, d: Dist) -> bool:
    if d.world <= 1:
        return flag
    import torch
    import torch.distributed as dist

    t = torch.tensor([int(flag)])
    dist.broadcast(t, 0)
    return bool(t.item())


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _target(dc: dict) -> str:
    from .targets import TARGETS

    t = str(dc.get("target", "mask"))
    if t not in TARGETS:
        raise InputError(None, f"data.target must be one of {', '.join(TARGETS)}, got {t!r}")
    return t


def _val_dataset(val_sets, cfg: dict):
    """Every validation crop in order, with the config's self-blends of real crops."""
    from . import data as D

    dc = cfg["data"]
    spec = D.SampleSpec(selfblend=float(dc["selfblend"]), blend_threshold=float(dc["blend_threshold"]),
                        target=_target(dc))
    return D.CropDataset(val_sets, spec, train=False, seed=int(cfg["seed"]))


def validate(model, val_ds, baseline, device, cfg: dict, use_amp: bool = False):
    """Metrics on every validation crop, and the calibration fitted on per-video scores
    (decision.frame_score -> decision.video_score over the main face and the other faces, as analysis does)."""
    metrics = SegMetrics(baseline)
    _accumulate(model, val_ds, metrics, device, cfg, use_amp)
    return metrics.compute(_still_keys(val_ds.sets)), _calibration(metrics, val_ds.sets, cfg)


def _accumulate(model, val_ds, metrics: "SegMetrics", device, cfg: dict, use_amp: bool = False) -> None:
    """Score every crop of ``val_ds`` with ``model`` into ``metrics``."""
    import torch
    from torch.utils.data import DataLoader

    lc = cfg["loss"]
    model.eval()
    bs = int(cfg["train"]["val_batch_size"])
    loader = DataLoader(val_ds, batch_size=bs, shuffle=False, num_workers=0)
    i0 = 0
    with torch.inference_mode():
        for x, y, lab in loader:
            with torch.autocast(device.type, enabled=use_amp):
                outp = model(x.to(device))
            logits, head = outp if isinstance(outp, tuple) else (outp, None)
            loss = float(seg_loss(logits, y.to(device), lc["kind"], float(lc["dice_weight"]),
                                  float(lc.get("pos_weight", 1.0))))
            probs = logits.float().sigmoid()[:, 0].cpu().numpy()
            hp = head.float().sigmoid()[:, 0].cpu().numpy() if head is not None else None
            vids = [val_ds.video_of(i) for i in range(i0, i0 + len(x))]
            tracks = [val_ds.track_of(i) for i in range(i0, i0 + len(x))]
            i0 += len(x)
            metrics.update(probs, y[:, 0].numpy(), lab.numpy(), hp, vids, loss, tracks)
    model.train()


def _calibration(metrics: "SegMetrics", sets, cfg: dict) -> dict[str, Any]:
    """The calibration fitted on the per-video scores gathered in ``metrics`` ({} when it
    cannot be fitted, e.g. validation without a fake video)."""
    from . import data as D
    from .decision import fit_calibration

    keys, scores, labels = metrics.video_scores()
    stills = _still_keys(sets)
    cal: dict[str, Any] = {}
    try:
        cal = fit_calibration(scores, labels, float(cfg["train"]["target_fpr"]),
                              still=[k.removesuffix(D.BLEND_KEY_SUFFIX) in stills for k in keys]).to_dict()
        cal["fitted_on"] = (f"{len(keys)} validation videos and photos ({int((labels == 0).sum())} real, "
                            f"{len(stills)} photos)")
    except ValueError as e:
        log.warning("no calibration fitted: %s", e)
    return cal


# ---------------------------------------------------------------- packaging
def package(src: str | Path | Sequence[str | Path], dst: str | Path, *, half: bool = True,
            warning: str | None = None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Write a shippable model: weights (fp16 storage by default, loaded back as fp32)
    and the metadata analysis needs, without optimizer state. ``warning`` (what held-out
    data showed the model cannot be trusted with) is stored as ``quality_warning``, which
    `localize analyze` prints and writes into every report.

    Several sources make a seed ensemble (:mod:`localize.ensemble`): runs of one config
    (same model, same training/validation videos), whose validation metrics and calibration
    are recomputed for the averaged model, as training does for one. ``overrides``
    (``key=value``) adjust the runs' config for that validation, e.g. where their data is on
    this machine (``data.bundle=...`` for runs trained on another one)."""
    from .model import load_checkpoint, save_checkpoint

    srcs = [src] if isinstance(src, (str, Path)) else list(src)
    loaded = [load_checkpoint(p) for p in srcs]  # one clear error for a missing or corrupt file
    if len(loaded) > 1:
        return _package_ensemble(srcs, loaded, dst, half=half, warning=warning, overrides=overrides)
    model, cfg, payload = loaded[0]
    meta = {k: v for k, v in payload.items() if k not in ("train_state", "versions", "weights_dtype")}
    meta["trained_with_versions"] = payload.get("versions", {})
    if warning:
        meta["quality_warning"] = warning
    save_checkpoint(dst, model, cfg, half=half, **meta)
    return {"path": str(dst), "bytes": Path(dst).stat().st_size}


def _split_summary(summary: dict | None) -> dict | None:
    """What must match between ensemble members: the videos and crops of each split. Not the
    manifest hash, and not the identity names: how identities are read can improve (a forge
    corpus's videos are now named by their person) without changing a single video's split."""
    if not summary:
        return None
    out = {k: summary.get(k) for k in ("train", "val", "sources")}
    for k in ("train", "val"):
        if isinstance(out[k], dict):
            out[k] = {kk: v for kk, v in out[k].items() if kk != "identities"}
    return out


def _package_ensemble(srcs: list, loaded: list[tuple], dst: str | Path, *, half: bool,
                      warning: str | None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    import torch

    from .ensemble import LogitMean
    from .model import save_checkpoint

    _, one, first = loaded[0]
    folds = {_fold(meta.get("config") or {"data": {}}) for _, _, meta in loaded}
    if len(folds) > 1:  # runs of several folds: out-of-fold validation (runs of one fold: a seed ensemble)
        return _package_cross_fit(srcs, loaded, dst, half=half, warning=warning, overrides=overrides)
    for p, (_, mcfg, meta) in zip(srcs[1:], loaded[1:]):
        if mcfg != one:
            raise InputError(Path(p), f"a different model config than {srcs[0]}: ensemble members must be "
                             "runs of one config")
        if _split_summary(meta.get("data")) != _split_summary(first.get("data")):
            raise InputError(Path(p), f"trained on other data than {srcs[0]} (other videos, identities or "
                             "crops): the members would have different validation videos")
    if one.members != 1:
        raise InputError(Path(srcs[0]), "already an ensemble: package its member runs instead")
    cfg = dataclasses.replace(one, members=len(loaded))
    model = LogitMean([m for m, _, _ in loaded])
    # Validation as in training: the first run's config names the (shared) validation videos.
    tcfg = copy.deepcopy(first["config"])
    for o in overrides:
        set_key(tcfg, o)
    _, val_sets, mhash, summary = prepare_data(tcfg, progress=False)
    if _split_summary(summary) != _split_summary(first.get("data")):
        raise InputError(Path(srcs[0]), "its training/validation videos changed since training")
    base = first.get("baseline_mask")
    baseline = None if base is None else np.asarray(base, np.float32)
    metrics, cal = validate(model, _val_dataset(val_sets, tcfg), baseline, torch.device("cpu"), tcfg)
    members = [{"checkpoint": str(p), "sha256": sha256_file(p), "model_id": meta.get("model_id"),
                "seed": meta.get("config", {}).get("seed"), "epoch": meta.get("epoch"), "metrics": meta.get("metrics"),
                "encoder_init": meta.get("encoder_init")} for p, (_, _, meta) in zip(srcs, loaded)]
    seeds = "".join(f"s{m['seed']}" for m in members)
    fold = _fold(tcfg)
    seeds += "-f{}of{}".format(*fold) if fold else ""  # the runs of one cross-fitting fold
    recipe = recipe_hash(tcfg, first.get("encoder_init"))
    meta = dict(model_id=f"unet-{one.encoder}-{one.input_size}-{mhash[:8]}-{recipe}-ens{len(members)}-{seeds}",
                config=tcfg, data_manifest_hash=mhash, data=summary, metrics=metrics, calibration=cal,
                ensemble_of=members, training_seconds=sum(float(m.get("training_seconds", 0)) for _, _, m in loaded),
                trained_with_versions=first.get("versions", {}))
    for k in ("baseline_mask_area", "baseline_mask"):
        if k in first:
            meta[k] = first[k]
    if warning:
        meta["quality_warning"] = warning
    save_checkpoint(dst, model, cfg, half=half, **meta)
    return {"path": str(dst), "bytes": Path(dst).stat().st_size, "members": len(members),
            "metrics": {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)},
            "threshold": cal.get("threshold")}


def _without(cfg: dict, *keys: str) -> dict:
    """A config without the keys (dotted) that may differ between members of one cross-fit."""
    c = copy.deepcopy(cfg)
    for k in keys:
        d = c
        *head, last = k.split(".")
        for h in head:
            d = d.get(h, {})
        d.pop(last, None)
    return c


def _package_cross_fit(srcs: list, loaded: list[tuple], dst: str | Path, *, half: bool,
                       warning: str | None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """An ensemble of cross-fitting runs (one config, ``data.fold`` 0..k-1, any number of seeds
    per fold). Its validation is out of fold: each fold's videos are scored by the members
    that never saw them (the mean of that fold's runs), and the metrics and the calibration
    are fitted on all folds' scores pooled, so every identity of the data validates once and
    the operating point rests on all real videos instead of one split's few.

    The shipped model averages all members, so a video it analyses is scored by k times as
    many runs as its out-of-fold score was: averaging narrows the spread of real scores, so a
    threshold above the pooled out-of-fold reals is, if anything, conservative for it."""
    import torch

    from .ensemble import LogitMean
    from .model import save_checkpoint

    _, one, first = loaded[0]
    cfgs = []
    for p, (_, mcfg, meta) in zip(srcs, loaded):
        cfg = copy.deepcopy(meta.get("config") or {})
        for o in overrides:
            set_key(cfg, o)
        if not _fold(cfg):
            raise InputError(Path(p), "not a cross-fitting run (data.folds unset): a cross-fit ensemble takes only "
                             "runs of one config with data.fold 0..folds-1")
        if mcfg != one:
            raise InputError(Path(p), f"a different model config than {srcs[0]}: members must be runs of one config")
        keep = ("seed", "data.fold", "train.out", "train.time_limit_min", "train.stop_at_epoch_end", "train.progress",
                "train.threads", "data.num_workers", "data.cache_dir")  # what may differ between runs of one cross-fit
        if _without(cfg, *keep) != _without(cfgs[0] if cfgs else cfg, *keep):
            raise InputError(Path(p), f"another config than {srcs[0]} (beyond seed, data.fold and train.out)")
        cfgs.append(cfg)
    if one.members != 1:
        raise InputError(Path(srcs[0]), "already an ensemble: package its member runs instead")
    k = _fold(cfgs[0])[1]
    by_fold: dict[int, list[int]] = {}
    for n, cfg in enumerate(cfgs):
        by_fold.setdefault(_fold(cfg)[0], []).append(n)
    missing = sorted(set(range(k)) - set(by_fold))
    if missing:
        raise InputError(None, f"no run for fold(s) {missing} of {k}: every fold must be trained (out-of-fold "
                         "validation needs each identity scored by runs that never saw it)")
    base = first.get("baseline_mask")
    metrics = SegMetrics(None if base is None else np.asarray(base, np.float32))
    sets_all, summaries, hashes = [], {}, {}
    for j in range(k):
        members = by_fold[j]
        tcfg = cfgs[members[0]]
        _, val_sets, mhash, summary = prepare_data(tcfg, progress=False)
        for n in members:
            if _split_summary(summary) != _split_summary(loaded[n][2].get("data")):
                raise InputError(Path(srcs[n]), "its training/validation videos changed since training")
        fold_model = loaded[members[0]][0] if len(members) == 1 else LogitMean([loaded[n][0] for n in members])
        _accumulate(fold_model, _val_dataset(val_sets, tcfg), metrics, torch.device("cpu"), tcfg)
        sets_all += val_sets
        summaries[f"fold{j}"], hashes[f"fold{j}"] = summary, mhash
    m = metrics.compute(_still_keys(sets_all))
    cal = _calibration(metrics, sets_all, cfgs[0])
    if cal:
        cal["fitted_on"] = ("out of fold: " + cal["fitted_on"]
                            + f" of {k} folds, each scored by the runs that never saw it")
    model = LogitMean([mm for mm, _, _ in loaded])
    mcfg = dataclasses.replace(one, members=len(loaded))
    members = [{"checkpoint": str(p), "sha256": sha256_file(p), "model_id": meta.get("model_id"),
                "seed": meta.get("config", {}).get("seed"), "fold": _fold(cfg)[0], "epoch": meta.get("epoch"),
                "metrics": meta.get("metrics"), "encoder_init": meta.get("encoder_init")}
               for p, (_, _, meta), cfg in zip(srcs, loaded, cfgs)]
    mhash = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    tcfg = copy.deepcopy(cfgs[0])
    tcfg["data"]["fold"] = None  # the ensemble has no validating fold: every fold validated out of fold
    recipe = recipe_hash(tcfg, first.get("encoder_init"))
    meta = dict(model_id=f"unet-{one.encoder}-{one.input_size}-{mhash[:8]}-{recipe}-cf{k}x{len(members)}",
                config=tcfg, data_manifest_hash=mhash, data={"cross_fit": summaries}, metrics=m, calibration=cal,
                cross_fit={"folds": k, "runs_per_fold": {f"fold{j}": len(v) for j, v in sorted(by_fold.items())},
                           "validation": "out of fold, pooled"},
                ensemble_of=members, training_seconds=sum(float(mt.get("training_seconds", 0)) for _, _, mt in loaded),
                trained_with_versions=first.get("versions", {}))
    if warning:
        meta["quality_warning"] = warning
    save_checkpoint(dst, model, mcfg, half=half, **meta)
    return {"path": str(dst), "bytes": Path(dst).stat().st_size, "members": len(members), "folds": k,
            "metrics": {kk: round(v, 4) for kk, v in m.items() if isinstance(v, float)},
            "threshold": cal.get("threshold"), "n_real": cal.get("n_real")}


# ---------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="YAML experiment config (configs/*.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=3 (repeatable)")
    p.add_argument("--data", action="append", default=[], metavar="PATH",
                   help="add a data source (FF++/forge tree, .csv pair list or masks/ .jsonl manifest)")
    p.add_argument("--reals", action="append", default=[], metavar="PATH",
                   help="add real videos (file or folder) for self-blending and real negatives")
    p.add_argument("--out", help="output folder (train.out)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--package", nargs="+", metavar="CHECKPOINT... DEST",
                   help="write a shippable fp16 copy of a checkpoint (no optimizer state) and exit; several "
                   "checkpoints (runs of one config with different seeds) make a seed ensemble, validated "
                   "and calibrated again on the runs' validation videos")
    p.add_argument("--export-bundle", metavar="DIR",
                   help="crop the config's train/val videos and write them (losslessly unless --bundle-quality) "
                   "as a folder that data.bundle trains from on a machine without the videos, PyAV or dlib (a GPU "
                   "box); exit")
    p.add_argument("--bundle-quality", type=int, metavar="Q",
                   help="with --export-bundle: lossy WebP crops of quality Q (1-100; 95 is about 4x smaller), "
                   "for carrying a bundle through a size limit; masks stay lossless")
    p.add_argument("--warning", help="with --package: a known limitation stored in the model as "
                   "quality_warning (printed by `localize analyze` and written into its reports)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.package:
        if len(args.package) < 2:
            raise InputError(None, "--package needs CHECKPOINT... DEST")
        if args.overrides and len(args.package) < 3:
            raise InputError(None, "--set with --package adjusts an ensemble's validation: one checkpoint is not "
                             "validated again")
        info = package(args.package[:-1], args.package[-1], warning=args.warning, overrides=args.overrides)
        print(json.dumps(info))
        return 0
    config = args.config
    if args.resume and not config and args.out and (Path(args.out) / "config.yaml").exists():
        config = str(Path(args.out) / "config.yaml")
    cfg = load_config(config, args.overrides)
    for p in args.data:
        cfg["data"]["sources"].append({"path": p, "kind": "auto"})
    for p in args.reals:
        cfg["data"]["sources"].append({"path": p, "kind": "reals"})
    if args.out:
        cfg["train"]["out"] = args.out
    if args.quiet:
        cfg["train"]["progress"] = False
    if args.export_bundle:
        print(json.dumps(export_bundle(cfg, args.export_bundle, progress=bool(cfg["train"]["progress"]),
                                       quality=args.bundle_quality)))
        return 0
    if args.bundle_quality is not None:
        raise InputError(None, "--bundle-quality goes with --export-bundle")
    res = train(cfg, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"best": str(res.best), "epochs": res.epochs,
                          **{k: round(v, 4) for k, v in res.metrics.items() if isinstance(v, float)}}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python train.py``: the same as ``localize train``."""
    from .cli import script_main

    return script_main("train", "train.py", None if argv is None else list(argv))
