"""Derive masks for a whole dataset: resumable, sharded, parallel, with a manifest.

Output layout mirrors the input (see :func:`masks.pairs.derived_mask_path`): for
``<rel>/<name>.mp4`` under the dataset root the runner writes ``<rel>/<name>.mask.mp4``
(lossless binary masks), optionally ``<rel>/<name>.soft.mp4`` (blurred difference in grey
levels) and ``<rel>/<name>.sheet.jpg`` (contact sheet), plus one manifest row per
manipulated video in ``manifest.jsonl`` (``manifest.shard-<i>-of-<N>.jsonl`` when
sharded, so machines never write the same file). Every file is written atomically and
the manifest is rewritten atomically after each pair, so an interrupted run leaves
only finished outputs; a re-run skips pairs whose row is ``ok`` with the same parameters
and whose mask file exists, and retries the failed ones.
"""
from __future__ import annotations

import json
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from localize.errors import InputError
from localize.fileio import versions, write_text
from localize.video import VideoWriter, is_image, sample_indices, write_image

from .derive import DeriveStats, MaskParams, _Prefetch, derive_image_masks, iter_derive, mask_iou
from .pairs import Pair, derived_mask_path, find_pairs
from .sheets import SheetFrame, write_contact_sheet

MANIFEST = "manifest.jsonl"


@dataclass
class DatasetSummary:
    """What one ``derive_dataset`` run did."""

    root: Path
    out: Path
    manifest: Path
    total: int                    # pairs in this shard
    ok: int                       # derived now
    skipped: int                  # already finished by an earlier run
    failed: int
    bad: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def manifest_name(shard: tuple[int, int]) -> str:
    i, n = shard
    return MANIFEST if n == 1 else f"manifest.shard-{i}-of-{n}.jsonl"


