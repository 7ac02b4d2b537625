"""The FF++-layout corpus writer: real videos in, forged counterparts with exact masks out.

Layout (FaceForensics++ conventions, so every FF++ reader works on it)::

    original_sequences/youtube/{c0,c23,c40}/videos/<id>.mp4
    manipulated_sequences/<Method>/{c0,c23,c40}/videos/<target>_<source>.mp4
    manipulated_sequences/<Method>/masks/videos/<target>_<source>.mp4
    splits/{train,val,test}.json        [[target, source], ...] split by identity
    manifest.json                       versions, parameters, seed, inputs, fakes, skips

c0 is lossless (libx264rgb qp 0: the exact pixels the masks refer to), c23/c40 are
libx264 CRF 23/40 re-encodes of c0. Masks are lossless 0/255 videos of
``blend weight > 0`` (every method cuts weights <= ``geometry.BLEND_EPS`` to 0, so
no pixel outside the mask differs from the original in c0).

Ids are numbers in input order (``000``, ``001``...). ``<source>`` names the swapped-in
face (faceswap), the driving video (reenact, lipsync; the target itself when the motion
is a generated trajectory) or the target itself (selfblend). Sources are taken from the
target's split, so no identity's original crosses splits; where a split has no other
identity, faceswap uses a still frame of another identity registered as a photo id
(no original video) and reenact/lipsync use a generated trajectory.

Work is resumable: every output is written atomically and a finished output is never
redone; ``.forge/`` keeps the landmarks and a record per output.
"""
from __future__ import annotations

import json
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .. import fileio
from ..errors import InputError
from ..video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoWriter, iter_frames, probe, read_frames, read_image
from . import footage
from .geometry import BLEND_EPS
from .methods import METHODS, Method, get

COMPRESSIONS = {"c0": None, "c23": 23, "c40": 40}
SPLITS = ("train", "val", "test")
WORK = ".forge"


# ------------------------------------------------------------------ records


@dataclass
class Input:
    """One real medium: a video, or a photo (faceswap source; optionally animated)."""

    key: str
    identity: str
    kind: str  # "video" | "photo"
    path: str
    ids: list[str] = field(default_factory=list)  # video ids (segments / animations)
    photo_id: str | None = None
    starts: list[int] = field(default_factory=list)  # first frame of each segment
    animate: int = 0  # photos: number of animated clips to make (targets)


@dataclass
class Config:
    seed: int = 0
    max_frames: int = 150
    segment: int | None = None
    min_frames: int = 16
    min_side: int = 256
    max_side: int = 720
    detect_every: int = 4
    animate_frames: int = 30
    fakes_per_target: int = 1
    preset: str = "medium"
    folds: int = 0  # > 1: identities dealt into this many folds (cross-fitting) instead of train/val/test
    face_rule: int = 2  # FACE_RULES: how a source's main face is chosen (1 only to rebuild an older corpus)

    @property
    def confirm_faces(self) -> bool:
        """Whether main faces must be ones the second detector (MMOD) confirms (face rule 2)."""
        return self.face_rule >= 2


@dataclass
class CorpusSummary:
    out: Path
    reals: int
    photos: int
    fakes: dict[str, int]
    skipped: list[dict]
    splits: dict[str, int]
    seconds: float
    manifest: Path
    created: int = 0  # outputs made by this run (the rest were resumed)


# ------------------------------------------------------------------ inputs


def builtin_inputs() -> list[Input]:
    """The packaged real media: carphone (cut into segments) and the astronaut photo
    (animated into short clips and used as a faceswap source)."""
    from ..media import carphone_path

    return [Input("carphone", "carphone", "video", str(carphone_path())),
            Input("astronaut", "astronaut", "photo", "builtin:astronaut", animate=3)]


def _split_named(spec: str | Path) -> tuple[Path, str | None]:
    """``PATH=NAME`` -> (PATH, NAME) when PATH exists (a path may itself contain '=')."""
    text = str(spec)
    if "=" in text and not Path(text).exists():
        path, name = text.rsplit("=", 1)
        if name.strip() and "/" not in name:
            return Path(path), name.strip()
    return Path(text), None


