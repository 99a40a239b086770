"""Right-angle turns of a document image, and faces and points carried between the frames.

A card lying sideways or upside down hides its portrait from the upright face detector: the
reader looks at the image turned, and maps what it finds back to the image's own pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..detect import Face

LANDSCAPE = (None, cv2.ROTATE_180)  # text runs horizontally: the portrait is at 0° or 180°
SIDEWAYS = (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)  # text runs vertically


def upright(face: Face) -> bool:
    """Eyes above the nose and the nose above the mouth corners (in the view's frame)."""
    lm = face.landmarks
    eyes, nose, mouth = lm[:2, 1].mean(), lm[2, 1], lm[3:, 1].mean()
    return bool(eyes < nose < mouth)


def likely_turn(faces: list[Face], shape: tuple[int, ...], min_face: float) -> int:
    """The right-angle turn most likely to show a card upright that shows no upright portrait
    as it is: from the largest face's landmarks (eyes → mouth is the face's "down"; SCRFD
    places them on a face lying sideways too: right on 19 of 22 sideways train-half cards
    where it found one), else from the frame (a card photographed in an upright frame lies
    sideways; 90° clockwise then, a guess) or 180°."""
    big = [f for f in faces if f.min_side >= min_face]
    if big:
        lm = max(big, key=lambda f: f.area).landmarks
        dx, dy = lm[3:].mean(0) - lm[:2].mean(0)
        if abs(dx) > abs(dy):  # the face lies sideways: its top is where the eyes are
            return cv2.ROTATE_90_COUNTERCLOCKWISE if dx < 0 else cv2.ROTATE_90_CLOCKWISE
        if dy < 0:  # mouth above the eyes
            return cv2.ROTATE_180
    return cv2.ROTATE_90_CLOCKWISE if shape[0] > shape[1] else cv2.ROTATE_180


def turn(img: np.ndarray, rot: int | None) -> np.ndarray:
    return img if rot is None else cv2.rotate(img, rot)


def unrotate(face: Face, rot: int | None, shape: tuple[int, ...], offset: tuple[int, int]) -> Face:
    """A face found in ``cv2.rotate(crop, rot)`` in the coordinates of the uncropped image."""
    h, w = shape[:2]

    def back(p: np.ndarray) -> np.ndarray:
        x, y = p[:, 0], p[:, 1]
        if rot == cv2.ROTATE_90_CLOCKWISE:  # view (x, y) ← crop (h - 1 - y, x)
            x, y = y, h - 1 - x
        elif rot == cv2.ROTATE_180:
            x, y = w - 1 - x, h - 1 - y
        elif rot == cv2.ROTATE_90_COUNTERCLOCKWISE:
            x, y = w - 1 - y, x
        return np.stack([x + offset[0], y + offset[1]], 1)

    b = face.box
    corners = back(np.array([[b[0], b[1]], [b[2], b[3]]], np.float64))
    box = np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)
    return Face(box, face.score, back(face.landmarks.astype(np.float64)).astype(np.float32))


def rotate_points(p: np.ndarray, rot: int | None, shape: tuple[int, int]) -> np.ndarray:
    """Points of an h × w image in the frame of ``cv2.rotate(image, rot)``."""
    h, w = shape
    x, y = p[:, 0], p[:, 1]
    if rot == cv2.ROTATE_90_CLOCKWISE:
        return np.stack([h - 1 - y, x], 1)
    if rot == cv2.ROTATE_180:
        return np.stack([w - 1 - x, h - 1 - y], 1)
    if rot == cv2.ROTATE_90_COUNTERCLOCKWISE:
        return np.stack([y, w - 1 - x], 1)
    return p
