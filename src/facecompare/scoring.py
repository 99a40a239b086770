"""The score of two faces: cosine, normalised against a cohort (adaptive score normalisation).

Within one population (one nationality, one studio) different people resemble each other more
than LFW's mixed public faces do, so a fixed cosine threshold lets far more impostors through
there (docs/accuracy.md). AS-norm (Matejka et al. 2017, "Analysis of score normalization in
multilingual speaker recognition"; Cumani et al. 2011) also scores each face against a cohort
of reference embeddings and measures the pair's cosine in units of how much each face resembles
its ``top_k`` nearest cohort faces:

    s = ½ · [(cos − μ_a) / σ_a + (cos − μ_b) / σ_b]

where μ, σ are the mean and standard deviation of a face's ``top_k`` highest cohort cosines. A
face that looks like many others (its population is in the cohort, its capture is a uniform
studio's) has a high μ and must reach a higher cosine to match.

The cohort is embeddings only (no image), shipped per model pack or supplied by the operator
(``facecompare calibrate --population``); its provenance is in the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .calibration import Calibration, CalibrationError
from .config import Settings
from .embed import flip_band, in_band

COHORT_FORMAT = 1


@dataclass(frozen=True)
class Cohort:
    """Reference faces (C × D unit embeddings) and the number of nearest ones that count."""

    emb: np.ndarray
    top_k: int
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.emb.ndim != 2 or not 2 <= self.top_k <= len(self.emb):
            raise ValueError(f"a cohort of {self.emb.shape} cannot give top-{self.top_k} stats")

    def stats(self, faces: np.ndarray) -> np.ndarray:
        """N × D unit embeddings → N × 2: mean and standard deviation of each face's
        ``top_k`` highest cosines to the cohort."""
        sims = faces.astype(np.float32) @ self.emb.T
        c = sims.shape[1]
        top = np.partition(sims, c - self.top_k, axis=1)[:, c - self.top_k :]
        return np.stack([top.mean(1), np.maximum(top.std(1), 1e-4)], axis=1)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            emb=self.emb.astype(np.float16),
            top_k=np.int32(self.top_k),
            format=np.int32(COHORT_FORMAT),
            provenance=np.array(json.dumps(self.provenance)),
        )

    @classmethod
    def load(cls, path: Path) -> Cohort:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != COHORT_FORMAT:
                raise ValueError(f"cohort file {path} has format {int(z['format'])}")
            emb = z["emb"].astype(np.float32)
            return cls(emb, int(z["top_k"]), json.loads(str(z["provenance"])))


def as_norm(cos: np.ndarray, sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """AS-norm of an N × M cosine matrix given N × 2 and M × 2 cohort stats."""
    za = (cos - sa[:, :1]) / sa[:, 1:]
    zb = (cos - sb[:, 0][None, :]) / sb[:, 1][None, :]
    return 0.5 * (za + zb)


@dataclass(frozen=True)
class Scorer:
    """Scores faces given as N × 2 × D (plain and flip-TTA unit embeddings): the plain score,
    except inside ``band`` (in score units) where the flip-TTA score is used instead. With a
    cohort the score is the AS-norm score, else the cosine."""

    cohort: Cohort | None = None
    band: tuple[float, float] | None = None

    def stats(self, faces: np.ndarray) -> np.ndarray | None:
        """N × 2 × D faces → N × 2 (plain, TTA) × 2 (μ, σ), or None without a cohort."""
        if self.cohort is None:
            return None
        n = len(faces)
        flat = self.cohort.stats(faces.reshape(n * 2, -1))
        return flat.reshape(n, 2, 2)

    def matrix(
        self,
        a: np.ndarray,
        b: np.ndarray,
        sa: np.ndarray | None = None,
        sb: np.ndarray | None = None,
    ) -> np.ndarray:
        """N × M scores of faces ``a`` against faces ``b`` (stats reused when given)."""
        if self.cohort is not None:
            sa = self.stats(a) if sa is None else sa
            sb = self.stats(b) if sb is None else sb

        def one(view: int) -> np.ndarray:
            cos = a[:, view] @ b[:, view].T
            if self.cohort is None:
                return cos
            return as_norm(cos, sa[:, view], sb[:, view])  # type: ignore[index]

        plain = one(0)
        if self.band is None:
            return plain
        return np.where(in_band(plain, self.band), one(1), plain)

    def single(self, a: np.ndarray, b: np.ndarray) -> float:
        """The score of two faces given as one D-vector each (one view: plain or flip-TTA)."""
        cos = np.array([[float(a @ b)]], np.float32)
        if self.cohort is None:
            return float(cos[0, 0])
        return float(as_norm(cos, self.cohort.stats(a[None]), self.cohort.stats(b[None]))[0, 0])

    def uncertain(self, score: float) -> bool:
        """Whether a plain score is close enough to a threshold for the flip-TTA score."""
        return bool(in_band(score, self.band))


def scorer_for(calibration: Calibration | None, settings: Settings) -> Scorer:
    """The calibration's scorer: AS-norm against its cohort file or the plain cosine, with flip
    TTA inside the calibration's uncertain band (``flip_tta``: ``off`` never, ``always``)."""
    scoring = calibration.scoring if calibration is not None else {"kind": "cosine"}
    cohort = None
    if scoring["kind"] == "as-norm":
        assert calibration is not None
        path = calibration.cohort_path()
        expected = scoring["cohort"].get("sha256")
        if path is None or not path.is_file():
            raise CalibrationError(f"cohort file missing: {path}")
        if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise CalibrationError(f"refusing cohort file {path}: SHA-256 does not match")
        cohort = Cohort.load(path)
    low, high = scoring.get("flip_band", (settings.flip_low, settings.flip_high))
    return Scorer(cohort, flip_band(settings.flip_tta, float(low), float(high)))
