"""Enrolment: a person's profile from real references, with a cohort of other people.

Why a module of its own: `localize enroll`, the demo and any script enrol the same way (features
through the cache, other enrolled people joined to the cohort, the profile written last), so the
profile a verdict rests on never depends on which door it came through.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from .features import FeatureCache, FeatureParams
from .profile import (Profile, ScoringConfig, build_profile, check_name, cohort_matrix, list_profiles,
                      profile_cohort, profiles_dir, save_profile)

# a file, and optionally seconds START..END of it
Source = tuple[Path, "tuple[float, float] | None"]


def frame_range(path: Path, rng: tuple[float, float] | None) -> tuple[int, int] | None:
    """Seconds START..END of ``path`` as frames, refused when outside the video."""
    if rng is None:
        return None
    from ..video import probe

    info = probe(path)
    fr = (int(rng[0] * info.fps), min(info.n_frames, int(rng[1] * info.fps)))
    if fr[1] <= fr[0]:
        raise InputError(path, f"time range {rng[0]:g}-{rng[1]:g} s is outside the video ({info.duration:.1f} s)")
    return fr


def enroll(person: str, references: Sequence[Source], cohort: Sequence[Source] = (), *,
           profiles: str | Path | None = None, cache: FeatureCache | None = None,
           config: ScoringConfig | None = None, force: bool = False, progress: bool = False) -> tuple[Profile, Path]:
    """Build and save ``person``'s profile from ``references`` (real videos/photos of them);
    ``cohort``: real media of other people for score normalisation (references are dropped
    from it; every other enrolled profile joins it). Returns the profile and its folder."""
    name = check_name(person)
    if name in list_profiles(profiles) and not force:
        raise InputError(profiles_dir(profiles) / name, "profile exists; use --force to replace it")
    params = FeatureParams()
    cache = cache or FeatureCache()
    refs = [cache.get(p, params, frame_range=frame_range(p, r), progress=progress) for p, r in references]
    labels = [{"range_s": list(r) if r else None} for _, r in references]
    ref_paths = {Path(p).resolve() for p, _ in references}
    coh_in = [(p, r) for p, r in cohort if Path(p).resolve() not in ref_paths]
    coh_feats = [cache.get(p, params, frame_range=frame_range(p, r), progress=progress) for p, r in coh_in]
    cohort_labels = [{"path": str(p), "range_s": list(r) if r else None} for p, r in coh_in]
    mats, prof_labels = profile_cohort(name, profiles)  # other enrolled people: their reference windows
    coh = {}
    for fam in ("appearance", "behaviour"):
        parts = [cohort_matrix(coh_feats, fam)]
        if len(mats[fam]) and mats[fam].shape[1] == parts[0].shape[1]:
            parts.append(mats[fam].astype(np.float32))
        coh[fam] = np.concatenate(parts)
    prof = build_profile(name, refs, coh, config or ScoringConfig(), source_labels=labels,
                         cohort_labels=cohort_labels + prof_labels)
    return prof, save_profile(prof, profiles)
