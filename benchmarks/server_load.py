"""Load test of `localize serve` on 127.0.0.1 (issue 6): 16 concurrent clients, 200
analysis requests of a short real clip.

    nice -n 10 python benchmarks/server_load.py [--model M.onnx] [--clients 16] [--requests 200]
        [--workers 2] [--queue-size 4] [--clip-frames 15]

Each client uploads the clip, polls its job to the end, reads the report and the
overlay, and on a 503 waits for Retry-After (capped) and tries again; those 503s are
deliberate (the queue is kept small so they happen) and are counted, not errors.
Measured: job latency (upload -> done) and upload latency p50/p95, throughput, the
RSS of every server process sampled through the run (growth after warm-up), and what
is left on disk after the TTL: the server's TMPDIR and the results folder must hold
no upload, temp or job files. Writes benchmarks/results/server_load.json.

The clip is the first ``--clip-frames`` frames of the built-in carphone clip (real
footage). Without a shipped model a random-weight model of the default architecture
is exported and served: the timings are representative, the verdicts are not.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_tree(pid: int) -> dict[int, int]:
    """RSS in bytes of ``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[p] = int(line.split()[1]) * 1024
        except OSError:
            continue
        todo.extend(children.get(p, []))
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
    return s[k]


def make_model(workdir: Path, model: str | None) -> tuple[Path, str]:
    from localize.export import export_onnx
    from localize.model import DEFAULT_MODEL, ModelConfig, build_model, save_checkpoint

    if model:
        p = Path(model)
        if p.suffix == ".onnx":
            return p, "given"
        return export_onnx(p, workdir / "model.onnx"), "given"
    if DEFAULT_MODEL.exists():
        return export_onnx(DEFAULT_MODEL, workdir / "model.onnx"), "shipped default"
    import torch

    torch.manual_seed(0)
    cfg = ModelConfig()
    ckpt = workdir / "random.pt"
    save_checkpoint(ckpt, build_model(cfg), cfg, model_id="random-default-architecture")
    return export_onnx(ckpt, workdir / "model.onnx"), "random weights, default architecture (no shipped model)"


