"""Training throughput: images/s of the real training path (cached crops -> spawned
DataLoader worker with augmentation -> train_step) against a bare forward/backward/step
loop of the same model on in-memory tensors, at 256x256. The input pipeline must not be
the bottleneck: goal ratio >= 0.8.

    python benchmarks/train_throughput.py [--corpus runs/forge-ci] [--threads 2] [--steps 8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT / "runs" / "forge-ci"))
    ap.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/train_throughput.json"))
    args = ap.parse_args()

    import torch
    from torch.utils.data import DataLoader

    from localize import data as D
    from localize import training as T
    from localize.fileio import versions, write_json
    from localize.model import ModelConfig, build_model

    if not Path(args.corpus).exists():
        from localize.forge.corpus import build_corpus

        build_corpus(args.corpus, progress=False)
    torch.set_num_threads(args.threads)
    cfg = T.load_config(args.config, [
        f"model.input_size={args.size}", f"train.batch_size={args.batch}", f"data.num_workers={args.workers}",
        f"data.sources=[{{path: '{args.corpus}', kind: pairs, compressions: [c23], split_map: {{test: val}}}}]",
        "data.frames_per_video=8", "data.selfblend=0.5"])
    train_sets, _, _, _ = T.prepare_data(cfg, progress=False)
    spec = D.SampleSpec(length=args.batch * args.steps * (args.rounds + 1) * 2, selfblend=0.5)
    ds = D.CropDataset(train_sets, spec, train=True, seed=0, augment=1.0)
    sampler = D.EpochSampler(ds)
    loader = DataLoader(ds, batch_size=args.batch, sampler=sampler, num_workers=args.workers, drop_last=True,
                        persistent_workers=args.workers > 0, multiprocessing_context="spawn" if args.workers else None,
                        worker_init_fn=T._worker_init if args.workers else None,
                        prefetch_factor=4 if args.workers else None)
    mcfg = ModelConfig.from_dict(cfg["model"])
    model = build_model(mcfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    dev = torch.device("cpu")
    S = args.size
    x = torch.randn(args.batch, 3, S, S)
    y = (torch.rand(args.batch, 1, S, S) > 0.7).float()
    lab = (torch.rand(args.batch) > 0.5).float()

    def bare(n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            T.train_step(model, model, (x, y, lab), opt, None, scaler, cfg, dev)
        return n * args.batch / (time.perf_counter() - t)

    it = iter(loader)
    T.train_step(model, model, next(it), opt, None, scaler, cfg, dev)  # worker start-up, warm-up

    def pipeline(n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            T.train_step(model, model, next(it), opt, None, scaler, cfg, dev)
        return n * args.batch / (time.perf_counter() - t)

    bare(1)
    b, p = [], []
    for _ in range(args.rounds):  # interleaved: a shared machine's load hits both alike
        b.append(bare(args.steps))
        p.append(pipeline(args.steps))
    res = {"input_size": S, "batch_size": args.batch, "threads": args.threads, "workers": args.workers,
           "encoder": mcfg.encoder, "decoder_channels": list(mcfg.decoder_channels), "steps_per_round": args.steps,
           "bare_images_per_s": b, "pipeline_images_per_s": p,
           "bare_median": statistics.median(b), "pipeline_median": statistics.median(p),
           "ratio": statistics.median(p) / statistics.median(b), "load_average": os.getloadavg(),
           "corpus": str(args.corpus), "versions": versions()}
    write_json(args.out, res)
    print(f"bare {res['bare_median']:.2f} img/s, pipeline {res['pipeline_median']:.2f} img/s, "
          f"ratio {res['ratio']:.2f} (load average {res['load_average'][0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
