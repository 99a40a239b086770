"""The use case: two images and flags in, a comparison or a documented domain error out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from . import documents, imaging, quality
from .align import align
from .calibration import DOCUMENT_PHOTO, PHOTO_PHOTO, Calibration, default_path, load_calibration
from .config import Settings
from .detect import SCRFD, Face
from .embed import ArcFaceEmbedder
from .errors import ErrorCode, FaceCompareError
from .models import ModelPack, load_pack

PARAMS = ("image1", "image2")
_ROTATIONS = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)


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
    cosine: float
    confidence: float
    thresholds: dict[str, float]
    scenario: str
    face1: Face
    face2: Face


class Engine:
    """Models, calibration and settings, loaded once and shared read-only by all requests."""

    def __init__(
        self, pack: ModelPack, calibration: Calibration | None, settings: Settings
    ) -> None:
        self.pack = pack
        self.calibration = calibration
        self.settings = settings
        threads = settings.intra_op_threads
        self.detector = SCRFD(pack.session("detector", threads))
        self.embedder = ArcFaceEmbedder(pack.session("recognizer", threads))
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
        pack = load_pack()
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
        return []

    def largest_face(
        self, img: np.ndarray, min_face: float, size: int | None = None
    ) -> FoundFace | None:
        faces = self.faces(img, min_face, size)
        if not faces:
            return None
        return FoundFace(faces[0], align(img, faces[0].landmarks))

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
        crop = align(img, face.landmarks * (factor / fine))
        return FoundFace(face.scaled(factor), crop)

    def _photo(
        self, data: bytes, header: imaging.ImageHeader, param: str, reduce: bool
    ) -> tuple[FoundFace | None, np.ndarray | None]:
        """One photo → its face and embedding (reduced-scale decode unless ``reduce`` is False)."""
        s = self.settings  # decode big enough for the second detector pass too
        factor = imaging.reduction(header, max(s.det_size, s.det_retry_size)) if reduce else 1
        img = imaging.decode_reduced(data, header, param, factor)
        face = self.photo_face(img, factor, data, header, param)
        if face is None or self._pool is None:  # sequential: both crops embed in one batch
            return face, None
        return face, self.embed([face.crop])[0]

    def _two_photos(
        self, datas: list[bytes], headers: list[imaging.ImageHeader], blur: bool
    ) -> tuple[list[FoundFace], np.ndarray | None]:
        """Both photos (side by side if image_threads > 1); errors answer in the documented order
        (any decode error before any missing face, image1 before image2)."""
        reduce = self.settings.reduced_decode and not blur  # the blur score wants full scale
        jobs = [
            (
                self._pool.submit(self._photo, d, h, p, reduce).result
                if self._pool
                else partial(self._photo, d, h, p, reduce)
            )
            for d, h, p in zip(datas, headers, PARAMS, strict=True)
        ]
        results, errors = [], []
        for job in jobs:
            try:
                results.append(job())
            except FaceCompareError as err:
                errors.append(err)
                results.append((None, None))
        if errors:
            raise errors[0]
        for (face, _), param in zip(results, PARAMS, strict=True):
            if face is None:
                raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_FACE, param)
        embs = [e for _, e in results]
        return [f for f, _ in results], None if embs[0] is None else np.stack(embs)

    def document_face(self, doc: documents.Document) -> FoundFace | None:
        """Largest portrait on the document, trying the four right-angle rotations."""
        best: FoundFace | None = None
        for rot in _ROTATIONS:
            view = doc.image if rot is None else cv2.rotate(doc.image, rot)
            found = self.largest_face(  # small printed portraits: the larger input at once
                view, self.settings.min_document_face, self.settings.det_retry_size
            )
            if found and (best is None or found.face.score > best.face.score):
                best = found
        return best

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.embedder.embed(crops)[0]

    # -- the use case ---------------------------------------------------------------------------
    def compare(self, req: CompareRequest) -> CompareResult:
        limits = self.settings.limits
        datas = [
            imaging.b64decode(t, p) if isinstance(t, str) else t
            for t, p in zip((req.image1, req.image2), PARAMS, strict=True)
        ]
        headers = [imaging.read_header(d, p) for d, p in zip(datas, PARAMS, strict=True)]
        for d, h, p in zip(datas, headers, PARAMS, strict=True):
            imaging.check_size(h, len(d), limits, p)

        emb: np.ndarray | None = None
        if req.verified_document or req.image1_is_document or req.image2_is_document:
            imgs = [imaging.decode(d, h, p) for d, h, p in zip(datas, headers, PARAMS, strict=True)]
            docs = self._documents(imgs, req)
            found: list[FoundFace] = []
            for img, doc, param in zip(imgs, docs, PARAMS, strict=True):
                face = (
                    self.document_face(doc)
                    if doc
                    else self.largest_face(img, self.settings.min_face)
                )
                if face is None:
                    raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_FACE, param)
                found.append(face)
        else:  # two photos: the fast path
            docs = [None, None]
            found, emb = self._two_photos(datas, headers, req.blur_detection)
        if req.blur_detection:
            self._check_blur(found)

        if emb is None:
            emb = self.embed([f.crop for f in found])
        cos = float(np.dot(emb[0], emb[1]))
        scenario = DOCUMENT_PHOTO if any(docs) else PHOTO_PHOTO
        return CompareResult(
            cosine=cos,
            confidence=self.calibrated.confidence(cos),
            thresholds=self.calibrated.thresholds(scenario),
            scenario=scenario,
            face1=found[0].face,
            face2=found[1].face,
        )

    def _documents(
        self, imgs: list[np.ndarray], req: CompareRequest
    ) -> list[documents.Document | None]:
        required = [req.image1_is_document, req.image2_is_document]
        docs: list[documents.Document | None] = [None, None]
        for i, param in enumerate(PARAMS):
            if required[i]:
                docs[i] = documents.find_document(imgs[i])
                if docs[i] is None:
                    raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_IDCARD, param)
        if req.verified_document and not any(required):
            for i in range(2):
                docs[i] = documents.find_document(imgs[i])
                if docs[i] is not None:
                    break
            else:
                raise FaceCompareError(ErrorCode.CAN_NOT_DETECT_IDCARD, PARAMS[0])
        return docs

    def _check_blur(self, found: list[FoundFace]) -> None:
        blur = self.calibrated.section("blur")
        if blur is None:
            raise RuntimeError("blur_detection needs a 'blur' section in the calibration file")
        for f, param in zip(found, PARAMS, strict=True):
            if quality.sharpness(f.crop) < float(blur["threshold"]):
                raise FaceCompareError(ErrorCode.IMAGE_BLURED, param)
