"""Meso-4 (Afchar, Nozick, Yamagishi, Echizen, "MesoNet: a Compact Facial Video
Forgery Detection Network", WIFS 2018), re-implemented in PyTorch as the classic
frame-level baseline of the evaluation.

Architecture as published: four conv blocks (8 3x3, 8 5x5, 16 5x5, 16 5x5 filters;
ReLU, batch norm, max-pool 2/2/2/4) on 256x256 RGB face crops, dropout 0.5,
dense 16 + LeakyReLU(0.1), dropout 0.5, dense 1 + sigmoid. A video's probability is
the mean of its frame probabilities, as in the paper.

Training uses a localizer training config's data (``localize.training.prepare_data``:
the same sources, identity splits, cached face crops and self-blended fakes), so the
comparison is about the detector, not the data. The shipped ``mesonet.pt`` was trained on
``configs/previous.yaml``'s data (the forge corpus); the current localizer's config adds
the plain real videos of the same people.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

INPUT_SIZE = 256


def build_meso4():
    import torch.nn as nn

    class Meso4(nn.Module):
        def __init__(self):
            super().__init__()

            def block(cin, cout, k, pool):
                return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU(inplace=True),
                                     nn.BatchNorm2d(cout), nn.MaxPool2d(pool, pool))

            self.features = nn.Sequential(block(3, 8, 3, 2), block(8, 8, 5, 2), block(8, 16, 5, 2),
                                          block(16, 16, 5, 4))
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 8 * 8, 16),
                                      nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(16, 1))

        def forward(self, x):  # (N, 3, 256, 256) in [0, 1] -> logits (N,)
            return self.head(self.features(x)).squeeze(1)

    return Meso4()


def _to_input(crops: np.ndarray):
    """uint8 NHWC crops (any size) -> float NCHW 256x256 in [0, 1] (the paper rescales to [0, 1])."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != INPUT_SIZE:
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return x


def predict(model, crops: np.ndarray, batch: int = 32) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            out.append(torch.sigmoid(model(_to_input(crops[i:i + batch]))).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def train_mesonet(config: str | Path | None, out: str | Path, *, steps: int = 800, batch_size: int = 32,
                  lr: float = 1e-3, seed: int = 0, threads: int = 1, progress: bool = True) -> dict[str, Any]:
    """Train Meso-4 on the localizer's training data (its config), pick the best step
    on the localizer's validation split, save weights + metadata atomically."""
    import torch

    from .. import data as D
    from ..fileio import versions
    from ..training import load_config, prepare_data
    from ..evaluate.metrics import roc_auc

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    cfg = load_config(config)
    train_sets, val_sets, mhash, summary = prepare_data(cfg, progress=progress)
    dc = cfg["data"]
    spec = D.SampleSpec(length=steps * batch_size, selfblend=float(dc["selfblend"]),
                        blend_threshold=float(dc["blend_threshold"]), balanced=bool(dc.get("balanced", True)))
    train_ds = D.CropDataset(train_sets, spec, train=True, seed=seed, augment=float(dc.get("augment", 1.0)))
    val_ds = D.CropDataset(val_sets, D.SampleSpec(selfblend=float(dc["selfblend"]),
                                                  blend_threshold=float(dc["blend_threshold"])), train=False, seed=seed)

    def batch_of(ds, idx):
        imgs, ys = [], []
        for i in idx:
            img, _, kind = ds.sample(int(i))
            if ds.transform is not None:
                img = ds.transform(image=img)["image"]
            imgs.append(img)
            ys.append(0.0 if kind == D.REAL else 1.0)
        return np.stack(imgs), np.array(ys, np.float32)

    val_x, val_y = batch_of(val_ds, range(len(val_ds)))
    model = build_meso4()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best = {"auc": -1.0, "step": 0, "state": None}
    eval_every = max(50, steps // 8)
    t0 = time.time()
    from tqdm import tqdm

    bar = tqdm(range(steps), desc="mesonet", disable=not progress, leave=False)
    for step in bar:
        model.train()
        x, y = batch_of(train_ds, range(step * batch_size, (step + 1) * batch_size))
        logits = model(_to_input(x))
        loss = loss_fn(logits, torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            p = predict(model, val_x)
            auc = roc_auc(val_y, p)
            bar.set_postfix(loss=f"{loss.item():.3f}", val_auc=f"{auc:.3f}")
            if auc > best["auc"]:
                best = {"auc": float(auc), "step": step + 1,
                        "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
    model.load_state_dict(best["state"])
    p = predict(model, val_x)
    # threshold: 5 % FPR on the validation real crops (frame level)
    reals = np.sort(p[val_y == 0])
    thr = float(reals[min(len(reals) - 1, int(np.ceil(0.95 * len(reals))) - 1)]) if len(reals) else 0.5
    meta = {"arch": "Meso-4 (Afchar et al. 2018)", "input_size": INPUT_SIZE, "config": str(config),
            "manifest_hash": mhash, "train_sources": summary.get("sources", []), "steps": steps,
            "best_step": best["step"], "val_auc_frames": best["auc"], "val_crops": int(len(val_y)),
            "threshold": thr, "threshold_rule": "frame-level 95th percentile of validation real crops",
            "seconds": round(time.time() - t0, 1), "seed": seed, "versions": versions()}
    save_mesonet(out, model, meta)
    return meta


def save_mesonet(path: str | Path, model, meta: dict) -> None:
    import torch

    from ..fileio import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "meta": meta}, tmp)


def load_mesonet(path: str | Path):
    from ..fileio import read_checkpoint

    path = Path(path)
    payload = read_checkpoint(path, "MesoNet checkpoint",
                              missing="MesoNet weights not found (train them: python -m localize.baselines.mesonet)")
    try:
        model = build_meso4()
        model.load_state_dict(payload["state_dict"])
    except Exception as e:  # weights of another network
        raise InputError(path, f"not a MesoNet checkpoint ({type(e).__name__}: {' '.join(str(e).split())[:160]})") from None
    model.eval()
    return model, payload.get("meta", {})


def face_crops(path: str | Path, analyzer, frames: int = 16) -> np.ndarray:
    """The largest face of ``frames`` evenly spaced frames, cropped like the localizer's data."""
    from ..faces import crop, crop_box, landmark_box
    from ..video import iter_frames, probe, sample_indices

    info = probe(path)
    crops = []
    for _, img in iter_frames(path, sample_indices(info.n_frames, count=frames)):
        faces = analyzer.detect(img)
        if faces:
            crops.append(crop(img, crop_box(landmark_box(faces[0].landmarks), 1.3), INPUT_SIZE))
    return np.stack(crops) if crops else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)


def score_video(model, path: str | Path, analyzer, frames: int = 16) -> dict[str, Any]:
    crops = face_crops(path, analyzer, frames)
    if len(crops) == 0:
        return {"status": "no_face", "probability": None, "n_frames": 0}
    p = predict(model, crops)
    return {"status": "ok", "probability": float(p.mean()), "n_frames": int(len(p))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="train the Meso-4 baseline on the localizer's training data")
    ap.add_argument("--config", default="configs/previous.yaml",
                    help="a localizer training config whose data to use (the shipped mesonet.pt: configs/previous.yaml)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "weights" / "mesonet.pt"))
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    meta = train_mesonet(a.config, a.out, steps=a.steps, threads=a.threads)
    print(f"{a.out}: best step {meta['best_step']}, validation frame AUC {meta['val_auc_frames']:.3f}, "
          f"threshold {meta['threshold']:.3f}, {meta['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
