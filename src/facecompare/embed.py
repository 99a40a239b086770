"""Embeddings as the scorer sees them: unit vectors, the flip-TTA view (plain + mirrored), and the
score of two faces with flip test-time augmentation where the decision is uncertain.

The recognisers that make embeddings are models: ``models/arcface.py``, ``models/sface.py``."""

from __future__ import annotations

import numpy as np

FLIP_MODES = ("off", "uncertain", "always")


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def with_flip(plain: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Faces as ``N × 2 × 512``: [plain unit embedding, flip-TTA unit embedding]."""
    return np.stack([plain, unit(plain + mirrored)], axis=1)


def flip_band(mode: str, low: float, high: float) -> tuple[float, float] | None:
    """The plain-cosine interval in which the flip-TTA score is used (None: never)."""
    if mode not in FLIP_MODES:
        raise ValueError(f"flip_tta must be one of {FLIP_MODES}, not {mode!r}")
    return {"off": None, "uncertain": (low, high), "always": (-np.inf, np.inf)}[mode]


def in_band(plain: np.ndarray | float, band: tuple[float, float] | None) -> np.ndarray:
    if band is None:
        return np.zeros(np.shape(plain), bool)
    return (np.asarray(plain) >= band[0]) & (np.asarray(plain) <= band[1])


def similarity(a: np.ndarray, b: np.ndarray, band: tuple[float, float] | None) -> np.ndarray:
    """Scores of faces ``a`` (N × 2 × 512) against faces ``b`` (M × 2 × 512), N × M.

    The plain cosine, except inside ``band`` where the flip-TTA cosine is used instead. Flip
    moves a cosine by at most 0.046 on LFW (docs/accuracy.md), so with the band reaching 0.1
    beyond every threshold, every accept/reject decision is the full-TTA decision while ~88 %
    of LFW pairs skip the second inference."""
    plain = a[:, 0] @ b[:, 0].T
    if band is None:
        return plain
    tta = a[:, 1] @ b[:, 1].T
    return np.where(in_band(plain, band), tta, plain)
