"""Training data for the localizer: video sources, the on-disk crop cache, identity
splits, balanced sampling, augmentation and the torch Datasets.

Data flows: dataset tree / mask manifest / folders of real videos -> :class:`VideoSource`
records (one per video, with label, identity, split, mask) -> K evenly spaced frames
per video, face-tracked and cropped with the analysis crop rule -> a cache entry per
video on disk -> :class:`CropDataset` (in memory) -> augmented, balanced batches.

The crop rule is the one analysis uses (it must be identical, or the model sees
a different framing at test time): landmarks of a tracked face, temporally smoothed
over a 5-frame window (``track_faces`` + ``smooth_landmarks``), then the square
``crop_box(landmark_box(landmarks), 1.3)`` resized to ``input_size``. For an
original/manipulated pair the face is tracked in the *original* and both videos and
the mask are cropped with the same boxes (pairs are pixel-aligned).
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import InputError
from .targets import xray_target

log = logging.getLogger(__name__)

# Bump when the cached arrays change meaning. 3: frames are decoded with square pixels (an
# anamorphic source's crops were squeezed before) and handed to dlib contiguous.
CACHE_VERSION = 3
SMOOTH_WINDOW = 5  # frames; the analysis smoothing window (faces.smooth_landmarks default)
REAL, FAKE, BLEND = 0, 1, 2  # sample kinds: real crop, manipulated crop, self-blended real crop
BLEND_KEY_SUFFIX = "#blend"  # validation video key of a real source's self-blends
OTHERS_KEY_SUFFIX = "#others"  # key of a real source's other faces (with_other_faces)


# ---------------------------------------------------------------- sources
@dataclass
class VideoSource:
    """One video that becomes training examples."""

    key: str                    # unique id, e.g. "ffpp/Deepfakes/c23/519_515" or "reals/talking_01"
    video: Path                 # the frames to crop
    label: int                  # 0 real, 1 manipulated
    identity: str               # the person in the video (splits never share one)
    split: str | None = None    # train/val/test when the dataset says so
    mask: Path | None = None    # mask video of a manipulated source
    track_video: Path | None = None  # where faces are tracked (the original of a pair), default ``video``
    method: str = "real"
    dataset: str = ""
    face_identity: str | None = None  # a fake's other person (face or driver source) when the dataset says
    # Which faces become crops: "main" (the longest track, the person the video is about) or
    # "others" (every other face in a real video: bystanders, an audience, an interviewer),
    # which analysis judges as well, so training must see them as real faces (:func:`with_other_faces`).
    face: str = "main"

    def describe(self) -> dict[str, Any]:
        """Identity of the source for cache keys and manifests (paths and content fingerprints:
        a re-provisioned copy with new mtimes keeps its crops, a changed file gets new ones)."""
        from .fileio import fingerprint

        d = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        if d["face"] == "main":  # as before the field existed: existing caches and manifest hashes hold
            del d["face"]
        for name in ("video", "mask", "track_video"):
            p = getattr(self, name)
            if p is not None and Path(p).is_file():
                d[name + "_fp"] = fingerprint(p)
        return d


def _identity_of(path: Path, rule: str) -> str:
    if rule == "folder":
        return path.parent.name
    if rule == "file":
        return path.stem
    return rule  # a fixed identity name


def forge_manifest(root: str | Path) -> dict:
    """The manifest.json of a `localize forge` corpus at ``root``; {} for other trees (an FF++ copy)."""
    try:
        m = json.loads((Path(root) / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return m if isinstance(m, dict) and m.get("created_by") == "localize forge" else {}


def forge_persons(root: str | Path) -> dict[str, str]:
    """video id -> person of a `localize forge` corpus; {} for other trees. A forge corpus
    numbers videos like FF++, but several videos can show one person, and splits and folds
    must keep a person on one side."""
    m = forge_manifest(root)
    return {str(r["id"]): str(r["identity"]) for r in m.get("reals", []) + m.get("photos", [])
            if isinstance(r, dict) and "id" in r and "identity" in r}


def forge_folds(root: str | Path) -> dict[str, int]:
    """person -> fold of a `localize forge --folds` corpus, including people who appear only
    as faces (photo-only identities have no video, so no pair carries their fold, yet their
    faces are in that fold's fakes); {} for other trees."""
    out = {}
    for ident, label in (forge_manifest(root).get("identity_splits") or {}).items():
        if isinstance(label, str) and label.startswith("fold") and label[4:].isdigit():
            out[str(ident)] = int(label[4:])
    return out


def _original_key(name: str, original: Path, compression: str | None, several: bool) -> str:
    """An original's source key. A dataset used at several compressions holds one original per
    compression (an FF++ tree's c23 and c40 copies of 000.mp4), so then the key names it; with
    one compression the key is as it always was (caches and manifest hashes keep)."""
    return f"{name}/original/{compression}/{original.stem}" if several else f"{name}/original/{original.stem}"


def sources_from_pairs(root: str | Path, *, derived: str | Path | None = None, name: str | None = None,
                       compressions: Sequence[str] | None = None, identity: str = "person") -> list[VideoSource]:
    """Sources of a pair dataset (FF++ tree, DFDC folder, CSV pair list) via ``masks.pairs``.

    Each usable pair gives a manipulated source (needs an official or derived mask; a
    fake without a mask cannot teach localization and is skipped with a warning) and
    its original, once, as a real source. Identity: the target's person where the tree
    says it (a forge corpus's manifest, ``identity="person"``), else the FF++ target id (the
    person whose video it is); the source id joins the same split through the split files.
    ``identity="video"`` keeps the ids (how models trained before persons were read split).
    """
    from masks.pairs import find_pairs

    if identity not in ("person", "video"):
        raise InputError(Path(root), f"pairs identity must be person or video, not {identity!r}")
    root = Path(root)
    name = name or root.name
    persons = forge_persons(root) if identity == "person" else {}
    out: list[VideoSource] = []
    seen_orig: set[str] = set()
    pairs = [p for p in find_pairs(root, derived=derived) if not compressions or p.compression in compressions]
    several = len({p.compression for p in pairs}) > 1
    for p in pairs:
        if not p.ok:
            log.warning("%s: skipped (%s)", p.manipulated, p.problem)
            continue
        mask = p.mask or p.extra.get("derived_mask")
        ident = str(p.target or Path(p.original).stem)
        ident = persons.get(ident, ident)
        face = None if not p.source or str(p.source) == str(p.target) else persons.get(str(p.source), str(p.source))
        if mask is None:
            log.warning("%s: no mask (official or derived), fake skipped for training", p.manipulated)
        else:
            out.append(VideoSource(key=f"{name}/{p.key}", video=Path(p.manipulated), label=1, identity=ident,
                                   split=p.split, mask=Path(mask), track_video=Path(p.original),
                                   method=str(p.method or "fake"), dataset=name, face_identity=face))
        if str(p.original) not in seen_orig:
            seen_orig.add(str(p.original))
            out.append(VideoSource(key=_original_key(name, Path(p.original), p.compression, several),
                                   video=Path(p.original), label=0,
                                   identity=ident, split=p.split, dataset=name))
    return out


def sources_from_manifest(path: str | Path, *, name: str | None = None) -> list[VideoSource]:
    """Sources of a ``masks/`` dataset manifest (JSONL): rows with ``status`` ok,
    ``original``, ``manipulated``, ``mask`` (relative to the manifest's folder), ``split``."""
    path = Path(path)
    base = path.parent
    name = name or path.parent.name
    out: list[VideoSource] = []
    seen_orig: set[str] = set()
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read manifest ({e})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(path, f"line {n} is not JSON ({e})") from None
        if str(row.get("status", "ok")) not in ("ok", "done"):
            continue
        if not row.get("mask") or not row.get("manipulated") or not row.get("original"):
            continue
        rows.append(row)
    several = len({row.get("compression") for row in rows}) > 1

    def res(p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else base / q

    for row in rows:
        orig, man, mask = res(row["original"]), res(row["manipulated"]), res(row["mask"])
        ident = str(row.get("target") or orig.stem)
        key = str(row.get("key") or man.stem)
        out.append(VideoSource(key=f"{name}/{key}", video=man, label=1, identity=ident, split=row.get("split"),
                               mask=mask, track_video=orig, method=str(row.get("method") or "fake"), dataset=name))
        if str(orig) not in seen_orig:
            seen_orig.add(str(orig))
            out.append(VideoSource(key=_original_key(name, orig, row.get("compression"), several), video=orig,
                                   label=0, identity=ident, split=row.get("split"), dataset=name))
    return out


def sources_from_reals(path: str | Path, *, identity: str = "file", name: str | None = None,
                       photos: bool = False) -> list[VideoSource]:
    """Real videos (a file, or every video under a folder, recursively): label 0, the
    material for self-blending and for real hard negatives. ``identity``: "file" (each
    file is a person), "folder" (the parent folder names the person) or a fixed name.
    ``photos``: also the still images of a folder, each a one-frame source: analysts submit
    photos too, so validation reals that include them set an operating point for stills."""
    from .video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    suffixes = VIDEO_SUFFIXES | (IMAGE_SUFFIXES if photos else set())
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes
                                                 and not p.name.startswith("."))
    name = name or path.stem
    out = []
    for f in files:
        rel = f.relative_to(path).with_suffix("").as_posix() if path.is_dir() else f.stem
        out.append(VideoSource(key=f"{name}/{rel}", video=f, label=0, identity=_identity_of(f, identity),
                               dataset=name))
    return out


def collect_sources(specs: Sequence[dict[str, Any]], exclude: Sequence[str] = ()) -> list[VideoSource]:
    """Sources from the config's ``data.sources`` list. Each spec: ``{path, kind}`` with
    kind ``pairs`` (dataset tree or CSV), ``manifest`` (masks/ JSONL) or ``reals``;
    optional ``identity`` and ``photos`` (reals), ``derived`` and ``compressions`` (pairs, e.g.
    [c23]), ``split`` (force one split) or ``split_map`` (e.g. {test: val}), ``name``. ``exclude``: glob
    patterns of paths that must never be used (held-out data)."""
    out: list[VideoSource] = []
    for spec in specs:
        kind = spec.get("kind", "auto")
        path = Path(os.path.expanduser(str(spec["path"])))
        if kind == "auto":
            kind = "manifest" if path.suffix == ".jsonl" else "pairs"
        if kind == "pairs":
            got = sources_from_pairs(path, derived=spec.get("derived"), name=spec.get("name"),
                                     compressions=spec.get("compressions"), identity=spec.get("identity", "person"))
        elif kind == "manifest":
            got = sources_from_manifest(path, name=spec.get("name"))
        elif kind == "reals":
            got = sources_from_reals(path, identity=spec.get("identity", "file"), name=spec.get("name"),
                                     photos=bool(spec.get("photos", False)))
        else:
            raise InputError(path, f"unknown data source kind {kind!r} (pairs, manifest, reals)")
        for s in got:
            if spec.get("split"):
                s.split = spec["split"]
            elif spec.get("split_map") and s.split in spec["split_map"]:
                s.split = spec["split_map"][s.split]
        out.extend(got)
    keep = []
    for s in out:
        paths = [str(p) for p in (s.video, s.mask, s.track_video) if p is not None]
        resolved = [str(Path(p).resolve()) for p in paths]
        if any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(r, pat) for pat in exclude for p, r in zip(paths, resolved)):
            continue
        keep.append(s)
    keys = [s.key for s in keep]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise InputError(None, f"duplicate data source keys {sorted(dup)[:3]}: give the sources distinct names")
    return keep


