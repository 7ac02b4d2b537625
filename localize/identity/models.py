"""One-class models of one person per feature family, and cohort normalization.

A model sees only the person's real references. Its raw score is a *distance* (larger
= less like the person). Raw distances are not comparable across people (some faces
and some speaking styles vary more than others), so each family is calibrated per
person against two score distributions measured at enrolment:

* **genuine**: the person's own reference windows, each scored by a model fitted on
  the references that do not overlap it in time (leave-overlap-out, so a window is
  never scored against itself or its neighbours);
* **impostor**: windows of a cohort of *other people's* real videos scored by the full model.

A logistic fit genuine (0) vs impostor (1) turns the distance into a fake
probability whose 0.5 point lies between the two distributions for every person
(cohort normalization). Without a cohort, the 0.5 point is set at the genuine
distribution's 99th percentile scaled by 1.25, and for appearance never below
``APPEARANCE_FLOOR`` (documented, conservative).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

MODEL_KINDS = ("nearest", "mahalanobis", "ocsvm")


@dataclass
class RefSet:
    """Reference vectors with where each came from, for leave-overlap-out scoring."""

    X: np.ndarray          # (n, d)
    source: np.ndarray     # (n,) int source id (one per reference file/segment)
    lo: np.ndarray         # (n,) first frame
    hi: np.ndarray         # (n,) last frame

    def __len__(self) -> int:
        return len(self.X)

    @classmethod
    def empty(cls, d: int) -> "RefSet":
        return cls(np.zeros((0, d), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

    def conflicts(self, source: int, lo: int, hi: int) -> np.ndarray:
        """Reference items that overlap a query in time (same source, overlapping frames).
        (Also excluding non-overlapping neighbours was measured: with 4-8 s references
        too few windows remain and the held-out FPR got worse, 0.43 -> 0.57.)"""
        return (self.source == source) & (self.lo <= hi) & (self.hi >= lo)


class Scaler:
    """Robust per-feature standardization (median / IQR), fitted on population data
    (cohort + references) so no feature dominates a distance by its units."""

    def __init__(self, center: np.ndarray | None = None, scale: np.ndarray | None = None):
        self.center = center
        self.scale = scale

    def fit(self, X: np.ndarray) -> "Scaler":
        X = np.asarray(X, np.float64)
        self.center = np.median(X, 0)
        q75, q25 = np.percentile(X, [75, 25], axis=0)
        iqr = (q75 - q25) / 1.349
        sd = X.std(0)
        self.scale = np.where(iqr > 1e-6, iqr, np.where(sd > 1e-6, sd, 1.0))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.center is None:
            return np.asarray(X, np.float64)
        return np.clip((np.asarray(X, np.float64) - self.center) / self.scale, -10, 10)


class OneClassModel:
    """Distance of a vector to one person's references.

    * ``nearest``: mean distance to the ``k`` nearest references (k=1: nearest neighbour),
    * ``mahalanobis``: Mahalanobis distance to the references' mean under a Ledoit-Wolf
      shrunk covariance (stable with fewer references than dimensions),
    * ``ocsvm``: negated decision function of an RBF one-class SVM (nu=0.1, gamma='scale').
    """

    def __init__(self, kind: str = "nearest", k: int = 1, nu: float = 0.1):
        if kind not in MODEL_KINDS:
            raise ValueError(f"unknown model kind {kind!r}; choose from {MODEL_KINDS}")
        self.kind, self.k, self.nu = kind, k, nu
        self._X = None

    def fit(self, X: np.ndarray) -> "OneClassModel":
        X = np.asarray(X, np.float64)
        if len(X) == 0:
            raise ValueError("no reference vectors")
        self._X = X
        if self.kind == "mahalanobis":
            from sklearn.covariance import LedoitWolf

            self._mu = X.mean(0)
            if len(X) >= 2:
                cov = LedoitWolf().fit(X).covariance_
            else:
                cov = np.eye(X.shape[1])
            cov = cov + 1e-6 * np.trace(cov) / X.shape[1] * np.eye(X.shape[1])
            self._prec = np.linalg.pinv(cov)
        elif self.kind == "ocsvm":
            from sklearn.svm import OneClassSVM

            if len(X) >= 2:
                self._svm = OneClassSVM(kernel="rbf", nu=self.nu, gamma="scale").fit(X)
            else:
                self._svm = None
        return self

    def score(self, Q: np.ndarray) -> np.ndarray:
        Q = np.atleast_2d(np.asarray(Q, np.float64))
        if len(Q) == 0:
            return np.zeros(0)
        if self.kind == "nearest" or (self.kind == "ocsvm" and self._svm is None):
            d = np.sqrt(((Q[:, None, :] - self._X[None]) ** 2).sum(-1))
            k = min(self.k, d.shape[1])
            return np.sort(d, 1)[:, :k].mean(1)
        if self.kind == "mahalanobis":
            x = Q - self._mu
            return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", x, self._prec, x), 0))
        return -self._svm.decision_function(Q)


def genuine_scores(refs: RefSet, queries: RefSet, kind: str, **kw) -> np.ndarray:
    """Score each query with a model fitted on the references that do not overlap it.
    Queries with no remaining reference get NaN (one short reference clip)."""
    out = np.full(len(queries), np.nan)
    cache: dict[bytes, OneClassModel | None] = {}
    for i in range(len(queries)):
        keep = ~refs.conflicts(int(queries.source[i]), int(queries.lo[i]), int(queries.hi[i]))
        key = np.packbits(keep).tobytes()
        if key not in cache:
            cache[key] = OneClassModel(kind, **kw).fit(refs.X[keep]) if keep.sum() >= 1 else None
        m = cache[key]
        if m is not None:
            out[i] = m.score(queries.X[i:i + 1])[0]
    return out


@dataclass
class Calibration:
    """Distance -> fake probability: p = sigmoid(slope * (distance - threshold)).

    ``threshold`` is the distance where p = 0.5 (the stated operating point)."""

    slope: float
    threshold: float
    method: str                       # "cohort-logistic" | "genuine-quantile"
    n_genuine: int = 0
    n_impostor: int = 0
    genuine_median: float = float("nan")
    impostor_median: float = float("nan")

    def log_odds(self, d: np.ndarray) -> np.ndarray:
        return self.slope * (np.asarray(d, np.float64) - self.threshold)

    def prob(self, d: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.log_odds(d), -50, 50)))

    def to_dict(self) -> dict:
        return {k: float(v) if isinstance(v, (float, np.floating)) else v for k, v in self.__dict__.items()}


# dlib's face-descriptor space: photos of one person lie 0.28-0.48 apart here (shared
# data README) and dlib documents 0.6 as its same-person threshold. Without a cohort a
# threshold below this floor would only measure how steady one short clip was.
APPEARANCE_FLOOR = 0.45


def calibrate(genuine: np.ndarray, impostor: np.ndarray | None, floor: float = 0.0) -> Calibration:
    """Per-person calibration from genuine and cohort (impostor) distances.

    The logistic fit is class-balanced and lightly regularized; its 0.5 point is
    then moved, if needed, to at least the genuine 95th percentile, so that at most
    about 5 % of the person's own held-out windows read as fake (the FPR goal)."""
    g = np.asarray(genuine, np.float64)
    g = g[np.isfinite(g)]
    imp = np.asarray(impostor if impostor is not None else [], np.float64)
    imp = imp[np.isfinite(imp)]
    if len(g) == 0:
        raise ValueError("no genuine scores: enrol at least two photos or a clip longer than one window")
    spread = float(np.std(np.concatenate([g, imp])) if len(imp) else np.std(g)) or 1e-3
    if len(imp) >= 3:
        from sklearn.linear_model import LogisticRegression

        x = np.concatenate([g, imp])[:, None] / spread
        y = np.concatenate([np.zeros(len(g)), np.ones(len(imp))])
        lr = LogisticRegression(C=1.0, class_weight="balanced").fit(x, y)
        slope = float(lr.coef_[0, 0]) / spread
        thr = float(-lr.intercept_[0] / lr.coef_[0, 0]) * spread if lr.coef_[0, 0] > 0 else float(np.max(g))
        slope = max(slope, 1e-3 / spread)
        thr = max(thr, float(np.percentile(g, 95)))
        return Calibration(slope, thr, "cohort-logistic", len(g), len(imp), float(np.median(g)), float(np.median(imp)))
    thr = max(1.25 * float(np.percentile(g, 99)), floor)
    slope = 4.0 / max(thr - float(np.median(g)), 1e-3)
    return Calibration(slope, thr, "genuine-quantile", len(g), 0, float(np.median(g)), float("nan"))


