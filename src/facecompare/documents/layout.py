"""The layout test that confirms a document: text read around a candidate portrait.

The classical evidence (``evidence.py``) is a cheap, high-recall gate. A document is accepted
only when OCR (``models/ppocr.py``) confirms it: a valid machine-readable zone (``mrz.py``), or a
portrait with an aligned column of text lines beside it, at card scale, inside a card / page
outline (a quadrilateral in the photo, or the frame of a scan). Geometry is in units of the face
box (fw × fh).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import mrz
from .evidence import OUTLINE_FACE, edge_map

OCR_SIDE = 640  # px: long side of the image for the text detector when no face is checked
OCR_FACE = 100  # px: a candidate portrait's height in the crop given to the text detector
OCR_MAX_SIDE = 960  # px: the crop's long side at most
# the card-sized neighbourhood of a candidate portrait given to the text detector, in face
# widths either side and face heights above and below
CROP_SIDE, CROP_ABOVE, CROP_BELOW = 4.5, 1.2, 2.0
# how far from the face a line of its column may lie, in face widths. Right of the face the
# lines of a left-aligned column start near it; left of it they end wherever their text ends,
# a short line far from a portrait on the card's right: any line of the crop counts
RIGHT_REACH, LEFT_REACH = 3.0, CROP_SIDE
MIN_COLUMN = {"quad": 3, "frame": 4}  # aligned text lines beside the portrait, per outline
LINE_H = (0.04, 0.40)  # text line height / face height on cards and data pages
FRAME_FACE = (0.18, 0.50)  # face height / image short side, for a scan filling the frame
FRAME_ASPECT = (1.36, 1.66)  # passport data pages 1.39–1.52 and ID-1 1.585 as scanned
MAX_TILT = 25.0  # degrees: text lines this close to horizontal give the card's tilt


@dataclass(frozen=True)
class Layout:
    """What the text detector shows around one candidate portrait (view coordinates)."""

    column: int  # aligned text lines beside the face, on its best side
    side: int  # -1: the column is left of the face, +1: right, 0: none
    line_h: float  # median height of the column's lines / face height
    outline: str  # "quad", "frame" or ""
    lines: tuple = ()  # the column's text boxes (view coordinates)
    tilt: float = 0.0  # degrees: the direction of the card's text lines in the view (``_tilt``)

    @property
    def ok(self) -> bool:
        return bool(self.outline) and self.column >= MIN_COLUMN[self.outline]

    @property
    def reason(self) -> str:
        return f"layout+{self.outline}" if self.ok else ""


def _column(boxes: list, box: np.ndarray) -> tuple[list, int, float]:
    """The best left-aligned column of lines beside the face: (lines, side, median height)."""
    x1, y1, x2, y2 = box
    fw, fh = x2 - x1, y2 - y1
    best: tuple[list, int, float] = ([], 0, 0.0)
    for side in (-1, 1):
        cand = []
        for b in boxes:
            left, right = b.cx - b.length / 2, b.cx + b.length / 2
            if not (y1 - 1.4 * fh <= b.cy <= y2 + 1.4 * fh):
                continue
            if not LINE_H[0] <= b.height / fh <= LINE_H[1]:
                continue
            left_of = side < 0 and right <= x1 + 0.2 * fw and x1 - right <= LEFT_REACH * fw
            right_of = side > 0 and left >= x2 - 0.2 * fw and left - x2 <= RIGHT_REACH * fw
            if left_of or right_of:
                cand.append(b)
        if len(cand) <= len(best[0]):
            continue
        starts = np.array([b.cx - b.length / 2 for b in cand])
        counts = [int(np.count_nonzero(np.abs(starts - s) <= 0.35 * fw)) for s in starts]
        k = int(np.argmax(counts))
        col = [b for b, s in zip(cand, starts, strict=True) if abs(s - starts[k]) <= 0.35 * fw]
        if len(col) > len(best[0]):
            best = (col, side, float(np.median([b.height for b in col])) / fh)
    return best


def _outline(quads: list, shape: tuple[int, ...], box: np.ndarray, column: list) -> str:
    """ "quad": a document-aspect quadrilateral holds the face and the column, at card scale;
    "frame": the image itself is a scan of a card or page (aspect and face size)."""
    x1, y1, x2, y2 = box
    fh = y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    for quad in quads:
        q = quad.reshape(-1, 1, 2).astype(np.float32)
        inside = sum(
            cv2.pointPolygonTest(q, (float(b.cx), float(b.cy)), False) >= 0 for b in column
        )
        # the card's edge bounds its text: a column running on outside it (a poster's credits,
        # a page) means the "outline" is a picture frame or lines of text, not a card
        if inside < min(len(column), MIN_COLUMN["quad"]) or len(column) - inside > 1:
            continue
        if cv2.pointPolygonTest(q, (float(cx), float(cy)), False) >= 0:
            (_, _), (a, b), _ = cv2.minAreaRect(q)
            if OUTLINE_FACE[0] <= fh / max(min(a, b), 1) <= OUTLINE_FACE[1]:
                return "quad"
    h, w = shape[:2]
    aspect = max(h, w) / max(1, min(h, w))
    if FRAME_ASPECT[0] <= aspect <= FRAME_ASPECT[1] and (
        FRAME_FACE[0] <= fh / min(h, w) <= FRAME_FACE[1]
    ):
        return "frame"
    return ""


def _tilt(boxes: list) -> float:
    """The card's tilt in the view (degrees): the median direction of its text lines, when
    they run within MAX_TILT of horizontal (a card photographed at an angle), else 0."""
    angles = [b.angle for b in boxes if b.length >= 2 * b.height and abs(b.angle) <= MAX_TILT]
    return float(np.median(angles)) if len(angles) >= MIN_COLUMN["quad"] else 0.0


def _deskewed(boxes: list, tilt: float, centre: tuple[float, float]) -> list:
    """The boxes with their centres turned by ``-tilt`` about ``centre`` and their angles
    measured from the tilt: a left-aligned column of a tilted card starts at one x again."""
    if tilt == 0.0:
        return boxes
    a = np.deg2rad(-tilt)
    c, s = np.cos(a), np.sin(a)
    out = []
    for b in boxes:
        dx, dy = b.cx - centre[0], b.cy - centre[1]
        cx, cy = centre[0] + c * dx - s * dy, centre[1] + s * dx + c * dy
        out.append(type(b)(cx, cy, b.length, b.height, b.angle - tilt, b.score, b.points))
    return out


def layout(boxes: list, box: np.ndarray, quads: list, shape: tuple) -> Layout:
    """The layout test for one face ``box`` of an upright view, given the view's text boxes
    and document-aspect quadrilaterals. The column is looked for in the frame of the card's
    text (``_tilt``: a card held at 14° has its lines at 14°, their starts on a slant); the
    outline test keeps the view's own coordinates."""
    box = np.asarray(box, np.float64)
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    tilt = _tilt(boxes)
    turned = _deskewed(boxes, tilt, centre)
    keep = [k for k, b in enumerate(turned) if abs(b.angle) <= 12 and b.length >= b.height]
    col, side, lh = _column([turned[k] for k in keep], box)
    chosen = {id(b) for b in col}
    col_view = [boxes[k] for k in keep if id(turned[k]) in chosen]
    outline = _outline(quads, shape, box, col_view)
    return Layout(len(col), side, lh, outline, tuple(col_view), tilt)


