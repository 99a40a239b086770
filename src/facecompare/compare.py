"""The use case: two images and flags in, a comparison or a documented domain error out."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import cv2
import numpy as np

from . import documents, imaging, quality
from .align import align
from .calibration import (
    DOCUMENT_PHOTO,
    PHOTO_PHOTO,
    Calibration,
    CalibrationError,
    default_path,
    load_calibration,
)
from .config import Settings
from .detect import Face
from .embed import flip_band, with_flip
from .errors import ErrorCode, FaceCompareError
from .models import ModelPack, load_pack
from .models.backend import Choice, choose
from .models.kinds import build
from .ocr import OCR
from .scoring import Cohort, Scorer

PARAMS = ("image1", "image2")
# documents (issue 6): right-angle turns tried for the portrait, and their inverse on points
_LANDSCAPE = (None, cv2.ROTATE_180)
_SIDEWAYS = (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)
_TURN_MIN_LINES = 2  # text lines that justify looking for a turned portrait during detection
_UPRIGHT_NORM = 19.0  # feature norm of a clearly upright portrait: no need to try more turns
_MARGIN = (127, 127, 127)  # the grey frame of the border retry (Engine.faces)
_PORTRAIT_CANDIDATES = 3  # faces per view checked with OCR (largest first)


def _upright(face: Face) -> bool:
    """Eyes above the nose and the nose above the mouth corners (in the view's frame)."""
    lm = face.landmarks
    eyes, nose, mouth = lm[:2, 1].mean(), lm[2, 1], lm[3:, 1].mean()
    return bool(eyes < nose < mouth)


def _unrotate(face: Face, rot: int | None, shape: tuple[int, ...], offset: tuple[int, int]) -> Face:
    """A face found in ``cv2.rotate(crop, rot)`` in the coordinates of the uncropped image."""
    h, w = shape[:2]

    def back(p: np.ndarray) -> np.ndarray:
        x, y = p[:, 0], p[:, 1]
        if rot == cv2.ROTATE_90_CLOCKWISE:  # view (x, y) ← crop (h - 1 - y, x)
            x, y = y, h - 1 - x
        elif rot == cv2.ROTATE_180:
            x, y = w - 1 - x, h - 1 - y
        elif rot == cv2.ROTATE_90_COUNTERCLOCKWISE:
            x, y = w - 1 - y, x
        return np.stack([x + offset[0], y + offset[1]], 1)

    b = face.box
    corners = back(np.array([[b[0], b[1]], [b[2], b[3]]], np.float64))
    box = np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)
    return Face(box, face.score, back(face.landmarks.astype(np.float64)).astype(np.float32))


def _turn(img: np.ndarray, rot: int | None) -> np.ndarray:
    return img if rot is None else cv2.rotate(img, rot)


def _rotate_points(p: np.ndarray, rot: int | None, shape: tuple[int, int]) -> np.ndarray:
    """Points of an h × w image in the frame of ``cv2.rotate(image, rot)``."""
    h, w = shape
    x, y = p[:, 0], p[:, 1]
    if rot == cv2.ROTATE_90_CLOCKWISE:
        return np.stack([h - 1 - y, x], 1)
    if rot == cv2.ROTATE_180:
        return np.stack([w - 1 - x, h - 1 - y], 1)
    if rot == cv2.ROTATE_90_COUNTERCLOCKWISE:
        return np.stack([y, w - 1 - x], 1)
    return p


# -- end documents


def scorer_for(calibration: Calibration | None, settings: Settings) -> Scorer:
    """The calibration's scorer: AS-norm against its cohort file or the plain cosine, with flip
    TTA inside the calibration's uncertain band (``flip_tta``: ``off`` never, ``always``)."""
    scoring = calibration.scoring if calibration is not None else {"kind": "cosine"}
    cohort = None
    if scoring["kind"] == "as-norm":
        assert calibration is not None
        path = calibration.cohort_path()
        expected = scoring["cohort"].get("sha256")
        if path is None or not path.is_file():
            raise CalibrationError(f"cohort file missing: {path}")
        if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise CalibrationError(f"refusing cohort file {path}: SHA-256 does not match")
        cohort = Cohort.load(path)
    low, high = scoring.get("flip_band", (settings.flip_low, settings.flip_high))
    return Scorer(cohort, flip_band(settings.flip_tta, float(low), float(high)))


