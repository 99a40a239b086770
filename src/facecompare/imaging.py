"""Bytes in, BGR pixels out: base64, format sniffing, size rules from the header, safe decode.

Every function is pure. Failures raise :class:`FaceCompareError` naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from .config import ImageLimits
from .errors import ErrorCode, FaceCompareError

JPEG_MAGIC = b"\xff\xd8\xff"
# A progressive JPEG has ~10 scans; thousands of tiny scans make libjpeg spend seconds of CPU
# on a small file (a CPU "bomb"), so a file with more is refused before decoding.
MAX_JPEG_SCANS = 100
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_DATA_URL = re.compile(rb"^data:image/[a-zA-Z0-9.+-]+;base64,")
_WHITESPACE = re.compile(rb"\s+")
_URLSAFE = bytes.maketrans(b"-_", b"+/")

# We check pixel counts ourselves before decoding; Pillow only reads headers here.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class ImageHeader:
    format: str  # "jpeg" or "png"
    width: int  # as stored (before EXIF rotation; area and max side do not change with it)
    height: int


def b64decode(text: str | bytes, param: str) -> bytes:
    """Strict base64 with a tolerated ``data:image/...;base64,`` prefix and line breaks."""
    try:
        raw = text.encode("ascii") if isinstance(text, str) else text
    except UnicodeEncodeError:
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param) from None
    raw = _DATA_URL.sub(b"", raw.strip(), count=1)
    if any(c in raw for c in b" \t\r\n"):
        raw = _WHITESPACE.sub(b"", raw)
    raw = raw.translate(_URLSAFE)  # the URL-safe alphabet is accepted too
    raw += b"=" * (-len(raw) % 4)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param) from None
    if not data:
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)
    return data


def sniff(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


def read_header(data: bytes, param: str) -> ImageHeader:
    """Format from the magic bytes and dimensions from the header, without decoding pixels."""
    fmt = sniff(data)
    if fmt is None:
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=["JPEG" if fmt == "jpeg" else "PNG"]) as im:
                width, height = im.size
    except Exception:  # Pillow raises many types for damaged headers
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param) from None
    if width <= 0 or height <= 0:
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)
    # damaged files are refused here too, before any pixel is decoded
    if _looks_truncated(data, fmt) or _too_many_scans(data, fmt):
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)
    return ImageHeader(fmt, width, height)


def check_size(header: ImageHeader, nbytes: int, limits: ImageLimits, param: str) -> None:
    if (
        header.width * header.height < limits.min_area
        or max(header.width, header.height) > limits.max_side
        or nbytes > limits.max_bytes
    ):
        raise FaceCompareError(ErrorCode.INVALID_IMAGE_SIZE, param)


def _looks_truncated(data: bytes, fmt: str) -> bool:
    if fmt == "jpeg":
        # The end-of-image marker must close the stream (padding after it is tolerated).
        return b"\xff\xd9" not in data[-4096:].rstrip(b"\x00\r\n ")[-64:]
    return b"IEND" not in data[-64:]


def _too_many_scans(data: bytes, fmt: str) -> bool:
    # 0xFF 0xDA (start of scan) cannot occur inside entropy-coded data (0xFF is stuffed there).
    return fmt == "jpeg" and data.count(b"\xff\xda") > MAX_JPEG_SCANS


def decode(data: bytes, header: ImageHeader, param: str) -> np.ndarray:
    """Decode to an 8-bit BGR array, honouring EXIF orientation. Damaged files are refused.

    Grey, alpha, palette, 16-bit, interlaced, CMYK and progressive files all come out as
    8-bit BGR of the size the header announced (rotated by EXIF orientation)."""
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        img = None
    if img is None or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)
    if sorted(img.shape[:2]) != sorted((header.height, header.width)):
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)  # header and data disagree
    return img


def checked(
    texts: tuple[str | bytes, ...], limits: ImageLimits, params: tuple[str, ...]
) -> list[tuple[bytes, ImageHeader]]:
    """The cheap checks of all images, in the order of the spec (base64 of each, then the
    format of each, then the size of each), without decoding pixels: file bytes and headers.
    Raw file bytes (starting with a JPEG/PNG signature) are accepted as they are."""
    datas = [
        t if isinstance(t, bytes) and sniff(t) else b64decode(t, p)
        for t, p in zip(texts, params, strict=True)
    ]
    headers = [read_header(d, p) for d, p in zip(datas, params, strict=True)]
    for d, h, p in zip(datas, headers, params, strict=True):
        check_size(h, len(d), limits, p)
    return list(zip(datas, headers, strict=True))


def precheck(
    texts: tuple[str | bytes, ...], limits: ImageLimits, params: tuple[str, ...]
) -> list[bytes]:
    """:func:`checked`, file bytes only. The API runs this before a request queues for an
    inference worker, so damaged files and decompression bombs are refused in milliseconds
    whatever the load."""
    return [data for data, _ in checked(texts, limits, params)]


_REDUCED = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def reduction(header: ImageHeader, min_long_side: int) -> int:
    """Largest libjpeg DCT scale-down (1, 2, 4 or 8) keeping the longer side ≥ ``min_long_side``.

    Only JPEG decodes at reduced scale for free; PNG always decodes at full size."""
    if header.format != "jpeg" or min_long_side <= 0:
        return 1
    long_side = max(header.width, header.height)
    for factor in (8, 4, 2):
        if long_side // factor >= min_long_side:
            return factor
    return 1


def decode_reduced(data: bytes, header: ImageHeader, param: str, factor: int) -> np.ndarray:
    """Like :func:`decode`, at 1/``factor`` scale (libjpeg scales while decoding: much faster
    than a full decode and a resize for phone photos). EXIF orientation is honoured too."""
    if factor == 1:
        return decode(data, header, param)
    if _looks_truncated(data, header.format):
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED[factor])
    except cv2.error:
        img = None
    if img is None or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)
    expected = sorted((-(-header.height // factor), -(-header.width // factor)))
    if any(abs(a - b) > 1 for a, b in zip(sorted(img.shape[:2]), expected, strict=True)):
        raise FaceCompareError(ErrorCode.UNSUPPORTED_FORMAT, param)  # header and data disagree
    return img


def load(text: str | bytes, limits: ImageLimits, param: str) -> np.ndarray:
    """base64 text (or raw file bytes) → checked, decoded BGR image."""
    data = text if isinstance(text, bytes) and sniff(text) else b64decode(text, param)
    header = read_header(data, param)
    check_size(header, len(data), limits, param)
    return decode(data, header, param)
