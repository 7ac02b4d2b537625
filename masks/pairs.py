"""Find original/manipulated pairs in a dataset: FF++ trees, DFDC folders, CSV pair lists.

Every reader returns the same :class:`Pair` records so that mask derivation, the
forge and training see one shape of data. A pair whose original cannot be found is
*returned* with ``problem`` set (never dropped silently): the dataset runner lists it
as a bad member with that reason.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from localize.errors import InputError
from localize.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter", "DeepFakeDetection")
FFPP_COMPRESSIONS = ("raw", "c0", "c23", "c40")
# FF++ calls uncompressed footage "raw" in its downloader and "c0" in the paper; treat
# them as one level when pairing a fake with its original.
_EQUIVALENT_COMP = {"raw": ("raw", "c0"), "c0": ("c0", "raw")}
# DeepFakeDetection: <target>_<source>__<scene>__<hash>.mp4 -> original <target>__<scene>.mp4
_DFD_NAME = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)__(?P<scene>.+?)__(?P<hash>[A-Za-z0-9]+)$")
_FFPP_NAME = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)$")


@dataclass
class Pair:
    """One manipulated video (or image) and the original it was made from."""

    key: str                      # unique id in the dataset, e.g. "Deepfakes/c23/519_515"
    original: Path
    manipulated: Path
    method: str | None = None     # Deepfakes, Face2Face, ..., "DFDC", or a CSV's method column
    compression: str | None = None  # raw/c0/c23/c40 for FF++, None when unknown
    split: str | None = None      # train/val/test when the dataset says so
    target: str | None = None     # id of the person whose video was manipulated
    source: str | None = None     # id of the person whose face/expressions were used
    mask: Path | None = None      # exact/official mask video shipped with the dataset
    dataset: str = "pairs"        # "ffpp", "dfdc", "csv" or "pairs"
    rel: str = ""                 # manipulated path relative to the dataset root, no suffix
    problem: str | None = None    # why the pair cannot be used (e.g. original missing)
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None


def find_pairs(root: str | Path, *, derived: str | Path | None = None) -> list[Pair]:
    """All pairs under ``root``: an FF++ tree, a DFDC folder (or folder of folders with
    ``metadata.json``), or a CSV pair list (``root`` is the .csv file, or a folder that
    holds exactly one). With ``derived`` (an output folder of ``derive_dataset``), pairs
    that have no official mask get ``extra["derived_mask"]`` pointing at the derived one.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(root, "no such file or folder")
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise InputError(root, "not a dataset: expected a folder (FF++ or DFDC) or a .csv pair list")
        pairs = read_csv_pairs(root)
    elif (root / "original_sequences").is_dir() or (root / "manipulated_sequences").is_dir():
        pairs = read_ffpp(root)
    elif (root / "metadata.json").is_file() or any(root.glob("*/metadata.json")):
        pairs = read_dfdc(root)
    else:
        csvs = sorted(root.glob("*.csv"))
        if len(csvs) == 1:
            pairs = read_csv_pairs(csvs[0])
        else:
            raise InputError(root, "unknown dataset layout: no original_sequences/manipulated_sequences "
                                   "(FF++), no metadata.json (DFDC) and not exactly one .csv pair list")
    if derived is not None:
        for p in pairs:
            m = derived_mask_path(Path(derived), p)
            if m.is_file():
                p.extra["derived_mask"] = m
    return pairs


# ---------------------------------------------------------------- FF++
def read_splits(root: Path) -> dict[str, str]:
    """``splits/{train,val,test}.json`` (and the ``fold<j>.json`` of a cross-fitting corpus
    of `localize forge --folds`) -> {"<target>_<source>": split, "<id>": split}.

    Each entry [a, b] puts both fakes a_b and b_a, and both originals, in that split."""
    out: dict[str, str] = {}
    folder = root / "splits"
    folds = sorted(p.stem for p in folder.glob("fold*.json")) if folder.is_dir() else []
    for split in ("train", "val", "test", *folds):
        f = folder / f"{split}.json"
        if not f.is_file():
            continue
        try:
            entries = json.loads(f.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f, f"not a valid FF++ split file ({e})") from None
        for entry in entries:
            if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                raise InputError(f, f"split entries must be [target, source] pairs, got {entry!r}")
            a, b = (str(x) for x in entry)
            for k in (f"{a}_{b}", f"{b}_{a}", a, b):
                out[k] = split
    return out


def _media(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES
                  and not p.name.startswith("."))


