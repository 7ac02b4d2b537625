"""Person profiles: build from reference features, store as files, score videos.

A profile lives in ``<profiles>/<name>/``, where ``<profiles>`` is ``--profiles DIR``,
else ``$LOCALIZE_HOME/profiles``, else ``~/.local/share/localize/profiles``:

* ``profile.json``: name, feature parameters, scoring configuration, reference
  sources (path, sha256, segment, what was used), cohort sources, per-family model
  kind and calibration, versions. Written last: a folder without it is not a profile.
* ``features.npz``: reference vectors per family with their source/frame ranges,
  the cohort vectors, the population scaler, and the genuine/impostor distances the
  calibration was fitted on. Models are re-fitted from these on load (milliseconds;
  no pickles).

Video score (POI-Forensics style): each window gets a fake log-odds per family; a
track's family score is a *low* percentile of its windows (the video must fail to
look like the person even in its most person-like stretches, so one odd window in a
real video does not flag it); a third family, identity *stability* (``stability.py``:
how much the face descriptor jumps between samples, against the person's references),
is scored per track; the track's fused score is the sum of its family log-odds (naive Bayes), and the
video's score is the *minimum over tracks* (the claimed person only needs to be one of
the faces shown).
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError, NoFaceError
from .features import BEHAVIOUR_NAMES, FeatureParams, TrackFeatures, VideoFeatures
from .stability import StabilityModel
from .models import (Calibration, FamilyModel, OneClassModel, RefSet, Scaler, fit_family, fuse_log_odds,
                     sigmoid)

FAMILIES = ("appearance", "behaviour")          # one-class models with cohort calibration
SCORED = (*FAMILIES, "stability")                # every family a video gets a score for
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass
class ScoringConfig:
    """Choices made by measurement (benchmarks/identity_models.py); stored per profile."""

    appearance_model: str = "nearest"
    behaviour_model: str = "ocsvm"
    fusion: str = "sum"            # of the track's family log-odds (appearance, behaviour, stability):
                                   # calibrated log-odds of independent evidence add (naive Bayes)
    stability: bool = True         # score identity stability (stability.py)
    track_quantile: float = 0.25   # low percentile of window log-odds per track
    threshold: float = 0.5         # stated operating point on the fused fake probability


def profiles_dir(override: str | Path | None = None) -> Path:
    if override:
        return Path(override)
    home = os.environ.get("LOCALIZE_HOME")
    if home:
        return Path(home) / "profiles"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "localize" / "profiles"


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise InputError(None, f"person name {name!r} must be letters, digits, '_', '-' or '.' (max 100)")
    return name


@dataclass
class Profile:
    name: str
    params: FeatureParams
    config: ScoringConfig
    sources: list[dict]
    cohort_sources: list[dict]
    families: dict[str, FamilyModel]
    diagnostics: dict = field(default_factory=dict)
    created: str = ""
    stability: StabilityModel | None = None

    @property
    def n_reference_videos(self) -> int:
        return sum(1 for s in self.sources if not s.get("is_image"))


# ---------------------------------------------------------------- building

def main_track(vf: VideoFeatures) -> TrackFeatures | None:
    """The reference person's track: most windows, then largest face."""
    if not vf.tracks:
        return None
    return max(vf.tracks, key=lambda t: (len(t.frames), t.face_size))


def _family_rows(track: TrackFeatures, family: str) -> tuple[np.ndarray, np.ndarray]:
    X = track.appearance if family == "appearance" else track.behaviour
    ok = np.isfinite(X).all(1) if len(X) else np.zeros(0, bool)
    return X[ok], track.windows[ok]


def cohort_matrix(features: Sequence[VideoFeatures], family: str) -> np.ndarray:
    rows = [_family_rows(t, family)[0] for vf in features for t in vf.tracks]
    rows = [r for r in rows if len(r)]
    d = 128 if family == "appearance" else len(BEHAVIOUR_NAMES)
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, d), np.float32)


