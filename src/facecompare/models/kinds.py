"""The class that runs each kind of model file, keyed by the manifest's ``"kind"``.

A pack composes one class per file (InsightFace model_zoo style): a detector (boxes and 5
points), optionally a landmark model (the 5 alignment points from a face crop) and a
recogniser (embeddings of aligned 112×112 crops). A new model is a new class and a line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import onnxruntime as ort

from ..errors import ModelIntegrityError
from .arcface import ArcFaceEmbedder
from .landmark106 import Landmark106
from .scrfd import SCRFD
from .sface import SFace
from .yunet import YuNet

KINDS: dict[str, Callable[[ort.InferenceSession], Any]] = {
    "scrfd": SCRFD,
    "yunet": YuNet,
    "landmark106": Landmark106,
    "arcface": ArcFaceEmbedder,
    "sface": SFace,
}
# a manifest without "kind" (older packs): the classes the project started with
DEFAULT_KINDS = {"detector": "scrfd", "landmarks": "landmark106", "recognizer": "arcface"}


def build(role: str, kind: str, session: ort.InferenceSession) -> Any:
    """The model object of one pack file."""
    kind = kind or DEFAULT_KINDS.get(role, "")
    if kind not in KINDS:
        raise ModelIntegrityError(
            f"no model class for kind {kind!r} ({role}); known: {list(KINDS)}"
        )
    return KINDS[kind](session)
