"""ArcFace-type recognition embeddings (MobileFaceNet w600k_mbf) on aligned 112×112 crops."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort


class ArcFaceEmbedder:
    """``flip``: test-time augmentation, each face is embedded as it is and mirrored, in the same
    batch, and the two unit vectors are averaged (+0.12 points on LFW 10-fold, one more
    112×112 inference per face)."""

    def __init__(self, session: ort.InferenceSession, flip: bool = False) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.flip = flip

    def raw(self, crops: list[np.ndarray]) -> np.ndarray:
        """Unnormalised embeddings of BGR crops, one row each, in one batch."""
        # one pass: BGR → RGB, (x - 127.5) / 127.5, NHWC → NCHW float32
        blob = cv2.dnn.blobFromImages(crops, 1 / 127.5, (0, 0), (127.5, 127.5, 127.5), True)
        return self.session.run(None, {self.input_name: blob})[0]

    def embed(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """L2-normalised embeddings and their norms (a face-quality signal)."""
        n = len(crops)
        feats = self.raw(crops + [cv2.flip(c, 1) for c in crops] if self.flip else crops)
        norms = np.linalg.norm(feats, axis=1)
        unit = feats / np.maximum(norms[:, None], 1e-12)
        if self.flip:
            unit = unit[:n] + unit[n:]
            unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
            norms = (norms[:n] + norms[n:]) / 2
        return unit, norms


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))
