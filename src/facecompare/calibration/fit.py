"""Fit the calibration file: thresholds at fixed false accept rates and the confidence scale."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import THRESHOLD_FARS, ConfidenceMapping

# The confidence scale is anchored on the example answer of the published API page
# (err_01 45.92, err_001 54.36, err_0001 59.71): a client migrating with a hard-coded cut-off
# keeps a sane operating point. The logistic's two parameters are fitted by least squares so
# that our photo-photo thresholds land near these three values; the thresholds themselves
# always come from the measured impostor scores.
SCALE_ANCHORS: dict[str, float] = {"err_01": 45.92, "err_001": 54.36, "err_0001": 59.71}
MIN_FALSE_ACCEPTS = 10  # a FAR threshold needs at least this many impostor scores above it


class InsufficientData(ValueError):
    pass


def far_threshold(impostor: np.ndarray, far: float) -> float:
    """Smallest cosine t with at most ``far`` of the impostor scores ≥ t (accept: score ≥ t)."""
    n = impostor.size
    k = math.floor(far * n)  # false accepts allowed
    if k < MIN_FALSE_ACCEPTS:
        raise InsufficientData(
            f"FAR {far:g} needs at least {math.ceil(MIN_FALSE_ACCEPTS / far):,} impostor pairs "
            f"to rest on {MIN_FALSE_ACCEPTS} false accepts; only {n:,} available"
        )
    # the (k+1)-th largest impostor score must be rejected: t just above it
    kth = np.partition(impostor, n - k - 1)[n - k - 1]
    return float(np.nextafter(np.float32(kth), np.float32(np.inf)))


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