def build_profile(name: str, references: Sequence[VideoFeatures], cohort: Sequence[VideoFeatures] | dict = (),
                  config: ScoringConfig | None = None, *, source_labels: Sequence[dict] | None = None,
                  cohort_labels: Sequence[dict] | None = None) -> Profile:
    """Fit both families from reference features (one main track per reference) and a
    cohort of other people's features (``cohort`` may also be precomputed matrices
    ``{"appearance": X, "behaviour": X}``)."""
    check_name(name)
    config = config or ScoringConfig()
    if not references:
        raise InputError(None, "no reference files to enrol")
    params = references[0].params
    sources, refs, queries = [], {f: [] for f in FAMILIES}, {f: [] for f in FAMILIES}
    for si, vf in enumerate(references):
        t = main_track(vf)
        label = dict(source_labels[si]) if source_labels else {}
        label.update(path=vf.path, sha256=vf.sha256, is_image=vf.is_image)
        if t is None:
            label.update(used=False, problem="no face found")
            sources.append(label)
            continue
        # appearance references: every descriptor of the track; queries: window means
        if len(t.descriptors):
            refs["appearance"].append((t.descriptors, si, t.desc_frames, t.desc_frames))
        for fam in FAMILIES:
            X, w = _family_rows(t, fam)
            if len(X):
                queries[fam].append((X, si, w[:, 0], w[:, 1]))
                if fam == "behaviour":
                    refs[fam].append((X, si, w[:, 0], w[:, 1]))
        label.update(used=True, track_id=int(t.track_id), n_frames=int(len(t.frames)),
                     n_descriptors=int(len(t.descriptors)),
                     n_behaviour_windows=int(np.isfinite(t.behaviour).all(1).sum()))
        sources.append(label)
    if not any(s.get("used") for s in sources):
        raise NoFaceError(references[0].path, "no face found in any reference file")

    def refset(items) -> RefSet:
        return RefSet(np.concatenate([x for x, *_ in items]).astype(np.float64),
                      np.concatenate([np.full(len(x), s) for x, s, *_ in items]),
                      np.concatenate([lo for _, _, lo, _ in items]), np.concatenate([hi for *_, hi in items]))

    if isinstance(cohort, dict):
        cohort_X = {f: np.asarray(cohort.get(f, np.zeros((0, 1)))) for f in FAMILIES}
    else:
        cohort_X = {f: cohort_matrix(cohort, f) for f in FAMILIES}
    families, diag = {}, {}
    for fam in FAMILIES:
        if not refs[fam] or not queries[fam]:
            continue
        rs, qs = refset(refs[fam]), refset(queries[fam])
        kind = config.appearance_model if fam == "appearance" else config.behaviour_model
        coh = cohort_X[fam] if len(cohort_X[fam]) else None
        try:
            fm, gen, imp = fit_family(fam, rs, qs, coh, kind, scale=(fam == "behaviour"))
        except ValueError as e:  # e.g. a single photo: no genuine score to calibrate on
            diag[fam] = {"skipped": str(e)}
            continue
        fm.queries = qs  # kept for the profile file (cohort for later enrolments)
        fm.cohort = coh if coh is not None else np.zeros((0, rs.X.shape[1]))
        families[fam] = fm
        diag[fam] = {"genuine_distances": gen, "impostor_distances": imp, "n_references": len(rs),
                     "n_queries": len(qs), "n_cohort": 0 if coh is None else len(coh)}
    if not families:
        raise InputError(references[0].path, "references too short to enrol: need two photos or a clip of "
                         f">= {params.min_window_s:g} s with a face")
    stab = None
    if config.stability:
        stab = StabilityModel.fit([t for vf in references if not vf.is_image for t in [main_track(vf)] if t])
    return Profile(name, params, config, sources, list(cohort_labels or []), families, diag,
                   time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), stab)


# ---------------------------------------------------------------- files

