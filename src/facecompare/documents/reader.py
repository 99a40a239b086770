"""Reading a document image: is it a card or passport page, and which face is its portrait.

``DocumentReader.find`` reads one way, one stage after the other, each a function below:

1. ``orient``: the faces of the image as it is, and the right-angle turn likeliest to show the
   card upright (the largest face's landmarks, else the frame); that turn's largest face is
   embedded, and its text read when it embeds as an upright portrait — all while the gate's
   text lines and outlines are measured on the image pool;
2. ``locate``: the classical gate (``evidence.analyse``: text lines, MRZ shape, outlines, face
   beside text): where the document is, whether its text runs sideways; most ordinary photos
   stop here;
3. ``confirm``: the proofs (``proofs.PROOFS``, tried in order on each candidate face of the
   turns ``turn_pairs`` gives) — a column of text beside the face in a card outline or a scan's
   frame, labelled fields, a face at the scale of an MRZ line; without a confirmed face, a
   validated MRZ line anywhere still makes a document (a card's back, no portrait);
4. ``take_portrait``: the confirmed face, upright, in the image's own pixels.

What the stages look at (faces, embeddings, text boxes per turn) is shared in ``views.Views``,
each computed once. The OCR models load on the first document, or before (``warm``: the server
loads them at start-up, before it says it is ready); never for the photo path alone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..detect import Face
from ..models.ppocr import OCR, choose_backend
from ..pipeline import FoundFace, Pipeline
from . import evidence, layout
from .proofs import PROOFS, Proof, around, first_proof
from .turns import (
    LANDSCAPE,
    SIDEWAYS,
    likely_turn,
    rotate_points,
    unrotate,
    upright,
)
from .views import UPRIGHT_NORM, Candidate, Views

_TURN_MIN_LINES = 2  # text lines that justify looking for a turned portrait during detection
# feature norm above which a confirmed face of the first turn ends the search before the
# second turn is looked at: wrongly turned faces reached 19.1 on the train-half cards (an
# upside-down card whose 0° face passed the landmark test at 19.07 while its 180° face had
# 20.8), upright ones 20–26 (docs/documents.md)
_LAZY_NORM = 21.0


class DocumentReader:
    """Documents and their portraits, with the pipeline's detector, aligner and recogniser."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self._ocr: OCR | None = None
        self._ocr_lock = threading.Lock()
        # the text detector's backend, decided (and a bad setting refused) at start-up
        self.ocr_backend = choose_backend(self.settings.ocr_backend)

    @property
    def ocr(self) -> OCR:
        """The text detector and recogniser, verified and loaded on first use (~0.5 s)."""
        with self._ocr_lock:
            if self._ocr is None:
                self._ocr = OCR.load(max(1, self.settings.image_threads), self.ocr_backend)
            return self._ocr

    @property
    def loaded(self) -> bool:
        """Whether the text models are loaded (``warm`` or the first document)."""
        return self._ocr is not None

    def warm(self) -> None:
        """Load the text models and run each once, on a drawn line of text, so that the first
        document request pays neither the loading nor the first runs (the server calls this
        before ``/readyz`` answers ready; the photo path never needs it)."""
        page = np.full((600, 960, 3), 255, np.uint8)
        cv2.putText(page, "P<UTOERIKSSON<<ANNA", (40, 300), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 0, 2)
        ocr = self.ocr
        for side in (layout.OCR_SIDE, layout.OCR_MAX_SIDE):  # the whole image, the largest crop
            boxes = ocr.detector.detect(page, side)
        for box in boxes[:1]:
            ocr.recognizer.read(page, box)

    def find(self, img: np.ndarray) -> evidence.Document | None:
        """The document in an image, confirmed by OCR, with its portrait, or None."""
        look = Views(self, img)  # what this call has looked at, shared by the stages
        page = self.pipeline.beside(evidence.measure, img)  # the gate's text, on the pool
        look.likely = orient(look)
        doc = locate(look, page())
        if doc is None:
            return None
        confirmed = confirm(look, doc, turn_pairs(look, doc))
        return None if confirmed is None else take_portrait(look, doc, confirmed)

    def portrait(self, img: np.ndarray, doc: evidence.Document) -> FoundFace | None:
        """The verified portrait when ``find`` confirmed one; else (a document confirmed by its
        MRZ only) None.

        Without a confirmed document (``doc`` from the classical evidence alone, as the lab's
        measurements use it) the portrait is the largest face of at least
        ``min_document_face`` px inside the document, upright. The text direction says whether
        the document lies landscape (the detector runs at 0° and 180°) or sideways (90° both
        ways); the other two turns are tried only when those give no clearly upright face.
        SCRFD also "finds" faces upside down or sideways, with landmarks in the wrong places and
        high scores; the turn kept is the one whose aligned crop has the largest recogniser
        feature norm (a wrongly turned face has a small norm). The box is in ``img`` pixels."""
        if doc.portrait is not None:
            return doc.portrait  # type: ignore[return-value]
        if doc.proof == "mrz":  # an MRZ but no face checked beside text: no portrait to trust
            return None
        x1, y1, x2, y2 = doc.region
        shape = (y2 - y1, x2 - x1)
        first = SIDEWAYS if doc.vertical else LANDSCAPE
        second = LANDSCAPE if doc.vertical else SIDEWAYS
        embedder = self.pipeline.embedder
        cands: list[FoundFace] = []
        norms: list[float] = []
        for turns in (first, second):
            new: list[FoundFace] = []
            for rot in turns:
                view, faces = region_faces(self, img, doc, rot)
                if faces:  # the largest: the ghost portrait is smaller
                    back = unrotate(faces[0], rot, shape, (x1, y1))
                    new.append(FoundFace(back, self.pipeline.aligned(view, faces[0])))
            if new:
                embs, new_norms = embedder.embed([f.crop for f in new])
                cands += [
                    replace(f, embedding=e, norm=float(n))
                    for f, e, n in zip(new, embs, new_norms, strict=True)
                ]
                norms += new_norms.tolist()
                if max(norms) >= embedder.upright_norm:
                    break
        if not cands:
            return None
        return cands[int(np.argmax(norms))]