# Field captions that open a line of an identity document (ICAO 9303 data-page captions and
# the Latin captions of national ID cards), as the recogniser reads them: upper case, without
# spaces or marks. Words a poster or a programme opens lines with ("NAME", "DATE", "PLACE")
# are not among them.
CAPTIONS = (
    "SURNAME", "GIVENNAME", "LASTNAME", "FIRSTNAME", "DATEOFBIRTH", "BIRTH", "SEX",
    "NATIONALITY", "EXPIR", "DATEOFISSUE", "DATEOFEXPIR", "IDENTIFICATION", "PASSPORT",
    "AUTHORITY",
)  # fmt: skip
FUZZY_CAPTION = 6  # letters: a caption this long still matches with one letter misread
MIN_CAPTIONS = 2  # column lines that open with a caption: a card's fields, not prose
MIN_COLUMN_FIELDS = 4  # column lines needed before the captions are read
FIELD_LINE_H = 0.08  # column line height / face height at least: the portrait's own card


def field_column(lay: Layout) -> bool:
    """A column worth reading as fields: at least MIN_COLUMN_FIELDS lines of card scale for
    this face (a live face beside a held card sees the card's lines at a few % of its
    height)."""
    return lay.column >= MIN_COLUMN_FIELDS and lay.line_h >= FIELD_LINE_H


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by at most one substituted, inserted or deleted letter."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = sorted((a, b), key=len)
    k = next((i for i, (x, y) in enumerate(zip(short, long_, strict=False)) if x != y), len(short))
    return short[k:] == long_[k + 1 :]


