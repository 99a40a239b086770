"""SFace recognition embeddings (OpenCV Zoo ``face_recognition_sface_2021dec``), 128-d, on
aligned 112×112 crops; the same interface as :class:`models.arcface.ArcFaceEmbedder`.

Input as OpenCV's ``FaceRecognizerSF.feature`` feeds it: the 112×112 crop aligned on the same
5-point template as ArcFace (``alignCrop``), RGB in [0, 255] (``blobFromImage(crop, 1,
(112, 112), (0, 0, 0), swapRB=True)``); the network subtracts 127.5 and scales by 1/128 itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from .arcface import ArcFaceEmbedder


class SFace(ArcFaceEmbedder):
    """``face_recognition_sface_2021dec*.onnx``."""

    # SFace's feature norms are about half of MobileFaceNet's: over 150 random LFW faces the
    # upright crops' 5th percentile is 10.8, the 99th percentile of crops of turned images 9.3
    upright_norm = 10.0

    @staticmethod
    def blob(crops: list[np.ndarray]) -> np.ndarray:
        """BGR → RGB, [0, 255] kept, NHWC → NCHW float32, one pass."""
        return cv2.dnn.blobFromImages(crops, 1.0, (0, 0), (0, 0, 0), True)
