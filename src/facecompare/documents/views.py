"""What one ``DocumentReader.find`` has looked at: the state its stages share.

A view is the image turned by a right angle (``rot``: None or a ``cv2.ROTATE_*`` code). Per
view, the detector's faces, the candidate portraits aligned and embedded, and the text boxes
around them, each computed once, when a stage first needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..detect import Face
from . import layout
from .turns import turn, upright

if TYPE_CHECKING:
    from .reader import DocumentReader

PORTRAIT_CANDIDATES = 3  # faces per view checked with OCR (largest first)
# feature norm of a clearly upright portrait: a face confirmed with it ends the search, no need
# to try more turns
UPRIGHT_NORM = 19.0


class Candidate(NamedTuple):
    """Face ``k`` of a view, aligned and embedded: a candidate portrait (view coordinates)."""

    norm: float  # the recogniser's feature norm (a wrongly turned face has a small one)
    k: int  # rank by size in its view (0: the largest)
    rot: int | None  # the view's turn
    view: np.ndarray  # the image turned by ``rot``
    face: Face
    crop: np.ndarray  # aligned 112 × 112
    emb: np.ndarray  # unit embedding


class Views:
    """What one ``find`` has looked at, per view: the detector's faces, the candidate portraits
    aligned and embedded, the text boxes around them. Each is computed once, when first
    needed."""

    def __init__(self, reader: DocumentReader, img: np.ndarray) -> None:
        self.reader = reader
        self.img = img
        # the detector's faces of a whole view at det_retry_size (the classical gate's)
        self.detected: dict[int | None, list[Face]] = {}
        self._views: dict[int | None, np.ndarray] = {}
        self._faces: dict[int | None, tuple[np.ndarray, list[Face]]] = {}
        self._cands: dict[tuple[int | None, int], Candidate] = {}
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

    def detect(self, rot: int | None) -> list[Face]:
        """The detector's faces of a whole view at ``det_retry_size`` (documents: 640), no size
        filter, no border retry (detected once per view)."""
        if rot not in self.detected:
            s = self.reader.settings
            self.detected[rot] = self.reader.pipeline.detector.detect(
                self.view(rot), s.det_retry_size, s.det_threshold
            )
        return self.detected[rot]

    def faces(self, rot: int | None) -> tuple[np.ndarray, list[Face]]:
        """The view and its upright faces of at least ``min_document_face`` px, largest first,
        PORTRAIT_CANDIDATES at most (the gate's detection when it looked at this view)."""
        if rot not in self._faces:
            pipeline, s = self.reader.pipeline, self.reader.settings
            view = self.view(rot)
            if rot in self.detected:  # the gate's detection (no border retry: a portrait
                # on a card is far from filling the frame)
                big = (f for f in self.detected[rot] if f.min_side >= s.min_document_face)
                found = sorted(big, key=lambda f: -f.area)
            else:
                found = pipeline.faces(view, s.min_document_face, s.det_retry_size)
            self._faces[rot] = (view, [f for f in found if upright(f)][:PORTRAIT_CANDIDATES])
        return self._faces[rot]

    def candidate(self, rot: int | None, k: int) -> Candidate:
        """Face ``k`` of a view, aligned and embedded."""
        if (rot, k) not in self._cands:
            self._embed(rot, [k])
        return self._cands[rot, k]

    def candidates(self, rot: int | None) -> list[Candidate]:
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
            self._cands[rot, k] = Candidate(
                float(norms[j]), k, rot, view, faces[k], crops[j], embs[j]
            )

    def text(self, rot: int | None, k: int) -> list:
        """The text boxes around face ``k`` of a view (``layout.text_near``)."""
        if (rot, k) not in self._text:
            view, faces = self.faces(rot)
            self._text[rot, k] = layout.text_near(self.reader.ocr, view, faces[k].box)
        return self._text[rot, k]
