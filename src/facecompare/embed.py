"""ArcFace-type recognition embeddings (MobileFaceNet w600k_mbf) on aligned 112×112 crops."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort


class ArcFaceEmbedder:
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def raw(self, crops: list[np.ndarray]) -> np.ndarray:
        """Unnormalised embeddings of BGR crops, one row each, in one batch."""
        # one pass: BGR → RGB, (x - 127.5) / 127.5, NHWC → NCHW float32
        blob = cv2.dnn.blobFromImages(crops, 1 / 127.5, (0, 0), (127.5, 127.5, 127.5), True)
        return self.session.run(None, {self.input_name: blob})[0]

    def embed(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """L2-normalised embeddings and their norms (a face-quality signal)."""
        feats = self.raw(crops)
        norms = np.linalg.norm(feats, axis=1)
        return feats / np.maximum(norms[:, None], 1e-12), norms


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))
