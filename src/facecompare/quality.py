"""Face quality scores on the aligned 112×112 crop, and the edge sharpness of a whole image.

Every score is computed on the detected face after alignment, never on the whole image: the
crop puts every face at the same scale (eye distance ≈ 35 px), so upscaling a photo does not
change the score and a blurred background never enters it. Higher means sharper / better.

The score the server uses, and its threshold, are chosen by ``facecompare calibrate-blur``
(:mod:`facecompare.lab.fit.blur`), which compares these candidates on degraded LFW faces.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

# eyes to chin, inside the cheeks: no background, little hair (the crop is 112×112)
INNER = (slice(16, 104), slice(16, 96))
_EPS = 1e-6


def _inner_grey(crop: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return grey[INNER].astype(np.float32)


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the aligned face (grey), inner face region only."""
    return float(cv2.Laplacian(_inner_grey(crop), cv2.CV_32F, ksize=3).var())


def laplacian_ratio(crop: np.ndarray) -> float:
    """Laplacian variance over grey-level variance: sharpness with the face's contrast divided
    out, so a dim or flat-lit face is not mistaken for a blurred one."""
    g = _inner_grey(crop)
    return float(cv2.Laplacian(g, cv2.CV_32F, ksize=3).var() / (g.var() + _EPS))


def gradient_ratio(crop: np.ndarray) -> float:
    """Tenengrad (mean squared Sobel gradient) over grey-level variance."""
    g = _inner_grey(crop)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return float((gx * gx + gy * gy).mean() / (g.var() + _EPS))


_DIRECTIONAL = [
    np.array([[1, -2, 1]], np.float32),  # across vertical edges
    np.array([[1], [-2], [1]], np.float32),  # across horizontal edges
    np.array([[1, 0, 0], [0, -2, 0], [0, 0, 1]], np.float32) / 2,  # diagonals (spacing √2)
    np.array([[0, 0, 1], [0, -2, 0], [1, 0, 0]], np.float32) / 2,
]


def directional_min(crop: np.ndarray) -> float:
    """Smallest variance of the second derivative over 4 directions: motion blur wipes out
    detail along its direction only, which the isotropic Laplacian averages away."""
    g = _inner_grey(crop)
    return float(min(cv2.filter2D(g, cv2.CV_32F, k)[1:-1, 1:-1].var() for k in _DIRECTIONAL))


CONTRAST_REF = 30.0  # grey-level std of the inner face: ~8th percentile of natural LFW photos


def directional_min_norm(crop: np.ndarray) -> float:
    """``directional_min`` with dim or flat faces brought up to ``CONTRAST_REF``: the same value
    for any face of ordinary contrast, and a dark or low-contrast photo is not taken for a
    blurred one (the second derivative scales with the contrast, hence the square)."""
    g = _inner_grey(crop)
    boost = max(1.0, CONTRAST_REF / (float(g.std()) + _EPS))
    return directional_min(crop) * boost * boost


# reblur_min: the crop at 90 px (eye distance ≈ 28 px: at or below the native resolution of any
# face the API accepts), eyes-nose-mouth core region of that crop
REBLUR_SIZE = 90
REBLUR_CORE = (slice(27, 81), slice(18, 71))
REBLUR_SIGMA = 1.0  # px of the 90 px crop ≈ 0.035 of the eye distance


