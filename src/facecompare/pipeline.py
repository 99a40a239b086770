"""The photo pipeline of a model pack: bytes → image → faces → aligned crops → embeddings.

One object per loaded pack, shared read-only by all requests. Its stages are what every path
uses (photos, documents, the lab): ``faces`` (detection with the retries), ``aligned`` (the
112×112 crop on the landmark model's or the detector's 5 points), ``embedder.embed``. The two
photos of a compare go start to end side by side on two threads (``two_photos``).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

import cv2
import numpy as np

from . import imaging
from .align import align
from .config import Settings
from .detect import Face
from .embed import with_flip
from .errors import ErrorCode, FaceCompareError
from .models import ModelPack
from .models.backend import Choice, choose
from .models.kinds import build

T = TypeVar("T")

PARAMS = ("image1", "image2")
_MARGIN = (127, 127, 127)  # the grey frame of the border retry (Pipeline.faces)


@dataclass(frozen=True)
class FoundFace:
    face: Face  # in the coordinates of the image it was detected in
    crop: np.ndarray  # aligned 112×112 BGR
    # the crop's unit embedding and feature norm when a step has already computed them (the
    # document reader embeds its candidate portraits to choose among them)
    embedding: np.ndarray | None = None
    norm: float | None = None


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


def detector_sizes(side: int, s: Settings, size: int | None = None) -> list[int]:
    """The detector inputs tried on an image whose longer side is ``side``, in order, until a
    qualifying face is found: ``det_first_size`` (the photo path only, not an explicit
    ``size``), ``det_size`` (or ``size``), ``det_retry_size``. A pass is tried only when it is
    larger than the one before and the image is larger than that one (the detector never
    enlarges, so a larger input would see the same pixels)."""
    first = [s.det_first_size] if size is None and s.det_first_size > 0 else []
    sizes: list[int] = []
    for n in [*first, size or s.det_size, s.det_retry_size]:
        if not sizes or (n > sizes[-1] and side > sizes[-1]):
            sizes.append(n)
    return sizes


class ContextPool(ThreadPoolExecutor):
    """A thread pool whose jobs run in a copy of the submitter's context (so a log line from
    the pool carries the request id of the request that submitted the job)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


class Pipeline:
    """A pack's models (one object per file, ``models/kinds.py``) and the stages over them."""

    def __init__(self, pack: ModelPack, settings: Settings) -> None:
        self.pack = pack
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
        # the two photos of a compare go through decode → detect → align → embed side by side
        self._pool = (
            ContextPool(settings.image_threads, "facecompare-image")
            if settings.image_threads > 1
            else None
        )

    @property
    def parallel(self) -> bool:
        """Whether the two photos of a compare can run side by side (``image_threads > 1``)."""
        return self._pool is not None

    def beside(self, fn: Callable[..., T], *args: object) -> Callable[[], T]:
        """``fn(*args)`` started on the image pool while the caller goes on (run at once
        without a pool); the returned callable waits for its result. Only for callers that
        are not themselves on the pool (the document path: a request's worker thread)."""
        if self._pool is None:
            value = fn(*args)
            return lambda: value
        return self._pool.submit(fn, *args).result

    # -- stages -------------------------------------------------------------------------------
    def faces(self, img: np.ndarray, min_face: float, size: int | None = None) -> list[Face]:
        """Qualifying faces, largest first. Each larger detector pass (``detector_sizes``) runs
        only when the ones before found nothing qualifying."""
        s = self.settings
        for n in detector_sizes(max(img.shape[:2]), s, size):
            found = self.detector.detect(img, n, s.det_threshold)
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
        # at the larger input of the det_size passes (the first, small pass is for large faces)
        border = max(detector_sizes(max(img.shape[:2]), s, size or s.det_size))
        found = self.detector.detect(framed, border, s.det_threshold)
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

    def photo(
        self, data: bytes, header: imaging.ImageHeader, param: str, reduce: bool
    ) -> FoundFace | None:
        """One photo → its face (reduced-scale decode unless ``reduce`` is False)."""
        s = self.settings  # decode big enough for the second detector pass too
        factor = imaging.reduction(header, max(s.det_size, s.det_retry_size)) if reduce else 1
        img = imaging.decode_reduced(data, header, param, factor)
        return self.photo_face(img, factor, data, header, param)

    def embedded_photo(
        self, data: bytes, header: imaging.ImageHeader, param: str, reduce: bool
    ) -> FoundFace | None:
        """One photo → its face with its unit embedding and feature norm (one thread, start to
        end)."""
        face = self.photo(data, header, param, reduce)
        if face is None:
            return None
        emb, norms = self.embedder.embed([face.crop])
        return replace(face, embedding=emb[0], norm=float(norms[0]))

    def two_photos(
        self,
        datas: list[bytes],
        headers: list[imaging.ImageHeader],
        blur: bool,
        side_by_side: bool,
    ) -> tuple[list[FoundFace], np.ndarray, np.ndarray]:
        """Both photos → faces, embeddings, norms. Side by side: image1 on the pool and image2
        on the calling thread, each decoded, detected, aligned and embedded start to end.
        Otherwise one after the other, both crops embedded in one batch. Errors answer in the
        documented order (any decode error before any missing face, image1 first)."""
        reduce = self.settings.reduced_decode and not blur  # the blur score wants full scale
        work = self.embedded_photo if side_by_side else self.photo
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
            embs, norms = np.stack([r.embedding for r in results]), [r.norm for r in results]
            return results, embs, np.array(norms)
        emb, norms = self.embedder.embed([f.crop for f in results])
        return results, emb, norms

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """Faces as N × 2 × 512 (plain and flip-TTA unit embeddings), for embed.similarity."""
        return with_flip(self.embedder.embed(crops)[0], self.embedder.mirrored(crops))

    def mirrored(self, crops: list[np.ndarray], side_by_side: bool) -> np.ndarray:
        """Unit embeddings of the crops mirrored (the first on the pool when side by side)."""
        if side_by_side and self._pool is not None:
            first = self._pool.submit(self.embedder.mirrored, crops[:1])
            second = self.embedder.mirrored(crops[1:])
            return np.concatenate([first.result(), second])
        return self.embedder.mirrored(crops)