def discover(paths: Iterable[str | Path]) -> list[Input]:
    """Videos and photos under the given folders (recursively) or files.

    Identity: ``PATH=NAME`` gives every file under PATH the identity NAME (one person's
    folder, as ``people/donald_trump=donald_trump``); else the first folder below a given
    root for ``root/<person>/...`` (as in ``people/<name>/video_1.mp4``), else the file's
    stem (as in ``reals/talking_01.mp4``). A stem identity met in two different folders
    is an error: ``video_1`` of two people would be merged into one identity, and one
    person's ``video_1`` and ``video_3`` split into two, so the same face could land in
    training and validation.
    """
    items: list[Input] = []
    stem_dirs: dict[str, set[str]] = {}
    for spec in paths:
        root, name = _split_named(spec)
        if not root.exists():
            raise InputError(root, "no such file or folder")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            suf = f.suffix.lower()
            if f.name.startswith(".") or suf not in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
                continue
            rel = f.relative_to(root) if root.is_dir() else Path(f.name)
            if name:
                identity = name
            elif len(rel.parts) >= 2:
                identity = rel.parts[0]
            else:
                identity = f.stem
                stem_dirs.setdefault(identity, set()).add(str(f.resolve().parent))
            kind = "photo" if suf in IMAGE_SUFFIXES else "video"
            items.append(Input(str(f.resolve()), identity, kind, str(f.resolve())))
    for identity, dirs in sorted(stem_dirs.items()):
        if len(dirs) > 1:
            raise InputError(", ".join(sorted(dirs)), f"identity {identity!r} (a file name) comes from "
                             f"{len(dirs)} folders: name each person's folder with PATH=NAME, or give their parent "
                             "folder (root/<person>/...) so identities follow people, not file names")
    if not items:
        raise InputError(", ".join(str(p) for p in paths), "no videos or photos found")
    return items


def _source_frame_count(item: Input) -> tuple[int, float]:
    info = probe(item.path)
    return info.n_frames, info.fps


def assign_ids(items: list[Input], cfg: Config) -> dict[str, str]:
    """Number every video segment, animation and photo in input order; returns
    {input key: skip reason} for inputs that cannot even be probed."""
    skipped: dict[str, str] = {}
    k = 0
    for it in items:
        if it.kind == "video":
            try:
                n, _ = _source_frame_count(it)
            except InputError as e:
                skipped[it.key] = e.problem
                continue
            n = min(n, cfg.max_frames)
            seg = cfg.segment or n
            it.starts = [s for s in range(0, n, seg) if min(seg, n - s) >= cfg.min_frames] or [0]
            it.ids = [f"{k + j:03d}" for j in range(len(it.starts))]
            k += len(it.ids)
        else:
            it.ids = [f"{k + j:03d}" for j in range(it.animate)]
            k += it.animate
            it.photo_id = f"{k:03d}"
            k += 1
    return skipped


# ------------------------------------------------------------------ paths


def real_path(out: Path, vid: str, comp: str) -> Path:
    return out / "original_sequences" / "youtube" / comp / "videos" / f"{vid}.mp4"


def fake_path(out: Path, method: Method, name: str, comp: str) -> Path:
    return out / "manipulated_sequences" / method.folder / comp / "videos" / f"{name}.mp4"


def mask_path(out: Path, method: Method, name: str) -> Path:
    return out / "manipulated_sequences" / method.folder / "masks" / "videos" / f"{name}.mp4"


def _work(out: Path, *parts: str) -> Path:
    return out.joinpath(WORK, *parts)


# ------------------------------------------------------------------ workers

_ANALYZER: dict[str, Any] = {}


def _analyzer():
    """One dlib analyzer per worker process (not picklable, so never shipped)."""
    if "a" not in _ANALYZER:
        from ..faces import FaceAnalyzer

        _ANALYZER["a"] = FaceAnalyzer()
    return _ANALYZER["a"]


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the seed and the names (order of jobs or
    number of workers never changes a result)."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def _write_all(paths: dict[str, Path], fps: float, items: Iterable[tuple[np.ndarray, np.ndarray | None]],
               preset: str, mask_file: Path | None = None) -> int:
    """Write c0/c23/c40 (and the mask video) in one pass over ``(frame, mask)``; atomic each."""
    n = 0
    with ExitStack() as stack:
        writers = {c: stack.enter_context(VideoWriter(p, fps, crf=COMPRESSIONS[c] or 23,
                                                      lossless=COMPRESSIONS[c] is None, preset=preset,
                                                      deterministic=True))
                   for c, p in paths.items()}
        mw = stack.enter_context(VideoWriter(mask_file, fps, lossless=True)) if mask_file else None
        for f, m in items:
            for w in writers.values():
                w.write(f)
            if mw is not None:
                m8 = np.where(m, 255, 0).astype(np.uint8)
                mw.write(np.repeat(m8[:, :, None], 3, axis=2))
            n += 1
    return n