def with_pack_defaults(settings: Settings, pack: ModelPack) -> Settings:
    """The settings with the pack's own defaults (its manifest's "settings") for every field
    neither a FACECOMPARE_<FIELD> variable nor the caller has changed from the global default:
    e.g. a recogniser's flip-TTA band is on its own cosine scale."""
    base = Settings()
    own = {
        k: v
        for k, v in pack.settings.items()
        if f"FACECOMPARE_{k.upper()}" not in os.environ and getattr(settings, k) == getattr(base, k)
    }
    return replace(settings, **own) if own else settings


@dataclass(frozen=True)
class CompareRequest:
    image1: str | bytes
    image2: str | bytes
    verified_document: bool = False
    image1_is_document: bool = False
    image2_is_document: bool = False
    blur_detection: bool = False


@dataclass(frozen=True)
class FoundFace:
    face: Face  # in the coordinates of the image it was detected in
    crop: np.ndarray  # aligned 112×112 BGR


@dataclass(frozen=True)
class CompareResult:
    cosine: float  # of the embeddings scored (flip-TTA ones when flipped)
    score: float  # the calibrated score: AS-norm against the cohort, or the cosine
    confidence: float
    thresholds: dict[str, float]
    scenario: str
    face1: Face
    face2: Face
    flipped: bool = False  # the score is the flip-TTA one (the plain cosine was uncertain)