@dataclass
class FamilyModel:
    """A fitted one-class model + scaler + calibration for one feature family."""

    family: str
    kind: str
    refs: RefSet
    scaler: Scaler
    calibration: Calibration
    model: OneClassModel = field(repr=False, default=None)
    queries: RefSet | None = field(repr=False, default=None)   # the person's window vectors
    cohort: np.ndarray | None = field(repr=False, default=None)  # cohort vectors it was calibrated on

    def distance(self, X: np.ndarray) -> np.ndarray:
        return self.model.score(self.scaler.transform(X))

    def log_odds(self, X: np.ndarray) -> np.ndarray:
        return self.calibration.log_odds(self.distance(X))


def fit_family(family: str, refs: RefSet, queries: RefSet, cohort: np.ndarray | None, kind: str,
               scale: bool) -> tuple[FamilyModel, np.ndarray, np.ndarray]:
    """Fit one family: scaler on population data, the full model, genuine (leave-overlap-out)
    and impostor (cohort) distances, and the calibration. Returns the model and both
    distance arrays (kept in the profile for inspection)."""
    scaler = Scaler()
    if scale:
        pop = refs.X if cohort is None or len(cohort) == 0 else np.concatenate([refs.X, cohort])
        scaler.fit(pop)
    rs = RefSet(scaler.transform(refs.X), refs.source, refs.lo, refs.hi)
    qs = RefSet(scaler.transform(queries.X), queries.source, queries.lo, queries.hi)
    model = OneClassModel(kind).fit(rs.X)
    gen = genuine_scores(rs, qs, kind)
    if not np.isfinite(gen).any() and len(rs) >= 2:
        # every query overlaps all references (one short clip): fall back to
        # leave-one-item-out on the references themselves (optimistic; recorded)
        solo = RefSet(rs.X, np.arange(len(rs)), np.zeros(len(rs), np.int64), np.zeros(len(rs), np.int64))
        gen = genuine_scores(solo, solo, kind)
    imp = model.score(scaler.transform(cohort)) if cohort is not None and len(cohort) else np.zeros(0)
    if family == "appearance" and kind == "nearest" and not np.isfinite(gen).any():
        # a single photo: no genuine distance to calibrate on; use dlib's documented
        # same-person distance (0.6) as the 0.5 point (recorded as "dlib-prior")
        cal = Calibration(12.0, 0.6, "dlib-prior", 0, len(imp), float("nan"),
                          float(np.median(imp)) if len(imp) else float("nan"))
    else:
        cal = calibrate(gen, imp, floor=APPEARANCE_FLOOR if (family == "appearance" and kind == "nearest") else 0.0)
    return FamilyModel(family, kind, refs, scaler, cal, model), gen, imp


def fuse_log_odds(parts: Sequence[float | None], method: str = "max") -> float | None:
    """Fuse per-family log-odds: ``max`` (fake if any family says so), ``mean`` or ``sum``."""
    vals = [float(p) for p in parts if p is not None and np.isfinite(p)]
    if not vals:
        return None
    if method == "max":
        return max(vals)
    if method == "sum":
        return float(np.sum(vals))
    if method == "mean":
        return float(np.mean(vals))
    raise ValueError(f"unknown fusion {method!r}")


def sigmoid(x: float | np.ndarray):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