# -- the stages of ``find``, in order ---------------------------------------------------------
def orient(look: Views) -> int:
    """The right-angle turn likeliest to show the card upright (``turns.likely_turn``: the
    largest face's landmarks, eyes → mouth, else the frame), from the faces of the image as it
    is (the gate's detection, ``look.detect``). Meanwhile (the gate's text lines and outlines
    are measured on the other core) the first steps of the search: the upright view's largest
    face is aligned and embedded and, when its feature norm is that of an upright portrait
    (_LAZY_NORM), the text around it is detected; otherwise the same in the likeliest turn. On
    a photo that is no document they are spent for nothing."""
    s = look.reader.settings
    likely = likely_turn(look.detect(None), look.img.shape, s.min_document_face)
    for rot in (None, likely):
        look.detect(rot)
        if look.faces(rot)[1] and look.candidate(rot, 0).norm >= _LAZY_NORM:
            look.text(rot, 0)
            break
    return likely


def locate(look: Views, page: evidence.Page) -> evidence.Document | None:
    """The document by the classical evidence (``evidence.analyse`` of the measured ``page``
    and the detector's faces: text lines, MRZ, quadrilateral, face beside text), or None.

    When the text alone is not conclusive but present, the faces of the image turned (90° both
    ways, likeliest first, for vertical text, else 180°) are added for the face-beside-text
    signal; the Document keeps the faces (the portrait search reuses them)."""
    img = look.img
    faces = look.detect(None)
    ev = evidence.analyse(img, [f.box for f in faces], page)
    if not ev.is_document and ev.lines >= _TURN_MIN_LINES:
        for rot in look.first(SIDEWAYS) if ev.vertical else (cv2.ROTATE_180,):
            found = [f for f in look.detect(rot) if upright(f)]
            if found:
                faces = faces + [unrotate(f, rot, img.shape, (0, 0)) for f in found]
                ev = evidence.analyse(img, [f.box for f in faces], page)
                break
    return evidence.document(ev, tuple(faces))


def turn_pairs(look: Views, doc: evidence.Document) -> tuple[tuple, tuple]:
    """The turns the portrait is looked for in, two pairs: first those of the text direction
    (0° and 180° for horizontal text, 90° both ways for vertical text, the likeliest first),
    then the other two."""
    if doc.vertical:
        return look.first(SIDEWAYS), LANDSCAPE
    return LANDSCAPE, look.first(SIDEWAYS)


