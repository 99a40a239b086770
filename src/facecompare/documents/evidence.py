"""Identity-document detection: is there a card / passport page in the image, and where.

Signals (all classical image processing, measured in ``benchmarks/documents_eval.py``):

- **text lines**: dark-on-light (and light-on-dark) strokes merged along the reading direction
  into line-shaped blobs; counted in both the horizontal and the vertical reading direction, so
  a card at 90/270 degrees is seen as well as an upright one;
- **MRZ**: two or three long, equally spaced lines of equal height spanning most of the text area;
- **quadrilateral**: the largest convex four-sided contour of card / passport-page aspect;
- **face beside text**: a face (from the caller's detector) with text lines next to it, in the
  reading direction, and smaller than an ordinary portrait photo's face.

An image is a document when the text is dense enough on its own (a scan, an MRZ), or when a
document-aspect quadrilateral or a face holds enough text lines around it. A photo of a person
with a caption or a sign in the background has few lines and a large face: it is not a document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

ID1_ASPECT = 85.6 / 54.0  # 1.585
PASSPORT_ASPECT = 125.0 / 88.0  # 1.42
_WORK_SIDE = 960
MIN_LINE_H = 4  # px at the working scale
_POLARITIES = (cv2.MORPH_BLACKHAT, cv2.MORPH_TOPHAT)  # dark text on light, light on dark
_QUAD_SIDE = 480  # px: long side of the image in which outlines are looked for
_CLEAR = 12  # lines in one direction that make the other direction's count unnecessary


@dataclass(frozen=True)
class TextLine:
    x: float  # centre, work-image pixels (unrotated frame)
    y: float
    length: float  # along the reading direction
    height: float


@dataclass(frozen=True)
class Evidence:
    """What the detector saw, in the coordinates of the input image."""

    lines: int  # text lines in the dominant reading direction
    vertical: bool  # the dominant reading direction is vertical (card turned 90/270)
    mrz: bool
    quad: np.ndarray | None  # 4 × 2, ordered TL, TR, BR, BL
    quad_lines: int  # text lines inside the quad
    face_lines: int  # text lines beside the best face
    region: tuple[int, int, int, int]  # x1, y1, x2, y2: where the document is
    reasons: tuple[str, ...] = field(default=())
    quads: tuple = ()  # all document-aspect quadrilaterals (input coordinates), largest first

    @property
    def is_document(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class Document:
    region: tuple[int, int, int, int]  # x1, y1, x2, y2 in the input image
    quad: np.ndarray | None
    vertical: bool  # text runs vertically: the portrait is upright after a 90° turn
    evidence: Evidence
    faces: tuple = ()  # the caller's face boxes/objects, passed through for reuse
    portrait: object = None  # the verified portrait (pipeline.FoundFace), set by the reader
    proof: str = ""  # what confirmed the document: "mrz", "layout+quad", ...


# -- text lines ----------------------------------------------------------------------------------
def _line_blobs(grey: np.ndarray, polarities: tuple[int, ...] = _POLARITIES) -> list[TextLine]:
    """Horizontal text-line candidates in a grey image: line-shaped blobs made of at least four
    separate character-sized strokes (runs of ink columns)."""
    out: list[TextLine] = []
    w = grey.shape[1]
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15))
    close_k = cv2.getStructuringElement(cv2.MORPH_RECT, (17, 3))
    open_k = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3))
    for op in polarities:
        resp = cv2.morphologyEx(grey, op, k)
        resp = cv2.morphologyEx(resp, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # guilloche
        _, bw = cv2.threshold(resp, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        if cv2.countNonZero(bw) > 0.35 * bw.size:  # not a text-like response
            continue
        merged = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, close_k)
        merged = cv2.morphologyEx(merged, cv2.MORPH_OPEN, open_k)
        contours, _ = cv2.findContours(merged, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            x, y, bw_, bh = cv2.boundingRect(c)
            if not (MIN_LINE_H <= bh <= 48 and bw_ >= 8 * MIN_LINE_H and bw_ >= 3.0 * bh):
                continue
            if cv2.contourArea(c) < 0.40 * bw_ * bh or bw_ > 0.98 * w:
                continue
            if _characters(bw[y : y + bh, x : x + bw_]) < max(4.0, bw_ / (4.0 * bh)):
                continue
            out.append(TextLine(x + bw_ / 2, y + bh / 2, float(bw_), float(bh)))
    return out


def _characters(sub: np.ndarray) -> int:
    """Character-like strokes in a line's box: runs of ink columns at most twice as wide as the
    line is high whose ink spans at least 40 % of its height."""
    h = sub.shape[0]
    ink = sub > 0
    cols = ink.any(0)
    if not cols.any():
        return 0
    top = np.where(cols, ink.argmax(0), 0)
    bottom = np.where(cols, h - ink[::-1].argmax(0), 0)
    span = bottom - top
    edges = np.flatnonzero(np.diff(np.concatenate([[0], cols.astype(np.int8), [0]])))
    starts, ends = edges[::2], edges[1::2]
    tall = np.maximum.reduceat(span, starts) >= 0.4 * h
    narrow = (ends - starts) <= 2 * h
    return int(np.count_nonzero(tall & narrow))


def _dedupe(lines: list[TextLine]) -> list[TextLine]:
    keep: list[TextLine] = []
    for ln in sorted(lines, key=lambda t: -t.length):
        if all(abs(ln.x - k.x) > k.length / 2 or abs(ln.y - k.y) > k.height for k in keep):
            keep.append(ln)
    return keep


def _has_mrz(lines: list[TextLine]) -> bool:
    """Two or three long lines of equal height, stacked at about 1.4–2.5 line heights."""
    long = sorted((t for t in lines if t.length >= 12 * t.height), key=lambda t: t.y)
    for a, b in zip(long, long[1:], strict=False):
        if abs(a.height - b.height) > 0.3 * a.height or abs(a.length - b.length) > 0.15 * a.length:
            continue
        if abs(a.x - b.x) > 0.1 * a.length:
            continue
        if 1.2 * a.height <= b.y - a.y <= 3.0 * a.height:
            return True
    return False


def _dominant_tilt(grey: np.ndarray) -> float | None:
    """Angle (degrees, for cv2.getRotationMatrix2D) that makes the dominant text direction
    horizontal, when it is more than 8 degrees away from both axes; else None."""
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15))
    resp = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, k)
    resp = cv2.morphologyEx(resp, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    _, bw = cv2.threshold(resp, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    bw = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    contours, _ = cv2.findContours(bw, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hist = np.zeros(90)
    for c in contours:
        if len(c) < 5:
            continue
        (_, _), (a, b), ang = cv2.minAreaRect(c)
        long, short = max(a, b), min(a, b)
        if not (5 <= short <= 40 and long >= 4 * short):
            continue
        direction = ang if a >= b else ang + 90  # angle of the long side, degrees
        hist[int(round(direction / 2)) % 90] += long
    if hist.sum() == 0:
        return None
    hist = hist + 0.5 * (np.roll(hist, 1) + np.roll(hist, -1))  # 2° bins, smoothed
    peak = int(hist.argmax()) * 2
    off = min(peak % 90, 90 - peak % 90)
    if off <= 3:
        return None
    return float(peak if peak <= 90 else peak - 180)


def _map_line(t: TextLine, inv_m: np.ndarray) -> TextLine:
    x, y = inv_m @ np.array([t.x, t.y, 1.0])
    return TextLine(float(x), float(y), t.length, t.height)


# -- quadrilateral ------------------------------------------------------------------------------
def _order(quad: np.ndarray) -> np.ndarray:
    s, d = quad.sum(1), np.diff(quad, axis=1).ravel()
    return np.array([quad[s.argmin()], quad[d.argmin()], quad[s.argmax()], quad[d.argmax()]])


OUTLINE_FACE = (0.14, 0.55)  # a card portrait's face height / the card's short side


def edge_map(bgr: np.ndarray) -> np.ndarray:
    """Edges of the grey image and of the two Lab colour channels (a grey card on a teal desk
    has almost no luminance edge), after a 5 × 5 blur."""
    blurred = cv2.GaussianBlur(bgr, (5, 5), 0)
    edges = cv2.Canny(cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY), 30, 100)
    for ch in cv2.split(cv2.cvtColor(blurred, cv2.COLOR_BGR2Lab))[1:]:
        edges |= cv2.Canny(ch, 20, 60)
    return edges


def find_quads(small: np.ndarray, limit: int = 6) -> list[np.ndarray]:
    """Convex quadrilaterals of document aspect covering 8–97 % of the image, largest first.

    Edges of the grey image and of each colour channel (a grey card on a teal desk has almost
    no luminance edge), joined by a 3 × 3 dilation; a contour's hull is simplified at three
    tolerances, so a corner hidden by a finger or a background line crossing an edge still
    leaves a four-sided outline."""
    edges = cv2.dilate(edge_map(small), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    total = small.shape[0] * small.shape[1]
    found: list[tuple[float, np.ndarray]] = []
    for c in contours:
        hull = cv2.convexHull(c)
        area = cv2.contourArea(hull)
        if area < 0.08 * total or area > 0.97 * total:
            continue
        for eps in (0.02, 0.035, 0.05):
            approx = cv2.approxPolyDP(hull, eps * cv2.arcLength(hull, True), True)
            if len(approx) != 4:
                continue
            (_, _), (rw, rh), _ = cv2.minAreaRect(approx)
            aspect = max(rw, rh) / max(1.0, min(rw, rh))
            if 1.25 <= aspect <= 1.80 and cv2.contourArea(approx) >= 0.85 * rw * rh:
                q = _order(approx.reshape(4, 2).astype(np.float32))
                if all(np.abs(q - k).max() > 0.02 * max(small.shape[:2]) for _, k in found):
                    found.append((area, q))
                break
    for q in _line_quads(edges):
        if all(np.abs(q - k).max() > 0.02 * max(small.shape[:2]) for _, k in found):
            found.append((float(cv2.contourArea(q)), q))
    found.sort(key=lambda t: -t[0])
    return [q for _, q in found[:limit]]


MIN_SIDE_SUPPORT = 0.65  # of each side of an outline made of straight segments, on an edge


def _side_support(edges: np.ndarray, quad: np.ndarray) -> float:
    """The least share of a side of ``quad`` that lies on edge pixels. A card's four sides are
    edges along most of their length; an outline made of the ends of text bars and of a column
    of thumbnails is an edge only where those are."""
    h, w = edges.shape
    least = 1.0
    quad = quad.reshape(-1, 2)
    for a, b in zip(quad, np.roll(quad, -1, axis=0), strict=True):
        t = np.linspace(0.03, 0.97, int(np.hypot(*(b - a))) + 1)[:, None]
        p = np.round(a + (b - a) * t).astype(int)
        inside = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
        on = np.zeros(len(p), bool)
        on[inside] = edges[p[inside, 1], p[inside, 0]] > 0
        least = min(least, float(on.mean()))
    return least


def _crossings(
    segs: np.ndarray,
    ang: np.ndarray,
    length: np.ndarray,
    pairs: list[tuple[int, int]],
    shape: tuple[int, int],
) -> list[tuple[int, int, int, int, np.ndarray]]:
    """The quadrilaterals two pairs of parallel segments make, crossing at 70°–90°: their four
    corners (float32, in order around), when inside the image (2 % margin) and long enough
    segments for the outline's perimeter. All pairs of pairs at once."""
    h, w = shape
    if len(pairs) < 2:
        return []
    a, b = np.triu_indices(len(pairs), 1)
    p = np.asarray(pairs)
    i, j, k, m = p[a, 0], p[a, 1], p[b, 0], p[b, 1]
    d = np.abs(ang[i] - ang[k])
    sel = np.minimum(d, 180 - d) >= 70
    i, j, k, m = i[sel], j[sel], k[sel], m[sel]
    corners, ok = [], np.ones(len(i), bool)
    for x, y in ((i, k), (k, j), (j, m), (m, i)):  # the lines through segments x and y meet
        pp, r = segs[x, :2], segs[x, 2:] - segs[x, :2]
        q, s = segs[y, :2], segs[y, 2:] - segs[y, :2]
        den = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
        ok &= np.abs(den) >= 1e-6
        den = np.where(ok, den, 1.0)
        t = ((q - pp)[:, 0] * s[:, 1] - (q - pp)[:, 1] * s[:, 0]) / den
        corners.append(pp + t[:, None] * r)
    quads = np.stack(corners, 1).astype(np.float32)
    ok &= np.all(quads >= -0.02 * w, axis=(1, 2))
    ok &= np.all(quads[:, :, 0] <= 1.02 * w, axis=1) & np.all(quads[:, :, 1] <= 1.02 * h, axis=1)
    perim = np.linalg.norm(quads - np.roll(quads, -1, axis=1), axis=2).sum(1)
    # a first cut (0.1 % slack for float32): the caller measures the outline's hull again
    ok &= (length[i] + length[j] + length[k] + length[m]) >= 0.5 * perim * 0.999
    return [(int(i[n]), int(j[n]), int(k[n]), int(m[n]), quads[n]) for n in np.flatnonzero(ok)]


