"""SCRFD face detection with 5 landmarks (InsightFace ``scrfd_500m_bnkps.onnx``), one small
class over an inference session."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from ..detect import Face, cell_grid, kept_faces

_STRIDES = (8, 16, 32)
_ANCHORS_PER_CELL = 2
AREA_BELOW = 0.5  # shrink factors at or below this use area averaging, else bilinear


class SCRFD:
    """SCRFD-500M with batch-norm and keypoints (``scrfd_500m_bnkps.onnx``)."""

    def __init__(self, session: ort.InferenceSession, nms_threshold: float = 0.4) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.nms_threshold = nms_threshold
        self._centers: dict[tuple[int, int, int], np.ndarray] = {}

    def _anchor_centers(self, h: int, w: int, stride: int) -> np.ndarray:
        key = (h, w, stride)
        if key not in self._centers:
            centers = cell_grid(h, w, stride) * stride
            self._centers[key] = np.repeat(centers, _ANCHORS_PER_CELL, axis=0)
        return self._centers[key]

    def detect(self, img: np.ndarray, size: int = 640, threshold: float = 0.5) -> list[Face]:
        """Faces in a BGR image, best score first.

        ``size``: longer side of the network input. Images are shrunk to it, never enlarged:
        SCRFD-500M misses faces that upsampling has made soft and large (31 LFW images at 640).
        """
        h0, w0 = img.shape[:2]
        scale = min(1.0, size / max(h0, w0))
        nh, nw = max(1, round(h0 * scale)), max(1, round(w0 * scale))
        # area averaging where the shrink is 2× or more (aliasing); above that bilinear, as
        # InsightFace resizes for this model: OpenCV's area resize at a non-integer ratio such
        # as 640 → 480 costs ~3 ms, more than the bf16 network (benchmarks/det_resize.py)
        area = scale <= AREA_BELOW
        resized = cv2.resize(
            img, (nw, nh), interpolation=cv2.INTER_AREA if area else cv2.INTER_LINEAR
        )
        ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32  # pad to a multiple of the largest stride
        padded = cv2.copyMakeBorder(resized, 0, ph - nh, 0, pw - nw, cv2.BORDER_CONSTANT, value=0)
        # one pass: BGR → RGB, (x - 127.5) / 128, HWC → NCHW float32 (no intermediate copies)
        blob = cv2.dnn.blobFromImage(padded, 1 / 128.0, (pw, ph), (127.5, 127.5, 127.5), True)
        outs = self.session.run(None, {self.input_name: blob})

        boxes, scores, kpss = [], [], []
        n = len(_STRIDES)
        for i, stride in enumerate(_STRIDES):
            score = outs[i][0].reshape(-1)
            keep = np.where(score >= threshold)[0]
            if keep.size == 0:
                continue
            centers = self._anchor_centers(ph, pw, stride)[keep]
            dist = outs[i + n][0][keep] * stride
            kps = outs[i + 2 * n][0][keep].reshape(-1, 5, 2) * stride
            boxes.append(np.hstack([centers - dist[:, :2], centers + dist[:, 2:]]))
            kpss.append(centers[:, None, :] + kps)
            scores.append(score[keep])
        return kept_faces(boxes, scores, kpss, scale, self.nms_threshold)
