"""Analysis speed on 2 CPU cores (issue 5): the 32-frame mode on a 10 s 720p video
must finish in <= 5 s wall, every-frame mode must run at >= 15 frames/s on 640x480; and
the 32-frame mode on a 5-minute 720p video (no goal in the issue: sparse frames are reached
by seeking, so the time should not grow with the length).

    nice -n 10 python benchmarks/analyze_speed.py [--model M.pt|M.onnx] [--backend onnx]

Data: ../shared/data/people/joe_biden/video_1.mp4 (real, 1280x720, 7 s) looped and
re-encoded (libx264 crf 23) to exactly 10 s = the 720p clip; ../shared/data/ffpp/
original_sequences/youtube/c23/videos/519.mp4 (real FF++ c23, 640x480, 751 frames)
for every-frame mode. The model is the shipped default (localize/weights/default.pt)
unless --model is given. Timings are for ``analyze_path`` with the model and face
analyzer already loaded (what a server worker pays per request); the one-off
start-up (imports, model load, ONNX export cache) is reported separately.
Writes benchmarks/results/analyze_speed.json.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("LOCALIZE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def clip_720p_10s(cache: Path) -> Path:
    """10 s of real 720p footage: the Biden clip looped (forward then backward, so
    the face keeps moving smoothly) and re-encoded at crf 23."""
    from localize.video import VideoWriter, iter_frames, probe

    src = SHARED / "people" / "joe_biden" / "video_1.mp4"
    dst = cache / "biden_720p_10s.mp4"
    if dst.exists():
        return dst
    info = probe(src)
    frames = [f for _, f in iter_frames(src)]
    need = round(10 * info.fps)
    seq = frames + frames[::-1]
    with VideoWriter(dst, info.fps, crf=23, preset="veryfast") as w:
        for i in range(need):
            w.write(seq[i % len(seq)])
    return dst


def clip_720p_long(cache: Path, minutes: float = 5.0) -> Path:
    """A long real 720p video (an interview or a speech): the Biden clip repeated without
    re-encoding (stream copy, its own 210-frame keyframe interval) to about ``minutes``."""
    import subprocess

    import imageio_ffmpeg

    from localize.video import probe

    src = SHARED / "people" / "joe_biden" / "video_1.mp4"
    dst = cache / f"biden_720p_{minutes:g}min.mp4"
    if dst.exists():
        return dst
    loops = max(1, round(minutes * 60 / probe(src).duration))
    tmp = dst.with_suffix(".tmp.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-stream_loop", str(loops - 1),
                    "-i", str(src), "-an", "-c", "copy", str(tmp)], check=True)
    tmp.replace(dst)
    return dst


def run_once(path, loc, analyzer, opts, out_root: Path) -> dict:
    from localize.analyze import analyze_path

    t0, c0 = time.perf_counter(), time.process_time()
    rep = analyze_path(path, out_root / "r", localizer=loc, options=opts, analyzer=analyzer)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = rep.input["frames_analyzed"]
    crops = sum(len(f.faces) for f in rep.frames)
    return {"wall_s": round(wall, 3), "frames": n, "crops": crops, "frames_per_s": round(n / wall, 2),
            "split_s": rep.timings, "cpu_s": round(cpu, 3),
            "split_cpu_s": rep.timings_cpu, "load_avg": os.getloadavg()[0],
            "ms_per_crop_model": round(1000 * rep.timings.get("model", 0) / max(crops, 1), 2),
            "decision": rep.decision, "score": rep.score}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per mode (the best is reported)")
    ap.add_argument("--skip-all", action="store_true", help="skip the every-frame mode")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "analyze_speed.json"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    from localize.analyze import AnalyzeOptions, cache_dir, open_localizer
    from localize.faces import FaceAnalyzer
    from localize.fileio import versions, write_json
    from localize.video import probe

    loc = open_localizer(args.model, args.backend)
    analyzer = FaceAnalyzer()
    startup = time.perf_counter() - t0
    bench_cache = cache_dir() / "bench"
    bench_cache.mkdir(parents=True, exist_ok=True)
    clip = clip_720p_10s(bench_cache)
    ffpp = SHARED / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos" / "519.mp4"
    res = {"model": {"path": loc.path, "id": loc.model_id, "sha256": loc.sha256, "backend": loc.backend,
                     "input_size": loc.input_size, "config": loc.meta.get("model_config")},
           "cpu_cores": os.cpu_count(), "load_avg_at_start": os.getloadavg(), "startup_s": round(startup, 3),
           "versions": versions()}
    with tempfile.TemporaryDirectory() as td:
        out_root = Path(td)
        opts32 = AnalyzeOptions()  # 32 evenly spaced frames
        run_once(clip, loc, analyzer, opts32, out_root)  # warm-up (ORT arena, matplotlib import)
        runs = [run_once(clip, loc, analyzer, opts32, out_root) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall_s"])
        res["mode_32_frames_720p_10s"] = {"data": str(clip), "source": "people/joe_biden/video_1.mp4 looped to 10 s",
                                          "goal_wall_s": 5.0, "pass": best["wall_s"] <= 5.0, "best": best,
                                          "runs": runs}
        print(f"32-frame mode, 10 s 720p: {best['wall_s']:.2f} s wall (goal <= 5 s), {best['cpu_s']:.2f} s CPU, "
              f"load {best['load_avg']:.1f}\n  wall split {best['split_s']}\n  cpu split {best['split_cpu_s']}")
        long = clip_720p_long(bench_cache)
        runs = [run_once(long, loc, analyzer, opts32, out_root) for _ in range(max(1, args.repeat - 1))]
        best = min(runs, key=lambda r: r["wall_s"])
        info = probe(long)
        res["mode_32_frames_720p_long"] = {"data": str(long), "source": "people/joe_biden/video_1.mp4 repeated "
                                           "(stream copy)", "n_frames": info.n_frames,
                                           "duration_s": round(info.duration, 1), "best": best, "runs": runs}
        print(f"32-frame mode, {info.duration / 60:.1f} min 720p: {best['wall_s']:.2f} s wall "
              f"(decode {best['split_s'].get('decode')} s)")
        if not args.skip_all:
            optsall = AnalyzeOptions(frames="all")
            runs = [run_once(ffpp, loc, analyzer, optsall, out_root) for _ in range(max(1, args.repeat - 1))]
            best = max(runs, key=lambda r: r["frames_per_s"])
            res["mode_all_frames_640x480"] = {"data": "ffpp/original_sequences/youtube/c23/videos/519.mp4",
                                              "goal_frames_per_s": 15.0, "pass": best["frames_per_s"] >= 15.0,
                                              "best": best, "runs": runs}
            print(f"every-frame mode, 640x480: {best['frames_per_s']:.1f} frames/s (goal >= 15), "
                  f"{best['frames'] / best['cpu_s']:.1f} frames per CPU-s, load {best['load_avg']:.1f}\n"
                  f"  wall split {best['split_s']}\n  cpu split {best['split_cpu_s']}")
    res["load_avg_at_end"] = os.getloadavg()
    write_json(args.out, res)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