def _line_quads(edges: np.ndarray, n_lines: int = 12) -> list[np.ndarray]:
    """Quadrilaterals from straight edge segments (Hough): two roughly parallel pairs, roughly
    perpendicular to each other, whose intersections give a document-aspect outline that the
    segments support along at least half of its perimeter. Finds a card whose outline a glare
    spot or a crossing background line breaks into pieces.

    The ``n_lines`` longest segments make outlines as they are; a shorter segment (a card's
    short side, crowded out by text bars and background lines) only in an outline whose every
    side lies on edges (``_side_support``)."""
    h, w = edges.shape
    total = h * w
    segs = cv2.HoughLinesP(
        edges, 1, np.pi / 180, 60, minLineLength=0.12 * min(h, w), maxLineGap=0.02 * min(h, w)
    )
    if segs is None or len(segs) == 0:
        return []
    segs = segs.reshape(-1, 4).astype(np.float64)
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    order = np.argsort(-length)
    segs, length = segs[order], length[order]
    ang_all = np.degrees(np.arctan2(segs[:, 3] - segs[:, 1], segs[:, 2] - segs[:, 0])) % 180
    # one segment per edge (near-collinear shorter copies dropped), at most n_lines along the
    # longest segment's direction and n_lines across it
    across = np.abs((ang_all - ang_all[0] + 45) % 180 - 45) > 45
    keep: list[int] = []
    count = [0, 0]  # kept along, across
    for i in range(len(segs)):
        if count[int(across[i])] == n_lines:
            continue
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
            count[int(across[i])] += 1
        if len(keep) == 2 * n_lines:
            break
    segs, length, ang = segs[keep], length[keep], ang_all[keep]
    pairs = []
    for i in range(len(segs)):
        for j in range(i + 1, len(segs)):
            d = abs(ang[i] - ang[j])
            if min(d, 180 - d) > 12:
                continue
            # distinct lines: the midpoint of j far from the line of i
            u = segs[i, 2:] - segs[i, :2]
            m = (segs[j, :2] + segs[j, 2:]) / 2 - segs[i, :2]
            if abs(u[0] * m[1] - u[1] * m[0]) / max(1e-6, np.hypot(*u)) < 0.1 * min(h, w):
                continue
            pairs.append((i, j))
    out: list[tuple[float, bool, np.ndarray]] = []
    for i, j, k, m, quad in _crossings(segs, ang, length, pairs, (h, w)):
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
        out.append((area, max(i, j, k, m) >= n_lines, hull))
    out.sort(key=lambda t: -t[0])
    kept = []
    for _, short, hull in out:
        if short and _side_support(edges, hull) < MIN_SIDE_SUPPORT:
            continue
        kept.append(_order(hull.reshape(4, 2)))
        if len(kept) == 4:
            break
    return kept


