"""ArcFace-type recognition embeddings (MobileFaceNet w600k_mbf) on aligned 112×112 crops, and
the score of two faces with flip test-time augmentation where the decision is uncertain."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

FLIP_MODES = ("off", "uncertain", "always")


class ArcFaceEmbedder:
    # feature norm of a clearly upright face (documents: no need to try more turns of a card)
    upright_norm: float = 19.0

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.dim = int(session.get_outputs()[0].shape[-1])  # 512 (MobileFaceNet), 128 (SFace)

    @staticmethod
    def blob(crops: list[np.ndarray]) -> np.ndarray:
        """The network input: BGR → RGB, (x - 127.5) / 127.5, NHWC → NCHW float32, one pass."""
        return cv2.dnn.blobFromImages(crops, 1 / 127.5, (0, 0), (127.5, 127.5, 127.5), True)

    def raw(self, crops: list[np.ndarray]) -> np.ndarray:
        """Unnormalised embeddings of BGR crops, one row each, in one batch."""
        return self.session.run(None, {self.input_name: self.blob(crops)})[0]

    def embed(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """L2-normalised embeddings and their norms (a face-quality signal)."""
        feats = self.raw(crops)
        norms = np.linalg.norm(feats, axis=1)
        return feats / np.maximum(norms[:, None], 1e-12), norms

    def mirrored(self, crops: list[np.ndarray]) -> np.ndarray:
        """L2-normalised embeddings of the crops mirrored left-right."""
        return self.embed([cv2.flip(c, 1) for c in crops])[0]


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
