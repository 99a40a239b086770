"""The proofs that a candidate face is a document's portrait: what the text around it shows.

Each proof is one function of ``Around`` (a candidate face, the text boxes read around it and
their layout) that says whether it holds; ``PROOFS`` lists them in the order they are tried on
each candidate, and the first that holds confirms the face and names the document's proof. A
new proof is one function here and its line in ``PROOFS``; the search over faces and turns
(``reader.confirm``) does not change. The measurements (column, outline, edges, captions) are
the pure functions of ``layout.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..models.ppocr import OCR
from . import layout
from .views import UPRIGHT_NORM, Candidate


@dataclass(frozen=True)
class Around:
    """A candidate portrait and what the text detector shows around it (view coordinates)."""

    cand: Candidate
    text: list  # every text box around the face (``layout.text_near``)
    lay: layout.Layout  # the column beside the face and the outline holding both
    mrz_length: float  # px: a validated MRZ data line read in the image, 0 when none was
    ocr: OCR  # the text models (``DocumentReader.ocr``), for a proof that reads


@dataclass(frozen=True)
class Proof:
    """A named test of a candidate portrait. ``weak``: it never outranks the others — its
    faces count only when no face has another proof, the smallest of them is taken, and it is
    tried only once every candidate of the turns is looked at (so it is listed last)."""

    name: str
    holds: Callable[[Around], bool]
    weak: bool = False


def outline_quad(a: Around) -> bool:
    """A column of at least 3 text lines at card scale beside the face, face and column inside
    a card / page-aspect quadrilateral, the face 14–55 % of its short side."""
    return a.lay.ok and a.lay.outline == "quad"


def outline_frame(a: Around) -> bool:
    """The image is a scan of a card or page (aspect 1.36–1.66, the face 18–50 % of its short
    side) with a column of at least 4 text lines beside the face."""
    return a.lay.ok and a.lay.outline == "frame"


def mrz_scale(a: Around) -> bool:
    """Once a validated MRZ line has been read: a face 12–50 % of its length."""
    fh = float(a.cand.face.box[3] - a.cand.face.box[1])
    return a.mrz_length > 0 and 0.12 <= fh / a.mrz_length <= 0.5


def labelled_fields(a: Around) -> bool:
    """No outline (a card cut by the frame, or on a background of its colour): a clearly
    upright face whose column reads as a card's fields (``layout.field_column``), bounded by
    straight edges on at least 2 sides (``layout.edge_sides``, the cheap test before the
    reading), at least 2 lines opening with a field caption (``layout.captions``)."""
    c = a.cand
    return (
        c.norm >= UPRIGHT_NORM
        and layout.field_column(a.lay)
        and layout.edge_sides(c.view, c.face.box, a.lay.lines, a.lay.tilt, a.text)
        >= layout.MIN_EDGE_SIDES
        and layout.captions(a.ocr, c.view, a.lay, a.text) >= layout.MIN_CAPTIONS
    )


# tried in this order on each candidate face; the first that holds is the document's proof
PROOFS: tuple[Proof, ...] = (
    Proof("layout+quad", outline_quad),
    Proof("layout+frame", outline_frame),
    Proof("mrz", mrz_scale),
    # a live face beside a held card sees the card's fields too: the card's own portrait is
    # the smaller face, so this one is weak
    Proof("layout+fields", labelled_fields, weak=True),
)


def around(cand: Candidate, text: list, quads: list, mrz_length: float, ocr: OCR) -> Around:
    """What a proof looks at for one candidate: its text boxes, and the layout test
    (``layout.layout``) against the document's quadrilaterals in the view's frame."""
    lay = layout.layout(text, cand.face.box, quads, cand.view.shape)
    return Around(cand, text, lay, mrz_length, ocr)


def first_proof(a: Around, proofs: tuple[Proof, ...], weak: bool) -> Proof | None:
    """The first of ``proofs`` that holds for ``a`` (weak ones only when ``weak``)."""
    for proof in proofs:
        if (weak or not proof.weak) and proof.holds(a):
            return proof
    return None