def find_quad(small: np.ndarray) -> np.ndarray | None:
    """The largest convex quadrilateral of document aspect covering 8–97 % of the image."""
    quads = find_quads(small, 1)
    return quads[0] if quads else None


# -- decision -----------------------------------------------------------------------------------
MIN_LINES_SCAN = 5  # text lines that make an image a document on their own
MIN_LINES_QUAD = 3  # inside a document-aspect quadrilateral
MIN_LINES_FACE = 2  # beside a face that is small for its image
MAX_FACE_FRACTION = 0.12  # face box area / image area above which a face is a portrait photo


def _inside(lines: list[TextLine], poly: np.ndarray) -> list[TextLine]:
    p = poly.reshape(-1, 1, 2).astype(np.float32)
    return [t for t in lines if cv2.pointPolygonTest(p, (t.x, t.y), False) >= 0]


def _holds(quad: np.ndarray, box: np.ndarray) -> bool:
    """The quadrilateral holds the face's centre, the face (its longer side: it may lie
    sideways) being 14–55 % of the quadrilateral's short side (OUTLINE_FACE, the OCR
    confirmation's rule too), as a card's portrait is."""
    x1, y1, x2, y2 = box
    q = quad.reshape(-1, 1, 2).astype(np.float32)
    if cv2.pointPolygonTest(q, (float(x1 + x2) / 2, float(y1 + y2) / 2), False) < 0:
        return False
    (_, _), (a, b), _ = cv2.minAreaRect(q)
    lo, hi = OUTLINE_FACE
    return lo <= max(x2 - x1, y2 - y1) / max(1.0, min(a, b)) <= hi