@dataclass(frozen=True)
class Confirmed:
    """What confirmed the document, and its portrait (None: an MRZ line without a face at its
    scale)."""

    proof: str
    portrait: Candidate | None


def confirm(look: Views, doc: evidence.Document, pairs: tuple) -> Confirmed | None:
    """The proof that the located document is one, and its portrait, or None.

    First a face with a proof (``PortraitSearch``: ``proofs.PROOFS`` on the candidate faces of
    ``pairs``). Else a validated MRZ line (``mrz_line``) makes a document, and its portrait is a
    face 12–50 % of the line's length, when there is one (the same search, the MRZ's own proof
    now able to hold)."""
    search = PortraitSearch(look, doc)
    found = search.run(pairs)
    if found is not None:
        return Confirmed(found[1], found[0])
    code, length = mrz_line(look, search.read, pairs[0][0])
    if not code:
        return None
    found = PortraitSearch(look, doc, mrz_length=length).run(pairs)
    return Confirmed("mrz", None if found is None else found[0])


def take_portrait(look: Views, doc: evidence.Document, confirmed: Confirmed) -> evidence.Document:
    """The confirmed document with its portrait: the confirmed face in the image's own pixels
    (its aligned crop, upright, and embedding kept from the search)."""
    c = confirmed.portrait
    face = None
    if c is not None:
        c = upright_turn(look, c)
        back = unrotate(c.face, c.rot, look.img.shape[:2], (0, 0))
        face = FoundFace(back, c.crop, c.emb, c.norm)
    return replace(doc, portrait=face, proof=confirmed.proof)


def upright_turn(look: Views, c: Candidate) -> Candidate:
    """The confirmed face in the turn that shows it upright: a proof says which face is the
    portrait, the recogniser's feature norm which way up it is. A face confirmed with a norm
    under UPRIGHT_NORM (a card lying sideways and cut by the frame can be confirmed upside down
    when its upright view has no outline) is looked for in the four turns; of the faces whose
    centre lies inside its box, the largest norm is kept."""
    if c.norm >= UPRIGHT_NORM:
        return c
    shape = look.img.shape[:2]
    x1, y1, x2, y2 = unrotate(c.face, c.rot, shape, (0, 0)).box
    best = c
    for rot in LANDSCAPE + SIDEWAYS:
        for o in look.candidates(rot):
            ox1, oy1, ox2, oy2 = unrotate(o.face, rot, shape, (0, 0)).box
            cx, cy = (ox1 + ox2) / 2, (oy1 + oy2) / 2
            if o.norm > best.norm and x1 <= cx <= x2 and y1 <= cy <= y2:
                best = o
    return best


