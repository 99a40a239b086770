"""The use case: two images and flags in, a comparison or a documented domain error out.

    checked bytes → (documents?) → faces → embeddings → score → confidence and thresholds

The photos go through the pack's pipeline (``pipeline.py``); an image flagged as a document
goes through the document reader (``documents/reader.py``), whose portrait is the face used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import imaging, quality
from .calibration import DOCUMENT_PHOTO, PHOTO_PHOTO, Calibration, default_path, load_calibration
from .config import Settings
from .detect import Face
from .documents.evidence import Document
from .documents.reader import DocumentReader
from .embed import with_flip
from .errors import ErrorCode, FaceCompareError
from .models import load_pack
from .pipeline import PARAMS, FoundFace, Pipeline, with_pack_defaults
from .scoring import scorer_for

__all__ = ["PARAMS", "CompareRequest", "CompareResult", "Engine"]


@dataclass(frozen=True)
class CompareRequest:
    image1: str | bytes
    image2: str | bytes
    verified_document: bool = False
    image1_is_document: bool = False
    image2_is_document: bool = False
    blur_detection: bool = False


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
    """The pipeline, the document reader and the calibration, loaded once and shared
    read-only by all requests."""

    def __init__(self, pipeline: Pipeline, calibration: Calibration | None) -> None:
        self.pipeline = pipeline
        self.documents = DocumentReader(pipeline)
        self.calibration = calibration
        self.pack, self.settings = pipeline.pack, pipeline.settings
        self.scorer = scorer_for(calibration, self.settings)

    @classmethod
    def load(cls, settings: Settings | None = None, with_calibration: bool = True) -> Engine:
        """Verify and load the model pack and its calibration (``with_calibration=False``:
        the models only, for the calibration commands)."""
        settings = settings or Settings.from_env()
        pack = load_pack(settings.pack)
        pipeline = Pipeline(pack, with_pack_defaults(settings, pack))
        if not with_calibration:
            return cls(pipeline, None)
        path = pipeline.settings.calibration or default_path(pack.name)
        return cls(pipeline, load_calibration(path, pack.digest))

    def warm(self) -> None:
        """Load what is left to load (the document text models) and run every model of the
        photo and document paths once, on drawn images: the first request then pays neither a
        load nor a model's first run. The server calls this before ``/readyz`` says ready."""
        self.documents.warm()
        page = np.full((480, 640, 3), 200, np.uint8)
        s = self.settings
        self.pipeline.faces(page, s.min_face)  # no face there: every detector pass runs
        self.pipeline.detector.detect(page, s.det_retry_size, s.det_threshold)  # documents'
        box = np.array([240, 140, 400, 340], np.float32)
        eyes_nose_mouth = [[290, 210], [350, 210], [320, 250], [295, 290], [345, 290]]
        face = Face(box, 1.0, np.array(eyes_nose_mouth, np.float32))
        self.pipeline.embedder.embed([self.pipeline.aligned(page, face)])

    @property
    def calibrated(self) -> Calibration:
        if self.calibration is None:
            raise RuntimeError("this engine was loaded without a calibration file")
        return self.calibration

    def compare(self, req: CompareRequest, side_by_side: bool | None = None) -> CompareResult:
        """``side_by_side``: run the two photos on two threads (None: whenever the pipeline
        can, i.e. ``image_threads > 1``). The server turns it on only when no other compare is
        running, so that two cores never serve four busy threads."""
        side_by_side = self.pipeline.parallel and side_by_side is not False
        checked = imaging.checked((req.image1, req.image2), self.settings.limits, PARAMS)
        datas, headers = [d for d, _ in checked], [h for _, h in checked]
        docs: list[Document | None] = [None, None]
        pages: list[np.ndarray | None] = [None, None]  # the decoded document images
        if req.verified_document or req.image1_is_document or req.image2_is_document:
            found, emb, norms, docs, pages = self._with_documents(datas, headers, req, side_by_side)
        else:  # two photos: the fast path (docs/performance.md)
            found, emb, norms = self.pipeline.two_photos(
                datas, headers, req.blur_detection, side_by_side
            )
        if req.blur_detection:  # after detection: a blurred faceless image is CAN_NOT_DETECT_FACE
            self._check_blur(found, norms, pages)

        score = self.scorer.single(emb[0], emb[1])
        flipped = self.scorer.uncertain(score)
        if flipped:  # near a threshold: the mirrored crops too (the flip-TTA view)
            mirrored = self.pipeline.mirrored([f.crop for f in found], side_by_side)
            emb = with_flip(emb, mirrored)[:, 1]
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

    def _with_documents(
        self,
        datas: list[bytes],
        headers: list[imaging.ImageHeader],
        req: CompareRequest,
        side_by_side: bool,
    ) -> tuple[
        list[FoundFace], np.ndarray, np.ndarray, list[Document | None], list[np.ndarray | None]
    ]:
        """Faces, embeddings, norms, documents and the decoded document images when a document
        flag is set.

        Each ``imageN_is_document`` image must be a document; ``verified_document`` alone needs
        one of the two (image1 looked at first). A document image is decoded at full scale and
        read (``DocumentReader.find``); its portrait is the face, embedded while the reader chose
        it. The other image is a photo and takes the photo path (reduced decode, largest face):
        side by side, on the image pool while the document is read (for ``verified_document``
        alone, image2 is expected to be the photo; when image1 is not a document, image1 is the
        photo, on this thread after image2's reading). Errors answer in the documented order:
        any decode error (image1 first), then CAN_NOT_DETECT_IDCARD (IMAGE_BLURED instead for an
        image too blurred to be read, with ``blur_detection``), then any missing face."""
        required = [req.image1_is_document, req.image2_is_document]
        readable = [i for i in range(2) if required[i]] or [0, 1]  # looked at as documents
        reduce = self.settings.reduced_decode and not req.blur_detection

        def photo(i: int) -> FoundFace | FaceCompareError | None:
            try:
                return self.pipeline.embedded_photo(datas[i], headers[i], PARAMS[i], reduce)
            except FaceCompareError as err:  # a decode error: answered in order below
                return err

        started = {}  # the expected photo on the image pool while the document is read
        if side_by_side and not all(required):  # both flagged: no photo to expect
            expected = ([i for i in range(2) if i not in readable] or [1])[0]
            started[expected] = self.pipeline.beside(photo, expected)
        docs: list[Document | None] = [None, None]
        imgs: dict[int, np.ndarray] = {}
        errors: dict[int, FaceCompareError] = {}  # decode errors per image
        idcard: FaceCompareError | None = None
        for i in readable:
            try:
                imgs[i] = imaging.decode(datas[i], headers[i], PARAMS[i])
            except FaceCompareError as err:
                errors[i] = err
                break
            docs[i] = self.documents.find(imgs[i])
            if docs[i] is None and required[i]:
                idcard = self._no_document(imgs, [i], req.blur_detection)
                break
            if docs[i] is not None and not any(required):
                break  # verified_document: one document is enough
        else:
            if all(d is None for d in docs):
                idcard = self._no_document(imgs, readable, req.blur_detection)
        # the photos: each image that is not a document (after an error, only those whose
        # decoding is still to be checked)
        results: dict[int, FoundFace | None] = {}
        for i in range(2):
            if docs[i] is not None or i in errors or ((errors or idcard) and i in imgs):
                continue
            r = started[i]() if i in started else photo(i)
            if isinstance(r, FaceCompareError):
                errors[i] = r
            else:
                results[i] = r
        for i, job in started.items():  # the speculative photo job is never left running
            if i not in results and i not in errors:
                job()
        for i in range(2):
            if i in errors:
                raise errors[i]
        if idcard is not None:
            raise idcard
        found: list[FoundFace] = []
        for i in range(2):
            if docs[i] is not None:
                face = self.documents.portrait(imgs[i], docs[i])
            else:
                face = results.get(i)  # embedded on the photo path
            if face is None:
                raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_FACE, PARAMS[i])
            found.append(face)
        todo = [k for k, f in enumerate(found) if f.embedding is None]
        if todo:  # a portrait the reader did not embed (a document proven by its MRZ only)
            emb_new, norms_new = self.pipeline.embedder.embed([found[k].crop for k in todo])
            for j, k in enumerate(todo):
                found[k] = replace(found[k], embedding=emb_new[j], norm=float(norms_new[j]))
        emb = np.stack([f.embedding for f in found])
        norms = np.array([f.norm for f in found], np.float64)
        pages = [imgs[i] if docs[i] is not None else None for i in range(2)]
        return found, emb, norms, docs, pages

    def _no_document(
        self, imgs: dict[int, np.ndarray], looked: list[int], blur_detection: bool
    ) -> FaceCompareError:
        """The answer for images looked at as documents in which none was found: IMAGE_BLURED
        naming the first too blurred to be read (with ``blur_detection``), else
        CAN_NOT_DETECT_IDCARD naming the first."""
        for i in looked if blur_detection else ():
            if self._unreadable(imgs[i]):
                return FaceCompareError(ErrorCode.IMAGE_BLURED, PARAMS[i])
        return FaceCompareError(ErrorCode.CAN_NOT_DETECT_IDCARD, PARAMS[looked[0]])

    def _unreadable(self, img: np.ndarray) -> bool:
        """An image in which the reader found no document is too blurred to be read: its
        steepest edges at the reader's scale are soft (``quality.edge_sharpness`` below
        ``quality.DOCUMENT_EDGE_SHARPNESS``) and it holds no face the blur rules call sharp (a
        photo whose softness is its own, e.g. a small photo sent enlarged, is no blurred card)."""
        if not _soft_page(img):
            return False
        s = self.settings
        face = self.pipeline.largest_face(img, s.min_document_face, s.det_retry_size)
        return face is None or self._blurred(face.crop, None)

    def _check_blur(
        self,
        found: list[FoundFace],
        norms: np.ndarray,
        pages: list[np.ndarray | None] | None = None,
    ) -> None:
        """IMAGE_BLURED when a face's quality score is below the calibrated threshold (chosen by
        ``facecompare calibrate-blur``: blurred to a person), or below the ``second`` rule's
        (too blurred to compare reliably), image1 first. A document's portrait (``pages``: the
        document images) counts as blurred to a person only when the photo of the document is
        soft too (``quality.edge_sharpness`` below ``quality.DOCUMENT_EDGE_SHARPNESS``): a
        printed portrait is softer than a photo, and its print is not what a retake changes."""
        pages = pages or [None, None]
        for f, norm, page, param in zip(found, norms, pages, PARAMS, strict=True):
            soft = None if page is None else (lambda p=page: _soft_page(p))
            if self._blurred(f.crop, float(norm), soft):
                raise FaceCompareError(ErrorCode.IMAGE_BLURED, param)

    def _blurred(
        self, crop: np.ndarray, norm: float | None, soft: Callable[[], bool] | None = None
    ) -> bool:
        """Whether the calibration's blur rules flag an aligned face (``norm``: its recogniser
        feature norm; computed here when a rule needs it and it is None). ``soft``: the first
        rule (blurred to a person) counts only when this says yes (asked only then)."""
        blur = self.calibrated.section("blur")
        if blur is None:
            raise RuntimeError("blur_detection needs a 'blur' section in the calibration file")
        for k, rule in enumerate([blur] + ([blur["second"]] if blur.get("second") else [])):
            name = str(rule.get("score", "laplacian_var"))
            if name == quality.EMBEDDING_NORM and norm is None:
                norm = float(self.pipeline.embedder.embed([crop])[1][0])
            if quality.score(name, crop, norm) < float(rule["threshold"]):
                if k == 0 and soft is not None and not soft():
                    continue
                return True
        return False


def _soft_page(img: np.ndarray) -> bool:
    """A document image whose steepest edges are soft (``quality.edge_sharpness``)."""
    sharpness = quality.edge_sharpness(img)
    return sharpness is not None and sharpness < quality.DOCUMENT_EDGE_SHARPNESS