def _beside_face(lines: list[TextLine], box: np.ndarray) -> list[TextLine]:
    """Lines within four face widths to the left or right of the face, overlapping it in y
    extended by two face heights (the card's text column)."""
    x1, y1, x2, y2 = box
    fw, fh = x2 - x1, y2 - y1
    return [
        t
        for t in lines
        if (x2 <= t.x - t.length / 2 + fw * 0.3 or t.x + t.length / 2 - fw * 0.3 <= x1)
        and min(abs(t.x - x1), abs(t.x - x2)) <= 5 * fw
        and y1 - 1.2 * fh <= t.y <= y2 + 1.2 * fh
    ]


def _rot_box(box: np.ndarray, h: int) -> np.ndarray:
    """A box of the work image in the frame rotated 90° clockwise (cv2.ROTATE_90_CLOCKWISE)."""
    x1, y1, x2, y2 = box
    return np.array([h - y2, x1, h - y1, x2], np.float32)


def _rot_pts(p: np.ndarray, h: int) -> np.ndarray:
    return np.stack([h - p[:, 1], p[:, 0]], 1)


@dataclass(frozen=True)
class Page:
    """What ``analyse`` sees in an image before any face: text lines and outlines, at the
    working scale."""

    scale: float  # work image / input image
    shape: tuple[int, int]  # h, w of the work image
    lines: list  # TextLine, in the dominant reading direction (rotated frame when vertical)
    vertical: bool
    quads: list  # document-aspect quadrilaterals, work-image pixels, largest first