def opens_with_caption(letters: str) -> bool:
    """The letters of a line (upper case, A–Z only) open with a field caption: exactly, or
    for a caption of FUZZY_CAPTION letters or more with one letter misread, dropped or added
    ("DATEOFEXPLRY", "LASTAME")."""
    if letters.startswith(CAPTIONS):
        return True
    return any(
        _one_edit(c, letters[: len(c) + d])
        for c in CAPTIONS
        if len(c) >= FUZZY_CAPTION
        for d in (-1, 0, 1)
    )


def _row_opener(line, text: list | tuple):
    """The text box just left of a column line on its row (a caption detected apart from its
    value: a Thai card's "Last name" before "Jaisarm"), or None."""
    best, gap = None, 4.0 * line.height
    a = np.deg2rad(line.angle)
    u = np.array([np.cos(a), np.sin(a)])  # the line's reading direction
    for b in text:
        if b is line:
            continue
        d = np.array([b.cx - line.cx, b.cy - line.cy])
        along, across = float(d @ u), float(d[0] * -u[1] + d[1] * u[0])
        if abs(across) > 0.5 * line.height or along >= 0:
            continue
        g = -along - (b.length + line.length) / 2  # the space between the two boxes
        if -0.5 * line.height <= g < gap:
            best, gap = b, g
    return best


def captions(ocr, view: np.ndarray, lay: Layout, text: list | tuple = ()) -> int:
    """How many lines of the column open with a document field caption (read by the
    recogniser): a card's text is labelled fields, a poster's, page's or sign's is not. A
    line whose own text does not counts when the box just left of it on its row (one of
    ``text``, every box found around the face) does: the column found may be the values'. A
    column that is not a ``field_column`` is not read (0)."""
    if not field_column(lay):
        return 0
    found = 0
    for b in lay.lines:
        for box in (b, _row_opener(b, text)):
            if box is None:
                continue
            read, prob = ocr.recognizer.read(view, box)
            letters = "".join(c for c in read.upper() if "A" <= c <= "Z")
            if prob >= 0.5 and opens_with_caption(letters):
                found += 1
                break
        if found >= MIN_CAPTIONS:
            break
    return found