def assign_splits(sources: Sequence[VideoSource], val_fraction: float, seed: int = 0,
                  fold: tuple[int, int] | None = None, fold_labels: dict[str, int] | None = None) -> dict[str, str]:
    """identity -> split. Dataset splits win (official FF++ / forge splits); identities
    without one go to val by a seeded hash order (at least one when there are two or
    more), so no identity is ever in both train and validation. An identity that a
    dataset puts in two splits is an error.

    ``fold=(i, k)``: cross-fitting, fold i of k validates. Every identity has a fold: the one
    a dataset gives it (``fold<j>`` labels of a `localize forge --folds` corpus, whose fakes
    never mix folds), else dealt into the folds with the fewest identities by a seeded hash
    order; train/val/test labels of datasets are ignored then."""
    if fold is not None:
        return fold_splits(fold_of(sources, int(fold[1]), seed, fold_labels), int(fold[0]), int(fold[1]))
    given: dict[str, str] = {}
    for s in sources:
        if s.split:
            sp = "val" if s.split in ("val", "validation") else s.split
            if given.get(s.identity, sp) != sp:
                raise InputError(s.video, f"identity {s.identity!r} is in both {given[s.identity]} and {sp}")
            given[s.identity] = sp
    free = sorted({s.identity for s in sources} - set(given),
                  key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    n_val = int(round(val_fraction * len(free)))
    if val_fraction > 0 and len(free) >= 2:
        n_val = min(max(1, n_val), len(free) - 1)
    out = dict(given)
    for i, ident in enumerate(free):
        out[ident] = "val" if i < n_val else "train"
    return out


def fold_of(sources: Sequence[VideoSource], k: int, seed: int = 0,
            labels: dict[str, int] | None = None) -> dict[str, int]:
    """identity -> fold (0..k-1) for cross-fitting. People linked by a fake (its target and the
    person whose face or motion it took, ``face_identity``) are one group and share a fold, so no
    fold's fakes show a person another fold validates on (FF++ pairs a_b / b_a, a forge corpus
    made without ``--folds``). A group takes the ``fold<j>`` label a dataset gives its people (a
    `localize forge --folds` corpus, ``labels``: :func:`forge_folds`, which also covers people
    seen only as faces); the others are dealt into the folds with the fewest identities in a
    seeded hash order. People of one group in two folds are an error."""
    if k < 2:
        raise InputError(None, f"data.folds must be at least 2 for cross-fitting, got {k}")
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s in sources:
        find(s.identity)
        if s.face_identity:
            parent[find(s.face_identity)] = find(s.identity)
    given: dict[str, tuple[int, str]] = {}  # group -> (fold, who said so)
    where: dict[str, Path | None] = {}

    def label(ident: str, j: int, origin: Path | None) -> None:
        if not 0 <= j < k:
            raise InputError(origin, f"puts {ident!r} in fold{j} but data.folds is {k}: use the corpus's fold count")
        g = find(ident)
        if g in given and given[g][0] != j:
            if given[g][1] == ident:
                raise InputError(origin, f"identity {ident!r} is in both fold{given[g][0]} and fold{j}")
            raise InputError(origin, f"puts {ident!r} in fold{j}, but {given[g][1]!r} is in fold{given[g][0]} and "
                             "a fake links them: a fold's fakes must not show another fold's people")
        given[g] = (j, ident)
        where[g] = origin

    for ident, j in (labels or {}).items():
        if ident in parent:
            label(ident, j, None)
    for s in sources:
        if s.split and str(s.split).startswith("fold"):
            try:
                j = int(str(s.split)[4:])
            except ValueError:
                raise InputError(s.video, f"unknown split label {s.split!r}") from None
            label(s.identity, j, s.video)
    groups: dict[str, list[str]] = {}
    for ident in parent:
        groups.setdefault(find(ident), []).append(ident)
    count = [0] * k
    out: dict[str, int] = {}
    for g, (j, _) in given.items():
        count[j] += len(groups[g])
        out.update({i: j for i in groups[g]})
    free = sorted((g for g in groups if g not in given),
                  key=lambda g: hashlib.sha256(f"{seed}:{min(groups[g])}".encode()).hexdigest())
    for g in sorted(free, key=lambda g: -len(groups[g])):  # big groups first, each to the emptiest fold
        j = min(range(k), key=lambda f: (count[f], f))
        out.update({i: j for i in groups[g]})
        count[j] += len(groups[g])
    for ident, j in (labels or {}).items():  # people only a corpus names (no source here) keep its fold
        out.setdefault(ident, j)
    return out


def fold_splits(folds: dict[str, int], index: int, k: int) -> dict[str, str]:
    """identity -> "val" for the identities of fold ``index`` (of ``k``), "train" for the rest."""
    if not 0 <= index < k:
        raise InputError(None, f"data.fold must be in 0..{k - 1}, got {index}")
    return {ident: ("val" if j == index else "train") for ident, j in folds.items()}


def manifest_hash(sources: Sequence[VideoSource], crop: "CropParams") -> str:
    """Hash of everything the cached crops depend on (sources and crop parameters)."""
    blob = json.dumps({"v": CACHE_VERSION, "crop": asdict(crop),
                       "sources": sorted((json.dumps(s.describe(), sort_keys=True) for s in sources))}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------- crop cache
@dataclass(frozen=True)
class CropParams:
    input_size: int = 256
    scale: float = 1.3
    frames_per_video: int = 16
    smooth_window: int = SMOOTH_WINDOW


@dataclass
class CropSet:
    """Cached crops of one source: K frames (fewer where no face was found)."""

    source: VideoSource
    images: np.ndarray      # (N, S, S, 3) uint8
    masks: np.ndarray       # (N, S, S) uint8, 0..255 (soft from resizing); zeros for reals
    landmarks: np.ndarray   # (N, 68, 2) float32, crop coordinates
    frames: np.ndarray      # (N,) int frame indices


def entry_key(source: VideoSource, crop: CropParams) -> str:
    d = source.describe()
    d.pop("split", None)  # the split does not change the pixels
    d.pop("identity", None)
    d.pop("face_identity", None)
    blob = json.dumps({"v": CACHE_VERSION, "crop": asdict(crop), "src": d}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def default_cache_dir() -> Path:
    return Path(os.environ.get("LOCALIZE_CACHE", Path.home() / ".cache" / "localize")) / "crops"


def _windows(n_frames: int, wanted: Sequence[int], window: int) -> dict[int, list[int]]:
    half = window // 2
    return {i: [j for j in range(i - half, i + half + 1) if 0 <= j < n_frames] for i in wanted}


def face_landmarks(analyzer, video: Path, indices: Sequence[int], window: int = SMOOTH_WINDOW) -> dict[int, np.ndarray]:
    """Smoothed landmarks of the main face at each wanted frame, computed exactly as
    analysis does (tracking + ``smooth_landmarks``) on a short window around it."""
    return {i: faces[0] for i, faces in all_face_landmarks(analyzer, video, indices, window).items()}


def all_face_landmarks(analyzer, video: Path, indices: Sequence[int], window: int = SMOOTH_WINDOW
                       ) -> dict[int, list[np.ndarray]]:
    """Smoothed landmarks of every face at each wanted frame, the main face (the longest
    track of the window, as :func:`face_landmarks`) first, then the others by track."""
    from .faces import largest_track, smooth_landmarks, track_faces
    from .video import iter_frames, probe

    info = probe(video)
    wins = _windows(info.n_frames, indices, window)
    need = sorted({j for w in wins.values() for j in w})
    frames = dict(iter_frames(video, need))
    out: dict[int, list[np.ndarray]] = {}
    for i, w in wins.items():
        seq = [(j, frames[j]) for j in w if j in frames]
        if not seq:
            continue
        tracks = [t for t in track_faces(analyzer, iter(seq), detect_every=len(seq)) if i in t.landmarks]
        main = largest_track(tracks)
        if main is None:
            continue
        out[i] = [smooth_landmarks(t, window)[i].astype(np.float32) for t in [main] + [t for t in tracks
                                                                                     if t is not main]]
    return out


def with_other_faces(sources: Sequence[VideoSource]) -> list[VideoSource]:
    """``sources`` and, after each real one, a source for its other faces (``face="others"``,
    key ``<key>#others``, same person and split). Analysis scores every face in a video and
    calls it fake if any face is, so a bystander the model never saw as a real face is a
    false positive waiting to happen (the two highest-scoring real videos of candidate E, a
    clip and its copy, owed their scores to such bystanders). Fakes keep their main face only: in a manipulated video the
    other faces are real too, but the frame's label is not theirs."""
    out: list[VideoSource] = []
    for s in sources:
        out.append(s)
        if s.label == 0 and s.face == "main":
            out.append(replace(s, key=s.key + OTHERS_KEY_SUFFIX, face="others"))
    return out


def _crop_frames(video: Path, frames: Sequence[int], boxes: Sequence[tuple], size: int, *,
                 mask: bool = False) -> dict[int, np.ndarray]:
    """k -> the crop of ``boxes[k]`` from frame ``frames[k]`` (several boxes may share a frame),
    for every frame that decodes."""
    from masks.maskio import iter_mask_video

    from .faces import crop, crop_mask
    from .video import iter_frames

    at: dict[int, list[int]] = {}
    for k, i in enumerate(frames):
        at.setdefault(int(i), []).append(k)
    out = {}
    if mask:
        for i, m in iter_mask_video(video, sorted(at)):
            for k in at[i]:
                out[k] = crop_mask(m.astype(np.uint8) * 255, boxes[k], size)
    else:
        for i, f in iter_frames(video, sorted(at)):
            for k in at[i]:
                out[k] = crop(f, boxes[k], size)
    return out


def _save_crops(path: Path, cs: CropSet) -> None:
    from .fileio import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=cs.images, masks=cs.masks, landmarks=cs.landmarks, frames=cs.frames)


def build_cache(sources: Sequence[VideoSource], crop: CropParams, cache_dir: str | Path | None = None, *,
                progress: bool = True) -> list[CropSet]:
    """Crop every source once into ``cache_dir`` (one ``.npz`` per source, keyed by the
    source's paths and content fingerprints and the crop parameters) and load them all.

    Faces are tracked once per tracked video, so an original and all its manipulated
    versions share boxes. A source where no face is found in any frame is skipped
    with a warning (listed, never silent). A source of a video's other faces
    (:func:`with_other_faces`) that finds none is cached empty and left out."""
    from tqdm import tqdm

    from .faces import FaceAnalyzer, crop_box, landmark_box
    from .video import probe

    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    analyzer = None
    lm_cache: dict[str, dict[int, np.ndarray]] = {}
    out: list[CropSet] = []
    # originals first so their landmarks are reused by their fakes
    order = sorted(sources, key=lambda s: (str(s.track_video or s.video), s.label))
    for s in tqdm(order, desc="crop cache", unit="video", disable=not progress):
        path = cache_dir / f"{entry_key(s, crop)}.npz"
        if path.exists():
            try:
                with np.load(path) as z:
                    if len(z["frames"]):  # empty: a video's other faces where it shows one person
                        out.append(CropSet(s, z["images"], z["masks"], z["landmarks"], z["frames"]))
                continue
            except Exception:  # a damaged entry is rebuilt
                log.warning("%s: damaged cache entry, rebuilding", path)
        track_video = Path(s.track_video or s.video)
        if s.label == 1 and s.mask is None:
            raise InputError(s.video, "a manipulated training video needs a mask")
        n = probe(s.video).n_frames
        if s.track_video is not None:
            n = min(n, probe(track_video).n_frames)
        if s.mask is not None:
            n = min(n, probe(s.mask).n_frames)
        from .video import sample_indices

        idx = sample_indices(n, count=crop.frames_per_video)
        tkey = f"{track_video}|{n}"
        if tkey not in lm_cache:
            analyzer = analyzer or FaceAnalyzer()
            lm_cache[tkey] = all_face_landmarks(analyzer, track_video, idx, crop.smooth_window)
        S = crop.input_size
        # (frame, landmarks) of each crop: the main face, or every other face of the frame
        faces = [(i, f[0]) for i, f in sorted(lm_cache[tkey].items())] if s.face == "main" else \
            [(i, lm) for i, f in sorted(lm_cache[tkey].items()) for lm in f[1:]]
        if not faces and s.face != "main":  # most videos show one person: remembered, so not tracked again
            _save_crops(path, CropSet(s, np.zeros((0, S, S, 3), np.uint8), np.zeros((0, S, S), np.uint8),
                                      np.zeros((0, 68, 2), np.float32), np.zeros(0, np.int64)))
            continue
        if not faces:
            log.warning("%s: no face found in %d sampled frames, skipped", s.video, len(idx))
            continue
        boxes = [crop_box(landmark_box(lm), crop.scale) for _, lm in faces]
        imgs = _crop_frames(s.video, [i for i, _ in faces], boxes, crop.input_size)
        masks = _crop_frames(s.mask, [i for i, _ in faces], boxes, crop.input_size, mask=True) \
            if s.mask is not None else {}
        keep = [k for k, (i, _) in enumerate(faces) if k in imgs and (s.mask is None or k in masks)]
        images = np.stack([imgs[k] for k in keep])
        mk = np.stack([masks[k] for k in keep]) if s.mask is not None else np.zeros((len(keep), S, S), np.uint8)
        lmc = []
        for k in keep:
            x0, y0, x1, y1 = boxes[k]
            lmc.append((faces[k][1] - [x0, y0]) * (S / (x1 - x0)))
        cs = CropSet(s, images, mk.astype(np.uint8), np.asarray(lmc, np.float32),
                     np.asarray([faces[k][0] for k in keep], np.int64))
        _save_crops(path, cs)
        out.append(cs)
    return out


# ---------------------------------------------------------------- crop bundles
BUNDLE_VERSION = 1
BUNDLE_LOSSLESS = "webp-lossless"


def _pack_images(images: np.ndarray, ext: str, quality: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Encoded frames (WebP for RGB, lossless at ``quality`` 101; PNG for masks), concatenated."""
    import cv2

    params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)] if ext == ".webp" else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    blobs = []
    for im in images:
        ok, buf = cv2.imencode(ext, im[..., ::-1] if im.ndim == 3 else im, params)
        if not ok:
            raise RuntimeError(f"OpenCV cannot encode {ext}")
        blobs.append(buf.ravel())
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    return (np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)), offsets


def _unpack_images(data: np.ndarray, offsets: np.ndarray, color: bool) -> np.ndarray:
    import cv2

    flag = cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE
    out = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        im = cv2.imdecode(data[a:b], flag)
        if im is None:
            raise ValueError("undecodable frame")
        out.append(im[..., ::-1] if color else im)
    return np.ascontiguousarray(np.stack(out))


def bundle_codec(quality: int | None, dest: Path | None = None) -> str:
    """The image codec of a bundle written at ``quality`` (None: lossless); an InputError
    naming ``dest`` for a quality outside 1-100."""
    if quality is None:
        return BUNDLE_LOSSLESS
    if not 1 <= int(quality) <= 100:
        raise InputError(dest, f"bundle quality {quality}: give 1-100 (or none for lossless)")
    return f"webp-q{int(quality)}"


def save_bundle(sets: Sequence[CropSet], splits: dict[str, str], dest: str | Path, *, crop: CropParams,
                manifest_hash: str, source_keys: Sequence[str] = (), progress: bool = True,
                folds: tuple[int, dict[str, int]] | None = None, quality: int | None = None) -> dict[str, Any]:
    """Write the cropped training/validation data of a config as a self-contained folder
    (lossless: WebP/PNG per crop, about a third of the raw size) that ``data.bundle`` trains
    from. Why: cropping needs the videos, PyAV and the dlib face models; a training machine
    (a GPU box) then needs none of them, and trains on exactly the same pixels, splits and
    manifest hash. ``quality`` (1-100): lossy WebP crops, about 4x smaller at 95 (1-2 grey
    levels of error, below the JPEG augmentation's), for carrying a bundle through a size
    limit; masks stay lossless, and trained runs record the codec with the manifest hash.
    Written under a temporary name, renamed when complete."""
    import shutil
    import tempfile

    from tqdm import tqdm

    dest = Path(dest)
    if dest.exists():
        raise InputError(dest, "already exists: choose a new folder for the bundle")
    codec = bundle_codec(quality, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
    try:
        entries = []
        for n, s in enumerate(tqdm(sets, desc="bundle", unit="video", disable=not progress)):
            name = f"{n:05d}.npz"
            img, img_off = _pack_images(s.images, ".webp", 101 if quality is None else int(quality))
            msk, msk_off = _pack_images(s.masks, ".png")
            np.savez(tmp / name, images=img, image_offsets=img_off, masks=msk, mask_offsets=msk_off,
                     landmarks=s.landmarks, frames=s.frames)
            src = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(s.source).items()}
            entries.append({"file": name, "source": src, "crops": int(len(s.images))})
        idents = {s.source.identity for s in sets}
        index = {"bundle_version": BUNDLE_VERSION, "cache_version": CACHE_VERSION, "crop": asdict(crop),
                 "image_codec": codec, "manifest_hash": manifest_hash,
                 "source_keys": list(source_keys or [s.source.key for s in sets]),
                 "splits": {k: v for k, v in splits.items() if k in idents},
                 "folds": None if folds is None else {"k": int(folds[0]),
                                                      "of": {k: v for k, v in folds[1].items() if k in idents}},
                 "entries": entries}
        (tmp / "bundle.json").write_text(json.dumps(index, indent=1))
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"path": str(dest), "videos": len(entries), "crops": sum(e["crops"] for e in entries), "image_codec": codec,
            "bytes": sum(f.stat().st_size for f in dest.iterdir())}


def load_bundle(path: str | Path, crop: CropParams, fold: tuple[int, int] | None = None
                ) -> tuple[list[CropSet], dict[str, str], str, list[str]]:
    """(crop sets, identity -> split, manifest hash, source keys) of a :func:`save_bundle` folder; its
    crop parameters must be the config's (else the model would train on another framing). A lossy
    bundle's manifest hash carries its codec (``<hash>+webp-q95``): same frames, other pixels.
    ``fold=(i, k)``: the split of cross-fitting fold i, from the bundle's folds (exported with k)."""
    path = Path(path)
    index_path = path / "bundle.json"
    if not index_path.is_file():
        raise InputError(path, "not a crop bundle (no bundle.json)")
    try:
        index = json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(index_path, f"unreadable ({e})") from None
    cache_version = index.get("cache_version")
    if index.get("bundle_version") != BUNDLE_VERSION or not isinstance(cache_version, int) \
            or cache_version > CACHE_VERSION:
        raise InputError(path, f"bundle version {index.get('bundle_version')}/{cache_version}, "
                         f"this code reads {BUNDLE_VERSION}/{CACHE_VERSION}: export it again")
    if cache_version < CACHE_VERSION:
        # A bundle is a frozen data set (a past candidate's exact crops): it stays readable, but
        # its crops follow the older crop rules, which a fresh export would not reproduce.
        log.warning("%s: crops made by crop-cache version %d (this code makes version %d; see "
                    "data.CACHE_VERSION): training on them reproduces that bundle, not a fresh export",
                    path, cache_version, CACHE_VERSION)
    if index.get("crop") != asdict(crop):
        raise InputError(path, f"cropped with {index.get('crop')}, the config asks for {asdict(crop)}")
    sets = []
    for e in index["entries"]:
        f = path / e["file"]
        src = dict(e["source"])
        for k in ("video", "mask", "track_video"):
            if src.get(k) is not None:
                src[k] = Path(src[k])
        try:
            with np.load(f) as z:
                images = _unpack_images(z["images"], z["image_offsets"], True)
                masks = _unpack_images(z["masks"], z["mask_offsets"], False)
                sets.append(CropSet(VideoSource(**src), images, masks, z["landmarks"], z["frames"]))
        except (OSError, KeyError, ValueError) as err:
            raise InputError(f, f"damaged bundle entry ({err})") from None
        if len(sets[-1].images) != e["crops"]:
            raise InputError(f, f"holds {len(sets[-1].images)} crops, the index says {e['crops']}")
    splits = dict(index["splits"])
    if fold is not None:
        folds = index.get("folds")
        if not folds:
            raise InputError(path, "exported without folds: export it with data.folds set to cross-fit from it")
        if int(folds["k"]) != int(fold[1]):
            raise InputError(path, f"exported with {folds['k']} folds, the config asks for {fold[1]}")
        splits = fold_splits({k: int(v) for k, v in folds["of"].items()}, int(fold[0]), int(fold[1]))
    codec = index.get("image_codec", BUNDLE_LOSSLESS)
    mhash = str(index["manifest_hash"]) + ("" if codec == BUNDLE_LOSSLESS else f"+{codec}")
    return sets, splits, mhash, list(index["source_keys"])


# ---------------------------------------------------------------- augmentation
DEFOCUS_SIGMA = (1.5, 4.0)  # crop pixels: a defocused 100 px face blurred by 3 px of the frame
# low exposure: gamma (x100) that takes a face's mid-grey luma of ~130 to ~35-85, then the sensor
# noise of a camera pushed to see in the dark
LOW_LIGHT_GAMMA = (160, 300)
LOW_LIGHT_NOISE = (0.02, 0.06)


def _low_light(p: float):
    import albumentations as A

    return A.Sequential([A.RandomGamma(gamma_limit=LOW_LIGHT_GAMMA, p=1.0),
                         A.GaussNoise(std_range=LOW_LIGHT_NOISE, p=1.0)], p=min(1.0, max(0.0, p)))


def train_transform(strength: float = 1.0, defocus: float = 0.0, low_light: float = 0.0):
    """Photometric/compression augmentation (albumentations 2.x argument names) plus a
    small geometric jitter that moves image and mask together (tracking jitter).
    ``defocus``: probability of a strong blur (``DEFOCUS_SIGMA``) on any crop, real or fake,
    before noise and compression, as a lens would. Real faces blurred that much (bystanders
    out of focus, soft footage) scored like fakes out of fold; the usual blur is milder.
    ``low_light``: probability of an under-exposed copy (``LOW_LIGHT_GAMMA`` and sensor noise) of
    any crop, real or fake: candidate I scored darker real faces higher out of fold
    (localize.evaluate.luma), and the colour jitter varies brightness by only 20 %."""
    import albumentations as A
    import cv2

    if strength <= 0:
        return None
    p = min(1.0, strength)
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(scale=(0.94, 1.06), translate_percent=(-0.04, 0.04), rotate=(-8, 8),
                 border_mode=cv2.BORDER_REFLECT_101, p=0.4 * p),
        A.ColorJitter(brightness=(0.8, 1.2), contrast=(0.8, 1.2), saturation=(0.8, 1.2), hue=(-0.03, 0.03),
                      p=0.5 * p),
        A.OneOf([
            A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.6, 1.6), p=1.0),
            A.Downscale(scale_range=(0.4, 0.9), p=1.0),
        ], p=0.3 * p),
        A.GaussianBlur(blur_limit=0, sigma_limit=DEFOCUS_SIGMA, p=min(1.0, max(0.0, defocus))),
        # only when asked for: an idle transform would still draw from the random stream and change
        # the augmentation of the configs that predate it (I, and J as pre-registered)
        *([_low_light(low_light)] if low_light > 0 else []),
        A.GaussNoise(std_range=(0.01, 0.05), p=0.2 * p),
        A.ImageCompression(quality_range=(30, 100), p=0.5 * p),
    ])