def _find_original(root: Path, group: str, comp: str, stem: str) -> tuple[Path, str | None]:
    """Original at the fake's compression (raw and c0 count as one), or the path it
    should have had plus the reason it is missing."""
    for c in _EQUIVALENT_COMP.get(comp, (comp,)):
        folder = root / "original_sequences" / group / c / "videos"
        for p in (folder / f"{stem}.mp4", *(folder.glob(f"{stem}.*") if folder.is_dir() else ())):
            if p.is_file():
                return p, None
    expected = root / "original_sequences" / group / comp / "videos" / f"{stem}.mp4"
    other = sorted(c for c in FFPP_COMPRESSIONS
                   if (root / "original_sequences" / group / c / "videos" / f"{stem}.mp4").is_file())
    why = f"original {expected.relative_to(root)} is missing"
    if other:
        why += f" (found only at {', '.join(other)}; a fake pairs with its original at the same compression)"
    return expected, why


def read_ffpp(root: str | Path) -> list[Pair]:
    """Pairs of an FF++ tree (any subset of methods and compressions)."""
    root = Path(root)
    splits = read_splits(root)
    pairs: list[Pair] = []
    man = root / "manipulated_sequences"
    methods = sorted(p for p in man.iterdir() if p.is_dir()) if man.is_dir() else []
    for mdir in methods:
        method = mdir.name
        mask_dir = mdir / "masks" / "videos"
        for cdir in sorted(p for p in mdir.iterdir() if p.is_dir() and p.name != "masks"):
            comp = cdir.name
            for video in _media(cdir / "videos"):
                stem = video.stem
                rel = str(video.relative_to(root).with_suffix("").as_posix())
                m = _DFD_NAME.match(stem)
                if m:
                    target, source = m["target"], m["source"]
                    orig_stem, group = f"{target}__{m['scene']}", "actors"
                else:
                    m = _FFPP_NAME.match(stem)
                    if not m:
                        pairs.append(Pair(key=f"{method}/{comp}/{stem}", original=Path(), manipulated=video,
                                          method=method, compression=comp, dataset="ffpp", rel=rel,
                                          problem=f"name {video.name!r} is neither <target>_<source> (FF++) nor "
                                                  "<t>_<s>__<scene>__<hash> (DeepFakeDetection)"))
                        continue
                    target, source = m["target"], m["source"]
                    orig_stem, group = target, "youtube"
                original, problem = _find_original(root, group, comp, orig_stem)
                mask = mask_dir / f"{stem}.mp4"
                split = splits.get(f"{target}_{source}") if group == "youtube" else None
                pairs.append(Pair(key=f"{method}/{comp}/{stem}", original=original, manipulated=video,
                                  method=method, compression=comp, split=split, target=target,
                                  source=source, mask=mask if mask.is_file() else None, dataset="ffpp",
                                  rel=rel, problem=problem))
    if not pairs and not methods:
        raise InputError(root, "FF++ tree has no manipulated_sequences/<Method>/<comp>/videos")
    return pairs


