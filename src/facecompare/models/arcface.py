"""ArcFace-type recognition embeddings (InsightFace MobileFaceNet ``w600k_mbf.onnx``) on aligned
112×112 crops, one small class over an inference session."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort


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