def save_profile(profile: Profile, root: str | Path | None = None) -> Path:
    from ..fileio import atomic_path, versions, write_json

    d = profiles_dir(root) / check_name(profile.name)
    d.mkdir(parents=True, exist_ok=True)
    arrays = {}
    fams = {}
    for fam, fm in profile.families.items():
        for part, rs in (("ref", fm.refs), ("query", fm.queries)):
            for k in ("X", "source", "lo", "hi"):
                arrays[f"{fam}_{part}_{k}"] = getattr(rs, k)
        arrays[f"{fam}_cohort"] = fm.cohort
        if fm.scaler.center is not None:
            arrays[f"{fam}_scaler_center"] = fm.scaler.center
            arrays[f"{fam}_scaler_scale"] = fm.scaler.scale
        dg = profile.diagnostics.get(fam, {})
        arrays[f"{fam}_genuine"] = np.asarray(dg.get("genuine_distances", []), np.float64)
        arrays[f"{fam}_impostor"] = np.asarray(dg.get("impostor_distances", []), np.float64)
        fams[fam] = {"model": fm.kind, "calibration": fm.calibration.to_dict(),
                     "n_references": int(len(fm.refs)), "n_cohort_windows": int(len(fm.cohort))}
    with atomic_path(d / "features.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    meta = {"name": profile.name, "format": 1, "created": profile.created, "params": asdict(profile.params),
            "config": asdict(profile.config), "families": fams, "sources": profile.sources,
            "cohort_sources": profile.cohort_sources,
            "stability": profile.stability.to_dict() if profile.stability else None, "versions": versions()}
    write_json(d / "profile.json", meta)
    return d


def load_profile(name: str, root: str | Path | None = None) -> Profile:
    d = profiles_dir(root) / check_name(name)
    pj = d / "profile.json"
    if not pj.exists():
        known = list_profiles(root)
        hint = f" (enrolled: {', '.join(known)})" if known else " (no profiles enrolled there)"
        raise InputError(d, f"no profile for {name!r}{hint}; run `localize enroll --person {name} FILES...`")
    meta = json.loads(pj.read_text())
    families = {}
    with np.load(d / "features.npz") as z:
        arr = {k: z[k] for k in z.files}
    for fam, fmeta in meta["families"].items():
        rs = RefSet(*(arr[f"{fam}_ref_{k}"] for k in ("X", "source", "lo", "hi")))
        qs = RefSet(*(arr[f"{fam}_query_{k}"] for k in ("X", "source", "lo", "hi")))
        sc = Scaler(arr.get(f"{fam}_scaler_center"), arr.get(f"{fam}_scaler_scale"))
        model = OneClassModel(fmeta["model"]).fit(sc.transform(rs.X))
        fm = FamilyModel(fam, fmeta["model"], rs, sc, Calibration(**fmeta["calibration"]), model)
        fm.queries, fm.cohort = qs, arr[f"{fam}_cohort"]
        families[fam] = fm
    diag = {fam: {"genuine_distances": arr.get(f"{fam}_genuine"), "impostor_distances": arr.get(f"{fam}_impostor")}
            for fam in families}
    stab = meta.get("stability")
    return Profile(meta["name"], FeatureParams(**meta["params"]), ScoringConfig(**meta["config"]), meta["sources"],
                   meta.get("cohort_sources", []), families, diag, meta.get("created", ""),
                   StabilityModel(**stab) if stab else None)


def list_profiles(root: str | Path | None = None) -> list[str]:
    d = profiles_dir(root)
    return sorted(p.name for p in d.iterdir() if (p / "profile.json").exists()) if d.exists() else []


def profile_cohort(exclude: str, root: str | Path | None = None) -> tuple[dict, list[dict]]:
    """Other enrolled people's reference windows, as cohort matrices."""
    mats = {f: [] for f in FAMILIES}
    labels = []
    for other in list_profiles(root):
        if other == exclude:
            continue
        p = load_profile(other, root)
        for fam, fm in p.families.items():
            mats[fam].append(fm.queries.X)
        labels.append({"profile": other})
    return {f: (np.concatenate(m) if m else np.zeros((0, 1))) for f, m in mats.items()}, labels


