"""Reading a document image: is it a card or passport page, and which face is its portrait.

The classical evidence (``evidence.analyse``) is a cheap gate. A candidate is a document when a
face of it has a column of text lines beside it at card scale inside a card outline, or a
validated MRZ below it (``layout.layout``); that face is the portrait. Without such a face, a
validated MRZ anywhere still makes a document (a card's back), whose missing portrait is then
CAN_NOT_DETECT_FACE. The OCR models load on the first document, or before (``warm``: the server
loads them at start-up, before it says it is ready); never for the photo path alone.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import cv2
import numpy as np

from ..detect import Face
from ..models.ppocr import OCR, choose_backend
from ..pipeline import FoundFace, Pipeline
from . import evidence, layout
from .turns import (
    LANDSCAPE,
    SIDEWAYS,
    likely_turn,
    rotate_points,
    turn,
    unrotate,
    upright,
)

_TURN_MIN_LINES = 2  # text lines that justify looking for a turned portrait during detection
_UPRIGHT_NORM = 19.0  # feature norm of a clearly upright portrait: no need to try more turns
_PORTRAIT_CANDIDATES = 3  # faces per view checked with OCR (largest first)
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
        look = _Views(self, img)  # what this call has looked at, kept for every step below
        doc = self._candidate(img, look)
        if doc is None:
            return None
        # the text detector reads upright lines only: it runs around each upright face of a
        # view (card-sized crops) and, for an MRZ without such a face, on the first view
        boxes: dict[int | None, list] = {}
        views = look.first(SIDEWAYS) if doc.vertical else LANDSCAPE
        found = self._verified_portrait(look, doc, boxes, views)
        if found is not None:
            return replace(doc, portrait=found[0], proof=found[1])
        if not boxes:
            boxes[views[0]] = self.ocr.detector.detect(turn(img, views[0]), layout.OCR_SIDE)
        for rot, bx in boxes.items():
            code, length = layout.read_mrz(self.ocr, turn(img, rot), bx)
            if code:
                found = self._verified_portrait(look, doc, boxes, views, length)
                return replace(doc, portrait=None if found is None else found[0], proof="mrz")
        return None

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
                view, faces = self._view_faces(img, doc, rot)
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

    # -- steps --------------------------------------------------------------------------------
    def _candidate(self, img: np.ndarray, look: _Views | None = None) -> evidence.Document | None:
        """The document in an image by the classical evidence (text lines, MRZ, quadrilateral,
        face beside text), if any.

        When the text alone is not conclusive but present, the detector also looks at the image
        turned (90° both ways for vertical text, else 180°) for the face-beside-text signal.
        ``look``: the detector's faces of each view go there for the portrait search; and while
        the text and outlines are measured, the upright view's largest face is aligned and
        embedded, and when its feature norm is that of an upright portrait the text around it is
        detected; otherwise the same in the likeliest turn (``turns.likely_turn``): the first
        steps of the search, done while this thread would otherwise wait (on a photo that is no
        document they are spent for nothing). The gate and the search look at that turn first
        when the text direction allows it."""
        detector = self.pipeline.detector
        det = self.settings.det_retry_size, self.settings.det_threshold  # documents: 640
        look = _Views(self, img) if look is None else look
        # the text and outlines (for both analyses below) on the other core meanwhile
        measured = self.pipeline.beside(evidence.measure, img)
        faces = detector.detect(img, *det)
        look.detected[None] = faces
        # the upright view's largest face; when it is not upright, the card likely lies turned
        # (turns.likely_turn): that turn is looked at meanwhile
        look.likely = likely_turn(faces, img.shape, self.settings.min_document_face)
        for rot in (None, look.likely):
            if rot not in look.detected:
                look.detected[rot] = detector.detect(look.view(rot), *det)
            if look.faces(rot)[1] and look.candidate(rot, 0)[0] >= _LAZY_NORM:
                look.text(rot, 0)
                break
        page = measured()
        ev = evidence.analyse(img, [f.box for f in faces], page)
        if not ev.is_document and ev.lines >= _TURN_MIN_LINES:
            for rot in look.first(SIDEWAYS) if ev.vertical else (cv2.ROTATE_180,):
                if rot not in look.detected:
                    look.detected[rot] = detector.detect(look.view(rot), *det)
                found = [f for f in look.detected[rot] if upright(f)]
                if found:
                    faces = faces + [unrotate(f, rot, img.shape, (0, 0)) for f in found]
                    ev = evidence.analyse(img, [f.box for f in faces], page)
                    break
        return evidence.document(ev, tuple(faces))

    def _view_faces(
        self, img: np.ndarray, doc: evidence.Document, rot: int | None
    ) -> tuple[np.ndarray, list[Face]]:
        """The document region turned by ``rot`` and its upright qualifying faces, largest
        first (the upright full image reuses the candidate's detection)."""
        x1, y1, x2, y2 = doc.region
        crop = img[y1:y2, x1:x2]
        view = crop if rot is None else cv2.rotate(crop, rot)
        full = (x1, y1, x2, y2) == (0, 0, img.shape[1], img.shape[0])
        min_face = self.settings.min_document_face
        if rot is None and full and doc.faces:
            found = sorted((f for f in doc.faces if f.min_side >= min_face), key=lambda f: -f.area)
        else:
            found = self.pipeline.faces(view, min_face, self.settings.det_retry_size)
        return view, [f for f in found if upright(f)]

    def _verified_portrait(
        self,
        look: _Views,
        doc: evidence.Document,
        boxes: dict,
        views: tuple,
        mrz_length: float = 0.0,
    ) -> tuple[FoundFace, str] | None:
        """The portrait confirmed by the text around it, and what confirmed it, or None.

        ``boxes``: the text boxes of each view, filled as views are looked at. The two turns of
        the text direction first (``views``), the other two only when those confirm no face
        with a clearly upright feature norm. The largest upright faces of each view are aligned
        and embedded first (``_Views``); the layout test (``layout.layout``, one text-detector
        run each) then takes them in order of feature norm (a wrongly turned face embeds with a
        small norm) and stops at the first confirmed face with a clearly upright norm: one
        text-detector run for most cards instead of one per turn (same portraits on the
        development cards, 34 % less time: CHANGELOG.md). Before that, the largest face of
        the first turn alone: confirmed with a norm ≥ _LAZY_NORM it ends the search before
        the second turn's face detection (most of the rest) and before the other faces are
        embedded. With a validated MRZ of ``mrz_length`` px, a face whose height is 12–50 % of
        the MRZ line is a portrait too. Without a clearly upright one, the confirmed face of
        the largest norm wins. ``look``: the faces and text boxes of each view, kept between the
        calls of one ``find`` (the MRZ call looks at the same faces again)."""
        img = look.img
        h, w = img.shape[:2]
        other = LANDSCAPE if views[0] in SIDEWAYS else look.first(SIDEWAYS)

        def walk(
            pending: list, record: bool = True, fields: bool = True
        ) -> tuple[list, list, bool]:
            """The layout test in order of feature norm: confirmed faces, their norms, and
            whether the last is clearly upright (the search ends there). ``record``: the text
            boxes of each face tested go to ``boxes`` in the order tested (the MRZ is read in
            that order). ``fields``: a face whose column has no outline but reads as labelled
            fields (``layout.captions``) is confirmed, only when no face is confirmed
            otherwise, and of several such faces the smallest: a live face beside a held card
            sees the card's fields too, the card's own portrait is the smaller face (so every
            candidate of the turns must have been looked at)."""
            found: list[tuple[FoundFace, str]] = []
            found_norms: list[float] = []
            by_fields: list[tuple[float, FoundFace, float]] = []  # (area, face, norm)
            confirmed: set = set()  # one confirmed face per turn, as the layout test allows
            for norm, k, rot, view, f, crop, emb in sorted(pending, key=lambda c: (-c[0], c[1])):
                if rot in confirmed:
                    continue
                q = [rotate_points(p, rot, (h, w)) for p in doc.evidence.quads]
                tb = look.text(rot, k)
                if record:
                    boxes.setdefault(rot, []).extend(tb)
                lay = layout.layout(tb, f.box, q, view.shape)
                fh = float(f.box[3] - f.box[1])
                by_mrz = mrz_length > 0 and 0.12 <= fh / mrz_length <= 0.5
                if lay.ok or by_mrz:
                    back = unrotate(f, rot, (h, w), (0, 0))
                    face = FoundFace(back, crop, emb, norm)
                    found.append((face, lay.reason if lay.ok else "mrz"))
                    found_norms.append(norm)
                    confirmed.add(rot)
                    if norm >= _UPRIGHT_NORM:
                        return found, found_norms, True
                elif (  # clearly upright faces only; the cheap edge test before the reading
                    fields
                    and norm >= _UPRIGHT_NORM
                    and layout.field_column(lay)
                    and layout.edge_sides(view, f.box, lay.lines, lay.tilt, tb)
                    >= layout.MIN_EDGE_SIDES
                    and layout.captions(self.ocr, view, lay, tb) >= layout.MIN_CAPTIONS
                ):
                    # no outline (a card cut by the frame, or on a background of its colour)
                    back = unrotate(f, rot, (h, w), (0, 0))
                    by_fields.append((f.area, FoundFace(back, crop, emb, norm), norm))
            if by_fields and not found:
                _, face, norm = min(by_fields, key=lambda t: t[0])
                return [(face, "layout+fields")], [norm], True  # its norm is >= _UPRIGHT_NORM
            return found, found_norms, False

        cands: list[tuple[FoundFace, str]] = []
        norms: list[float] = []
        for turns in (views, other):
            # the first turn's largest face alone: confirmed with a norm no wrong turn reaches
            # (_LAZY_NORM), it ends the search before the second turn's face detection and
            # before the first turn's other faces are embedded. Its text boxes are kept for the
            # walk over both turns: the text detector never runs twice on one face
            first = [look.candidate(turns[0], 0)] if look.faces(turns[0])[1] else []
            found, _, done = walk([c for c in first if c[0] >= _LAZY_NORM], False, False)
            if done:
                return found[-1]
            # then the largest face of each turn of the pair, before the smaller ones are
            # embedded (a card's portrait is its largest face; no fields proof yet: that one
            # needs every candidate looked at)
            second = [look.candidate(turns[1], 0)] if look.faces(turns[1])[1] else []
            found, _, done = walk(first + second, False, False)
            if done:
                return found[-1]
            found, found_norms, done = walk(look.candidates(turns[0]) + look.candidates(turns[1]))
            cands += found
            norms += found_norms
            if done:
                return cands[-1]
            if cands and max(norms) >= _UPRIGHT_NORM:
                break
        if not cands:
            return None
        return cands[int(np.argmax(norms))]


class _Views:
    """What one ``find`` has looked at, per view (the image turned by a right angle, ``rot``):
    the detector's faces, the candidate portraits aligned and embedded, the text boxes around
    them. Each is computed once, when first needed."""

    def __init__(self, reader: DocumentReader, img: np.ndarray) -> None:
        self.reader = reader
        self.img = img
        # the detector's faces of a whole view at det_retry_size (the classical gate's)
        self.detected: dict[int | None, list[Face]] = {}
        self._views: dict[int | None, np.ndarray] = {}
        self._faces: dict[int | None, tuple[np.ndarray, list[Face]]] = {}
        self._cands: dict[tuple[int | None, int], tuple] = {}
        self._text: dict[tuple[int | None, int], list] = {}
        self.likely: int | None = None  # the turn likeliest to show the portrait upright

    def first(self, turns: tuple) -> tuple:
        """A pair of turns with the likeliest first."""
        return turns[::-1] if turns[1] == self.likely else turns

    def view(self, rot: int | None) -> np.ndarray:
        """The image turned by ``rot`` (each turn made once)."""
        if rot not in self._views:
            self._views[rot] = turn(self.img, rot)
        return self._views[rot]

    def faces(self, rot: int | None) -> tuple[np.ndarray, list[Face]]:
        """The view and its upright faces of at least ``min_document_face`` px, largest first,
        _PORTRAIT_CANDIDATES at most (the gate's detection when it looked at this view)."""
        if rot not in self._faces:
            pipeline, s = self.reader.pipeline, self.reader.settings
            view = self.view(rot)
            if rot in self.detected:  # the gate's detection (no border retry: a portrait
                # on a card is far from filling the frame)
                big = (f for f in self.detected[rot] if f.min_side >= s.min_document_face)
                found = sorted(big, key=lambda f: -f.area)
            else:
                found = pipeline.faces(view, s.min_document_face, s.det_retry_size)
            self._faces[rot] = (view, [f for f in found if upright(f)][:_PORTRAIT_CANDIDATES])
        return self._faces[rot]

    def candidate(self, rot: int | None, k: int) -> tuple:
        """Face ``k`` of a view as (feature norm, k, rot, view, face, aligned crop, unit
        embedding)."""
        if (rot, k) not in self._cands:
            self._embed(rot, [k])
        return self._cands[rot, k]

    def candidates(self, rot: int | None) -> list[tuple]:
        """Every face of a view as ``candidate`` (those not yet embedded in one batch)."""
        todo = [k for k in range(len(self.faces(rot)[1])) if (rot, k) not in self._cands]
        if todo:
            self._embed(rot, todo)
        return [self._cands[rot, k] for k in range(len(self.faces(rot)[1]))]

    def _embed(self, rot: int | None, ks: list[int]) -> None:
        view, faces = self.faces(rot)
        pipeline = self.reader.pipeline
        crops = [pipeline.aligned(view, faces[k]) for k in ks]
        embs, norms = pipeline.embedder.embed(crops)
        for j, k in enumerate(ks):
            self._cands[rot, k] = (float(norms[j]), k, rot, view, faces[k], crops[j], embs[j])

    def text(self, rot: int | None, k: int) -> list:
        """The text boxes around face ``k`` of a view (``layout.text_near``)."""
        if (rot, k) not in self._text:
            view, faces = self.faces(rot)
            self._text[rot, k] = layout.text_near(self.reader.ocr, view, faces[k].box)
        return self._text[rot, k]
