from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from facecompare import imaging
from facecompare.config import ImageLimits
from facecompare.errors import ErrorCode, FaceCompareError

LIMITS = ImageLimits()


def encode(img: np.ndarray, ext: str = ".jpg") -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def code_of(fn, *args) -> str:
    with pytest.raises(FaceCompareError) as exc:
        fn(*args)
    return exc.value.message


@pytest.fixture
def photo() -> np.ndarray:
    rng = np.random.default_rng(1)
    return cv2.GaussianBlur(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8), (5, 5), 2)


def test_jpeg_and_png_roundtrip(photo):
    for ext in (".jpg", ".png"):
        data = encode(photo, ext)
        img = imaging.load(base64.b64encode(data).decode(), LIMITS, "image1")
        assert img.shape == photo.shape and img.dtype == np.uint8


def test_base64_tolerances(photo):
    data = encode(photo)
    b64 = base64.b64encode(data).decode()
    assert imaging.b64decode("data:image/jpeg;base64," + b64, "image1") == data
    assert (
        imaging.b64decode("\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)), "image1")
        == data
    )
    assert imaging.b64decode(base64.urlsafe_b64encode(data).decode().rstrip("="), "image1") == data


@pytest.mark.parametrize("text", ["%%%", "abc$", "Zm9v!", "ä"])
def test_bad_base64(text):
    assert code_of(imaging.b64decode, text, "image2") == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image2"


def test_format_is_sniffed_not_trusted(photo):
    gif = io.BytesIO()
    Image.fromarray(photo).save(gif, format="GIF")
    b64 = base64.b64encode(gif.getvalue()).decode()
    assert code_of(imaging.load, "data:image/jpeg;base64," + b64, LIMITS, "image1").startswith(
        ErrorCode.UNSUPPORTED_FORMAT.value
    )


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_refused(photo, ext):
    data = encode(photo, ext)
    for cut in (len(data) // 2, len(data) - 3):
        assert (
            code_of(imaging.load, data[:cut], LIMITS, "image1")
            == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image1"
        )


def test_size_rules(photo):
    assert (
        code_of(imaging.load, encode(photo[:400, :400]), LIMITS, "image1")
        == "INVALID_IMAGE_SIZE: image1"
    )
    imaging.load(encode(np.zeros((480, 480, 3), np.uint8)), LIMITS, "image1")
    tight = ImageLimits(max_bytes=1000)
    assert code_of(imaging.load, encode(photo), tight, "image2") == "INVALID_IMAGE_SIZE: image2"


def test_bomb_refused_from_header():
    # 30,000 × 30,000 PNG: refused from the header, never decoded
    im = Image.new("L", (30000, 30000))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=9)
    data = buf.getvalue()
    assert len(data) < 2_000_000
    assert code_of(imaging.load, data, LIMITS, "image1") == "INVALID_IMAGE_SIZE: image1"


def test_grey_alpha_16bit(photo):
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA)
    deep = photo.astype(np.uint16) * 257
    for img, ext in ((grey, ".jpg"), (grey, ".png"), (bgra, ".png"), (deep, ".png")):
        out = imaging.load(encode(img, ext), LIMITS, "image1")
        assert out.shape == (600, 800, 3) and out.dtype == np.uint8


def test_exif_orientation_honoured(photo):
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.fromarray(photo[..., ::-1]).save(buf, format="JPEG", exif=exif)
    out = imaging.load(buf.getvalue(), LIMITS, "image1")
    assert out.shape == (800, 600, 3)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(data):
    try:
        imaging.load(base64.b64encode(data).decode(), LIMITS, "image1")
    except FaceCompareError as err:
        assert err.code in (ErrorCode.UNSUPPORTED_FORMAT, ErrorCode.INVALID_IMAGE_SIZE)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crash(text):
    try:
        imaging.b64decode(text, "image1")
    except FaceCompareError as err:
        assert err.code == ErrorCode.UNSUPPORTED_FORMAT