def prepare_input(item: Input, out: str, cfg: Config) -> dict:
    """Decode, rescale, track and write the originals of one input (resumable)."""
    out = Path(out)
    rec: dict = {"key": item.key, "identity": item.identity, "kind": item.kind, "path": item.path,
                 "reals": [], "photos": [], "skipped": []}
    analyzer = _analyzer()
    if item.kind == "photo":
        img = footage.resize_frames((_builtin_photo() if item.path == "builtin:astronaut" else read_image(item.path))[None],
                                    1.0, cfg.max_side)[0]
        pid = item.photo_id
        meta = _work(out, "photos", f"{pid}.json")
        if not meta.exists():
            try:
                face = footage.photo_face(analyzer, img, item.path, item.identity, cfg.max_side,
                                          confirm=cfg.confirm_faces)
            except footage.SourceSkipped as e:
                rec["skipped"].append({"source": item.path, "reason": e.problem})
                return rec
            _save_face(out, "photos", pid, face)
            fileio.write_json(meta, {"id": pid, "identity": item.identity, "source": item.path, "kind": "photo",
                                     "size": [img.shape[1], img.shape[0]]})
        rec["photos"].append(json.loads(meta.read_text()))
        for j, vid in enumerate(item.ids):
            r = _prepare_real(out, vid, item, cfg, lambda j=j: (footage.animate_photo(
                img, cfg.animate_frames, 29.97, _rng(cfg.seed, "animate", item.key, str(j)), analyzer,
                confirm=cfg.confirm_faces), 29.97, 0))
            (rec["reals"] if "id" in r else rec["skipped"]).append(r)
        return rec
    info = probe(item.path)
    for vid, start in zip(item.ids, item.starts):
        def load(start=start):
            end = min(start + (cfg.segment or cfg.max_frames), cfg.max_frames, info.n_frames)
            frames = np.stack([f for _, f in iter_frames(item.path, range(start, end))])
            return frames, info.fps, start
        r = _prepare_real(out, vid, item, cfg, load)
        (rec["reals"] if "id" in r else rec["skipped"]).append(r)
    return rec


def _builtin_photo() -> np.ndarray:
    from ..media import astronaut_image

    return astronaut_image()


def _save_face(out: Path, kind: str, vid: str, face: footage.FaceVideo) -> None:
    p = _work(out, kind, f"{vid}.npz")
    with fileio.atomic_path(p) as tmp:
        with open(tmp, "wb") as fh:
            if face.is_photo:
                np.savez_compressed(fh, landmarks=face.landmarks, fps=face.fps, image=face.frames[0])
            else:
                np.savez_compressed(fh, landmarks=face.landmarks, fps=face.fps)


def _prepare_real(out: Path, vid: str, item: Input, cfg: Config, load) -> dict:
    meta = _work(out, "reals", f"{vid}.json")
    paths = {c: real_path(out, vid, c) for c in COMPRESSIONS}
    if meta.exists() and all(p.exists() for p in paths.values()):
        return json.loads(meta.read_text())
    skip = _work(out, "skipped", f"{vid}.json")
    if skip.exists():
        return json.loads(skip.read_text())
    try:
        frames, fps, start = load()
    except InputError as e:
        rec = {"source": item.path, "segment_id": vid, "reason": e.problem}
        fileio.write_json(skip, rec)
        return rec
    factor = footage.upscale_factor(*frames.shape[1:3], cfg.min_side)
    frames = footage.resize_frames(frames, factor, cfg.max_side)
    try:
        face = footage.face_video(_analyzer(), frames, fps, name=item.path, identity=item.identity,
                                  min_frames=cfg.min_frames, detect_every=cfg.detect_every,
                                  confirm=cfg.confirm_faces)
    except footage.SourceSkipped as e:
        rec = {"source": item.path, "segment_id": vid, "start": start, "reason": e.problem}
        fileio.write_json(skip, rec)
        return rec
    _save_face(out, "landmarks", vid, face)
    _write_all(paths, fps, ((f, None) for f in face.frames), cfg.preset)
    h, w = face.frames.shape[1:3]
    rec = {"id": vid, "identity": item.identity, "source": item.path, "kind": item.kind,
           "first_frame": int(start + face.info.get("first_frame", 0)), "n_frames": len(face), "fps": fps,
           "size": [w, h], "upscale": factor,
           "animated": item.kind == "photo"}
    fileio.write_json(meta, rec)
    return rec


