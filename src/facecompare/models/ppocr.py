"""Text detection and recognition for identity documents (PP-OCRv5 mobile, ONNX).

The models come from the ``ocr-ppocrv5`` manifest (models/packs/ocr-ppocrv5.json): files of the
PyPI wheel ppocr-vectron 0.1.0, SHA-256 pinned and refused on mismatch. The wheel itself is
never imported (its ``__init__`` builds sessions at import time); only its files are read.
This component is independent of the face model pack: any face pack can use it.

- ``TextDetector``: the DB text detector. Input BGR, normalised as PaddleOCR's own
  detection config does (/ 255, ImageNet mean and spread; the wheel's pipeline feeds RGB / 255
  unnormalised, which misses card text lines: docs/documents.md), sides multiples of 32;
  output a text-probability map, thresholded at 0.3, whose connected regions become rotated
  boxes (score ≥ 0.6, expanded by DB's unclip ratio 1.5).
- ``TextRecognizer``: the CTC recogniser, input height 32, RGB / 255. Its classifier is cut in
  memory (after the hash check) to the Latin letters, digits, ``<`` and a few marks: what an
  MRZ and the Latin lines of a document need, and a ~25 % faster head than all 18,383 classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from .backend import (
    BF16_FLAGS,
    BackendError,
    Choice,
    cpu_flags,
    onnxruntime_session,
    open_session,
    openvino_available,
    origin,
)
from .pack import ModelPack, load_pack, verified_bytes

OCR_PACK = "ocr-ppocrv5"
CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz<"
_DET_THRESHOLD = 0.3
_BOX_SCORE = 0.6
_UNCLIP = 1.5
# PaddleOCR's detection preprocessing (NormalizeImage of the PP-OCRv5 det config): the BGR image
# / 255, less the ImageNet mean, over its spread, per channel (here on 0–255 values)
_DET_MEAN = np.float32([0.485, 0.456, 0.406]) * 255
_DET_STD = np.float32([0.229, 0.224, 0.225]) * 255
_SHAPE_STEP = 64  # px: the detector's input sides are padded to multiples of this
REC_HEIGHT = 32


@dataclass(frozen=True)
class TextBox:
    """A detected text region in the coordinates of the image given to ``detect``."""

    cx: float
    cy: float
    length: float  # the longer side of the rotated box
    height: float  # the shorter side
    angle: float  # direction of the longer side, degrees in [-90, 90)
    score: float
    points: np.ndarray  # 4 × 2 corners

    @property
    def horizontal(self) -> bool:
        return abs(self.angle) <= 30


def _cut_head(model: bytes, keep: np.ndarray, n_classes: int) -> bytes:
    """The recogniser with its last linear layer reduced to the classes ``keep``."""
    m = onnx.load_from_string(model)
    cut = 0
    for init in m.graph.initializer:
        if init.dims and init.dims[-1] == n_classes and len(init.dims) in (1, 2):
            arr = numpy_helper.to_array(init)[..., keep]
            init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(arr), init.name))
            cut += 1
    if cut != 2:  # weight and bias
        raise RuntimeError(f"unexpected recogniser head ({cut} class-sized tensors)")
    return m.SerializeToString()


class TextDetector:
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input = session.get_inputs()[0].name

    def detect(self, bgr: np.ndarray, long_side: int = 640) -> list[TextBox]:
        """Text boxes of ``bgr`` detected at ``long_side`` (sides rounded to multiples of 32)."""
        h, w = bgr.shape[:2]
        s = long_side / max(h, w)
        nh, nw = max(32, int(round(h * s / 32)) * 32), max(32, int(round(w * s / 32)) * 32)
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        x = cv2.resize(bgr, (nw, nh), interpolation=interp).astype(np.float32)
        x = (x - _DET_MEAN) / _DET_STD
        # padded (with the mean colour, 0 after normalising) to a multiple of _SHAPE_STEP:
        # a few input shapes instead of one per crop, each compiled once (OpenVINO)
        ph, pw = -(-nh // _SHAPE_STEP) * _SHAPE_STEP, -(-nw // _SHAPE_STEP) * _SHAPE_STEP
        x = np.pad(x, ((0, ph - nh), (0, pw - nw), (0, 0)))
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        prob = self.session.run(None, {self.input: x})[0][0, 0, :nh, :nw]
        return _boxes(prob, w / nw, h / nh)


def _boxes(prob: np.ndarray, sx: float, sy: float) -> list[TextBox]:
    bitmap = (prob > _DET_THRESHOLD).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out: list[TextBox] = []
    for c in contours:
        if len(c) < 4:
            continue
        (cx, cy), (a, b), ang = cv2.minAreaRect(c)
        if min(a, b) < 2:
            continue
        x, y, bw, bh = cv2.boundingRect(c)
        mask = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(mask, [c.reshape(-1, 2) - (x, y)], 1)
        score = float(cv2.mean(prob[y : y + bh, x : x + bw], mask)[0])
        if score < _BOX_SCORE:
            continue
        d = a * b * _UNCLIP / (2 * (a + b))  # DB unclip distance
        a, b = a + 2 * d, b + 2 * d
        if a < b:
            a, b, ang = b, a, ang + 90
        ang = (ang + 90) % 180 - 90
        pts = cv2.boxPoints(((cx, cy), (a, b), ang)) * (sx, sy)
        (cx2, cy2), (a2, b2), ang2 = cv2.minAreaRect(pts.astype(np.float32))
        if a2 < b2:
            a2, b2, ang2 = b2, a2, ang2 + 90
        ang2 = (ang2 + 90) % 180 - 90
        out.append(TextBox(cx2, cy2, a2, b2, ang2, score, pts.astype(np.float32)))
    return out


class TextRecognizer:
    def __init__(self, session: ort.InferenceSession, chars: str) -> None:
        self.session = session
        self.input = session.get_inputs()[0].name
        self.chars = chars  # class i + 1 → chars[i]; class 0 is the CTC blank

    def crop(self, bgr: np.ndarray, box: TextBox, max_width: int = 640) -> np.ndarray:
        """The box straightened to height 32, RGB / 255, 1 × 3 × 32 × W."""
        pts = box.points
        # order: the long side first, reading left to right
        c = pts.mean(0)
        ang = np.deg2rad(box.angle)
        u = np.array([np.cos(ang), np.sin(ang)])
        v = np.array([-np.sin(ang), np.cos(ang)])
        tl = c - u * box.length / 2 - v * box.height / 2
        tr = c + u * box.length / 2 - v * box.height / 2
        bl = c - u * box.length / 2 + v * box.height / 2
        width = int(min(max_width, max(8, round(REC_HEIGHT * box.length / box.height))))
        src = np.float32([tl, tr, bl])
        dst = np.float32([[0, 0], [width, 0], [0, REC_HEIGHT]])
        m = cv2.getAffineTransform(src, dst)
        line = cv2.warpAffine(
            bgr, m, (width, REC_HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return np.ascontiguousarray(line[:, :, ::-1].transpose(2, 0, 1)[None], np.float32) / 255

    def read(self, bgr: np.ndarray, box: TextBox) -> tuple[str, float]:
        """Text of one box and its mean character probability (0 when nothing was read)."""
        probs = self.session.run(None, {self.input: self.crop(bgr, box)})[0][0]
        idx = probs.argmax(1)
        best = probs.max(1)
        keep = np.flatnonzero((idx > 0) & np.concatenate([[True], idx[1:] != idx[:-1]]))
        if keep.size == 0:
            return "", 0.0
        return "".join(self.chars[i - 1] for i in idx[keep]), float(best[keep].mean())


@dataclass(frozen=True)
class OCR:
    pack: ModelPack
    detector: TextDetector
    recognizer: TextRecognizer

    @classmethod
    def load(cls, threads: int = 1, backend: Choice | None = None, charset: str = CHARSET) -> OCR:
        """Verify the ``ocr-ppocrv5`` files and build the two sessions (~0.3 s). ``backend``:
        the text detector's (default ``choose_backend()``); the recogniser runs on
        onnxruntime."""
        pack = load_pack(OCR_PACK)
        text = verified_bytes(pack.files["dictionary"]).decode("utf-8")
        # the wheel's convention: class i + 1 → lut[i] (CRLF file, split on LF, a space added)
        lut = [w.rstrip("\r") for w in text.split("\n")] + [" "]
        n_classes = len(lut)
        index = {ch: i for i, ch in enumerate(lut)}
        chars = [ch for ch in charset if ch in index]
        keep = np.array([0, *(index[ch] + 1 for ch in chars)])
        det = open_session(
            verified_bytes(pack.files["detector"]), backend or choose_backend(), threads
        )
        rec_model = _cut_head(verified_bytes(pack.files["recognizer"]), keep, n_classes)
        rec = onnxruntime_session(rec_model, threads)
        return cls(pack, TextDetector(det), TextRecognizer(rec, "".join(chars)))


OCR_BACKENDS = ("auto", "onnxruntime", "openvino", "openvino-bf16")


def choose_backend(name: str = "auto", flags: frozenset[str] | None = None) -> Choice:
    """The text detector's backend (``Settings.ocr_backend``, FACECOMPARE_OCR_BACKEND).

    Its output only draws text boxes (no calibrated score depends on it), so it may run where
    it is fastest. ``auto``: OpenVINO where the CPU has AVX-512 (f32: onnxruntime's boxes,
    1.9× faster on an Intel Xeon; bf16 where the CPU computes it natively, 3.8×, a few boxes
    moved but the same document answers; benchmarks/ocr_backends.py, docs/documents.md),
    onnxruntime elsewhere (OpenVINO f32 ran the face models no faster than onnxruntime on an
    AVX2-only AMD EPYC; this model not measured there)."""
    if name not in OCR_BACKENDS:
        raise BackendError(f"FACECOMPARE_OCR_BACKEND must be one of {OCR_BACKENDS}, not {name!r}")
    flags = cpu_flags() if flags is None else flags
    bf16 = any(f in flags for f in BF16_FLAGS)
    why = origin("ocr_backend", name)  # the variable, or the default: never an unset variable
    if name == "onnxruntime":
        return Choice("onnxruntime", "f32", why)
    if name.startswith("openvino"):
        if not openvino_available():
            raise BackendError(f"FACECOMPARE_OCR_BACKEND={name} but openvino is missing")
        if name == "openvino-bf16" and not bf16:
            raise BackendError("openvino-bf16 needs a CPU with AMX-BF16 or AVX512-BF16")
        return Choice("openvino", "bf16" if name == "openvino-bf16" else "f32", why)
    if "avx512f" in flags and openvino_available():
        return Choice("openvino", "bf16" if bf16 else "f32", f"{why}: auto, AVX-512 CPU")
    return Choice("onnxruntime", "f32", f"{why}: auto, no AVX-512")
