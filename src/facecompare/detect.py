"""SCRFD face detection with 5 landmarks (one small class over an onnxruntime session)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

_STRIDES = (8, 16, 32)
_ANCHORS_PER_CELL = 2
AREA_BELOW = 0.5  # shrink factors at or below this use area averaging, else bilinear


@dataclass(frozen=True)
class Face:
    box: np.ndarray  # x1, y1, x2, y2 in image pixels
    score: float
    landmarks: np.ndarray  # 5 × 2: eyes, nose, mouth corners

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def min_side(self) -> float:
        return min(self.width, self.height)

    @property
    def area(self) -> float:
        return self.width * self.height

    def scaled(self, factor: float) -> Face:
        """The same face in the coordinates of an image ``factor`` times larger."""
        if factor == 1:
            return self
        return Face(self.box * factor, self.score, self.landmarks * factor)

    def shifted(self, dx: float, dy: float) -> Face:
        """The same face with its coordinates moved by (dx, dy)."""
        d = np.array([dx, dy], np.float32)
        return Face(self.box + np.tile(d, 2), self.score, self.landmarks + d)

    def as_dict(self) -> dict[str, float]:
        x1, y1 = float(self.box[0]), float(self.box[1])
        return {
            "x": round(x1),
            "y": round(y1),
            "width": round(self.width),
            "height": round(self.height),
            "score": round(self.score, 4),
        }


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


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
            ys, xs = np.mgrid[: h // stride, : w // stride]
            centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
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
        if not boxes:
            return []
        all_boxes = np.vstack(boxes) / scale
        all_scores = np.concatenate(scores)
        all_kps = np.vstack(kpss) / scale
        keep = nms(all_boxes, all_scores, self.nms_threshold)
        return [Face(all_boxes[i], float(all_scores[i]), all_kps[i]) for i in keep]