def real_identity(out: str | Path, vid: str) -> str | None:
    """Whose face a corpus original shows (the identity it was forged and split by), if recorded."""
    meta = _work(Path(out), "reals", f"{vid}.json")
    return json.loads(meta.read_text()).get("identity") if meta.exists() else None


def load_face(out: Path, vid: str) -> footage.FaceVideo:
    """A prepared real video (exact c0 frames) or photo with its landmarks."""
    photo = _work(out, "photos", f"{vid}.npz")
    if photo.exists():
        z = np.load(photo)
        return footage.FaceVideo(z["image"][None], z["landmarks"], float(z["fps"]), name=vid, is_photo=True)
    z = np.load(_work(out, "landmarks", f"{vid}.npz"))
    frames = read_frames(real_path(out, vid, "c0"))
    return footage.FaceVideo(frames, z["landmarks"], float(z["fps"]), name=vid)


def make_still(out: str, still_id: str, video_id: str, identity: str) -> dict:
    """Register the middle frame of a prepared video as a photo source (see module doc)."""
    out = Path(out)
    meta = _work(out, "photos", f"{still_id}.json")
    if not meta.exists():
        fv = load_face(out, video_id)
        k = len(fv) // 2
        face = footage.FaceVideo(fv.frames[k:k + 1], fv.landmarks[k:k + 1], 1.0, identity, still_id, True)
        _save_face(out, "photos", still_id, face)
        fileio.write_json(meta, {"id": still_id, "identity": identity, "source": f"frame {k} of video {video_id}",
                                 "kind": "still", "size": [fv.frames.shape[2], fv.frames.shape[1]]})
    return json.loads(meta.read_text())


def make_fake(job: dict, out: str, cfg: Config) -> dict:
    """Forge one (method, target, source) and write c0/c23/c40 + the exact mask."""
    out = Path(out)
    method = METHODS[job["method"]]
    name = f"{job['target']}_{job['source']}"
    meta = _work(out, "fakes", method.folder, f"{name}.json")
    paths = {c: fake_path(out, method, name, c) for c in COMPRESSIONS}
    mfile = mask_path(out, method, name)
    if meta.exists() and mfile.exists() and all(p.exists() for p in paths.values()):
        rec = json.loads(meta.read_text())
        rec["resumed"] = True
        return rec
    t0 = time.time()
    target = load_face(out, job["target"])
    source = None
    if method.source == "face" or (method.source == "driver" and job["source"] != job["target"]):
        source = load_face(out, job["source"])
    rng = _rng(cfg.seed, method.key, job["target"], job["source"])
    stats = {"mask_px": 0, "frames_with_mask": 0}

    def items():
        for img, w in method.forge(target, source, rng):
            m = w > 0
            stats["mask_px"] += int(m.sum())
            stats["frames_with_mask"] += int(m.any())
            yield img, m

    n = _write_all(paths, target.fps, items(), cfg.preset, mfile)
    rec = {"name": name, "method": method.key, "folder": method.folder, "identity_tag": method.identity,
           "target": job["target"], "source": job["source"], "source_role": job["role"], "n_frames": n,
           "mean_mask_fraction": stats["mask_px"] / max(1, n * target.frames.shape[1] * target.frames.shape[2]),
           "frames_with_mask": stats["frames_with_mask"], "seconds": round(time.time() - t0, 2)}
    fileio.write_json(meta, rec)
    rec["resumed"] = False
    return rec


# ------------------------------------------------------------------ planning


