"""106-point facial landmarks (InsightFace ``2d106det``), reduced to the 5 alignment points.

SCRFD-500M's own 5 points come from a detector head working at the detector's input scale;
the 106-point model looks at a 192×192 crop of the face and places the points more precisely.
Aligning on its points is worth +0.08 points of LFW 10-fold accuracy without flip
test-time augmentation and +0.08 with it (docs/accuracy.md), for ~2.5 ms of CPU per face
(with the PRelu rewrite of models/rewrite.py; 6.2 ms without).
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

INPUT = 192
# The 106-point indices nearest SCRFD's 5 points over LFW (benchmarks/landmark_levers.py):
# each eye's centre is the mean of its two nearest points, then nose tip and mouth corners.
FIVE_FROM_106 = ((34, 38), (88, 92), (86,), (52,), (61,))


def crop_matrix(center: np.ndarray, scale: float, out: int) -> np.ndarray:
    """2×3 matrix scaling by ``scale`` about ``center`` and putting it at the middle of an
    ``out``×``out`` crop."""
    half = out / 2
    return np.array(
        [[scale, 0.0, half - center[0] * scale], [0.0, scale, half - center[1] * scale]],
        np.float64,
    )


class Landmark106:
    """``2d106det.onnx``: a face crop of 1.5 × the detector box, 192×192, RGB in [0, 255]
    (the network normalises its input itself); 212 outputs in [-1, 1], crop coordinates."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def blob(self, img: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network input for the face in ``box`` (x1, y1, x2, y2), and the 2×3 matrix from
        ``img`` to the crop."""
        box = np.asarray(box, np.float64)
        center = (box[:2] + box[2:]) / 2
        side = max(box[2] - box[0], box[3] - box[1], 1.0)
        m = crop_matrix(center, INPUT / (side * 1.5), INPUT)
        crop = cv2.warpAffine(img, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR, borderValue=0)
        return cv2.dnn.blobFromImage(crop, 1.0, (INPUT, INPUT), (0, 0, 0), swapRB=True), m

    def points(self, img: np.ndarray, box: np.ndarray) -> np.ndarray:
        """106 × 2 landmarks of the face in ``box`` (x1, y1, x2, y2), in ``img`` pixels."""
        blob, m = self.blob(img, box)
        pred = self.session.run(None, {self.input_name: blob})[0][0].reshape(-1, 2)
        pts = (pred.astype(np.float64) + 1) * (INPUT / 2)
        inv = cv2.invertAffineTransform(m)
        return pts @ inv[:, :2].T + inv[:, 2]

    def five(self, img: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The 5 alignment points (eyes, nose tip, mouth corners) as float32, 5 × 2."""
        pts = self.points(img, box)
        return np.stack([pts[list(i)].mean(0) for i in FIVE_FROM_106]).astype(np.float32)