def text_near(ocr, view: np.ndarray, box: np.ndarray) -> list:
    """Text boxes (view coordinates) in the card-sized neighbourhood of a candidate portrait:
    4.5 face widths either side, 1.2 face heights above and 2 below (a passport's MRZ), the
    crop scaled so the face is OCR_FACE px high (card text then 4–40 px)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    fw, fh = x2 - x1, y2 - y1
    h, w = view.shape[:2]
    cx1, cx2 = int(max(0, x1 - CROP_SIDE * fw)), int(min(w, x2 + CROP_SIDE * fw))
    cy1, cy2 = int(max(0, y1 - CROP_ABOVE * fh)), int(min(h, y2 + CROP_BELOW * fh))
    crop = view[cy1:cy2, cx1:cx2]
    side = int(min(OCR_MAX_SIDE, max(crop.shape[:2]) * OCR_FACE / max(fh, 1.0)))
    found = ocr.detector.detect(crop, max(96, side))
    return [
        type(b)(b.cx + cx1, b.cy + cy1, b.length, b.height, b.angle, b.score, b.points + (cx1, cy1))
        for b in found
    ]


def read_mrz(ocr, img: np.ndarray, boxes: list) -> tuple[str, float]:
    """The first validated MRZ data line among the long text boxes of ``img`` (each read as
    is and turned by 180°) and its length in pixels, or ("", 0)."""
    long = sorted((b for b in boxes if b.length >= 14 * b.height), key=lambda b: -b.length)
    for b in long[:4]:
        for turn in (0, 180):
            box = type(b)(b.cx, b.cy, b.length, b.height, b.angle + turn, b.score, b.points)
            text, prob = ocr.recognizer.read(img, box)
            if prob >= 0.5 and mrz.looks_like_mrz(text):
                line = mrz.data_line(text) or mrz.structured_line(text)
                if line is not None:
                    return line.text, b.length
    return "", 0.0


EDGE_FACE = 60.0  # px: the face's height in the image the card's edges are looked for in
# a card edge lies within EDGE_REACH face heights outside the block of face and column, or
# EDGE_IN inside it (the text detector's boxes are padded and may reach over the card's edge)
EDGE_REACH, EDGE_IN = 1.5, 0.15
MIN_EDGE_SIDES = 2  # sides of the block bounded by an edge (one may be the portrait's own)


EDGE_ANGLE = 12.0  # degrees: an edge's direction off the card's text direction (or its normal)
EDGE_GAP = 3  # px at EDGE_FACE: gaps an edge may have


def edge_sides(
    view: np.ndarray, box: np.ndarray, lines: tuple, tilt: float = 0.0, text: list | tuple = ()
) -> int:
    """On how many sides (of top, bottom, left, right) a straight edge bounds the block of the
    face and its column, within EDGE_REACH face heights of it and along 60 % of it: a card has its
    own edges around its portrait and fields even when a corner or a side is cut off by the
    frame; a page, poster or screen filling the frame has text, not edges, around them.
    ``tilt``: the direction of the card's text (``Layout.tilt``); the card's edges run along it
    and across it, not along the view's axes, when the card is held at an angle. ``text``: every
    text box found around the face; their edges are left out (the tops and feet of a line's
    letters line up into straight "edges" across the small gaps an edge may have)."""
    fh = float(box[3] - box[1])
    xs = [box[0], box[2], *(p[0] for b in lines for p in b.points)]
    ys = [box[1], box[3], *(p[1] for b in lines for p in b.points)]
    bx1, bx2, by1, by2 = min(xs), max(xs), min(ys), max(ys)
    h, w = view.shape[:2]
    m = EDGE_REACH * fh
    rx1, ry1 = int(max(0, bx1 - m)), int(max(0, by1 - m))
    rx2, ry2 = int(min(w, bx2 + m)), int(min(h, by2 + m))
    s = EDGE_FACE / max(fh, 1.0)
    crop = cv2.resize(view[ry1:ry2, rx1:rx2], None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    edges = edge_map(crop)
    for b in text:
        pts = np.round((np.asarray(b.points, np.float64) - (rx1, ry1)) * s).astype(np.int32)
        cv2.fillPoly(edges, [pts], 0)
    # the block in the crop's pixels
    b1x, b2x = (bx1 - rx1) * s, (bx2 - rx1) * s
    b1y, b2y = (by1 - ry1) * s, (by2 - ry1) * s
    f = EDGE_FACE
    shortest = min(b2x - b1x, b2y - b1y)
    segs = cv2.HoughLinesP(
        edges, 1, np.pi / 180, 40, minLineLength=int(0.5 * shortest), maxLineGap=EDGE_GAP
    )
    sides = set()
    for x1, y1, x2, y2 in [] if segs is None else segs.reshape(-1, 4):
        ang = (np.degrees(np.arctan2(y2 - y1, x2 - x1)) - tilt) % 180
        # along: the segment's extent on its own axis; across: where it lies on the other
        if min(ang, 180 - ang) <= EDGE_ANGLE:  # horizontal: a top or bottom edge
            along, across, block, span = (x1, x2), (y1 + y2) / 2, (b1x, b2x), (b1y, b2y)
            names = ("top", "bottom")
        elif abs(ang - 90) <= EDGE_ANGLE:  # vertical: a left or right edge
            along, across, block, span = (y1, y2), (x1 + x2) / 2, (b1y, b2y), (b1x, b2x)
            names = ("left", "right")
        else:
            continue
        cover = min(max(along), block[1]) - max(min(along), block[0])
        if cover < 0.6 * (block[1] - block[0]):
            continue
        if span[0] - EDGE_REACH * f <= across <= span[0] + EDGE_IN * f:
            sides.add(names[0])
        if span[1] - EDGE_IN * f <= across <= span[1] + EDGE_REACH * f:
            sides.add(names[1])
    return len(sides)