def each_transform():
    """The individual augmentations with p=1 (for the test that each changes pixels)."""
    import albumentations as A

    return {
        "HorizontalFlip": A.HorizontalFlip(p=1.0),
        "ColorJitter": A.ColorJitter(brightness=(0.8, 1.2), contrast=(0.8, 1.2), saturation=(0.8, 1.2),
                                     hue=(-0.03, 0.03), p=1.0),
        "GaussianBlur": A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.6, 1.6), p=1.0),
        "Defocus": A.GaussianBlur(blur_limit=0, sigma_limit=DEFOCUS_SIGMA, p=1.0),
        "LowLight": _low_light(1.0),
        "Downscale": A.Downscale(scale_range=(0.4, 0.9), p=1.0),
        "GaussNoise": A.GaussNoise(std_range=(0.01, 0.05), p=1.0),
        "ImageCompression": A.ImageCompression(quality_range=(30, 100), p=1.0),
    }


# ---------------------------------------------------------------- datasets
@dataclass
class SampleSpec:
    """How one epoch is drawn from the crops."""

    length: int = 0                 # samples per epoch (0: 2 x the larger class)
    selfblend: float = 0.5          # share of fake samples made by self-blending real crops
    blend_threshold: float = 0.05   # blend weight above which a pixel counts as forged
    balanced: bool = True           # half real, half fake (fake = manipulated + self-blended)
    paired: bool = False            # each fake next to its own real crop (same frame), see CropDataset
    target: str = "mask"            # "mask": forged pixels; "xray": the blending boundary (localize.targets)

    def target_of(self, mask: np.ndarray) -> np.ndarray:
        """What the U-Net is trained to output for a forged mask in [0, 1]."""
        return xray_target(mask) if self.target == "xray" else np.asarray(mask, np.float32)