def split_identities(identities: list[str], n_reals: dict[str, int], seed: int) -> dict[str, str]:
    """identity -> split. 3+ identities: ~70/15/15 with at least one each in val and
    test (two each from 6 identities on); 2: the one with more videos trains, the other is both val and test
    (``"val+test"``); 1: train only."""
    ids = sorted(identities)
    if len(ids) == 1:
        return {ids[0]: "train"}
    if len(ids) == 2:
        a, b = sorted(ids, key=lambda i: (-n_reals.get(i, 0), i))
        return {a: "train", b: "val+test"}
    order = [ids[i] for i in _rng(seed, "splits").permutation(len(ids))]
    # two identities per held-out split as soon as there are 6, so a face swap finds a
    # source identity inside its own split
    least = 2 if len(ids) >= 6 else 1
    n_val = max(least, round(0.15 * len(ids)))
    n_test = max(least, round(0.15 * len(ids)))
    out = {}
    for k, ident in enumerate(order):
        out[ident] = "val" if k < n_val else "test" if k < n_val + n_test else "train"
    return out


def fold_identities(identities: list[str], n_reals: dict[str, int], seed: int, k: int) -> dict[str, str]:
    """identity -> "fold<j>" for cross-fitting: each person in exactly one of ``k`` folds,
    folds balanced by their number of real videos (largest identities first, each to the fold
    with the fewest videos, ties broken by a seeded order). Every fake's target and face come
    from one fold, so a model trained on the other folds never saw that fold's people."""
    if k < 2:
        raise ValueError("cross-fitting needs at least 2 folds")
    if len(identities) < k:
        raise InputError(None, f"{k} folds need at least {k} identities with real videos, found {len(identities)}")
    perm = {ident: int(r) for ident, r in zip(sorted(identities), _rng(seed, "folds").permutation(len(identities)))}
    load = [0] * k
    count = [0] * k
    out = {}
    for ident in sorted(identities, key=lambda i: (-n_reals.get(i, 0), perm[i])):
        j = min(range(k), key=lambda f: (load[f], count[f], f))
        out[ident] = f"fold{j}"
        load[j] += n_reals.get(ident, 0)
        count[j] += 1
    return out


def plan_fakes(reals: list[dict], photos: list[dict], split_of: dict[str, str], methods: list[Method],
               cfg: Config, next_id: int) -> tuple[list[dict], list[dict], list[dict]]:
    """(fake jobs, stills to register, unplannable fakes with reasons).

    Deterministic: sources are drawn by a generator seeded with (seed, method, target)."""
    jobs, stills, skipped = [], [], []
    still_of: dict[str, str] = {}
    ident = {r["id"]: r["identity"] for r in reals} | {p["id"]: p["identity"] for p in photos}
    for m in methods:
        for t in sorted(reals, key=lambda r: r["id"]):
            tid, tsplit = t["id"], split_of[t["identity"]]
            rng = _rng(cfg.seed, "pair", m.key, tid)
            if m.source == "self":
                cands = [(tid, "self")]
            elif m.source == "face":
                vids = [r["id"] for r in reals if r["identity"] != t["identity"] and split_of[r["identity"]] == tsplit]
                phs = [p["id"] for p in photos if p["identity"] != t["identity"] and split_of[p["identity"]] == tsplit]
                cands = [(v, "face") for v in vids + phs]
                if not cands and cfg.folds > 1:
                    skipped.append({"method": m.key, "target": tid,
                                    "reason": "no other identity in its fold to swap in (folds never share a face)"})
                    continue
                if not cands:
                    # another split's identity: its photos, or still frames of its videos
                    # registered as photo ids (no original video crosses the split)
                    cands = [(p["id"], "face (photo, identity from another split)") for p in photos
                             if p["identity"] != t["identity"]]
                    for o in sorted({r["identity"] for r in reals if r["identity"] != t["identity"]}):
                        for v in sorted(r["id"] for r in reals if r["identity"] == o)[:cfg.fakes_per_target]:
                            if v not in still_of:
                                still_of[v] = f"{next_id:03d}"
                                next_id += 1
                                stills.append({"id": still_of[v], "video": v, "identity": o})
                            cands.append((still_of[v], "face (still frame, identity from another split)"))
                if not cands:
                    skipped.append({"method": m.key, "target": tid, "reason": "no other identity to swap in"})
                    continue
            else:  # driver
                other = [r["id"] for r in reals if r["identity"] != t["identity"]
                         and split_of[r["identity"]] == tsplit and not r.get("animated")]
                same = [r["id"] for r in reals if r["identity"] == t["identity"] and r["id"] != tid
                        and not r.get("animated")]
                cands = [(v, "driver") for v in (other or same)] or [(tid, "generated trajectory")]
            order = rng.permutation(len(cands))
            for k in range(min(cfg.fakes_per_target, len(cands))):
                s, role = cands[order[k]]
                jobs.append({"method": m.key, "target": tid, "source": s, "role": role,
                             "source_identity": ident.get(s, t["identity"])})
    return jobs, stills, skipped


