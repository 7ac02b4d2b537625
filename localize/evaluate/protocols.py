"""Evaluation protocols: which videos are tested, with which labels, and against
which person each is checked.

* ``people`` (``people/<name>/`` + ``reals/``): every identity with a video is split
  in time: the first ``reference_fraction`` of its video(s) (plus its photos) is the
  reference, the rest is a held-out *real* test clip. People with several videos
  keep whole videos as references and test on the last one. Photo-only people are
  enrolled (they are cohort members and may be the face shown in a swap).
* ``ffpp_poi`` (FF++ person-of-interest): each original is split into ``n_reference``
  reference clips (the first ``reference_seconds``) and test clips (the rest); each
  manipulated video is cut into the *same* test clips. An identity-replaced fake is
  checked against the identity whose face it shows *when that identity is enrolled*;
  otherwise (FF++ 519_515 here: 515's original is not available) against its target,
  which it must NOT match (its face is not the target's). Identity-remained methods
  (Face2Face, NeuralTextures) are checked against their target.
* ``pairs`` (GHOST): the original performer clip is split in half: the first half
  enrols the performer, the second half of the original is a real test clip and the
  second halves of the swaps are fakes checked against the performer. A swap whose
  face belongs to an enrolled person (``swap_elon_musk`` -> ``elon_musk``) is also
  checked against that person (``checked_as="face-shown"``).
* ``forge``: fakes made by ``localize.forge`` from the *test* clips of the other
  protocols (faceswap = identity-replaced, reenact/lipsync = identity-remained), with
  their reals, at c0 (exact masks) and c23/c40.
* ``csv``: any labelled list ``path,label,kind,method,identity,original`` (``original``
  optional: the real video it was made from; ``identity``: the person it is checked
  against, who must be enrolled through ``identities`` in the config).

Clips cut from longer files are written losslessly (libx264rgb qp 0) under the work
folder, so every detector reads the same pixels from an ordinary file.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, iter_frames, probe, write_video

REPLACED_METHODS = {"deepfakes", "faceswap", "faceshifter", "forgefaceswap", "ghost", "swap", "deepfakedetection"}
REMAINED_METHODS = {"face2face", "neuraltextures", "forgereenact", "forgelipsync", "reenact", "lipsync"}


@dataclass(frozen=True)
class Segment:
    """A file or a frame range [start, end) of it (photos: whole file)."""

    path: str
    start: int | None = None
    end: int | None = None

    @property
    def frame_range(self) -> tuple[int, int] | None:
        return None if self.start is None else (int(self.start), int(self.end))

    @property
    def is_image(self) -> bool:
        return Path(self.path).suffix.lower() in IMAGE_SUFFIXES


@dataclass
class Identity:
    name: str
    references: list[Segment] = field(default_factory=list)


@dataclass
class Case:
    """One test video. ``label`` 1 = fake. ``identity`` is the person it is checked against."""

    case_id: str
    path: str
    label: int
    kind: str           # "real" | "identity-replaced" | "identity-remained"
    method: str         # "real", "Deepfakes", "ForgeReenact", "ghost", ...
    identity: str | None
    protocol: str
    original: str | None = None
    mask: str | None = None      # lossless mask video aligned with path (forge c0), if any
    checked_as: str = "claimed"  # "claimed" (target) | "face-shown"
    group: str = ""              # source video: cases from one source are not independent
    variants: dict[str, str] = field(default_factory=dict)  # ready-made degradations (forge c23/c40)


@dataclass
class Plan:
    identities: dict[str, Identity] = field(default_factory=dict)
    cases: list[Case] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_identity(self, name: str, refs: list[Segment]) -> None:
        self.identities.setdefault(name, Identity(name)).references.extend(refs)

    def to_dict(self) -> dict[str, Any]:
        return {"identities": {k: [asdict(s) for s in v.references] for k, v in self.identities.items()},
                "cases": [asdict(c) for c in self.cases], "notes": self.notes}


def kind_of(method: str) -> str:
    m = method.lower().replace("_", "").replace("-", "")
    if m == "real":
        return "real"
    if m in REPLACED_METHODS:
        return "identity-replaced"
    if m in REMAINED_METHODS:
        return "identity-remained"
    raise InputError(None, f"unknown manipulation method {method!r}: give its kind in the CSV")


def cut(seg: Segment, out: Path) -> str:
    """Write a segment losslessly (once) and return its path; whole files are used as they are."""
    if seg.frame_range is None:
        return seg.path
    if out.exists():
        return str(out)
    info = probe(seg.path)
    frames = (f for _, f in iter_frames(seg.path, range(seg.start, min(seg.end, info.n_frames))))
    write_video(out, frames, info.fps, lossless=True)
    return str(out)


def _media(folder: Path) -> tuple[list[Path], list[Path]]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return ([p for p in files if p.suffix.lower() in VIDEO_SUFFIXES],
            [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES])


# ---------------------------------------------------------------- protocols

def people_protocol(plan: Plan, root: Path, work: Path, *, reference_fraction: float = 0.55,
                    reals: Path | None = None, max_test_frames: int | None = 150) -> list[Path]:
    """people/<name>/ and reals/*.mp4 -> identities + held-out real clips. Returns the
    test clip files (laid out as <work>/test_sources/<identity>/<name>.mp4 for the forge)."""
    test_files = []
    entries: list[tuple[str, list[Path], list[Path]]] = []
    if root.exists():
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            vids, photos = _media(d)
            entries.append((d.name, vids, photos))
    if reals is not None and reals.exists():
        for v in _media(reals)[0]:
            entries.append((v.stem, [v], []))
    for name, vids, photos in entries:
        refs = [Segment(str(p)) for p in photos]
        tests: list[Segment] = []
        if len(vids) >= 2:
            refs += [Segment(str(p)) for p in vids[:-1]]
            tests.append(Segment(str(vids[-1])))
        elif len(vids) == 1:
            n = probe(vids[0]).n_frames
            k = int(round(reference_fraction * n))
            refs.append(Segment(str(vids[0]), 0, k))
            end = n if max_test_frames is None else min(n, k + max_test_frames)
            tests.append(Segment(str(vids[0]), k, end))
        plan.add_identity(name, refs)
        for j, seg in enumerate(tests):
            if seg.frame_range is None:  # a whole held-out video: copied too (the forge reads test_sources/)
                n = probe(seg.path).n_frames
                seg = Segment(seg.path, 0, n if max_test_frames is None else min(n, max_test_frames))
            out = work / "test_sources" / name / f"{Path(seg.path).stem}_test{j}.mp4"
            test_files.append(Path(cut(seg, out)))
            plan.cases.append(Case(f"people/{name}/{j}", str(test_files[-1]), 0, "real", "real", name, "people",
                                   original=seg.path, group=seg.path))
    return test_files


def ffpp_poi_protocol(plan: Plan, root: Path, work: Path, *, compression: str = "c23", reference_seconds: float = 20.0,
                      n_reference: int = 5, test_clip_seconds: float = 3.3) -> None:
    """FF++ person-of-interest split (see module doc)."""
    orig_dir = root / "original_sequences" / "youtube" / compression / "videos"
    if not orig_dir.exists():
        raise InputError(orig_dir, "FF++ originals not found (expected the official layout)")
    man_root = root / "manipulated_sequences"
    for orig in sorted(orig_dir.glob("*.mp4")):
        vid = orig.stem
        name = f"ffpp_{vid}"
        info = probe(orig)
        ref_end = min(info.n_frames - int(test_clip_seconds * info.fps), int(reference_seconds * info.fps))
        step = ref_end // n_reference
        plan.add_identity(name, [Segment(str(orig), i * step, (i + 1) * step) for i in range(n_reference)])
        clip = int(round(test_clip_seconds * info.fps))
        starts = list(range(ref_end, info.n_frames - clip + 1, clip))
        for j, s in enumerate(starts):
            seg = Segment(str(orig), s, s + clip)
            p = cut(seg, work / "ffpp" / f"{vid}_{j}.mp4")
            plan.cases.append(Case(f"ffpp/{vid}/{j}", p, 0, "real", "real", name, "ffpp_poi", original=str(orig),
                                   group=str(orig)))
        if not man_root.exists():
            continue
        for mdir in sorted(p for p in man_root.iterdir() if p.is_dir()):
            for fake in sorted((mdir / compression / "videos").glob(f"{vid}_*.mp4")):
                src = fake.stem.split("_", 1)[1]
                kind = kind_of(mdir.name)
                shown = f"ffpp_{src}"
                if kind == "identity-replaced" and shown in [f"ffpp_{o.stem}" for o in orig_dir.glob("*.mp4")]:
                    checked, who = "face-shown", shown
                else:
                    checked, who = "claimed", name
                    if kind == "identity-replaced":
                        plan.notes.append(f"{fake.name}: shows {src}'s face, whose original is not available; "
                                          f"checked against its target {vid} (it must not match)")
                for j, s in enumerate(starts):
                    p = cut(Segment(str(fake), s, s + clip), work / "ffpp" / f"{fake.stem}_{j}.mp4")
                    plan.cases.append(Case(f"ffpp/{fake.stem}/{j}", p, 1, kind, mdir.name, who, "ffpp_poi",
                                           original=str(orig), checked_as=checked, group=str(orig)))


def pairs_protocol(plan: Plan, root: Path, work: Path, *, name: str = "ghost_performer",
                   shown: dict[str, str] | None = None) -> None:
    """An original + face swaps of the same footage (GHOST layout: original.* + swap_*.*)."""
    originals = [p for p in root.iterdir() if p.stem == "original"]
    if not originals:
        raise InputError(root, "no original.* video in the pair folder")
    orig = originals[0]
    n = probe(orig).n_frames
    half = n // 2
    plan.add_identity(name, [Segment(str(orig), 0, half)])
    p = cut(Segment(str(orig), half, n), work / "pairs" / f"{root.name}_original.mp4")
    plan.cases.append(Case(f"pairs/{root.name}/original", p, 0, "real", "real", name, "pairs",
                           original=str(orig), group=str(orig)))
    for fake in sorted(root.glob("swap_*")):
        p = cut(Segment(str(fake), half, n), work / "pairs" / f"{root.name}_{fake.stem}.mp4")
        plan.cases.append(Case(f"pairs/{root.name}/{fake.stem}", p, 1, "identity-replaced", root.name, name,
                               "pairs", original=str(orig), group=str(orig)))
        person = (shown or {}).get(fake.stem)
        if person:
            # the whole swap: none of its frames were used as a reference for this person
            plan.cases.append(Case(f"pairs/{root.name}/{fake.stem}@{person}", str(fake), 1, "identity-replaced",
                                   root.name, person, "pairs", original=str(orig), checked_as="face-shown",
                                   group=str(orig)))


def forge_protocol(plan: Plan, sources: list[Path], work: Path, *, methods: list[str], max_frames: int = 150,
                   seed: int = 0, progress: bool = True) -> Path:
    """Forge fakes from the real test clips and add reals + fakes (c0, with c23/c40 variants)."""
    from ..forge.corpus import build_corpus, fake_path, mask_path, real_path
    from ..forge.methods import METHODS

    out = work / "forge"
    src_root = work / "test_sources"
    build_corpus(out, sources=[src_root], methods=methods, seed=seed, max_frames=max_frames, progress=progress)
    manifest = json.loads((out / "manifest.json").read_text())
    reals = {r["id"]: r for r in manifest_list(manifest, "reals")}
    photos = {p["id"]: p for p in manifest_list(manifest, "photos")}
    ident = {k: v["identity"] for k, v in {**photos, **reals}.items()}
    # the forge's reals replace the plain test clips of the same sources (same pixels, c0)
    forged_from = {str(Path(r["source"]).resolve()) for r in reals.values()}
    # the real video each clip was cut from (for "seen in training" and grouping)
    root_of = {str(Path(c.path).resolve()): (c.original or c.path) for c in plan.cases}
    plan.cases = [c for c in plan.cases if not (c.protocol == "people" and str(Path(c.path).resolve()) in forged_from)]
    for r in reals.values():
        r["source"] = root_of.get(str(Path(r["source"]).resolve()), r["source"])
    for rid, r in sorted(reals.items()):
        p = real_path(out, rid, "c0")
        plan.cases.append(Case(f"forge/real/{rid}", str(p), 0, "real", "real", r["identity"], "forge",
                               original=r["source"], group=r["source"],
                               variants={c: str(real_path(out, rid, c)) for c in ("c23", "c40")}))
    for f in manifest_list(manifest, "fakes"):
        m = METHODS[f["method"]]
        kind = m.identity
        if kind == "identity-replaced":
            who, checked = ident.get(f["source"]), "face-shown"
            if who is None or who not in plan.identities:
                who, checked = ident[f["target"]], "claimed"
        else:
            who, checked = ident[f["target"]], "claimed"
        plan.cases.append(Case(
            f"forge/{m.folder}/{f['name']}", str(fake_path(out, m, f["name"], "c0")), 1, kind, m.folder, who, "forge",
            original=reals[f["target"]]["source"], mask=str(mask_path(out, m, f["name"])), checked_as=checked,
            group=reals[f["target"]]["source"],
            variants={c: str(fake_path(out, m, f["name"], c)) for c in ("c23", "c40")}))
    return out


def manifest_list(manifest: dict, key: str) -> list[dict]:
    v = manifest.get(key, [])
    return list(v.values()) if isinstance(v, dict) else list(v)


def csv_protocol(plan: Plan, path: Path, base: Path | None = None) -> None:
    """Rows ``path,label,kind,method,identity,original`` (header required)."""
    base = base or path.parent
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0] or "label" not in rows[0]:
        raise InputError(path, "CSV needs a header with at least path,label (and kind,method,identity,original)")
    for i, r in enumerate(rows, 2):
        p = Path(r["path"])
        p = p if p.is_absolute() else base / p
        if not p.exists():
            raise InputError(path, f"line {i}: {p} does not exist")
        label = str(r["label"]).strip().lower()
        y = 1 if label in ("1", "fake", "true") else 0 if label in ("0", "real", "false") else None
        if y is None:
            raise InputError(path, f"line {i}: label must be 0/1 or real/fake, got {r['label']!r}")
        method = (r.get("method") or ("real" if y == 0 else "unknown")).strip()
        kind = (r.get("kind") or "").strip() or (kind_of(method) if method != "unknown" else "unknown")
        plan.cases.append(Case(f"csv/{i}", str(p), y, kind, method, (r.get("identity") or "").strip() or None,
                               "csv", original=(r.get("original") or "").strip() or None,
                               group=(r.get("original") or str(p)).strip()))