# -- what ``confirm`` uses ------------------------------------------------------------------
class PortraitSearch:
    """The candidate faces of the turns, tried with the proofs, cheapest first.

    The two turns of a pair (the text direction's first): the largest upright faces of each
    view are aligned and embedded first (``Views``); the proofs (one text-detector run per
    face) then take them in order of feature norm (a wrongly turned face embeds with a small
    norm), and the first face confirmed with a clearly upright norm (UPRIGHT_NORM) ends the
    search: one text-detector run for most cards instead of one per turn (same portraits on
    the development cards, 34 % less time: CHANGELOG.md). Before that, the largest face of the
    pair's first turn alone: confirmed with a norm ≥ _LAZY_NORM it ends the search before the
    second turn's face detection (most of the rest) and before the other faces are embedded;
    then the largest face of each turn. The other pair only when the first confirms no face
    with a clearly upright norm; without one, the confirmed face of the largest norm wins."""

    def __init__(
        self,
        look: Views,
        doc: evidence.Document,
        proofs: tuple[Proof, ...] = PROOFS,
        mrz_length: float = 0.0,
    ) -> None:
        self.look, self.doc, self.proofs = look, doc, proofs
        self.mrz_length = mrz_length  # px of a validated MRZ line, once one is read
        # the text boxes of each view, in the order the faces were tested (the MRZ is read in
        # that order)
        self.read: dict[int | None, list] = {}

    def run(self, pairs: tuple) -> tuple[Candidate, str] | None:
        """The portrait and its proof's name, or None."""
        look = self.look
        cands: list[tuple[Candidate, str]] = []
        for turns in pairs:
            # the first turn's largest face alone, when its norm is one no wrong turn reaches.
            # Its text boxes are kept for the walks after: the text detector never runs twice
            # on one face
            first = [look.candidate(turns[0], 0)] if look.faces(turns[0])[1] else []
            found, done = self.walk([c for c in first if c.norm >= _LAZY_NORM], False)
            if done:
                return found[-1]
            # then the largest face of each turn of the pair, before the smaller ones are
            # embedded (a card's portrait is its largest face; no weak proof yet: that one
            # needs every candidate looked at)
            second = [look.candidate(turns[1], 0)] if look.faces(turns[1])[1] else []
            found, done = self.walk(first + second, False)
            if done:
                return found[-1]
            found, done = self.walk(look.candidates(turns[0]) + look.candidates(turns[1]), True)
            cands += found
            if done:
                return cands[-1]
            if cands and max(c.norm for c, _ in cands) >= UPRIGHT_NORM:
                break
        if not cands:
            return None
        return cands[int(np.argmax([c.norm for c, _ in cands]))]

    def walk(self, pending: list[Candidate], every: bool) -> tuple[list, bool]:
        """The proofs on ``pending`` in order of feature norm: the confirmed faces with their
        proof's name, and whether the search ends there (the last is clearly upright).

        One confirmed face per turn. ``every``: all the candidates of the pair are pending, so
        weak proofs are tried too (a weakly proved face counts only when no other is
        confirmed, the smallest of them: a live face beside a held card sees the card's fields
        too, the card's own portrait is the smaller face), and the text boxes read are kept
        for the MRZ (``read``)."""
        look, doc = self.look, self.doc
        h, w = look.img.shape[:2]
        found: list[tuple[Candidate, str]] = []
        weak: list[tuple[float, Candidate, str]] = []  # (area, face, proof)
        confirmed: set = set()
        for c in sorted(pending, key=lambda c: (-c.norm, c.k)):
            if c.rot in confirmed:
                continue
            quads = [rotate_points(p, c.rot, (h, w)) for p in doc.evidence.quads]
            text = look.text(c.rot, c.k)
            if every:
                self.read.setdefault(c.rot, []).extend(text)
            a = around(c, text, quads, self.mrz_length, look.reader.ocr)
            proof = first_proof(a, self.proofs, weak=every)
            if proof is None:
                continue
            if proof.weak:
                weak.append((c.face.area, c, proof.name))
                continue
            found.append((c, proof.name))
            confirmed.add(c.rot)
            if c.norm >= UPRIGHT_NORM:
                return found, True
        if weak and not found:
            _, c, name = min(weak, key=lambda t: t[0])
            return [(c, name)], True  # a weak proof holds for clearly upright faces only
        return found, False


def mrz_line(look: Views, read: dict, first: int | None) -> tuple[str, float]:
    """The first validated MRZ data line (``layout.read_mrz``) among the text boxes read around
    the faces, view by view in the order read, and its length in px; when no face was looked
    at, among the text of the view ``first`` whole (at ``layout.OCR_SIDE``). ("", 0) when
    none."""
    ocr = look.reader.ocr
    if not read:
        read = {first: ocr.detector.detect(look.view(first), layout.OCR_SIDE)}
    for rot, boxes in read.items():
        code, length = layout.read_mrz(ocr, look.view(rot), boxes)
        if code:
            return code, length
    return "", 0.0


# -- ``DocumentReader.portrait`` of a document ``find`` did not confirm -----------------------
def region_faces(
    reader: DocumentReader, img: np.ndarray, doc: evidence.Document, rot: int | None
) -> tuple[np.ndarray, list[Face]]:
    """The document region turned by ``rot`` and its upright qualifying faces, largest
    first (the upright full image reuses the gate's detection)."""
    x1, y1, x2, y2 = doc.region
    crop = img[y1:y2, x1:x2]
    view = crop if rot is None else cv2.rotate(crop, rot)
    full = (x1, y1, x2, y2) == (0, 0, img.shape[1], img.shape[0])
    min_face = reader.settings.min_document_face
    if rot is None and full and doc.faces:
        found = sorted((f for f in doc.faces if f.min_side >= min_face), key=lambda f: -f.area)
    else:
        found = reader.pipeline.faces(view, min_face, reader.settings.det_retry_size)
    return view, [f for f in found if upright(f)]
