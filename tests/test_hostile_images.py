"""Hostile and unusual image files: a correct picture or the documented error, never a crash.

Also property-based tests (hypothesis) of the decoder on mutated real JPEG/PNG files."""

from __future__ import annotations

import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from facecompare import imaging
from facecompare.config import ImageLimits
from facecompare.errors import ErrorCode, FaceCompareError

LIMITS = ImageLimits()
IMAGE_ERRORS = (ErrorCode.UNSUPPORTED_FORMAT, ErrorCode.INVALID_IMAGE_SIZE)


def smooth_rgb(h: int = 600, w: int = 800) -> np.ndarray:
    """A smooth, asymmetric RGB picture: gradients survive JPEG and show any rotation."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w * 255, y / h * 255, (x + 2 * y) / (w + 2 * h) * 255], axis=-1)
    return rgb.astype(np.uint8)


def save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def bgr_of(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"))[..., ::-1]


def error_of(data: bytes | str) -> str:
    with pytest.raises(FaceCompareError) as exc:
        imaging.load(data, LIMITS, "image1")
    return exc.value.message


BASE = Image.fromarray(smooth_rgb())


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cmyk-jpeg", save(BASE.convert("CMYK"), "JPEG", quality=95)),
        ("cmyk-progressive", save(BASE.convert("CMYK"), "JPEG", quality=95, progressive=True)),
        ("grey-jpeg", save(BASE.convert("L"), "JPEG", quality=95)),
        ("progressive-jpeg", save(BASE, "JPEG", quality=95, progressive=True)),
        ("palette-png", save(BASE.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")),
        ("grey-alpha-png", save(BASE.convert("LA"), "PNG")),
        ("rgba-png", save(BASE.convert("RGBA"), "PNG")),
        (
            "grey16-png",
            save(Image.fromarray(np.asarray(BASE.convert("L"), np.uint16) * 257), "PNG"),
        ),
        ("bilevel-png", save(BASE.convert("1"), "PNG")),
    ],
)
def test_unusual_files_decode_to_the_same_picture(name, data):
    out = imaging.load(data, LIMITS, "image1")
    assert out.shape == (600, 800, 3) and out.dtype == np.uint8
    expected = bgr_of(Image.open(io.BytesIO(data)))
    if name == "grey16-png":  # Pillow's own 16 → 8 bit conversion clips; the source is known
        expected = np.repeat(np.asarray(BASE.convert("L"))[..., None], 3, axis=-1)
    if name == "bilevel-png":  # dithered: compare the overall brightness only
        assert abs(float(out.mean()) - float(expected.mean())) < 3
    else:
        assert np.abs(out.astype(int) - expected.astype(int)).mean() < 6, name


def test_rgb16_alpha_png():
    rgba16 = np.concatenate([smooth_rgb(), np.full((600, 800, 1), 255, np.uint8)], axis=-1)
    ok, buf = cv2.imencode(".png", rgba16.astype(np.uint16) * 257)
    assert ok
    out = imaging.load(buf.tobytes(), LIMITS, "image1")
    assert out.shape == (600, 800, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - smooth_rgb().astype(int)).max() <= 1


def test_interlaced_png():
    # Adam7 interlacing, written by hand (neither Pillow nor OpenCV writes it)
    rgb = smooth_rgb(480, 480)
    passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2)]
    passes += [(0, 1, 2, 2), (1, 0, 2, 1)]
    raw = b""
    for y0, x0, dy, dx in passes:
        sub = rgb[y0::dy, x0::dx]
        raw += b"".join(b"\0" + row.tobytes() for row in sub)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    png = imaging.PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", 480, 480, 8, 2, 0, 0, 1))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    out = imaging.load(png, LIMITS, "image1")
    assert np.array_equal(out, rgb[..., ::-1])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_honoured(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = save(BASE, "JPEG", quality=95, exif=exif)
    out = imaging.load(data, LIMITS, "image1")
    expected = bgr_of(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    assert out.shape == expected.shape
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 3


@pytest.mark.parametrize("progressive", [False, True])
def test_truncated_jpeg_refused(progressive):
    data = save(BASE, "JPEG", quality=90, progressive=progressive)
    for cut in (100, len(data) // 3, len(data) - 2):
        assert error_of(data[:cut]).startswith(ErrorCode.UNSUPPORTED_FORMAT.value)


def test_truncated_png_refused():
    data = save(BASE, "PNG")
    for cut in (20, 40, len(data) // 2, len(data) - 5):
        assert error_of(data[:cut]).startswith(ErrorCode.UNSUPPORTED_FORMAT.value)


def _bomb_png(side: int) -> bytes:
    return save(Image.new("L", (side, side)), "PNG", compress_level=9)


def test_decompression_bombs_refused_fast_without_memory():
    png = _bomb_png(30000)  # 900 megapixels in under 1 MB
    jpeg_header = bytearray(save(Image.new("L", (16, 16)), "JPEG"))
    sof = jpeg_header.index(b"\xff\xc0")
    jpeg_header[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)  # SOF: height, width
    for bomb in (png, bytes(jpeg_header)):
        start = time.perf_counter()
        assert error_of(bomb) == "INVALID_IMAGE_SIZE: image1"
        assert time.perf_counter() - start < 0.1


def test_many_scan_progressive_jpeg_refused():
    # a CPU bomb: the same (valid) scan repeated, 5,000 scans in a small file
    data = save(BASE.resize((480, 480)), "JPEG", quality=50, progressive=True)
    sos = data.index(b"\xff\xda")
    body = data[sos:-2]
    bomb = data[:sos] + body * 500 + b"\xff\xd9"
    assert bomb.count(b"\xff\xda") > imaging.MAX_JPEG_SCANS
    start = time.perf_counter()
    assert error_of(bomb) == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image1"
    assert time.perf_counter() - start < 0.1


def test_header_and_pixels_disagree_refused():
    # a PNG whose IHDR claims 480 × 480 but whose pixels hold a 500 × 500 image's rows
    rgb = smooth_rgb(500, 500)
    ok, buf = cv2.imencode(".png", rgb)
    data = bytearray(buf.tobytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", 480, 480)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    try:
        out = imaging.load(bytes(data), LIMITS, "image1")
    except FaceCompareError as err:
        assert err.code in IMAGE_ERRORS
    else:
        assert out.shape == (480, 480, 3)


# -- property-based: mutations of real files -------------------------------------------------
SEEDS = {
    "jpeg": save(BASE.resize((480, 480)), "JPEG", quality=80),
    "progressive": save(BASE.resize((480, 480)), "JPEG", quality=80, progressive=True),
    "png": save(BASE.resize((480, 480)), "PNG"),
}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        if len(data) < 2:
            break
        kind = draw(st.sampled_from(["flip", "byte", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            data = data[: max(pos, 1)]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif len(data) > 2:
            del data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_files_give_a_picture_or_the_documented_error(data):
    try:
        out = imaging.load(data, LIMITS, "image1")
    except FaceCompareError as err:
        assert err.code in IMAGE_ERRORS and err.param == "image1"
    else:
        assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8
        assert out.shape[0] * out.shape[1] >= LIMITS.min_area


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=2048))
def test_magic_then_garbage(tail):
    for magic in (imaging.JPEG_MAGIC, imaging.PNG_MAGIC):
        try:
            imaging.load(magic + tail, LIMITS, "image2")
        except FaceCompareError as err:
            assert err.code in IMAGE_ERRORS and err.param == "image2"