# ---------------------------------------------------------------- scoring

@dataclass
class TrackScore:
    track_id: int
    first_frame: int
    last_frame: int
    n_windows: int
    face_size: float
    log_odds: dict[str, float | None]          # per family (SCORED) and "fused"
    window_log_odds: dict[str, list[float | None]]
    appearance_distance: float | None = None   # median dlib-space distance (raw, unscaled)


@dataclass
class VerifyResult:
    person: str
    path: str
    sha256: str
    status: str                                # "scored" | "no_face"
    fake_probability: dict[str, float | None]  # appearance, behaviour, stability, fused
    log_odds: dict[str, float | None]
    decision: str | None                       # "fake" | "real" (fused p >= threshold)
    threshold: float
    tracks: list[TrackScore]
    chosen_track: int | None
    families_available: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def _low_quantile(vals: Sequence[float | None], q: float) -> float | None:
    v = np.array([x for x in vals if x is not None and np.isfinite(x)], np.float64)
    return float(np.quantile(v, q)) if len(v) else None


def score_track(profile: Profile, t: TrackFeatures) -> TrackScore | None:
    cfg = profile.config
    n = len(t.windows)
    per = {}
    app_dist = None
    for fam in FAMILIES:
        fm = profile.families.get(fam)
        X = t.appearance if fam == "appearance" else t.behaviour
        vals: list[float | None] = [None] * n
        if fm is not None and n:
            ok = np.isfinite(X).all(1)
            if ok.any():
                lo = fm.log_odds(X[ok])
                for j, v in zip(np.where(ok)[0], lo):
                    vals[j] = float(v)
                if fam == "appearance":
                    app_dist = float(np.median(fm.distance(X[ok])))
        per[fam] = vals
    stab = profile.stability.log_odds(t) if profile.stability is not None else None
    per["fused"] = [fuse_log_odds([per[f][w] for f in FAMILIES] + [stab], cfg.fusion) for w in range(n)]
    if all(v is None for v in per["fused"]):
        return None
    agg = {k: _low_quantile(v, cfg.track_quantile) for k, v in per.items() if k != "fused"}
    agg["stability"] = stab
    agg["fused"] = fuse_log_odds([agg[f] for f in SCORED], cfg.fusion)
    return TrackScore(int(t.track_id), int(t.windows[:, 0].min()), int(t.windows[:, 1].max()), n,
                      float(t.face_size), agg, per, app_dist)


def score_video(profile: Profile, vf: VideoFeatures) -> VerifyResult:
    """Score every track; the video takes the most person-like track (min fused log-odds)."""
    tracks = [s for s in (score_track(profile, t) for t in vf.tracks) if s is not None]
    avail = [f for f in FAMILIES if f in profile.families] + (["stability"] if profile.stability else [])
    thr = profile.config.threshold
    if not tracks:
        return VerifyResult(profile.name, vf.path, vf.sha256, "no_face", {k: None for k in (*SCORED, "fused")},
                            {k: None for k in (*SCORED, "fused")}, None, thr, [], None, avail)
    lo = {}
    for k in (*SCORED, "fused"):
        vals = [t.log_odds[k] for t in tracks if t.log_odds[k] is not None]
        lo[k] = min(vals) if vals else None
    best = min(tracks, key=lambda t: t.log_odds["fused"] if t.log_odds["fused"] is not None else np.inf)
    prob = {k: (None if v is None else float(sigmoid(v))) for k, v in lo.items()}
    decision = None if prob["fused"] is None else ("fake" if prob["fused"] >= thr else "real")
    return VerifyResult(profile.name, vf.path, vf.sha256, "scored", prob, lo, decision, thr, tracks,
                        best.track_id, avail)