class Engine:
    """Models, calibration and settings, loaded once and shared read-only by all requests."""

    def __init__(
        self, pack: ModelPack, calibration: Calibration | None, settings: Settings
    ) -> None:
        self.pack = pack
        self.calibration = calibration
        self.settings = settings
        # inference backend and precision, from the settings and the CPU (models/backend.py)
        self.backend = choose(settings.backend, settings.precision)
        if self.backend.backend != "onnxruntime" and "openvino" not in pack.backends:
            # a pack's graphs are measured on OpenVINO before it may run there (models/packs)
            self.backend = Choice("onnxruntime", "f32", f"pack {pack.name}: onnxruntime only")
        streams = max(settings.workers, settings.image_threads)  # calls that may run at once
        session = partial(
            pack.session,
            intra_op_threads=settings.intra_op_threads,
            fast_prelu=settings.fast_prelu,
            backend=self.backend,
            streams=streams,
        )

        def model(role: str) -> Any:  # the class of the file's "kind" (models/kinds.py)
            return build(role, pack.files[role].kind, session(role))

        self.detector = model("detector")
        # alignment points: the landmark model's when the pack has one, else the detector's
        refine = settings.refine_landmarks and "landmarks" in pack.files
        self.landmarker = model("landmarks") if refine else None
        self.embedder = model("recognizer")
        self.scorer = scorer_for(calibration, settings)
        self.flip_band = self.scorer.band
        # documents (issue 14): the OCR models load on the first document request only
        self._ocr: OCR | None = None
        self._ocr_lock = threading.Lock()
        # the two photos of a compare go through decode → detect → align → embed side by side
        self._pool = (
            ThreadPoolExecutor(settings.image_threads, "facecompare-image")
            if settings.image_threads > 1
            else None
        )

    @classmethod
    def load(cls, settings: Settings | None = None, with_calibration: bool = True) -> Engine:
        """Verify and load the model pack and its calibration.

        ``with_calibration=False`` loads the models only, for the calibration command itself."""
        settings = settings or Settings.from_env()
        pack = load_pack(settings.pack)
        settings = with_pack_defaults(settings, pack)
        if not with_calibration:
            return cls(pack, None, settings)
        path = settings.calibration or default_path(pack.name)
        return cls(pack, load_calibration(path, pack.digest), settings)

    @property
    def calibrated(self) -> Calibration:
        if self.calibration is None:
            raise RuntimeError("this engine was loaded without a calibration file")
        return self.calibration

    # -- stages -------------------------------------------------------------------------------
    def faces(self, img: np.ndarray, min_face: float, size: int | None = None) -> list[Face]:
        """Qualifying faces, largest first. A second, larger detector pass runs only when the
        first finds nothing qualifying and the image is larger than the first pass's input."""
        s = self.settings
        sizes = [size or s.det_size]
        if s.det_retry_size > sizes[0] and max(img.shape[:2]) > sizes[0]:
            sizes.append(s.det_retry_size)
        for size in sizes:
            found = self.detector.detect(img, size, s.det_threshold)
            faces = sorted((f for f in found if f.min_side >= min_face), key=lambda f: -f.area)
            if faces:
                return faces
        if s.border_margin <= 0:
            return []
        # A face that fills the frame (a close-up selfie, a tight portrait) touches the border
        # and is too large for the detector's anchors: look again with a grey margin around the
        # image, at the larger input, and map the faces back (boxes may overhang the image).
        pad = round(s.border_margin * max(img.shape[:2]))
        framed = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=_MARGIN)
        found = self.detector.detect(framed, max(sizes), s.det_threshold)
        shifted = (f.shifted(-pad, -pad) for f in found)
        return sorted((f for f in shifted if f.min_side >= min_face), key=lambda f: -f.area)

    def alignment_points(self, img: np.ndarray, face: Face) -> np.ndarray:
        """The 5 points a face is aligned on, in ``img`` pixels (``face`` found in ``img``)."""
        if self.landmarker is None:
            return face.landmarks
        return self.landmarker.five(img, face.box)

    def aligned(self, img: np.ndarray, face: Face) -> np.ndarray:
        """The 112×112 crop of a face found in ``img``."""
        return align(img, self.alignment_points(img, face))

    def largest_face(
        self, img: np.ndarray, min_face: float, size: int | None = None
    ) -> FoundFace | None:
        faces = self.faces(img, min_face, size)
        if not faces:
            return None
        return FoundFace(faces[0], self.aligned(img, faces[0]))

    def photo_face(
        self, img: np.ndarray, factor: int, data: bytes, header: imaging.ImageHeader, param: str
    ) -> FoundFace | None:
        """Largest qualifying face of a photo decoded at 1/``factor`` scale. The crop is aligned
        from an image where the face is at least align_min_face (else from a finer decode)."""
        s = self.settings
        faces = self.faces(img, s.min_face / factor)
        if not faces:
            return None
        face = faces[0]
        fine = factor
        while fine > 1 and face.min_side * factor / fine < s.align_min_face:
            fine //= 2
        if fine != factor:
            img = imaging.decode_reduced(data, header, param, fine)
        crop = self.aligned(img, face.scaled(factor / fine))
        return FoundFace(face.scaled(factor), crop)

    def _photo(
        self, data: bytes, header: imaging.ImageHeader, param: str, reduce: bool
    ) -> FoundFace | None:
        """One photo → its face (reduced-scale decode unless ``reduce`` is False)."""
        s = self.settings  # decode big enough for the second detector pass too
        factor = imaging.reduction(header, max(s.det_size, s.det_retry_size)) if reduce else 1
        img = imaging.decode_reduced(data, header, param, factor)
        return self.photo_face(img, factor, data, header, param)

    def _embedded_photo(
        self, data: bytes, header: imaging.ImageHeader, param: str, reduce: bool
    ) -> tuple[FoundFace, np.ndarray, float] | None:
        """One photo → its face, unit embedding and feature norm (one thread, start to end)."""
        face = self._photo(data, header, param, reduce)
        if face is None:
            return None
        emb, norms = self.embedder.embed([face.crop])
        return face, emb[0], float(norms[0])

    def _two_photos(
        self,
        datas: list[bytes],
        headers: list[imaging.ImageHeader],
        blur: bool,
        side_by_side: bool,
    ) -> tuple[list[FoundFace], np.ndarray, np.ndarray]:
        """Both photos → faces, embeddings, norms. Side by side: image1 on the engine's pool
        and image2 on the calling thread, each decoded, detected, aligned and embedded start to
        end. Otherwise one after the other, both crops embedded in one batch. Errors answer
        in the documented order (any decode error before any missing face, image1 first)."""
        reduce = self.settings.reduced_decode and not blur  # the blur score wants full scale
        work = self._embedded_photo if side_by_side else self._photo
        jobs = [
            partial(work, d, h, p, reduce) for d, h, p in zip(datas, headers, PARAMS, strict=True)
        ]
        order = [0, 1]
        if side_by_side and self._pool is not None:  # image1 on the pool while image2 runs here
            jobs[0] = self._pool.submit(jobs[0]).result
            order = [1, 0]
        results: list = [None, None]
        errors: list[FaceCompareError | None] = [None, None]
        for i in order:
            try:
                results[i] = jobs[i]()
            except FaceCompareError as err:
                errors[i] = err
        for err in errors:
            if err is not None:
                raise err
        for result, param in zip(results, PARAMS, strict=True):
            if result is None:
                raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_FACE, param)
        if side_by_side:
            found = [r[0] for r in results]
            return found, np.stack([r[1] for r in results]), np.array([r[2] for r in results])
        emb, norms = self.embedder.embed([f.crop for f in results])
        return results, emb, norms

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """Faces as N × 2 × 512 (plain and flip-TTA unit embeddings), for embed.similarity."""
        return with_flip(self.embedder.embed(crops)[0], self.embedder.mirrored(crops))

    def _mirrored(self, crops: list[np.ndarray], side_by_side: bool) -> np.ndarray:
        if side_by_side and self._pool is not None:
            first = self._pool.submit(self.embedder.mirrored, crops[:1])
            second = self.embedder.mirrored(crops[1:])
            return np.concatenate([first.result(), second])
        return self.embedder.mirrored(crops)

    # -- the use case ---------------------------------------------------------------------------
    def compare(self, req: CompareRequest, side_by_side: bool | None = None) -> CompareResult:
        """``side_by_side``: run the two photos on two threads (None: whenever the engine has
        an image pool, i.e. ``image_threads > 1``). The server turns it on only when no other
        compare is running, so that two cores never serve four busy threads."""
        side_by_side = self._pool is not None and side_by_side is not False
        checked = imaging.checked((req.image1, req.image2), self.settings.limits, PARAMS)
        datas = [data for data, _ in checked]
        headers = [header for _, header in checked]

        if req.verified_document or req.image1_is_document or req.image2_is_document:
            imgs = [imaging.decode(d, h, p) for d, h, p in zip(datas, headers, PARAMS, strict=True)]
            docs = self._documents(imgs, req)
            found: list[FoundFace] = []
            for img, doc, param in zip(imgs, docs, PARAMS, strict=True):
                face = (
                    self.document_face(img, doc)
                    if doc
                    else self.largest_face(img, self.settings.min_face)
                )
                if face is None:
                    raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_FACE, param)
                found.append(face)
            emb, norms = self.embedder.embed([f.crop for f in found])
        else:  # two photos: the fast path (docs/performance.md)
            docs = [None, None]
            found, emb, norms = self._two_photos(datas, headers, req.blur_detection, side_by_side)
        if req.blur_detection:  # after detection: a blurred faceless image is CAN_NOT_DETECT_FACE
            self._check_blur(found, norms)

        score = self.scorer.single(emb[0], emb[1])
        flipped = self.scorer.uncertain(score)
        if flipped:  # near a threshold: the mirrored crops too (the flip-TTA view)
            emb = with_flip(emb, self._mirrored([f.crop for f in found], side_by_side))[:, 1]
            score = self.scorer.single(emb[0], emb[1])
        scenario = DOCUMENT_PHOTO if any(docs) else PHOTO_PHOTO
        return CompareResult(
            cosine=float(np.dot(emb[0], emb[1])),
            score=score,
            confidence=self.calibrated.confidence(score),
            thresholds=self.calibrated.thresholds(scenario),
            scenario=scenario,
            face1=found[0].face,
            face2=found[1].face,
            flipped=flipped,
        )

    # -- documents (issue 6) ------------------------------------------------------------------
    @property
    def ocr(self) -> OCR:
        """The text detector and recogniser, verified and loaded on first use (~0.5 s)."""
        with self._ocr_lock:
            if self._ocr is None:
                self._ocr = OCR.load(max(1, self.settings.image_threads))
            return self._ocr

    def find_document(self, img: np.ndarray) -> documents.Document | None:
        """The document in an image, confirmed by OCR, with its portrait (issue 14).

        The classical evidence (``_document_candidate``) is a cheap gate. A candidate is a
        document when a face of it has a column of text lines beside it at card scale inside a
        card outline, or a validated MRZ below it (``documents.portrait_layout``); that face is
        the portrait. Without such a face, a validated MRZ anywhere still makes a document
        (a card's back), whose missing portrait is then CAN_NOT_DETECT_FACE."""
        doc = self._document_candidate(img)
        if doc is None:
            return None
        # the text detector reads upright lines only: it runs around each upright face of a
        # view (card-sized crops) and, for an MRZ without such a face, on the first view
        boxes: dict[int | None, list] = {}
        views = _SIDEWAYS if doc.vertical else _LANDSCAPE
        found = self._verified_portrait(img, doc, boxes, views)
        if found is not None:
            return replace(doc, portrait=found[0], proof=found[1])
        if not boxes:
            boxes[views[0]] = self._text_boxes(img, views[0])
        for rot, bx in boxes.items():
            code, length = documents.read_mrz(self.ocr, _turn(img, rot), bx)
            if code:
                found = self._verified_portrait(img, doc, boxes, views, mrz_length=length)
                return replace(doc, portrait=None if found is None else found[0], proof="mrz")
        return None

    def _text_boxes(self, img: np.ndarray, rot: int | None) -> list:
        return self.ocr.detector.detect(_turn(img, rot), documents.OCR_SIDE)

    def _document_candidate(self, img: np.ndarray) -> documents.Document | None:
        """The document in an image, if any (text lines, MRZ, quadrilateral, face beside text).

        A card lying sideways or upside down hides its portrait from the upright detector: when
        the text alone is not conclusive but present, the detector also looks at the image
        turned (90° both ways for vertical text, else 180°) for the face-beside-text signal."""
        det = self.settings.det_retry_size, self.settings.det_threshold  # documents: 640
        faces = self.detector.detect(img, *det)
        ev = documents.analyse(img, [f.box for f in faces])
        if not ev.is_document and ev.lines >= _TURN_MIN_LINES:
            for rot in _SIDEWAYS if ev.vertical else (cv2.ROTATE_180,):
                found = [f for f in self.detector.detect(cv2.rotate(img, rot), *det) if _upright(f)]
                if found:
                    faces = faces + [_unrotate(f, rot, img.shape, (0, 0)) for f in found]
                    ev = documents.analyse(img, [f.box for f in faces])
                    break
        return documents.document(ev, tuple(faces))

    def _view_faces(
        self, img: np.ndarray, doc: documents.Document, rot: int | None, whole: bool = False
    ) -> tuple[np.ndarray, list[Face]]:
        """The document region (``whole``: the image) turned by ``rot`` and its upright
        qualifying faces, largest first (the upright full image reuses find_document's
        detection)."""
        x1, y1, x2, y2 = (0, 0, img.shape[1], img.shape[0]) if whole else doc.region
        crop = img[y1:y2, x1:x2]
        view = crop if rot is None else cv2.rotate(crop, rot)
        full = (x1, y1, x2, y2) == (0, 0, img.shape[1], img.shape[0])
        if rot is None and full and doc.faces:
            found = sorted(
                (f for f in doc.faces if f.min_side >= self.settings.min_document_face),
                key=lambda f: -f.area,
            )
        else:
            found = self.faces(view, self.settings.min_document_face, self.settings.det_retry_size)
        return view, [f for f in found if _upright(f)]

    def _verified_portrait(
        self,
        img: np.ndarray,
        doc: documents.Document,
        boxes: dict,
        views: tuple,
        mrz_length: float = 0.0,
    ) -> tuple[FoundFace, str] | None:
        """The portrait confirmed by the text around it, and what confirmed it, or None.

        ``boxes``: the text boxes of each view, filled as views are looked at. The two turns of
        the text direction first (``views``), the other two only when those
        confirm no face with a clearly upright feature norm. In each view the largest upright
        faces are checked (``documents.layout``); with a validated MRZ of ``mrz_length`` px, a
        face whose height is 12–50 % of the MRZ line is a portrait too. Among confirmed faces
        of different turns the largest feature norm wins (a wrongly turned face embeds with a
        small norm)."""
        h, w = img.shape[:2]
        other = _LANDSCAPE if views == _SIDEWAYS else _SIDEWAYS
        cands: list[tuple[FoundFace, str]] = []
        norms: list[float] = []
        for turns in (views, other):
            new: list[tuple[FoundFace, str]] = []
            for rot in turns:
                view, faces = self._view_faces(img, doc, rot, whole=True)
                if not faces:
                    continue
                q = [_rotate_points(k, rot, (h, w)) for k in doc.evidence.quads]
                for f in faces[:_PORTRAIT_CANDIDATES]:
                    tb = documents.text_near(self.ocr, view, f.box)
                    boxes.setdefault(rot, []).extend(tb)
                    lay = documents.layout(tb, f.box, q, view.shape)
                    fh = float(f.box[3] - f.box[1])
                    by_mrz = mrz_length > 0 and 0.12 <= fh / mrz_length <= 0.5
                    if lay.ok or by_mrz:
                        back = _unrotate(f, rot, (h, w), (0, 0))
                        reason = lay.reason if lay.ok else "mrz"
                        new.append((FoundFace(back, self.aligned(view, f)), reason))
                        break
            if new:
                cands += new
                norms += self.embedder.embed([c[0].crop for c in new])[1].tolist()
                if max(norms) >= _UPRIGHT_NORM:
                    break
        if not cands:
            return None
        return cands[int(np.argmax(norms))]

    def document_face(self, img: np.ndarray, doc: documents.Document) -> FoundFace | None:
        """The verified portrait when find_document found one; else (a document confirmed by
        its MRZ only) the face search below.

        The portrait: the largest face of at least ``min_document_face`` px inside the
        document, upright. The text direction says whether the document lies landscape (the
        detector runs at 0° and 180°) or sideways (90° both ways); the other two turns are
        tried only when those give no clearly upright face. SCRFD also "finds" faces upside
        down or sideways, with landmarks in the wrong places and high scores; the turn kept is
        the one whose aligned crop has the largest recogniser feature norm (a quality signal:
        a wrongly turned face has a small norm). The box returned is in ``img`` coordinates."""
        if doc.portrait is not None:
            return doc.portrait  # type: ignore[return-value]
        if doc.proof == "mrz":  # an MRZ but no face checked beside text: no portrait to trust
            return None
        x1, y1, x2, y2 = doc.region
        shape = (y2 - y1, x2 - x1)
        first = _SIDEWAYS if doc.vertical else _LANDSCAPE
        second = _LANDSCAPE if doc.vertical else _SIDEWAYS
        cands: list[FoundFace] = []
        norms: list[float] = []
        for turns in (first, second):
            new: list[FoundFace] = []
            for rot in turns:
                view, faces = self._view_faces(img, doc, rot)
                if faces:  # the largest: the ghost portrait is smaller
                    back = _unrotate(faces[0], rot, shape, (x1, y1))
                    new.append(FoundFace(back, self.aligned(view, faces[0])))
            if new:
                cands += new
                norms += self.embedder.embed([f.crop for f in new])[1].tolist()
                if max(norms) >= self.embedder.upright_norm:
                    break
        if not cands:
            return None
        return cands[int(np.argmax(norms))]

    def _documents(
        self, imgs: list[np.ndarray], req: CompareRequest
    ) -> list[documents.Document | None]:
        required = [req.image1_is_document, req.image2_is_document]
        docs: list[documents.Document | None] = [None, None]
        for i, param in enumerate(PARAMS):
            if required[i]:
                docs[i] = self.find_document(imgs[i])
                if docs[i] is None:
                    raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_IDCARD, param)
        if req.verified_document and not any(required):
            for i in range(2):
                docs[i] = self.find_document(imgs[i])
                if docs[i] is not None:
                    break
            else:
                raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_IDCARD, PARAMS[0])
        return docs

    # -- end documents ----------------------------------------------------------------------------

    def _check_blur(self, found: list[FoundFace], norms: np.ndarray) -> None:
        """IMAGE_BLURED when a face's quality score is below the calibrated threshold (chosen by
        ``facecompare calibrate-blur``: blurred to a person), or below the ``second`` rule's
        (too blurred to compare reliably), image1 first."""
        blur = self.calibrated.section("blur")
        if blur is None:
            raise RuntimeError("blur_detection needs a 'blur' section in the calibration file")
        rules = [blur] + ([blur["second"]] if blur.get("second") else [])
        for f, norm, param in zip(found, norms, PARAMS, strict=True):
            for rule in rules:
                name = str(rule.get("score", "laplacian_var"))
                if quality.score(name, f.crop, float(norm)) < float(rule["threshold"]):
                    raise FaceCompareError(ErrorCode.IMAGE_BLURED, param)
