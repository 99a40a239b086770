"""Score → confidence mapping and per-scenario thresholds, loaded from a calibration data file.

The file is produced by ``facecompare calibrate`` (see :mod:`facecompare.lab.fit.scale`);
no threshold is typed into code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

# API threshold name → false accept rate it promises.
THRESHOLD_FARS: dict[str, float] = {"err_01": 1e-3, "err_001": 1e-4, "err_0001": 1e-5}
PHOTO_PHOTO = "photo-photo"
DOCUMENT_PHOTO = "document-photo"
SCORING_KINDS = ("cosine", "as-norm")


class CalibrationError(RuntimeError):
    """The calibration file is missing, malformed or made for another model pack."""


@dataclass(frozen=True)
class ConfidenceMapping:
    """confidence = 100 · σ((cosine − center) / scale): monotone, bounded to [0, 100]."""

    center: float
    scale: float

    def __call__(self, cosine: float) -> float:
        z = (cosine - self.center) / self.scale
        z = max(-60.0, min(60.0, z))
        return 100.0 / (1.0 + math.exp(-z))

    def inverse(self, confidence: float) -> float:
        p = min(max(confidence / 100.0, 1e-12), 1 - 1e-12)
        return self.center + self.scale * math.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    data: dict[str, Any]
    mapping: ConfidenceMapping
    path: Path | None = None

    @property
    def pack_digest(self) -> str:
        return str(self.data["model_pack"]["digest"])

    @property
    def scenarios(self) -> list[str]:
        return list(self.data["scenarios"])

    def confidence(self, cosine: float) -> float:
        return round(self.mapping(cosine), 2)

    def threshold_scores(self, scenario: str) -> dict[str, float]:
        """Thresholds of a scenario in score units (the scorer's: AS-norm or cosine)."""
        entry = self.data["scenarios"].get(scenario) or self.data["scenarios"][PHOTO_PHOTO]
        rows = entry["thresholds"].items()
        return {name: float(t.get("score", t.get("cosine"))) for name, t in rows}

    threshold_cosines = threshold_scores  # files of format 1 held cosines only

    def thresholds(self, scenario: str) -> dict[str, float]:
        """Thresholds of a scenario on the confidence scale, 2 decimals (falls back to photo-photo
        while a scenario has no calibration of its own)."""
        cos = self.threshold_scores(scenario)
        return {name: self.confidence(cos[name]) for name in THRESHOLD_FARS if name in cos}

    @property
    def scoring(self) -> dict[str, Any]:
        """How a pair is scored: ``{"kind": "cosine"}`` or AS-norm against a cohort file."""
        return self.data.get("scoring") or {"kind": "cosine"}

    def cohort_path(self) -> Path | None:
        name = self.scoring.get("cohort", {}).get("file")
        if not name:
            return None
        base = self.path.parent if self.path is not None else Path(".")
        return (base / name).resolve()

    def section(self, name: str) -> dict[str, Any] | None:
        return self.data.get(name)


def default_path(pack_name: str) -> Path:
    return Path(str(resources.files(__package__).joinpath("data", f"{pack_name}.json")))


def load_calibration(path: Path, pack_digest: str | None = None) -> Calibration:
    try:
        data = json.loads(Path(path).read_text())
        m = data["mapping"]
        mapping = ConfidenceMapping(float(m["center"]), float(m["scale"]))
        data["scenarios"][PHOTO_PHOTO]["thresholds"]
    except FileNotFoundError:
        raise CalibrationError(
            f"no calibration file at {path}; run `facecompare calibrate` to make one"
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"calibration file {path} is malformed: {exc!r}") from None
    kind = (data.get("scoring") or {"kind": "cosine"}).get("kind")
    if kind not in SCORING_KINDS:
        raise CalibrationError(f"calibration file {path}: unknown scoring kind {kind!r}")
    if pack_digest is not None and data["model_pack"].get("digest") != pack_digest:
        raise CalibrationError(
            f"calibration file {path} was made for model pack {data['model_pack'].get('digest')}, "
            f"not for the loaded pack {pack_digest}"
        )
    return Calibration(data, mapping, Path(path))