def reblur_min(crop: np.ndarray) -> float:
    """How much detail one more, known blur removes (a ratio: contrast and lighting cancel).

    The grey crop is reduced to 90 px and blurred again with a Gaussian of σ 1 px; per direction
    (horizontal, vertical, both diagonals) the variance of the second derivative before and after
    is compared on the eyes-nose-mouth core, and the smallest ratio is kept. A sharp face loses
    most of its finest detail to the extra blur (large ratio); a face that is already blurred has
    little left to lose (ratio near 1). Motion blur lowers the ratio along its direction only,
    hence the minimum."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    g = cv2.resize(
        grey.astype(np.float32), (REBLUR_SIZE, REBLUR_SIZE), interpolation=cv2.INTER_AREA
    )
    b = cv2.GaussianBlur(g, (0, 0), REBLUR_SIGMA)
    g, b = g[REBLUR_CORE], b[REBLUR_CORE]
    ratios = [
        cv2.filter2D(g, cv2.CV_32F, k)[1:-1, 1:-1].var()
        / (cv2.filter2D(b, cv2.CV_32F, k)[1:-1, 1:-1].var() + _EPS)
        for k in _DIRECTIONAL
    ]
    return float(min(ratios))


_FREQ_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _freq_masks(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if shape not in _FREQ_CACHE:
        fy = np.fft.fftfreq(shape[0])[:, None]
        fx = np.fft.rfftfreq(shape[1])[None, :]
        r = np.hypot(fy, fx)  # cycles per pixel, 0 … 0.707
        window = np.outer(np.hanning(shape[0]), np.hanning(shape[1])).astype(np.float32)
        _FREQ_CACHE[shape] = (window, (r >= 0.25) & (r <= 0.5), (r >= 0.03) & (r <= 0.5))
    return _FREQ_CACHE[shape]


def frequency_ratio(crop: np.ndarray) -> float:
    """Share of the spectral energy above 0.25 cycles/pixel (0.03–0.5 band, Hann window)."""
    g = _inner_grey(crop)
    window, high, band = _freq_masks(g.shape)
    power = np.abs(np.fft.rfft2((g - g.mean()) * window)) ** 2
    return float(power[high].sum() / (power[band].sum() + _EPS))


# edge_sharpness: the whole image at the scale the document reader looks for a card (its longer
# side at most 640 px: the face detector's and the text detector's whole-image passes)
EDGE_SIDE = 640
EDGE_WINDOW = 9  # px: the neighbourhood whose grey-level range is an edge's step height
EDGE_MIN_STEP = 40.0  # grey levels: only steps this high count as edges (not noise, not JPEG)
EDGE_MIN_SHARE = 0.001  # of the pixels: fewer edge pixels and there is nothing to judge
EDGE_PERCENTILE = 99.0
# below this, an image flagged as a document in which no document was found is too blurred to be
# read (with blur_detection): fitted on train-half synthetic card photos, sharp against σ 4 px
# (`python benchmarks/blur_documents.py --fit`, docs/blur.md)
DOCUMENT_EDGE_SHARPNESS = 2.5


def edge_sharpness(img: np.ndarray) -> float | None:
    """How steep the steepest edges of an image are, for their height (higher: sharper), or
    None when it has too few edges to judge (a blank or flat image).

    The grey image is reduced so that its longer side is at most ``EDGE_SIDE`` px (never
    enlarged). At each pixel whose ``EDGE_WINDOW`` × ``EDGE_WINDOW`` neighbourhood spans at
    least ``EDGE_MIN_STEP`` grey levels, the Sobel gradient magnitude is divided by that span;
    the ``EDGE_PERCENTILE`` th percentile is kept. An ideal step scores 4; blurred by a Gaussian
    of σ px (σ ≳ 1, at the reduced scale) it scores 8 / (σ √(2π)) ≈ 3.2 / σ (the Sobel kernel
    gives 8 × the slope). A ratio, so contrast and exposure cancel; the text strokes and card
    outline of a photographed card are its steepest edges."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    scale = EDGE_SIDE / max(grey.shape[:2])
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    g = grey.astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    kernel = np.ones((EDGE_WINDOW, EDGE_WINDOW), np.uint8)
    step = cv2.dilate(g, kernel) - cv2.erode(g, kernel)
    edges = step >= EDGE_MIN_STEP
    if edges.sum() < EDGE_MIN_SHARE * g.size:
        return None
    return float(np.percentile(magnitude[edges] / step[edges], EDGE_PERCENTILE))


# name → function of the aligned crop; "embedding_norm" comes from the recogniser instead
CROP_SCORES: dict[str, Callable[[np.ndarray], float]] = {
    "laplacian_var": sharpness,
    "laplacian_ratio": laplacian_ratio,
    "gradient_ratio": gradient_ratio,
    "directional_min": directional_min,
    "frequency_ratio": frequency_ratio,
    "reblur_min": reblur_min,
    "directional_min_norm": directional_min_norm,
}
EMBEDDING_NORM = "embedding_norm"
SCORE_NAMES = (*CROP_SCORES, EMBEDDING_NORM)


def score(name: str, crop: np.ndarray, embedding_norm: float | None = None) -> float:
    """The named quality score of one aligned face (higher: sharper)."""
    if name == EMBEDDING_NORM:
        if embedding_norm is None:
            raise ValueError("embedding_norm needs the recogniser's raw embedding norm")
        return float(embedding_norm)
    try:
        return CROP_SCORES[name](crop)
    except KeyError:
        raise ValueError(f"unknown quality score {name!r}; one of {SCORE_NAMES}") from None