# ---------------------------------------------------------------- DFDC
def read_dfdc(root: str | Path) -> list[Pair]:
    """Pairs of DFDC folders: ``metadata.json`` maps each FAKE to its original.

    Originals are looked up in the same folder first, then anywhere in the dataset
    (the DFDC parts occasionally keep an original in a neighbouring part)."""
    root = Path(root)
    metas = [root / "metadata.json"] if (root / "metadata.json").is_file() else sorted(root.glob("*/metadata.json"))
    index: dict[str, Path] = {}
    for meta in metas:
        for p in _media(meta.parent):
            index.setdefault(p.name, p)
    pairs: list[Pair] = []
    for meta in metas:
        try:
            data = json.loads(meta.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(meta, f"not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise InputError(meta, "expected an object mapping file names to {label, original}")
        folder = meta.parent
        for name, info in sorted(data.items()):
            if not isinstance(info, dict) or str(info.get("label", "")).upper() != "FAKE":
                continue
            video = folder / name
            rel = str(video.relative_to(root).with_suffix("").as_posix())
            key = rel
            orig_name = info.get("original")
            problem = None
            if not orig_name:
                original, problem = Path(), "metadata.json names no original for this FAKE"
            else:
                original = folder / orig_name
                if not original.is_file():
                    if orig_name in index:
                        original = index[orig_name]
                    else:
                        problem = f"original {orig_name} is missing"
            if problem is None and not video.is_file():
                problem = f"manipulated video {name} listed in metadata.json is missing"
            pairs.append(Pair(key=key, original=original, manipulated=video, method="DFDC",
                              split=info.get("split"), dataset="dfdc", rel=rel, problem=problem,
                              extra={k: v for k, v in info.items() if k not in ("label", "original", "split")}))
    return pairs


# ---------------------------------------------------------------- CSV
_ORIG_COLS = ("original", "real", "orig", "source_video")
_MAN_COLS = ("manipulated", "fake", "forged", "manipulated_video")


def read_csv_pairs(path: str | Path) -> list[Pair]:
    """A CSV with columns ``original, manipulated[, method][, split][, mask]`` (a header
    row naming them, or these columns in this order without one). Paths are relative
    to the CSV's folder."""
    path = Path(path)
    base = path.parent
    try:
        rows = [r for r in csv.reader(path.read_text(encoding="utf-8-sig").splitlines()) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError as e:
        raise InputError(path, f"not a text CSV ({e})") from None
    if not rows:
        raise InputError(path, "pair list is empty")
    head = [c.strip().lower() for c in rows[0]]
    if any(c in _ORIG_COLS for c in head) and any(c in _MAN_COLS for c in head):
        cols = {name: i for i, name in enumerate(head)}
        oi = next(cols[c] for c in _ORIG_COLS if c in cols)
        mi = next(cols[c] for c in _MAN_COLS if c in cols)
        method_i, split_i, mask_i = cols.get("method"), cols.get("split"), cols.get("mask")
        body = rows[1:]
        first_line = 2
    else:
        oi, mi, method_i, split_i, mask_i = 0, 1, 2, 3, 4
        body = rows
        first_line = 1
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    for n, r in enumerate(body, start=first_line):
        def col(i):
            return r[i].strip() if i is not None and i < len(r) and r[i].strip() else None

        o, m = col(oi), col(mi)
        if not o or not m:
            raise InputError(path, f"line {n}: needs an original and a manipulated path")
        original = (base / o) if not Path(o).is_absolute() else Path(o)
        video = (base / m) if not Path(m).is_absolute() else Path(m)
        try:
            rel = video.resolve().relative_to(base.resolve()).with_suffix("").as_posix()
        except ValueError:
            rel = "external/" + video.with_suffix("").name
        key = rel
        if key in seen:
            seen[key] += 1
            key = f"{rel}#{seen[rel]}"
            rel = f"{rel}_{seen[rel]}"
        else:
            seen[key] = 0
        problem = None
        if not original.is_file():
            problem = f"original {o} is missing"
        elif not video.is_file():
            problem = f"manipulated {m} is missing"
        mask = col(mask_i)
        pairs.append(Pair(key=key, original=original, manipulated=video, method=col(method_i),
                          split=col(split_i), mask=(base / mask) if mask else None, dataset="csv", rel=rel,
                          problem=problem, extra={"line": n}))
    return pairs


def derived_mask_path(out: str | Path, pair: Pair, kind: str = "mask") -> Path:
    """Where ``derive_dataset`` writes a pair's outputs: the input layout mirrored under
    ``out`` with ``<name>.mask.mp4`` (binary, lossless), ``<name>.soft.mp4`` (difference map)
    and ``<name>.sheet.jpg`` (contact sheet) beside where the manipulated video would be
    (``.mask.png``/``.soft.png`` for image pairs)."""
    still = pair.manipulated.suffix.lower() in IMAGE_SUFFIXES
    suffix = {"mask": ".mask.png" if still else ".mask.mp4", "soft": ".soft.png" if still else ".soft.mp4",
              "sheet": ".sheet.jpg"}[kind]
    rel = pair.rel or pair.key
    return Path(out) / f"{rel}{suffix}"


def single_pair(original: str | Path, manipulated: str | Path) -> Pair:
    """A pair given on the command line (videos or images)."""
    original, manipulated = Path(original), Path(manipulated)
    return Pair(key=manipulated.stem, original=original, manipulated=manipulated, dataset="pairs",
                rel=manipulated.stem)


def summarize(pairs: Iterable[Pair]) -> dict[str, int]:
    """Counts per method and how many pairs are unusable (for logs and reports)."""
    out: dict[str, int] = {}
    for p in pairs:
        out[p.method or "?"] = out.get(p.method or "?", 0) + 1
        if not p.ok:
            out["problems"] = out.get("problems", 0) + 1
    return out
