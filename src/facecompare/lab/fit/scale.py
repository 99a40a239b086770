"""Fit the calibration file: thresholds at fixed false accept rates and the confidence scale."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...calibration import THRESHOLD_FARS, ConfidenceMapping
from ..measure.verification import InsufficientData, far_threshold

__all__ = ["SCALE_ANCHORS", "InsufficientData", "far_threshold", "fit_mapping", "scenario_entry"]

# The confidence scale is anchored on the example answer of the published API page
# (err_01 45.92, err_001 54.36, err_0001 59.71): a client migrating with a hard-coded cut-off
# keeps a sane operating point. The logistic's two parameters are fitted by least squares so
# that our photo-photo thresholds land near these three values; the thresholds themselves
# always come from the measured impostor scores.
SCALE_ANCHORS: dict[str, float] = {"err_01": 45.92, "err_001": 54.36, "err_0001": 59.71}


def fit_mapping(
    cosines: dict[str, float], anchors: dict[str, float] = SCALE_ANCHORS
) -> ConfidenceMapping:
    """Least-squares logistic through (threshold cosine, anchor confidence) points."""
    names = [n for n in anchors if n in cosines]
    x = np.array([cosines[n] for n in names])
    p = np.array([anchors[n] for n in names]) / 100.0
    y = np.log(p / (1 - p))  # logit: y = (x - center) / scale
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        raise InsufficientData("thresholds are not increasing with the FAR level")
    return ConfidenceMapping(center=float(-intercept / slope), scale=float(1 / slope))


def scenario_entry(
    genuine: np.ndarray, impostor: np.ndarray, provenance: dict[str, Any]
) -> dict[str, Any]:
    thresholds: dict[str, Any] = {}
    for name, far in THRESHOLD_FARS.items():
        t = far_threshold(impostor, far)
        thresholds[name] = {
            "far": far,
            "cosine": round(t, 6),
            "false_accepts": int((impostor >= t).sum()),
            "tar": round(float((genuine >= t).mean()), 6),
        }
    return {
        "thresholds": thresholds,
        "data": {
            **provenance,
            "genuine_pairs": int(genuine.size),
            "impostor_pairs": int(impostor.size),
        },
    }