def make_clip(workdir: Path, n: int) -> Path:
    from localize.media import carphone_path
    from localize.video import iter_frames, probe, write_video

    src = carphone_path()
    info = probe(src)
    out = workdir / "clip.mp4"
    write_video(out, (f for _, f in iter_frames(src, range(n))), info.fps, crf=23)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--queue-size", type=int, default=4, help="waiting jobs per worker (small: 503s happen)")
    ap.add_argument("--clip-frames", type=int, default=15)
    ap.add_argument("--ttl-s", type=float, default=4.0)
    ap.add_argument("--warmup", type=float, default=0.2, help="share of the requests counted as warm-up")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "server_load.json"))
    args = ap.parse_args()

    import httpx

    from localize.fileio import versions, write_json

    work = Path(tempfile.mkdtemp(prefix="server-load-"))
    results, server_tmp = work / "results", work / "server-tmp"
    server_tmp.mkdir()
    model, model_kind = make_model(work, args.model)
    clip = make_clip(work, args.clip_frames)
    clip_bytes = clip.read_bytes()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    env = dict(os.environ, TMPDIR=str(server_tmp), PYTHONUNBUFFERED="1")
    log = open(work / "server.log", "w+")
    cmd = [sys.executable, "-m", "localize", "serve", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(args.workers), "--queue-size", str(args.queue_size),
           "--results-dir", str(results), "--ttl-s", str(args.ttl_s), "--threads", str(threads),
           "--log-level", "warning"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        t_start = time.time()
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise SystemExit(f"server exited:\n{log.read()[-3000:]}")
            try:
                ok = [httpx.get(base + "/readyz", timeout=2).status_code == 200 for _ in range(2 * args.workers)]
                if all(ok) and len(rss_tree(server.pid)) > args.workers:  # every worker process is up
                    break
            except httpx.HTTPError:
                pass
            if time.time() - t_start > 180:
                raise SystemExit("server not ready in 180 s")
            time.sleep(0.5)
        startup_s = time.time() - t_start
        # what the libraries create once at start (onnxruntime writes TMPDIR/.ses) is not a leak
        tmp_baseline = {str(p.relative_to(server_tmp)) for p in server_tmp.rglob("*")}

        lock = threading.Lock()
        issued = [0]
        done_count = [0]
        job_lat, post_lat, errors, rejections, service = [], [], [], [], []
        samples: list[tuple[float, int, int, dict[int, int]]] = []
        stop = threading.Event()

        def sampler() -> None:
            while not stop.is_set():
                tree = rss_tree(server.pid)
                samples.append((time.time(), done_count[0], sum(tree.values()), tree))
                stop.wait(0.5)

        def client(k: int) -> None:
            rng = random.Random(k)
            with httpx.Client(base_url=base, timeout=120) as c:
                while True:
                    with lock:
                        if issued[0] >= args.requests:
                            return
                        issued[0] += 1
                    while True:  # one request: retried after deliberate 503s
                        t0 = time.perf_counter()
                        try:
                            r = c.post("/v1/analyze", files={"file": ("clip.mp4", clip_bytes, "video/mp4")})
                        except httpx.HTTPError as e:
                            errors.append(f"POST: {type(e).__name__}: {e}")
                            break
                        t_post = time.perf_counter() - t0
                        if r.status_code == 503:
                            ra = int(r.headers.get("retry-after", "1"))
                            rejections.append(ra)
                            time.sleep(min(ra, 30.0) * rng.uniform(0.8, 1.2))  # honour Retry-After
                            continue
                        if r.status_code != 202:
                            errors.append(f"POST {r.status_code}: {r.text[:200]}")
                            break
                        post_lat.append(t_post)
                        jid = r.json()["id"]
                        while True:
                            try:
                                j = c.get(f"/v1/jobs/{jid}")
                            except httpx.HTTPError as e:
                                errors.append(f"GET job: {type(e).__name__}: {e}")
                                time.sleep(1)
                                continue
                            if j.status_code != 200:
                                errors.append(f"GET job {j.status_code}: {j.text[:200]}")
                                break
                            body = j.json()
                            if body["state"] in ("done", "failed"):
                                break
                            time.sleep(0.2)
                        if j.status_code != 200:
                            break
                        if body["state"] != "done":
                            errors.append(f"job failed: {body.get('error')}")
                            break
                        job_lat.append(time.perf_counter() - t0)
                        service.append(float(body.get("took_s") or 0.0))
                        try:
                            ov = c.get(body["links"]["overlay"])
                        except httpx.HTTPError as e:
                            errors.append(f"GET overlay: {type(e).__name__}: {e}")
                            ov = None
                        if ov is None:
                            pass
                        elif ov.status_code != 200 or ov.content[4:8] != b"ftyp":
                            errors.append(f"overlay {ov.status_code}")
                        if not body.get("report") or body["report"]["input"]["n_frames"] != args.clip_frames:
                            errors.append("report missing or wrong")
                        with lock:
                            done_count[0] += 1
                        break

        sam = threading.Thread(target=sampler, daemon=True)
        sam.start()
        t0 = time.time()
        pool = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall = time.time() - t0
        stop.set()
        sam.join()

        # after the TTL every job must be gone: nothing left but tombstones and worker files
        time.sleep(args.ttl_s + 3)
        metrics_text = httpx.get(base + "/metrics", timeout=10).text
        leftover_tmp = sorted({str(p.relative_to(server_tmp)) for p in server_tmp.rglob("*")} - tmp_baseline)
        leftover_results = [p.name for p in results.iterdir() if not p.name.startswith(".")]
        leftover_uploads = [p.name for p in (results / ".uploads").iterdir()]
        leftover_trash = [p.name for p in results.iterdir() if p.name.startswith((".trash", ".out"))]
        n_tombstones = len(list((results / ".expired").iterdir()))
        worker_pids_seen = len(list((results / ".workers").glob("*.json")))
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    n = args.requests
    warm_n = int(args.warmup * n)
    after = [s for s in samples if s[1] >= warm_n]
    warm_window = [s[2] for s in after if s[1] < warm_n + max(10, n // 10)]
    end_window = [s[2] for s in samples if s[1] >= n - max(10, n // 10)]
    rss_warm = statistics.median(warm_window) if warm_window else float("nan")
    rss_end = statistics.median(end_window) if end_window else float("nan")
    rss_max_after = max((s[2] for s in after), default=float("nan"))
    growth_end = (rss_end - rss_warm) / rss_warm
    growth_max = (rss_max_after - rss_warm) / rss_warm
    per_proc_end = {str(pid): round(v / 2**20, 1) for pid, v in (samples[-1][3] if samples else {}).items()}

    def metric(name: str) -> float:
        for line in metrics_text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return float("nan")

    res = {
        "setup": {"clients": args.clients, "requests": n, "uvicorn_workers": args.workers,
                  "queue_size_per_worker": args.queue_size, "threads_per_worker": threads, "ttl_s": args.ttl_s,
                  "clip": f"carphone (built-in real clip), first {args.clip_frames} frames, 176x144, "
                          f"{len(clip_bytes)} bytes", "analysis": "default options (every frame of the clip)",
                  "model": model_kind, "host": "127.0.0.1", "cpu_cores": os.cpu_count(),
                  "server_startup_s": round(startup_s, 2)},
        "completed": len(job_lat), "errors": len(errors), "error_samples": errors[:10],
        "worker_processes_seen": worker_pids_seen,
        "worker_restarts": max(0, worker_pids_seen - args.workers),
        "deliberate_503": len(rejections), "retry_after_s": {"min": min(rejections, default=None),
                                                           "max": max(rejections, default=None)},
        "wall_s": round(wall, 2), "jobs_per_s": round(len(job_lat) / wall, 3),
        "job_latency_s": {"p50": round(pct(job_lat, 0.5), 3), "p95": round(pct(job_lat, 0.95), 3),
                          "max": round(max(job_lat, default=float("nan")), 3)},
        "job_service_s": {"p50": round(pct(service, 0.5), 3), "p95": round(pct(service, 0.95), 3),
                          "note": "analysis time in the worker (took_s), without queueing"},
        "upload_latency_ms": {"p50": round(1000 * pct(post_lat, 0.5), 1), "p95": round(1000 * pct(post_lat, 0.95), 1)},
        "memory": {"rss_total_mb_after_warmup": round(rss_warm / 2**20, 1),
                   "rss_total_mb_end": round(rss_end / 2**20, 1),
                   "rss_total_mb_max_after_warmup": round(rss_max_after / 2**20, 1),
                   "growth_end_vs_warm": round(growth_end, 4), "growth_max_vs_warm": round(growth_max, 4),
                   "warmup_requests": warm_n, "samples": len(samples), "rss_mb_per_process_end": per_proc_end,
                   "note": "RSS summed over the uvicorn supervisor and its worker processes, sampled every 0.5 s"},
        "leftovers": {"server_tmpdir_new_files": leftover_tmp, "server_tmpdir_at_start": sorted(tmp_baseline), "job_folders": leftover_results, "uploads": leftover_uploads,
                      "trash_or_partial": leftover_trash, "tombstones": n_tombstones},
        "server_metrics": {"jobs_submitted_total": metric("localize_jobs_submitted_total"),
                           "queue_full_rejections_total": metric('localize_uploads_rejected_total{reason="queue_full"}'),
                           "queue_depth_end": metric("localize_queue_depth"),
                           "workers_alive": metric("localize_workers_alive")},
        "load_avg": os.getloadavg(), "versions": versions(),
    }
    res["pass"] = {
        "no_errors": not errors and len(job_lat) == n and worker_pids_seen == args.workers,
        "memory_growth_under_10pct": growth_end < 0.10 and growth_max < 0.10,
        "no_temp_files_left": not (leftover_tmp or leftover_results or leftover_uploads or leftover_trash),
    }
    write_json(args.out, res)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: res[k] for k in ("completed", "errors", "deliberate_503", "retry_after_s", "wall_s",
                                           "jobs_per_s", "job_latency_s", "job_service_s", "upload_latency_ms", "memory", "leftovers", "pass")},
                     indent=1))
    print(f"wrote {args.out}")
    return 0 if all(res["pass"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
