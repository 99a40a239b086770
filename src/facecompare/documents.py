"""Identity-document detection: is there a card / passport page in the image, and where."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ID1_ASPECT = 85.6 / 54.0  # 1.585
PASSPORT_ASPECT = 125.0 / 88.0  # 1.42
_WORK_SIDE = 800


@dataclass(frozen=True)
class Document:
    quad: (
        np.ndarray
    )  # 4 × 2 corners in image pixels: top-left, top-right, bottom-right, bottom-left
    image: np.ndarray  # the document warped to a flat, landscape rectangle


def _order(quad: np.ndarray) -> np.ndarray:
    s, d = quad.sum(1), np.diff(quad, axis=1).ravel()
    return np.array([quad[s.argmin()], quad[d.argmin()], quad[s.argmax()], quad[d.argmax()]])


def _rectify(img: np.ndarray, quad: np.ndarray) -> np.ndarray:
    tl, tr, br, bl = quad
    w = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    h = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(img, m, (w, h))


def find_quad(img: np.ndarray) -> np.ndarray | None:
    """The largest convex quadrilateral of document aspect covering ≥ 10 % of the image."""
    h0, w0 = img.shape[:2]
    scale = min(1.0, _WORK_SIDE / max(h0, w0))
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    edges = cv2.dilate(cv2.Canny(grey, 30, 100), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    best, best_area = None, 0.10 * small.shape[0] * small.shape[1]
    for c in contours:
        hull = cv2.convexHull(c)
        area = cv2.contourArea(hull)
        if area <= best_area:
            continue
        approx = cv2.approxPolyDP(hull, 0.03 * cv2.arcLength(hull, True), True)
        if len(approx) != 4:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(approx)
        aspect = max(rw, rh) / max(1.0, min(rw, rh))
        if 1.25 <= aspect <= 1.80:
            best, best_area = approx.reshape(4, 2).astype(np.float32), area
    return None if best is None else _order(best / scale)


def find_document(img: np.ndarray) -> Document | None:
    quad = find_quad(img)
    if quad is None:
        return None
    flat = _rectify(img, quad)
    if flat.shape[0] > flat.shape[1]:
        flat = cv2.rotate(flat, cv2.ROTATE_90_CLOCKWISE)
    return Document(quad, flat)
