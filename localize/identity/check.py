"""One enrolled person's identity verdict for any input: the record `localize verify` prints and
`localize analyze --person` puts in each report.

Why one place: an analyst who knows whom a video claims to show wants the zero-shot identity
scorer's verdict next to the localizer's, in the same report, and that verdict must be exactly
the one `verify` gives for the same file and profile. The two are reported side by side, never
fused: each has its own operating point, and no fused one has been validated.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import NoFaceError
from .features import FeatureCache
from .profile import Profile, load_profile, profiles_dir, score_video


# Shown by report.html and the viewer when the two verdicts differ (report.json carries it, so both
# read the same words).
DISAGREEMENT = ("The two detectors disagree. The localizer judges pixels (blending, texture); the identity scorer "
                "judges who the face looks and moves like. A face swapped in whole can pass the first and fail the "
                "second; a real clip unlike the references (another age, light or camera) can fail the second. "
                "Weigh both against the footage.")


def note_disagreement(record: dict, localizer_decision: str | None) -> dict:
    """Mark ``record`` (an identity verdict) with ``disagreement`` when it and the localizer's decision
    are both made and differ; the verdicts themselves stay untouched."""
    said = record.get("decision")
    if said in ("fake", "real") and localizer_decision in ("fake", "real") and said != localizer_decision:
        record["disagreement"] = DISAGREEMENT
    return record


class IdentityCheck:
    """A loaded profile and a feature cache; ``record(path)`` scores one file against the person."""

    def __init__(self, person: str, profiles: str | Path | None = None,
                 cache: str | Path | FeatureCache | None = None, analyzer=None):
        """``cache``: a feature-cache folder, or a :class:`FeatureCache` that checks of several people
        share (with its face analyzer). ``analyzer``: a default :class:`localize.faces.FaceAnalyzer`
        to reuse (it takes about a second to load), the kind the profile's own features were
        extracted with."""
        self.profiles = profiles
        self.profile: Profile = load_profile(person, profiles)  # InputError naming the folder if none
        self.cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache, analyzer)

    @property
    def person(self) -> str:
        return self.profile.name

    def record(self, path: str | Path, frame_range: tuple[int, int] | None = None, *, range_s=None,
               progress: bool = False, windows: bool = False, sha256: str | None = None) -> dict:
        """The verdict as a JSON-ready dict (``status`` "scored" or "no_face"; decision None when no
        face track was long enough to score). ``sha256``: the file's, when the caller has it."""
        path = Path(path)
        prof = self.profile
        vf = self.cache.get(path, prof.params, frame_range=frame_range, progress=progress, sha256=sha256)
        res = score_video(prof, vf)
        d = res.to_dict()
        if not windows:
            for t in d["tracks"]:
                t.pop("window_log_odds", None)
        out = {
            "person": res.person, "video": str(path), "range_s": list(range_s) if range_s else None,
            "sha256": res.sha256, "status": res.status, "fake_probability": res.fake_probability,
            "decision": res.decision, "threshold": res.threshold, "log_odds": res.log_odds,
            "families_available": res.families_available, "chosen_track": res.chosen_track, "tracks": d["tracks"],
            "rule": {"window_s": prof.params.window_s, "hop_s": prof.params.hop_s,
                     "track": f"{prof.config.track_quantile:g}-quantile of window log-odds per family; "
                              "stability from the whole track",
                     "video": "minimum over tracks (the most person-like face)",
                     "fusion": f"{prof.config.fusion} of the track's family log-odds"},
            "profile": {"path": str(profiles_dir(self.profiles) / prof.name), "created": prof.created,
                        "reference_videos": prof.n_reference_videos,
                        "reference_photos": sum(1 for s in prof.sources if s.get("is_image")),
                        "families": {**{f: {"model": fm.kind, "calibration": fm.calibration.method}
                                        for f, fm in prof.families.items()},
                                     **({"stability": {"model": "reference step log ratio",
                                                       "calibration": "global split-half"}}
                                        if prof.stability else {})}},
        }
        if res.status == "no_face":
            out["note"] = (f"no face track long enough to score (need a face of >= {prof.params.min_face:g} px "
                           f"for >= {prof.params.min_track_s:g} s)")
        return out


def require_scored(record: dict, path: str | Path) -> dict:
    """``verify``'s rule: an input the scorer cannot judge is an error, not a verdict."""
    if record["status"] == "no_face":
        raise NoFaceError(path, record["note"])
    return record
