"""Verification statistics: TAR at fixed FAR with bootstrap intervals, curves, held-out drift.

Pure functions over arrays of genuine and impostor scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class OperatingPoint:
    far: float
    threshold: float
    tar: float
    tar_ci: tuple[float, float]  # 95 % bootstrap interval
    threshold_ci: tuple[float, float]
    impostor_pairs: int
    false_accepts: int


def _tail_threshold(tail_desc: np.ndarray, weights: np.ndarray, allowed: float) -> float:
    """Threshold with at most ``allowed`` weighted impostors at or above it."""
    over = np.searchsorted(np.cumsum(weights), allowed, side="right")
    return float(tail_desc[min(over, len(tail_desc) - 1)]) + 1e-7


def operating_point(
    genuine: np.ndarray, impostor: np.ndarray, far: float, rounds: int = 200, seed: int = 0
) -> OperatingPoint:
    """TAR at a FAR, with a 95 % Poisson-bootstrap interval (pairs resampled independently).

    Only the top of the impostor distribution decides a low-FAR threshold, so the bootstrap
    reweights that tail (Poisson(1) weights) and the total count, which is exact for the
    resampling scheme and fast on 10⁸ scores. Pairs that share images are not independent:
    the intervals are optimistic, which is why the held-out check exists.
    """
    t = far_threshold(impostor, far)
    n = impostor.size
    k = math.floor(far * n)
    m = min(n, k + 20 * int(math.sqrt(k) + 1) + 100)
    tail = -np.sort(-np.partition(impostor, n - m)[n - m :])
    g = np.sort(genuine)
    rng = np.random.default_rng(seed)
    tars, thrs = [], []
    for _ in range(rounds):
        total = rng.poisson(n)
        tb = _tail_threshold(tail, rng.poisson(1.0, m), far * total)
        w = rng.poisson(1.0, g.size)
        accepted = w[np.searchsorted(g, tb, side="left") :].sum()
        tars.append(accepted / max(1, w.sum()))
        thrs.append(tb)
    lo, hi = np.percentile(tars, [2.5, 97.5])
    tlo, thi = np.percentile(thrs, [2.5, 97.5])
    return OperatingPoint(
        far=far,
        threshold=t,
        tar=float((genuine >= t).mean()),
        tar_ci=(float(lo), float(hi)),
        threshold_ci=(float(tlo), float(thi)),
        impostor_pairs=int(n),
        false_accepts=int((impostor >= t).sum()),
    )


def operating_points(
    genuine: np.ndarray, impostor: np.ndarray, fars: tuple[float, ...] = (1e-3, 1e-4, 1e-5, 1e-6)
) -> tuple[list[OperatingPoint], list[str]]:
    """Points the data supports, and a reason for each FAR it cannot."""
    points, refused = [], []
    for far in fars:
        try:
            points.append(operating_point(genuine, impostor, far))
        except InsufficientData as exc:
            refused.append(str(exc))
    return points, refused


def roc(genuine: np.ndarray, impostor: np.ndarray, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, TAR) on a log grid of FAR from 1/len(impostor) to 1."""
    fars = np.logspace(math.log10(max(1.0 / impostor.size, 1e-7)), 0, n)
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    idx = np.clip((imp.size * (1 - fars)).astype(np.int64), 0, imp.size - 1)
    thr = imp[idx]
    tar = 1 - np.searchsorted(gen, thr, side="left") / gen.size
    return fars, tar


def realised(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    """(FAR, TAR) of a fixed threshold on other data."""
    return float((impostor >= threshold).mean()), float((genuine >= threshold).mean())
