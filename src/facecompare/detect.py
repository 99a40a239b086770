"""A detected face (box, score, 5 points) and what the detectors share: the cell grid, NMS.

The detector classes themselves are models: ``models/scrfd.py``, ``models/yunet.py``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


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


@lru_cache(maxsize=64)
def cell_grid(h: int, w: int, stride: int) -> np.ndarray:
    """(x, y) of every cell of a stride-``stride`` feature map over an h × w input, row-major,
    as float32 cell indices (the anchor-free detectors' prior centres, before × stride)."""
    ys, xs = np.mgrid[: h // stride, : w // stride]
    grid = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32)
    grid.flags.writeable = False
    return grid


def kept_faces(
    boxes: list[np.ndarray],
    scores: list[np.ndarray],
    points: list[np.ndarray],
    scale: float,
    iou_threshold: float,
) -> list[Face]:
    """The faces that survive NMS, best score first, from per-stride candidates in network-input
    pixels (``scale``: network input / image), as float32 in image pixels."""
    if not boxes:
        return []
    all_boxes = np.vstack(boxes) / scale
    all_scores = np.concatenate(scores)
    all_points = np.vstack(points) / scale
    keep = nms(all_boxes, all_scores, iou_threshold)
    f32 = np.float32
    return [
        Face(all_boxes[i].astype(f32), float(all_scores[i]), all_points[i].astype(f32))
        for i in keep
    ]
