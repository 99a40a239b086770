"""The speed levers keep the pipeline's answers: reduced-scale decode, second detector pass,
boxes in the original image's coordinates; and the bench's inputs are what it says."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import lfw_image
from facecompare import imaging
from facecompare.compare import CompareRequest, Engine
from facecompare.config import Settings
from facecompare.lab.data.phones import PHONE_SIZE, build_pairs, jpeg, phone_photo
from facecompare.pipeline import Pipeline, detector_sizes


def header(w: int, h: int, fmt: str = "jpeg") -> imaging.ImageHeader:
    return imaging.ImageHeader(fmt, w, h)


def test_reduction_never_goes_below_the_detector_input():
    assert imaging.reduction(header(1280, 960), 640) == 2
    assert imaging.reduction(header(4032, 3024), 640) == 4
    assert imaging.reduction(header(4032, 3024), 480) == 8
    assert imaging.reduction(header(1000, 800), 640) == 1
    assert imaging.reduction(header(4032, 3024, "png"), 640) == 1  # PNG: no DCT scaling
    assert imaging.reduction(header(4032, 3024), 0) == 1


def test_reduced_decode_honours_exif_and_refuses_truncation():
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.integers(0, 255, (960, 1280, 3), dtype=np.uint8), (5, 5), 2)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.fromarray(img[..., ::-1]).save(buf, format="JPEG", exif=exif)
    data = buf.getvalue()
    h = imaging.read_header(data, "image1")
    assert imaging.decode_reduced(data, h, "image1", 2).shape == (640, 480, 3)
    with pytest.raises(imaging.FaceCompareError):
        imaging.decode_reduced(data[: len(data) // 2], h, "image1", 2)


@pytest.fixture(scope="module")
def big_photos() -> tuple[bytes, bytes]:
    rng = np.random.default_rng(5)
    a = phone_photo(lfw_image("Aaron_Peirsol", 1), rng)
    b = phone_photo(lfw_image("Aaron_Peirsol", 2), rng)
    # 2560×1920: decoded at 1/4 for the detector, the face aligned from a finer decode
    big = [cv2.resize(x, (2560, 1920), interpolation=cv2.INTER_CUBIC) for x in (a, b)]
    return jpeg(big[0]), jpeg(big[1])


def test_reduced_decode_matches_full_decode(engine, big_photos):
    full = Engine(Pipeline(engine.pack, Settings(reduced_decode=False)), engine.calibration)
    req = CompareRequest(*big_photos)
    fast, ref = engine.compare(req), full.compare(req)
    side = Engine(Pipeline(engine.pack, Settings(image_threads=2)), engine.calibration)
    one = Engine(Pipeline(engine.pack, Settings(image_threads=1)), engine.calibration)
    # same work on two threads (each crop embedded alone) or on one (both in one batch)
    assert abs(side.compare(req).cosine - one.compare(req).cosine) < 1e-4
    assert abs(side.compare(req, side_by_side=False).cosine - fast.cosine) < 1e-4
    assert abs(fast.cosine - ref.cosine) < 0.02
    assert fast.cosine > 0.3  # the same person
    for f, r in ((fast.face1, ref.face1), (fast.face2, ref.face2)):
        # boxes are reported in the original image's pixels, whatever scale was decoded
        assert np.allclose(f.box, r.box, atol=0.03 * r.width)


def test_second_detector_pass_only_when_nothing_qualifies(engine):
    img = cv2.resize(lfw_image("Aaron_Peirsol", 1), (1000, 1000))
    small_pass = Engine(
        Pipeline(engine.pack, Settings(det_first_size=0, det_size=16, det_retry_size=640)),
        engine.calibration,
    )
    no_retry = Engine(
        Pipeline(engine.pack, Settings(det_first_size=0, det_size=16, det_retry_size=16)),
        engine.calibration,
    )
    assert no_retry.pipeline.faces(img, 112) == []
    assert small_pass.pipeline.faces(img, 112)


def test_detector_sizes_grow_and_stop_at_the_image():
    s = Settings(det_first_size=320, det_size=480, det_retry_size=640)
    assert detector_sizes(1280, s) == [320, 480, 640]
    assert detector_sizes(400, s) == [320, 480]  # 640 would see the same pixels as 480
    assert detector_sizes(250, s) == [320]  # LFW-sized: one pass, at native resolution
    assert detector_sizes(1280, s, 640) == [640]  # an explicit size (documents): no first pass
    assert detector_sizes(1280, Settings(det_first_size=0)) == [480, 640]


def test_first_small_pass_serves_large_faces_and_falls_back_for_small_ones(engine):
    """A face of ~500 px in a 1280×960 photo is found at the 320 input alone; a face under
    the 112 px minimum there makes the 480 and 640 passes run (each pass's input recorded)."""
    pipe = Pipeline(engine.pack, Settings(det_first_size=320))
    seen: list[int] = []
    detect = pipe.detector.detect

    def recording(img, size=640, threshold=0.5):  # noqa: ANN001, ANN202
        seen.append(size)
        return detect(img, size, threshold)

    pipe.detector.detect = recording
    frame = np.full((960, 1280, 3), 90, np.uint8)
    big = frame.copy()
    big[200:700, 300:800] = cv2.resize(lfw_image("Aaron_Peirsol", 1), (500, 500))
    faces = pipe.faces(big, 112)
    assert faces and faces[0].min_side > 150 and seen == [320]
    seen.clear()
    small = frame.copy()
    small[400:520, 600:720] = cv2.resize(lfw_image("Aaron_Peirsol", 1), (120, 120))
    pipe.faces(small, 112)  # a ~50 px face: below the minimum, whatever the pass
    assert seen[:3] == [320, 480, 640]


def test_bench_pairs_are_phone_sized_jpegs(lfw):
    pairs = build_pairs(lfw, 4)
    assert [p.same for p in pairs] == [True, True, False, False]
    for p in pairs:
        h = imaging.read_header(p.a, "image1")
        assert (h.format, h.width, h.height) == ("jpeg", *PHONE_SIZE)
    assert build_pairs(lfw, 4)[0].a == pairs[0].a  # deterministic


def test_document_path_still_runs(engine, big_photos):
    """The document flags take the full-decode path (detector at the larger input at once)."""
    from conftest import DOCS, need
    from facecompare.errors import FaceCompareError

    doc = (need(DOCS) / "specimens" / "0_pass-lva.jpg").read_bytes()
    req = CompareRequest(doc, big_photos[0], image1_is_document=True)
    try:
        result = engine.compare(req)
    except FaceCompareError as err:  # a documented answer, never a crash
        assert err.code.name in ("CAN_NOT_DETECT_IDCARD", "CAN_NOT_DETECT_FACE")
    else:
        assert 0 <= result.confidence <= 100