def write_splits(out: Path, fakes: list[dict], reals: list[dict], split_of: dict[str, str]) -> dict[str, int]:
    """splits/{train,val,test}.json (or splits/fold<j>.json when cross-fitting): FF++ [target,
    source] pairs by the target's identity."""
    ident = {r["id"]: r["identity"] for r in reals}
    labels = {x for v in split_of.values() for x in _splits(v)}
    folded = any(lab.startswith("fold") for lab in labels)
    lists: dict[str, list] = {s: [] for s in (sorted(labels) if folded else SPLITS)}
    covered = set()
    for f in sorted(fakes, key=lambda f: (f["target"], f["source"])):
        pair = [f["target"], f["source"]]
        for s in _splits(split_of[ident[f["target"]]]):
            if pair not in lists[s]:
                lists[s].append(pair)
        covered.add(f["target"])
    for r in sorted(reals, key=lambda r: r["id"]):
        if r["id"] not in covered:
            for s in _splits(split_of[r["identity"]]):
                lists[s].append([r["id"], r["id"]])
    for s, pairs in lists.items():
        fileio.write_json(out / "splits" / f"{s}.json", pairs)
    return {s: len(p) for s, p in lists.items()}


def _splits(label: str) -> list[str]:
    return label.split("+")


# ------------------------------------------------------------------ driver


def _run(fn, jobs: list[tuple], workers: int, desc: str, progress: bool) -> list:
    from tqdm import tqdm

    results = []
    bar = tqdm(total=len(jobs), desc=desc, unit="video", disable=not progress, leave=False)
    if workers <= 1 or len(jobs) <= 1:
        for args in jobs:
            results.append(fn(*args))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as ex:
            futs = [ex.submit(fn, *args) for args in jobs]
            for f in futs:  # in submission order: results do not depend on timing
                results.append(f.result())
                bar.update()
    bar.close()
    return results


# parameters that change existing outputs: resuming with other values would mix corpora
# (methods and fakes per target may grow between runs)
_FIXED = ("seed", "max_frames", "segment", "min_frames", "min_side", "max_side", "detect_every", "animate_frames",
          "preset", "folds", "face_rule")
# how a source's main face is chosen (Config.face_rule); corpora record it. 1: HOG's longest track
# (corpora made before 2026-11-23 07:16 UTC, among them candidates E-I's); 2: the longest one the
# second detector (MMOD) confirms (footage.confirmed_main_track), since rule 1 once took a logo
FACE_RULES = (1, 2)


def _check_resume(out: Path, cfg: Config, items: list[Input]) -> None:
    """Refuse to resume a corpus made with other parameters or other inputs."""
    want = {k: getattr(cfg, k) for k in _FIXED} | {"inputs": [it.key for it in items]}
    rec = _work(out, "config.json")
    if rec.exists():
        have = json.loads(rec.read_text())
        default = Config()
        before = {"face_rule": 1}  # keys added later: their value before they were recorded, else Config's
        have = {k: have.get(k, before.get(k, getattr(default, k, None))) for k in want}
        diff = [k for k in want if have[k] != want[k]]
        if diff:
            what = ", ".join(f"{k} {have[k]!r} -> {want[k]!r}" if k != "inputs" else "the inputs" for k in diff)
            raise InputError(out, f"was built with other parameters ({what}); use a new --out folder")
    else:
        out.mkdir(parents=True, exist_ok=True)
        fileio.write_json(rec, want)


