"""The document path's cheaper steps give the same answers as the code they replaced."""

from __future__ import annotations

import cv2
import numpy as np

from conftest import DOCS, LFW, need
from facecompare.documents import evidence
from facecompare.lab.data import hard_negatives, synth_cards


# -- the segment pairing of evidence._line_quads before it was vectorised (reference) ----------
def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    p, r = a[:2], a[2:] - a[:2]
    q, s = b[:2], b[2:] - b[:2]
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-6:
        return None
    t = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / den
    return p + t * r


def reference_segment_quads(segs: np.ndarray, h: int, w: int, n_lines: int = 12) -> list:
    total = h * w
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    order = np.argsort(-length)
    segs, length = segs[order], length[order]
    ang_all = np.degrees(np.arctan2(segs[:, 3] - segs[:, 1], segs[:, 2] - segs[:, 0])) % 180
    keep: list[int] = []
    for i in range(len(segs)):
        dup = False
        for k in keep:
            d = abs(ang_all[i] - ang_all[k])
            u = segs[k, 2:] - segs[k, :2]
            m = (segs[i, :2] + segs[i, 2:]) / 2 - segs[k, :2]
            off = abs(u[0] * m[1] - u[1] * m[0]) / max(1e-6, np.hypot(*u))
            if min(d, 180 - d) < 4 and off < 0.015 * min(h, w):
                dup = True
                break
        if not dup:
            keep.append(i)
        if len(keep) == n_lines:
            break
    segs, length, ang = segs[keep], length[keep], ang_all[keep]
    pairs = []
    for i in range(len(segs)):
        for j in range(i + 1, len(segs)):
            d = abs(ang[i] - ang[j])
            if min(d, 180 - d) > 12:
                continue
            u = segs[i, 2:] - segs[i, :2]
            m = (segs[j, :2] + segs[j, 2:]) / 2 - segs[i, :2]
            if abs(u[0] * m[1] - u[1] * m[0]) / max(1e-6, np.hypot(*u)) < 0.1 * min(h, w):
                continue
            pairs.append((i, j))
    out: list[tuple[float, np.ndarray]] = []
    for a in range(len(pairs)):
        for b in range(a + 1, len(pairs)):
            i, j = pairs[a]
            k, m = pairs[b]
            d = abs(ang[i] - ang[k])
            if min(d, 180 - d) < 70:
                continue
            pts = [_intersect(segs[x], segs[y]) for x, y in ((i, k), (k, j), (j, m), (m, i))]
            if any(p is None for p in pts):
                continue
            quad = np.array(pts, np.float32)
            if not (
                np.all(quad >= -0.02 * w)
                and np.all(quad[:, 0] <= 1.02 * w)
                and np.all(quad[:, 1] <= 1.02 * h)
            ):
                continue
            hull = cv2.convexHull(quad)
            if len(hull) != 4:
                continue
            area = cv2.contourArea(hull)
            if not 0.05 * total <= area <= 0.97 * total:
                continue
            (_, _), (rw, rh), _ = cv2.minAreaRect(hull)
            if not 1.25 <= max(rw, rh) / max(1.0, min(rw, rh)) <= 1.80:
                continue
            perim = cv2.arcLength(hull, True)
            if (length[i] + length[j] + length[k] + length[m]) < 0.5 * perim:
                continue
            out.append((area, evidence._order(hull.reshape(4, 2))))
    out.sort(key=lambda t: -t[0])
    return [q for _, q in out[:4]]


def same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def random_segments(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Hough-like segments: the four edges of 0–3 perspective card outlines, each broken into
    pieces with jitter, duplicates and gaps, among random background lines."""
    segs = []
    for _ in range(rng.integers(0, 4)):
        cw = rng.uniform(0.3, 0.9) * w
        ch = cw / rng.uniform(1.2, 1.9)
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        a = rng.uniform(-0.3, 0.3)
        c, s = np.cos(a), np.sin(a)
        corners = np.array([[-cw, -ch], [cw, -ch], [cw, ch], [-cw, ch]]) / 2
        corners = corners @ np.array([[c, s], [-s, c]]) + (cx, cy)
        corners += rng.normal(0, 0.02 * w, corners.shape)
        for e in range(4):
            p, q = corners[e], corners[(e + 1) % 4]
            cuts = np.sort(rng.uniform(0, 1, rng.integers(0, 3)))
            ts = np.concatenate([[0.0], cuts, [1.0]])
            for t0, t1 in zip(ts, ts[1:], strict=False):
                if rng.random() < 0.2:
                    continue  # a gap (glare, a finger)
                seg = np.concatenate([p + t0 * (q - p), p + t1 * (q - p)])
                for _ in range(rng.integers(1, 3)):  # near-duplicates
                    segs.append(seg + rng.normal(0, 1.5, 4))
    for _ in range(rng.integers(0, 30)):
        segs.append(rng.uniform(0, 1, 4) * (w, h, w, h))
    if rng.random() < 0.1:  # exactly parallel copies and degenerate segments
        segs += [[0, 10, 100, 10], [0, 200, 100, 200], [5, 5, 5, 5]]
    return np.round(np.array(segs, np.float64).reshape(-1, 4))


def test_segment_quads_match_the_reference_on_random_segments():
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(1500):
        h, w = (int(v) for v in rng.choice([(360, 480), (480, 360), (480, 480), (270, 480)]))
        segs = random_segments(rng, h, w)
        if len(segs) == 0:
            continue
        new = evidence._segment_quads(segs.copy(), h, w)
        assert same(new, reference_segment_quads(segs.copy(), h, w))
        found += bool(new)
    assert found > 300  # the outlines are found, not only the empty answer compared


def test_line_quads_match_the_reference_on_card_and_scene_edges(monkeypatch):
    """Through evidence.analyse, so on the edge maps find_quads really makes: train-half
    synthetic cards and hard-negative scenes."""
    images = [
        synth_cards.render(LFW, DOCS, person, source, seed).image
        for person, source, seed in synth_cards.card_plan(need(LFW), "train", 12)
    ]
    images += [sc.image for sc in hard_negatives.scenes(LFW, "train", 8, seed=0)]
    hough = cv2.HoughLinesP
    seen = {"maps": 0, "quads": 0}

    def checked(edges, n_lines=12):
        new = line_quads(edges, n_lines)
        h, w = edges.shape
        segs = hough(
            edges, 1, np.pi / 180, 60, minLineLength=0.12 * min(h, w), maxLineGap=0.02 * min(h, w)
        )
        ref = [] if segs is None else reference_segment_quads(segs.reshape(-1, 4) * 1.0, h, w)
        assert same(new, ref)
        seen["maps"] += 1
        seen["quads"] += len(new)
        return new

    line_quads = evidence._line_quads
    monkeypatch.setattr(evidence, "_line_quads", checked)
    for img in images:
        evidence.analyse(img)
    assert seen["maps"] == len(images) and seen["quads"] > 0