class CropDataset:
    """Crops in memory -> (image float CHW normalized, mask float 1xSxS, label float).

    Training: an epoch *plan* of (kind, crop set, frame) is drawn from a seed and the
    epoch (``set_epoch``), the same on every DDP rank; a DistributedSampler then shards
    its indices. Validation (``train=False``): every crop once, plus a fixed
    self-blended copy of each real crop when ``selfblend > 0`` (so a set of real videos
    alone can be validated), with no augmentation.

    ``spec.paired``: the plan is made of (real, fake) pairs of the *same* frame (a crop
    and its self-blend, or a manipulated crop and its original's crop at the same frame),
    kept together by :class:`EpochSampler`, so both land in one batch. The face is then
    on both sides of every comparison and only the forgery evidence separates them: the
    model cannot lower its loss by finding the face (SBI's batch construction).
    """

    def __init__(self, sets: Sequence[CropSet], spec: SampleSpec, *, train: bool, seed: int = 0,
                 augment: float = 1.0, defocus: float = 0.0, low_light: float = 0.0, seed_augment: bool = True):
        self.sets = list(sets)
        self.spec = spec
        self.train = train
        self.seed = seed
        self.seed_augment = seed_augment
        self.transform = train_transform(augment, defocus, low_light) if train else None
        self.real = [(si, j) for si, s in enumerate(self.sets) if s.source.label == 0 for j in range(len(s.images))]
        self.fake = [(si, j) for si, s in enumerate(self.sets) if s.source.label == 1 for j in range(len(s.images))]
        self.partner = self._partners() if spec.paired else {}
        self.epoch = 0
        self.plan: list[tuple[int, int, int]] = []
        self.set_epoch(0)

    def _partners(self) -> dict[tuple[int, int], tuple[int, int]]:
        """(fake set, crop) -> (its original's set, crop of the same frame index)."""
        by_video = {str(s.source.video): si for si, s in enumerate(self.sets)
                    if s.source.label == 0 and s.source.face == "main"}
        out = {}
        for si, s in enumerate(self.sets):
            if s.source.label != 1 or s.source.track_video is None:
                continue
            oi = by_video.get(str(s.source.track_video))
            if oi is None:
                continue
            where = {int(f): j for j, f in enumerate(self.sets[oi].frames)}
            for j, f in enumerate(s.frames):
                if int(f) in where:
                    out[(si, j)] = (oi, where[int(f)])
        return out

    def set_epoch(self, epoch: int) -> None:
        if self.plan and epoch == self.epoch:
            return
        self.epoch = epoch
        if self.train:
            self.plan = self._train_plan(np.random.default_rng([self.seed, epoch]))
        else:
            self.plan = [(REAL, si, j) for si, j in self.real] + [(FAKE, si, j) for si, j in self.fake]
            if self.spec.selfblend > 0:
                self.plan += [(BLEND, si, j) for si, j in self.real]

    def _train_plan(self, rng: np.random.Generator) -> list[tuple[int, int, int]]:
        sb = self.spec.selfblend if self.real else 0.0
        if not self.fake and sb <= 0:
            raise InputError(None, "no manipulated training crops and self-blending is off: nothing to learn")
        if not self.fake:
            sb = 1.0
        n_real, n_fake = len(self.real), len(self.fake)
        length = self.spec.length or 2 * max(n_real, n_fake, 1)
        if self.spec.balanced:
            nr = length // 2 if n_real else 0
        else:
            nr = int(round(length * n_real / max(1, n_real + n_fake)))
        nf = length - nr
        nb = int(round(nf * sb))
        if self.spec.paired:
            return self._paired_plan(rng, length, sb)
        plan = []
        if nr:
            plan += [(REAL, *self.real[i]) for i in rng.integers(0, n_real, nr)]
        if nb:
            plan += [(BLEND, *self.real[i]) for i in rng.integers(0, n_real, nb)]
        if nf - nb:
            plan += [(FAKE, *self.fake[i]) for i in rng.integers(0, n_fake, nf - nb)]
        order = rng.permutation(len(plan))
        return [plan[i] for i in order]

    def _paired_plan(self, rng: np.random.Generator, length: int, sb: float) -> list[tuple[int, int, int]]:
        """length // 2 pairs: a share ``sb`` (crop, its self-blend), the rest (original
        crop, manipulated crop) of the same frame; fakes without an original crop fall
        back to a random real crop."""
        n_pairs = max(1, length // 2)
        nb = int(round(n_pairs * sb)) if self.real else 0
        plan: list[tuple[int, int, int]] = []
        for i in rng.integers(0, len(self.real), nb) if nb else []:
            plan += [(REAL, *self.real[i]), (BLEND, *self.real[i])]
        for i in rng.integers(0, len(self.fake), n_pairs - nb) if n_pairs - nb and self.fake else []:
            f = self.fake[i]
            r = self.partner.get(f) or self.real[int(rng.integers(0, len(self.real)))]
            plan += [(REAL, *r), (FAKE, *f)]
        order = rng.permutation(len(plan) // 2)
        return [plan[2 * k + h] for k in order for h in (0, 1)]

    def __len__(self) -> int:
        return len(self.plan)

    def _locate(self, i: int) -> int:
        """Indices from :class:`EpochSampler` carry the epoch (``epoch * len + i``), so
        persistent workers in other processes draw the same plan as the main process."""
        epoch, i = divmod(int(i), len(self.plan))
        if self.train and epoch != self.epoch:
            self.set_epoch(epoch)
        return i

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(RGB uint8 crop, mask float32 in [0, 1], kind) before augmentation."""
        i = self._locate(i)
        kind, si, j = self.plan[i]
        s = self.sets[si]
        img = s.images[j]
        if kind == BLEND:
            from .forge.selfblend import self_blend

            rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, i, 7])
            img, w = self_blend(img, s.landmarks[j], rng)
            mask = (w > self.spec.blend_threshold).astype(np.float32)
        else:
            mask = s.masks[j].astype(np.float32) / 255.0
        return img, mask, kind

    def __getitem__(self, i: int):
        import torch

        from .model import normalize

        img, mask, kind = self.sample(i)
        if self.transform is not None:
            if self.seed_augment:
                # one stream the transforms draw from in turn (albumentations' own seed= gives every
                # transform the same seed, so a flip's and an affine's draws would coincide)
                ss = np.random.SeedSequence([self.seed, self.epoch, i, 13])
                self.transform.set_random_state(np.random.default_rng(ss),
                                                random.Random(int(ss.generate_state(1)[0])))
            r = self.transform(image=img, mask=mask)
            img, mask = r["image"], r["mask"]
        mask = self.spec.target_of(mask)
        x = normalize(img[None])[0]
        label = 0.0 if kind == REAL else 1.0
        return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(mask, np.float32)[None]), \
            torch.tensor(label, dtype=torch.float32)

    def kind_of(self, i: int) -> int:
        return self.plan[i % len(self.plan)][0]

    def track_of(self, i: int) -> str:
        """Which face of its video crop ``i`` shows: "main", or "others" for every other face
        (``data.other_faces``), which validation scores as one more track of the video."""
        kind, si, _ = self.plan[i]
        return "others" if self.sets[si].source.key.endswith(OTHERS_KEY_SUFFIX) else "main"

    def video_of(self, i: int) -> str:
        """Validation grouping for per-video scores: the source key (+ BLEND_KEY_SUFFIX). A
        video's other faces join its main face, as analysis scores a video by all its faces."""
        kind, si, _ = self.plan[i]
        key = self.sets[si].source.key.removesuffix(OTHERS_KEY_SUFFIX)
        return key + (BLEND_KEY_SUFFIX if kind == BLEND else "")


class EpochSampler:
    """A DistributedSampler (shuffled per epoch, sharded by rank; one replica without
    DDP) whose indices carry the epoch for :class:`CropDataset`."""

    def __init__(self, dataset: "CropDataset", *, num_replicas: int = 1, rank: int = 0, seed: int = 0):
        from torch.utils.data.distributed import DistributedSampler

        self.n = len(dataset)
        self.paired = bool(getattr(dataset, "spec", None) and dataset.spec.paired)
        self.world, self.rank, self.seed = num_replicas, rank, seed
        self.base = DistributedSampler(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                                       drop_last=True)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.base.set_epoch(epoch)

    def __iter__(self):
        off = self.epoch * self.n
        if self.paired:  # shuffle and shard whole (real, fake) pairs, never split one
            n_pairs = self.n // 2 // self.world * self.world
            order = np.random.default_rng([self.seed, self.epoch, 11]).permutation(self.n // 2)[:n_pairs]
            return (off + 2 * int(k) + h for k in order[self.rank::self.world] for h in (0, 1))
        return (off + i for i in self.base)

    def __len__(self) -> int:
        if self.paired:
            return self.n // 2 // self.world * 2
        return len(self.base)


def mean_fake_mask(sets: Sequence[CropSet], spec: SampleSpec, seed: int = 0, n_blend: int = 64) -> np.ndarray:
    """Average forged-pixel map of the training fakes (manipulated crops and a sample
    of self-blends): thresholded at 0.5 it is the constant 'face-shaped' mask baseline
    a model must beat to show it localizes rather than finds the face."""
    acc, n = None, 0
    for s in sets:
        if s.source.label == 1 and len(s.masks):
            m = sum(spec.target_of(x).astype(np.float64) for x in s.masks.astype(np.float32) / 255.0)
            acc = m if acc is None else acc + m
            n += len(s.masks)
    if spec.selfblend > 0:
        reals = [(s, j) for s in sets if s.source.label == 0 for j in range(len(s.images))]
        if reals:
            from .forge.selfblend import self_blend

            rng = np.random.default_rng(seed)
            for k in rng.integers(0, len(reals), min(n_blend, len(reals))):
                s, j = reals[k]
                _, w = self_blend(s.images[j], s.landmarks[j], rng)
                m = spec.target_of((w > spec.blend_threshold).astype(np.float32)).astype(np.float64)
                acc = m if acc is None else acc + m
                n += 1
    if acc is None:
        raise InputError(None, "no fake training crops to build the constant-mask baseline from")
    return (acc / n).astype(np.float32)


def split_sets(sets: Sequence[CropSet], splits: dict[str, str]) -> dict[str, list[CropSet]]:
    out: dict[str, list[CropSet]] = {"train": [], "val": [], "test": []}
    for s in sets:
        out.setdefault(splits.get(s.source.identity, "train"), []).append(s)
    return out


def summarize_sets(sets: Iterable[CropSet]) -> dict[str, Any]:
    """Counts for a checkpoint's record. A video's other faces (``data.other_faces``) are its
    crops, not another video."""
    sets = list(sets)
    main = [s for s in sets if s.source.face == "main"]
    out = {
        "videos": len(main),
        "real_videos": sum(s.source.label == 0 for s in main),
        "fake_videos": sum(s.source.label == 1 for s in main),
        "real_crops": int(sum(len(s.images) for s in sets if s.source.label == 0)),
        "fake_crops": int(sum(len(s.images) for s in sets if s.source.label == 1)),
        "identities": sorted({s.source.identity for s in sets}),
    }
    others = [s for s in sets if s.source.face != "main"]
    if others:
        out["other_face_crops"] = int(sum(len(s.images) for s in others))
        out["videos_with_other_faces"] = len(others)
    return out