def build_corpus(out: str | Path, sources: list[str | Path] | None = None, methods: list[str] | None = None,
                 seed: int = 0, workers: int = 1, *, max_frames: int | None = None, segment: int | None = None,
                 fakes_per_target: int | None = None, min_frames: int = 16, preset: str = "medium",
                 folds: int = 0, face_rule: int = Config.face_rule, progress: bool = True) -> CorpusSummary:
    """Build (or finish) an FF++-layout corpus in ``out``.

    ``sources=None`` uses the built-in media (carphone cut into 30-frame segments,
    upscaled 2x; the astronaut photo animated into 3 clips and used as a face source).
    ``face_rule`` 1 rebuilds a corpus of before the MMOD check (``FACE_RULES``).
    """
    t0 = time.time()
    out = Path(out)
    chosen = get(methods)
    builtin = sources is None
    if face_rule not in FACE_RULES:
        raise InputError(None, f"face rule must be one of {', '.join(map(str, FACE_RULES))}, got {face_rule}")
    cfg = Config(seed=seed, max_frames=max_frames or (120 if builtin else 150),
                 segment=segment if segment is not None else (30 if builtin else None),
                 fakes_per_target=fakes_per_target or (2 if builtin else 1), min_frames=min_frames, preset=preset,
                 folds=folds, face_rule=face_rule)
    items = builtin_inputs() if builtin else discover(sources)
    _check_resume(out, cfg, items)
    probe_skips = assign_ids(items, cfg)
    skipped = [{"source": k, "reason": v} for k, v in probe_skips.items()]
    todo = [it for it in items if it.key not in probe_skips]
    done = _run(prepare_input, [(it, str(out), cfg) for it in todo], workers, "originals", progress)
    reals = [r for rec in done for r in rec["reals"]]
    photos = [p for rec in done for p in rec["photos"]]
    skipped += [s for rec in done for s in rec["skipped"]]
    if not reals:
        raise InputError(out, "no usable real video (every source was skipped: see the reasons above)"
                         if skipped else "no real videos")
    n_by_ident: dict[str, int] = {}
    for r in reals:
        n_by_ident[r["identity"]] = n_by_ident.get(r["identity"], 0) + 1
    split_of = (fold_identities(list(n_by_ident), n_by_ident, seed, folds) if folds > 1
                else split_identities(list(n_by_ident), n_by_ident, seed))
    rest = sorted({p["identity"] for p in photos} - set(split_of))
    labels = sorted(set(split_of.values()))
    for k, ident in enumerate(rest):  # photo-only identities: spread over the splits
        split_of[ident] = labels[k % len(labels)]
    next_id = 1 + max(int(i) for it in items for i in it.ids + ([it.photo_id] if it.photo_id else []))
    jobs, stills, unplanned = plan_fakes(reals, photos, split_of, chosen, cfg, next_id)
    for s in stills:
        photos.append(make_still(str(out), s["id"], s["video"], s["identity"]))
    skipped += unplanned
    fakes = _run(make_fake, [(j, str(out), cfg) for j in jobs], workers, "fakes", progress)
    split_counts = write_splits(out, fakes, reals, split_of)
    created = sum(1 for f in fakes if not f.pop("resumed", False))
    by_method = {m.folder: sum(1 for f in fakes if f["method"] == m.key) for m in chosen}
    manifest = {
        "format": "FaceForensics++ layout (original_sequences/youtube, manipulated_sequences/<Method>)",
        "created_by": "localize forge",
        "versions": fileio.versions(),
        "parameters": asdict(cfg) | {"workers": workers, "builtin": builtin,
                                     "sources": None if builtin else [str(s) for s in sources]},
        "seed": seed,
        "mask_rule": f"mask = blend weight > 0; weights <= {BLEND_EPS} are cut to 0 before blending, so in c0 "
                     "every pixel outside the mask equals the original",
        "compressions": {"c0": "libx264rgb qp 0 (lossless)", "c23": "libx264 crf 23 yuv420p",
                         "c40": "libx264 crf 40 yuv420p"},
        "methods": {m.folder: {"key": m.key, "identity": m.identity, "source_is": m.source,
                               "description": m.description} for m in chosen},
        "identity_splits": split_of,
        "reals": sorted(reals, key=lambda r: r["id"]),
        "photos": sorted(photos, key=lambda p: p["id"]),
        "fakes": sorted(fakes, key=lambda f: (f["folder"], f["name"])),
        "skipped": skipped,
        "splits": split_counts,
    }
    man = out / "manifest.json"
    fileio.write_json(man, manifest)
    return CorpusSummary(out, len(reals), len(photos), by_method, skipped, split_counts,
                         round(time.time() - t0, 1), man, created)
