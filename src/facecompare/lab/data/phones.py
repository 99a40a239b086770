"""Bench input: LFW pairs as phone-style 1280×960 JPEGs (face pasted on a cluttered frame).

Deterministic for a seed, built in memory, never written into the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .datasets import Pair, lfw_pairs

PHONE_SIZE = (1280, 960)  # width, height
JPEG_QUALITY = 90


@dataclass(frozen=True)
class BenchPair:
    a: bytes  # JPEG file bytes
    b: bytes
    same: bool


def jpeg(img: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def clutter(rng: np.random.Generator, size: tuple[int, int] = PHONE_SIZE) -> np.ndarray:
    """A busy indoor-looking background: smooth colour fields, shapes, lines, text, noise."""
    w, h = size
    low = rng.integers(40, 220, (6, 8, 3), dtype=np.uint8)
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(25, 45))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 4))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if kind == 0:
            x2, y2 = x + int(rng.integers(20, 300)), y + int(rng.integers(20, 300))
            cv2.rectangle(img, (x, y), (x2, y2), colour, -1 if rng.random() < 0.6 else 3)
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(10, 120)), colour, -1, cv2.LINE_AA)
        elif kind == 2:
            x2, y2 = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.line(img, (x, y), (x2, y2), colour, int(rng.integers(1, 6)), cv2.LINE_AA)
        else:
            cv2.putText(img, "SALE 24/7 OPEN", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.5, colour, 3)
    return img


def phone_photo(
    face: np.ndarray, rng: np.random.Generator, sides: tuple[int, int] = (460, 640)
) -> np.ndarray:
    """The LFW image enlarged to a side in ``sides`` (the default: face about 200–300 px) and
    blended onto a cluttered frame."""
    w, h = PHONE_SIZE
    frame = clutter(rng)
    side = int(rng.integers(*sides))
    patch = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    # feathered border so the paste has no hard square edge around the person
    ramp = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32)
    edge = np.clip(ramp / (side * 0.12), 0, 1)
    alpha = np.minimum(edge[:, None], edge[None, :])[..., None]
    x = int(rng.integers(0, w - side))
    y = int(rng.integers(0, h - side))
    roi = frame[y : y + side, x : x + side].astype(np.float32)
    frame[y : y + side, x : x + side] = (alpha * patch + (1 - alpha) * roi).astype(np.uint8)
    noise = rng.normal(0, 3.0, frame.shape).astype(np.float32)
    return np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def pick_pairs(lfw_root: Path, n: int, seed: int = 0) -> list[Pair]:
    """``n`` LFW View 2 pairs, half same person and half different, spread over the folds."""
    pairs = lfw_pairs(lfw_root)
    rng = np.random.default_rng(seed)
    same = [p for p in pairs if p.same]
    diff = [p for p in pairs if not p.same]
    k = n // 2
    chosen = [same[i] for i in rng.choice(len(same), k, replace=False)]
    chosen += [diff[i] for i in rng.choice(len(diff), n - k, replace=False)]
    return chosen


def build_pairs(
    lfw_root: Path,
    n: int,
    seed: int = 0,
    phone: bool = True,
    sides: tuple[int, int] = (460, 640),
) -> list[BenchPair]:
    """Phone-style pairs (``phone=True``; the LFW image enlarged to a side in ``sides``) or the
    raw LFW files (250×250) for the same pairs."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for p in pick_pairs(lfw_root, n, seed):
        files = [lfw_root / "images" / q for q in (p.a, p.b)]
        if phone:
            imgs = [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in files]
            a, b = (jpeg(phone_photo(img, rng, sides)) for img in imgs)
        else:
            a, b = (f.read_bytes() for f in files)
        out.append(BenchPair(a, b, p.same))
    return out
