"""The three detectors behind one interface, scoring one video file at a time.

Each returns ``{"score": float|None, "probability": float|None, ...}`` where a
higher score means "more likely fake"; ``score`` ranks (AUC), ``probability`` is
compared with the detector's stated threshold. ``None`` = not scorable (no face,
no profile for the person): counted as unscored, never dropped silently.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import sha256_file, write_json
from .protocols import Case, Plan


class ScoreCache:
    """Per-(detector, file hash) results on disk: repeated runs only score new files."""

    def __init__(self, root: Path):
        self.root = root

    def _file(self, detector: str, key: str) -> Path:
        return self.root / detector / f"{key}.json"

    def get(self, detector: str, key: str) -> dict | None:
        f = self._file(detector, key)
        if f.exists():
            try:
                return json.loads(f.read_text())
            except json.JSONDecodeError:
                f.unlink(missing_ok=True)
        return None

    def put(self, detector: str, key: str, value: dict) -> None:
        write_json(self._file(detector, key), value)


# ---------------------------------------------------------------- identity

class IdentityDetector:
    """Zero-shot identity scorer: one profile per identity of the plan, calibrated
    against a cohort of every *other* identity's reference features."""

    name = "identity"
    families = ("appearance", "behaviour", "stability", "fused")

    def __init__(self, plan: Plan, cache_dir: Path, config: dict | None = None, progress: bool = True):
        from ..identity.features import FeatureCache, FeatureParams
        from ..identity.profile import ScoringConfig

        cfg = dict(config or {})
        self.params = FeatureParams(**cfg.get("features", {}))
        self.scoring = ScoringConfig(**cfg.get("scoring", {}))
        self.features = FeatureCache(cache_dir / "features")
        self.plan = plan
        self.progress = progress
        self._ref_features: dict[str, list] = {}
        self._profiles: dict[tuple[str, int | None], Any] = {}

    @property
    def key(self) -> str:
        from dataclasses import asdict

        blob = json.dumps([asdict(self.params), asdict(self.scoring), {k: [s.__dict__ for s in v.references]
                           for k, v in sorted(self.plan.identities.items())}], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def ref_features(self, name: str):
        if name not in self._ref_features:
            ident = self.plan.identities[name]
            self._ref_features[name] = [self.features.get(s.path, self.params, frame_range=s.frame_range)
                                        for s in ident.references]
        return self._ref_features[name]

    def profile(self, name: str, n_videos: int | None = None):
        """Profile of ``name`` from all references, or photos + the first ``n_videos`` videos."""
        from ..identity.profile import build_profile

        k = (name, n_videos)
        if k not in self._profiles:
            refs = self.ref_features(name)
            if n_videos is not None:
                vids = [f for f in refs if not f.is_image][:n_videos]
                refs = [f for f in refs if f.is_image] + vids
            cohort = [f for other in self.plan.identities if other != name for f in self.ref_features(other)]
            safe = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in name)[:100]
            self._profiles[k] = build_profile(safe, refs, cohort, self.scoring)
        return self._profiles[k]

    def n_reference_videos(self, name: str) -> int:
        return sum(1 for s in self.plan.identities[name].references if not s.is_image)

    def score(self, case: Case, path: str, n_videos: int | None = None) -> dict:
        from ..identity.profile import score_video

        if not case.identity or case.identity not in self.plan.identities:
            return {"score": None, "probability": None, "status": "no_profile"}
        try:
            prof = self.profile(case.identity, n_videos)
        except Exception as e:  # e.g. references without a usable face
            return {"score": None, "probability": None, "status": f"no_profile: {e}"}
        vf = self.features.get(path, self.params)
        r = score_video(prof, vf)
        out = {"status": r.status, "decision": r.decision, "threshold": r.threshold}
        for fam in self.families:
            out[fam] = {"score": r.log_odds[fam], "probability": r.fake_probability[fam]}
        out["score"], out["probability"] = r.log_odds["fused"], r.fake_probability["fused"]
        return out


# ---------------------------------------------------------------- mask-based localizer

class MaskDetector:
    """The mask-based video decision of ``localize analyze`` (default localizer)."""

    name = "mask"

    def __init__(self, model: str | None = None, frames: int = 16):
        from ..analyze import open_localizer

        self.localizer = open_localizer(model)
        self.frames = frames
        self.threshold = None
        self.key = f"{self.localizer.sha256[:12]}_{frames}"
        self._analyzer = None

    def score(self, case: Case, path: str) -> dict:
        from ..analyze import AnalyzeOptions, analyze_path

        tmp = Path(tempfile.mkdtemp(prefix="localize-eval-"))
        try:
            opts = AnalyzeOptions(frames="count", count=self.frames, overlay=False, key_frames=0)
            rep = analyze_path(path, tmp / "out", localizer=self.localizer, options=opts)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        v = rep.video
        prob = v.get("probability")
        out = {"score": v.get("score"), "probability": prob, "decision": v.get("decision"),
               "status": rep.status, "threshold": (v.get("operating_point") or {}).get("threshold")
               if isinstance(v.get("operating_point"), dict) else None}
        return out

    def pixel_counts(self, case: Case, n_frames: int = 8) -> dict | None:
        """Pixel TP/FP/FN of the localizer inside the face crops of frames with a true mask."""
        if not case.mask or not Path(case.mask).exists():
            return None
        from ..faces import FaceAnalyzer, crop, crop_box, crop_mask, landmark_box
        from ..video import iter_frames, sample_indices
        from masks.maskio import read_mask_video

        if self._analyzer is None:
            self._analyzer = FaceAnalyzer()
        masks = read_mask_video(case.mask)
        with_mask = [i for i in range(len(masks)) if masks[i].any()]
        if not with_mask:
            return None
        pick = [with_mask[j] for j in sample_indices(len(with_mask), count=n_frames)]
        size = self.localizer.input_size
        crops, truths = [], []
        for i, img in iter_frames(case.path, pick):
            faces = self._analyzer.detect(img)
            if not faces:
                continue
            box = crop_box(landmark_box(faces[0].landmarks), 1.3)
            crops.append(crop(img, box, size))
            truths.append(crop_mask(masks[i].astype(np.uint8) * 255, box, size) >= 128)
        if not crops:
            return None
        probs, _ = self.localizer.predict(np.stack(crops))
        pred = probs >= 0.5
        t = np.stack(truths)
        return {"tp": int((pred & t).sum()), "fp": int((pred & ~t).sum()), "fn": int((~pred & t).sum()),
                "frames": len(crops)}


# ---------------------------------------------------------------- MesoNet

class MesoDetector:
    name = "mesonet"

    def __init__(self, weights: str | Path, frames: int = 16):
        from ..baselines.mesonet import load_mesonet

        self.model, self.meta = load_mesonet(weights)
        self.frames = frames
        self.key = f"{sha256_file(weights)[:12]}_{frames}"
        self.threshold = float(self.meta.get("threshold", 0.5))
        self._analyzer = None

    def score(self, case: Case, path: str) -> dict:
        from ..baselines.mesonet import score_video

        if self._analyzer is None:
            from ..faces import FaceAnalyzer

            self._analyzer = FaceAnalyzer()
        r = score_video(self.model, path, self._analyzer, frames=self.frames)
        return {"score": r["probability"], "probability": r["probability"], "status": r["status"],
                "n_frames": r["n_frames"]}
