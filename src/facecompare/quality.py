"""Face sharpness on the aligned crop, so the score does not depend on how the photo was scaled."""

from __future__ import annotations

import cv2
import numpy as np


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the aligned 112×112 face (grey), inner face region only."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    inner = grey[16:104, 16:96]  # eyes to chin: no background, no hair
    return float(cv2.Laplacian(inner, cv2.CV_64F, ksize=3).var())