def measure(img: np.ndarray) -> Page:
    """The face-independent part of ``analyse``: text lines (both reading directions, deskewed
    when tilted) and document-aspect outlines."""
    h0, w0 = img.shape[:2]
    scale = min(1.0, _WORK_SIDE / max(h0, w0))
    if max(h0, w0) < 600:  # small scans: enlarge so characters reach the line filter's range
        scale = 600 / max(h0, w0)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=interp)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    horiz = _dedupe(_line_blobs(grey))
    vert = []
    if len(horiz) < _CLEAR:  # a sideways document has few horizontal lines
        vert = _dedupe(_line_blobs(cv2.rotate(grey, cv2.ROTATE_90_CLOCKWISE)))
    vertical = len(vert) > len(horiz)
    lines = vert if vertical else horiz
    tilt = None if len(lines) >= MIN_LINES_SCAN else _dominant_tilt(grey)
    if tilt is not None:  # text in between: count lines in the deskewed image too
        m = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)
        tilted = _dedupe(_line_blobs(cv2.warpAffine(grey, m, (w, h), borderValue=int(grey.mean()))))
        if len(tilted) > len(lines):
            inv_m = cv2.invertAffineTransform(m)
            lines = [_map_line(t, inv_m) for t in tilted]
            vertical = False
            if abs(tilt) > 45:  # reading direction nearer vertical: use the rotated frame
                vertical = True
                lines = [TextLine(h - t.y, t.x, t.length, t.height) for t in lines]

    qs = _QUAD_SIDE / max(h, w)  # outlines are found at a coarser scale
    quads = [
        q / qs
        for q in find_quads(cv2.resize(small, None, fx=qs, fy=qs, interpolation=cv2.INTER_AREA))
    ]
    return Page(scale, (h, w), lines, vertical, quads)


