"""The peers a user could run instead of us, each as "two JPEG files in, a cosine out".

Optional, installed by :data:`INSTALL_PEERS` from the repository's root: the ``bench`` extra
(the peers' light dependencies, the prebuilt ``dlib-bin``), then InsightFace and
face_recognition themselves with ``--no-deps`` (InsightFace would pull ``opencv-python``
beside our headless OpenCV, face_recognition would compile dlib). A missing peer is skipped
with that command in its message, never faked.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
import types
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from ...models import load_pack

Compare = Callable[[bytes, bytes], float | None]  # None: no face in one of the images

# checked on a fresh venv: after it both peers load (the same command is in pyproject.toml)
INSTALL_PEERS = (
    'pip install -e ".[bench]" && pip install --no-deps insightface==2.1 face_recognition==1.3.0'
)

# InsightFace FaceAnalysis on the same pack; the wheel also ships the 106-point landmark
# model of buffalo_s, which FaceAnalysis runs by default on every face.
_INSIGHTFACE_FILES = ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx", "2d106det.onnx")


def _bgr(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def insightface_dir() -> Path:
    """A temporary model root holding links to the wheel's ONNX files (nothing downloads)."""
    pack = load_pack()
    src = pack.files["detector"].path.parent
    root = Path(tempfile.mkdtemp(prefix="facecompare-bench-insightface-"))
    for name in _INSIGHTFACE_FILES:
        if (src / name).is_file():
            os.symlink(src / name, root / name)
    return root


def insightface_peer(modules: tuple[str, ...] | None, det_size: int = 640) -> Compare | str:
    """FaceAnalysis with its default modules (``None``) or only the ones named."""
    try:
        from insightface.app import FaceAnalysis
    except Exception as exc:  # ImportError, or a broken optional dependency
        return f"InsightFace not installed ({exc.__class__.__name__}: {exc}); {INSTALL_PEERS}"
    fa = FaceAnalysis(
        name=str(insightface_dir()),
        allowed_modules=list(modules) if modules else None,
        providers=["CPUExecutionProvider"],
    )
    fa.prepare(ctx_id=-1, det_size=(det_size, det_size))

    def embedding(data: bytes) -> np.ndarray | None:
        faces = fa.get(_bgr(data))
        if not faces:
            return None
        face = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
        return face.normed_embedding

    def compare(a: bytes, b: bytes) -> float | None:
        ea, eb = embedding(a), embedding(b)
        return None if ea is None or eb is None else float(ea @ eb)

    return compare


def _pkg_resources_shim() -> None:
    """face_recognition_models still calls ``pkg_resources.resource_filename``, which
    setuptools ≥ 81 no longer ships: provide that one function from importlib.resources."""
    if "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return
    shim = types.ModuleType("pkg_resources")
    shim.resource_filename = lambda pkg, name: str(resources.files(pkg) / name)  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim


def face_recognition_peer() -> Compare | str:
    """dlib's HOG detector (default upsampling 1) and its ResNet encoder, as the README shows."""
    _pkg_resources_shim()
    try:
        importlib.import_module("face_recognition_models")  # face_recognition quit()s without
        import face_recognition
    except (Exception, SystemExit) as exc:
        return f"face_recognition not installed ({exc.__class__.__name__}: {exc}); {INSTALL_PEERS}"

    def encoding(data: bytes) -> np.ndarray | None:
        rgb = np.ascontiguousarray(_bgr(data)[..., ::-1])
        boxes = face_recognition.face_locations(rgb)  # model="hog", upsample 1
        if not boxes:
            return None
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        return face_recognition.face_encodings(rgb, [box])[0]

    def compare(a: bytes, b: bytes) -> float | None:
        ea, eb = encoding(a), encoding(b)
        # a similarity for the record: 1 - euclidean distance (its own threshold is 0.6)
        return None if ea is None or eb is None else float(1 - np.linalg.norm(ea - eb))

    return compare
