from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from facecompare.align import ARCFACE_TEMPLATE, align, similarity_transform


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


@settings(max_examples=50, deadline=None)
@given(st.floats(-np.pi, np.pi), st.floats(0.2, 5.0), st.floats(-300, 300), st.floats(-300, 300))
def test_recovers_a_known_similarity(angle, scale, tx, ty):
    c, s = np.cos(angle), np.sin(angle)
    true = np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])
    src = ARCFACE_TEMPLATE
    dst = apply(true, src)
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m, true, atol=1e-6)


def test_aligned_landmarks_land_on_template():
    # a face at 3× scale, rotated 20°, shifted: after alignment the landmarks sit on the template
    angle = np.deg2rad(20)
    c, s = np.cos(angle), np.sin(angle)
    fwd = np.array([[3 * c, -3 * s, 200], [3 * s, 3 * c, 100]])
    landmarks = apply(fwd, ARCFACE_TEMPLATE)
    img = np.zeros((800, 800, 3), np.uint8)
    for x, y in landmarks.astype(int):
        img[y - 2 : y + 3, x - 2 : x + 3] = 255
    crop = align(img, landmarks)
    assert crop.shape == (112, 112, 3)
    for x, y in ARCFACE_TEMPLATE.round().astype(int):
        assert crop[y, x].max() > 100