def read_manifest(out: str | Path) -> dict[str, dict]:
    """All rows under ``out`` (every shard's manifest), by key. Unparsable lines
    (there should be none: manifests are replaced atomically) are ignored."""
    rows: dict[str, dict] = {}
    for f in sorted(Path(out).glob("manifest*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "key" in row:
                rows[row["key"]] = row
    return rows


def _read_rows(path: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
                rows[r["key"]] = r
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return rows


def _write_manifest(path: Path, rows: dict[str, dict]) -> None:
    write_text(path, "".join(json.dumps(r, default=str) + "\n" for r in sorted(rows.values(), key=lambda r: r["key"])))


def _base_row(pair: Pair, out: Path, params: MaskParams) -> dict:
    return {
        "key": pair.key, "status": "failed", "reason": None,
        "original": str(pair.original), "manipulated": str(pair.manipulated),
        "method": pair.method, "compression": pair.compression, "split": pair.split,
        "target": pair.target, "source": pair.source, "dataset": pair.dataset,
        "official_mask": str(pair.mask) if pair.mask else None,
        "mask": derived_mask_path(Path(""), pair).as_posix(),
        "soft": None, "sheet": None,
        "n_frames": 0, "parameters": params.to_dict(),
    }


def process_pair(pair: Pair, out: str | Path, params: MaskParams | None = None, *, sheet_frames: int = 3,
                 analyzer=None, raise_errors: bool = False) -> dict:
    """Derive, write and describe one pair; returns its manifest row (status ok/failed).

    Failures (unreadable media, misalignment, missing original) become a row with the
    reason, unless ``raise_errors`` (the single-pair command wants the error itself)."""
    out = Path(out)
    params = params or MaskParams()
    row = _base_row(pair, out, params)
    t0 = time.perf_counter()
    try:
        if pair.problem:
            raise InputError(pair.manipulated, pair.problem)
        if analyzer is None:
            from localize.faces import FaceAnalyzer

            analyzer = FaceAnalyzer()
        if is_image(pair.original) and is_image(pair.manipulated):
            row.update(_process_images(pair, out, params, analyzer, sheet_frames))
        else:
            row.update(_process_videos(pair, out, params, analyzer, sheet_frames))
        row["status"] = "ok"
    except InputError as e:
        if raise_errors:
            raise
        row["reason"] = str(e.problem if e.path in (None, str(pair.manipulated)) else e)
    except Exception as e:  # keep the dataset going; the row says what broke
        if raise_errors:
            raise
        row["reason"] = f"internal error: {type(e).__name__}: {e}"
        row["traceback"] = traceback.format_exc(limit=5)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    row["versions"] = versions()
    row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return row


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def _process_videos(pair: Pair, out: Path, params: MaskParams, analyzer, sheet_frames: int) -> dict:
    from .align import check_static

    alignment, info, _ = check_static(pair.original, pair.manipulated)
    n = alignment.n_frames
    want = set(sample_indices(n, count=sheet_frames)) if sheet_frames else set()
    mask_path = derived_mask_path(out, pair)
    soft_path = derived_mask_path(out, pair, "soft") if params.soft else None
    sheet_path = derived_mask_path(out, pair, "sheet")
    stats = DeriveStats()
    stats.fps = info.fps
    sheets: list[SheetFrame] = []
    ious: list[float] = []
    with_mask = 0
    prev = None
    official = _OfficialIoU(pair.mask, n) if pair.mask else None
    # Masks and soft maps are streamed into lossless videos (constant memory); both
    # writers are atomic, so an error anywhere leaves neither behind.
    try:
        with VideoWriter(mask_path, info.fps, lossless=True) as mw, \
                (VideoWriter(soft_path, info.fps, lossless=True) if soft_path else _Null()) as sw:
            for r in iter_derive(pair.original, pair.manipulated, params, analyzer=analyzer, stats=stats,
                                 alignment=alignment):
                m8 = r.mask.astype(np.uint8) * 255
                mw.write(np.repeat(m8[:, :, None], 3, axis=2))
                if soft_path is not None:
                    sw.write(np.repeat(r.soft[:, :, None], 3, axis=2))
                if r.index in want:
                    sheets.append(SheetFrame(r.index, r.original.copy(), r.manipulated.copy(), r.mask.copy(),
                                             r.boxes, f"thr {r.threshold:.1f}"))
                if official is not None:
                    official.update(r.mask)
                if r.mask.any():
                    with_mask += 1
                if prev is not None and (prev.any() or r.mask.any()):
                    ious.append(mask_iou(prev, r.mask))
                prev = r.mask
    finally:
        if official is not None:
            official.close()
    if sheets:
        write_contact_sheet(sheet_path, sheets, title=pair.key)
    a = stats.alignment
    extra = official.result() if official is not None else {}
    return {
        "mask": _rel(mask_path, out), "soft": _rel(soft_path, out) if soft_path else None,
        "sheet": _rel(sheet_path, out) if sheets else None,
        "n_frames": n, "fps": info.fps, "width": a.width, "height": a.height,
        "mean_area": round(float(np.mean(stats.areas)), 6) if stats.areas else 0.0,
        "frames_with_mask": with_mask, "frames_without_face": stats.no_face,
        "temporal_iou_median": round(float(np.median(ious)), 4) if ious else None,
        "alignment": a.to_dict(), "noise": stats.summary(), **extra,
    }


class _OfficialIoU:
    """IoU of the derived masks against the dataset's own (official/exact) mask video,
    read alongside; a QA figure for the manifest, never a reason to fail the pair."""

    def __init__(self, path: Path, n: int):
        from .maskio import iter_mask_video

        self.path = path
        self.n = n
        self.ious: list[float] = []
        self.error: str | None = None
        self._it = _Prefetch(iter_mask_video(path))

    def update(self, mask: np.ndarray) -> None:
        if self.error:
            return
        try:
            _, ref = next(self._it)
        except StopIteration:
            self.error = f"official mask has fewer frames than the {self.n} derived"
            return
        except InputError as e:
            self.error = str(e)
            return
        if ref.shape != mask.shape:
            self.error = f"official mask is {ref.shape[1]}x{ref.shape[0]}, frames are {mask.shape[1]}x{mask.shape[0]}"
            return
        self.ious.append(mask_iou(mask, ref))

    def close(self) -> None:
        self._it.close()

    def result(self) -> dict:
        if self.error or not self.ious:
            return {"official_iou": None, "official_iou_error": self.error or "no frames"}
        v = np.array(self.ious)
        return {"official_iou": round(float(v.mean()), 4), "official_iou_median": round(float(np.median(v)), 4)}


def _process_images(pair: Pair, out: Path, params: MaskParams, analyzer, sheet_frames: int) -> dict:
    from localize.video import read_image

    from .align import AlignmentError

    a, b = read_image(pair.original), read_image(pair.manipulated)
    if a.shape != b.shape:
        raise AlignmentError(pair.manipulated, f"image size {b.shape[1]}x{b.shape[0]} differs from the original's "
                                               f"{a.shape[1]}x{a.shape[0]} ({pair.original})")
    r = derive_image_masks(a, b, params, analyzer=analyzer)
    mask_path = derived_mask_path(out, pair)
    write_image(mask_path, r.masks[0].astype(np.uint8) * 255)
    soft_rel = None
    if r.soft is not None:
        soft_path = derived_mask_path(out, pair, "soft")
        write_image(soft_path, r.soft[0])
        soft_rel = _rel(soft_path, out)
    sheet_rel = None
    if sheet_frames:
        sheet_path = derived_mask_path(out, pair, "sheet")
        write_contact_sheet(sheet_path, [SheetFrame(0, a, b, r.masks[0], r.boxes[0],
                                                    f"thr {r.thresholds[0]:.1f}")], title=pair.key)
        sheet_rel = _rel(sheet_path, out)
    return {
        "mask": _rel(mask_path, out), "soft": soft_rel, "sheet": sheet_rel, "n_frames": 1, "fps": None,
        "width": a.shape[1], "height": a.shape[0], "mean_area": round(r.mean_area, 6),
        "frames_with_mask": int(r.masks[0].any()), "frames_without_face": r.frames_without_face,
        "temporal_iou_median": None, "alignment": r.alignment.to_dict(), "noise": r.noise,
    }


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------ workers
_WORKER: dict = {}  # per worker process: its FaceAnalyzer (dlib objects do not pickle)


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)
    from localize.faces import FaceAnalyzer

    _WORKER["analyzer"] = FaceAnalyzer()


def _worker_run(pair: Pair, out: str, params: dict, sheet_frames: int) -> dict:
    return process_pair(pair, out, MaskParams.from_dict(params), sheet_frames=sheet_frames,
                        analyzer=_WORKER.get("analyzer"))


def parse_shard(text: str | Sequence[int] | None) -> tuple[int, int]:
    """``"i/N"`` (1 <= i <= N) or a tuple -> (i, N)."""
    if text is None:
        return 1, 1
    if isinstance(text, str):
        try:
            i, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise InputError(None, f"--shard {text!r}: expected i/N, e.g. 1/4") from None
    else:
        i, n = (int(x) for x in text)
    if n < 1 or not 1 <= i <= n:
        raise InputError(None, f"shard {i}/{n}: expected i/N with 1 <= i <= N")
    return i, n


def derive_dataset(root: str | Path, out: str | Path, *, workers: int = 1,
                   shard: str | tuple[int, int] | None = (1, 1), params: MaskParams | dict | None = None,
                   sheet_frames: int = 3, progress: bool = True, limit: int | None = None,
                   pairs: list[Pair] | None = None) -> DatasetSummary:
    """Derive masks for every pair of a dataset (FF++ tree, DFDC folder(s), CSV list).

    ``shard=(i, N)`` takes every N-th pair starting at the i-th (1-based) of the
    key-sorted list, so N machines split a dataset without talking to each other.
    Returns a :class:`DatasetSummary`; ``summary.exit_code`` is 1 when some pair failed.
    """
    t0 = time.perf_counter()
    root, out = Path(root), Path(out)
    params = params if isinstance(params, MaskParams) else MaskParams.from_dict(params)
    i, n = parse_shard(shard)
    all_pairs = sorted(pairs if pairs is not None else find_pairs(root), key=lambda p: p.key)
    mine = all_pairs[i - 1::n]
    if limit is not None:
        mine = mine[:limit]
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / manifest_name((i, n))
    old = read_manifest(out)  # every shard's rows: a pair done by any shard is done
    rows = _read_rows(manifest)  # this shard's file keeps its earlier rows
    pdict = params.to_dict()
    todo, skipped = [], 0
    for p in mine:
        r = old.get(p.key)
        if r and r.get("status") == "ok" and r.get("parameters") == pdict and (out / r.get("mask", "")).is_file():
            skipped += 1
            rows[p.key] = r
        else:
            todo.append(p)
    ok = failed = 0
    bad: list[tuple[str, str]] = []

    def record(row: dict) -> None:
        nonlocal ok, failed
        rows[row["key"]] = row
        if row["status"] == "ok":
            ok += 1
        else:
            failed += 1
            bad.append((row["key"], row["reason"]))
        _write_manifest(manifest, rows)

    bar = _progress(len(todo), progress, desc=f"masks {i}/{n}" if n > 1 else "masks")
    try:
        if workers <= 1 or len(todo) <= 1:
            from localize.faces import FaceAnalyzer

            analyzer = FaceAnalyzer() if todo else None
            for p in todo:
                record(process_pair(p, out, params, sheet_frames=sheet_frames, analyzer=analyzer))
                bar.update(1)
                bar.set_postfix(ok=ok, failed=failed)
        else:
            import multiprocessing as mp

            # "spawn": forked children of a process that already ran FFmpeg/OpenCV
            # thread pools can deadlock on a lock held by a thread that did not fork.
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, mp_context=ctx) as ex:
                futs = {ex.submit(_worker_run, p, str(out), pdict, sheet_frames): p for p in todo}
                for f in as_completed(futs):
                    p = futs[f]
                    try:
                        row = f.result()
                    except Exception as e:  # a worker died (e.g. killed for memory)
                        row = _base_row(p, out, params)
                        row["reason"] = f"worker failed: {type(e).__name__}: {e}"
                    record(row)
                    bar.update(1)
                    bar.set_postfix(ok=ok, failed=failed)
    finally:
        bar.close()
    if not todo:
        _write_manifest(manifest, rows)
    # rows of this shard that were already failed and not retried cannot exist: failed
    # pairs are always in ``todo``; report every bad member of this run.
    return DatasetSummary(root=root, out=out, manifest=manifest, total=len(mine), ok=ok, skipped=skipped,
                          failed=failed, bad=bad, seconds=time.perf_counter() - t0)


def _progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="pair", disable=not enabled or None, dynamic_ncols=True)