def analyse(
    img: np.ndarray, faces: Sequence[np.ndarray] = (), page: Page | None = None
) -> Evidence:
    """Document evidence. ``faces``: detector boxes (x1, y1, x2, y2) in image pixels, any size.
    ``page``: ``measure(img)`` when the caller already has it (the same image with other
    faces: the text lines and outlines are not looked for again)."""
    h0, w0 = img.shape[:2]
    page = measure(img) if page is None else page
    scale, (h, w), lines, vertical = page.scale, page.shape, page.lines, page.vertical
    quads = page.quads
    quad = quads[0] if quads else None
    boxes = [np.asarray(b, np.float32) * scale for b in faces]
    if vertical:
        quad_r = None if quad is None else _rot_pts(quad, h)
        boxes_r = [_rot_box(b, h) for b in boxes]
    else:
        quad_r, boxes_r = quad, boxes
    quad_lines = len(_inside(lines, quad_r)) if quad_r is not None else 0
    face_lines, best_face = 0, None
    for b, br in zip(boxes, boxes_r, strict=True):
        frac = (b[2] - b[0]) * (b[3] - b[1]) / (h * w)
        if frac > MAX_FACE_FRACTION:
            continue
        n = len(_beside_face(lines, br))
        if n > face_lines:
            face_lines, best_face = n, b
    mrz = _has_mrz(lines)
    # a face at portrait scale inside a document-aspect outline (a small card whose text is
    # under the line filter's size: OCR decides)
    framed = any(_holds(q, b) for q in quads for b in boxes)

    reasons = []
    if len(lines) >= MIN_LINES_SCAN:
        reasons.append("text")
    if mrz:
        reasons.append("mrz")
    if quad is not None and quad_lines >= MIN_LINES_QUAD:
        reasons.append("quad")
    if best_face is not None and face_lines >= MIN_LINES_FACE:
        reasons.append("face")
    if framed:
        reasons.append("framed-face")

    if "quad" in reasons and quad is not None:
        x1, y1 = quad.min(0)
        x2, y2 = quad.max(0)
    else:
        x1, y1, x2, y2 = 0, 0, w, h
    inv = 1.0 / scale
    region = (
        max(0, int(x1 * inv)),
        max(0, int(y1 * inv)),
        min(w0, int(np.ceil(x2 * inv))),
        min(h0, int(np.ceil(y2 * inv))),
    )
    return Evidence(
        lines=len(lines),
        vertical=vertical,
        mrz=mrz,
        quad=None if quad is None else quad * inv,
        quad_lines=quad_lines,
        face_lines=face_lines,
        region=region,
        reasons=tuple(reasons),
        quads=tuple(q * inv for q in quads),
    )


def document(ev: Evidence, keep: tuple = ()) -> Document | None:
    """The Document the evidence shows, or None. ``keep``: anything the caller wants back on
    the Document (its face objects)."""
    if not ev.is_document:
        return None
    return Document(ev.region, ev.quad, ev.vertical, ev, keep)


def find_document(
    img: np.ndarray, faces: Sequence[np.ndarray] = (), keep: tuple = ()
) -> Document | None:
    """The document in ``img`` or None. ``faces``: face boxes of the caller's detector."""
    return document(analyse(img, faces), keep)
