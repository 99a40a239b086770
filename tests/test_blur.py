"""The blur flag: computed on the detected face, scale-invariant, calibrated on degraded LFW."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from conftest import lfw_image, upscaled
from facecompare import quality
from facecompare.calibration import blur as cb
from facecompare.calibration import default_path, load_calibration
from facecompare.compare import CompareRequest
from facecompare.datasets import identity, lfw_images
from facecompare.errors import ErrorCode, FaceCompareError
from facecompare.models import load_pack


def encode(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def section() -> dict:
    cal = load_calibration(default_path(load_pack().name))
    blur = cal.section("blur")
    assert blur is not None, "run `facecompare calibrate-blur`"
    return blur


def face_score(engine, img: np.ndarray, name: str) -> float:
    found = engine.largest_face(img, 0)
    assert found is not None
    _, norms = engine.embedder.embed([found.crop])
    return quality.score(name, found.crop, float(norms[0]))


def compare_blur(engine, img1: np.ndarray, img2: np.ndarray) -> str | None:
    try:
        engine.compare(CompareRequest(encode(img1), encode(img2), blur_detection=True))
    except FaceCompareError as err:
        return err.message
    return None


# -- the calibration data ----------------------------------------------------------------------
def test_section_is_made_by_the_command(section):
    assert section["score"] in quality.SCORE_NAMES
    assert section["command"].startswith("facecompare calibrate-blur")
    assert set(section["curves"]) == set(cb.LEVELS)
    for fam, levels in cb.LEVELS.items():
        assert [r["level"] for r in section["curves"][fam]["levels"]] == levels
    assert {r["score"] for r in section["candidates"]} == set(quality.SCORE_NAMES)
    rep = section["report"]
    assert rep["half"] == "report" and rep["natural_photos"] > 500


def test_curves_get_worse_with_strength(section):
    for fam in cb.BLUR_FAMILIES:
        rates = [r["pair_fail_rate"] for r in section["curves"][fam]["levels"]]
        assert rates[-1] > rates[0]
        assert rates[-1] >= 0.5, f"{fam}: the strongest level should break most pairs"


def test_write_section_touches_only_blur(tmp_path, section):
    target = tmp_path / "cal.json"
    shutil.copy(default_path(load_pack().name), target)
    before = json.loads(target.read_text())
    cb.write_section(target, {"score": "laplacian_ratio", "threshold": 1.0})
    after = json.loads(target.read_text())
    assert after["blur"] == {"score": "laplacian_ratio", "threshold": 1.0}
    assert {k: v for k, v in after.items() if k != "blur"} == {
        k: v for k, v in before.items() if k != "blur"
    }


# -- degradations and scores (pure functions) ----------------------------------------------------
@pytest.mark.parametrize("length,angle", [(4, 0), (9, 30), (25, 90), (12.5, 137)])
def test_motion_kernel(length, angle):
    k = cb.motion_kernel(length, angle)
    assert k.sum() == pytest.approx(1.0) and k.shape[0] % 2 == 1
    assert (k > 0).sum() >= int(length) - 1


def test_disk_kernel():
    k = cb.disk_kernel(3)
    assert k.sum() == pytest.approx(1.0) and k.shape == (7, 7) and k[3, 0] > 0 and k[0, 0] == 0


def test_halves_are_people_disjoint(lfw):
    s = cb.make_sample(lfw, 20, 60)
    fit = {identity(p) for p, h in s.halves.items() if h == "fit"}
    report = {identity(p) for p, h in s.halves.items() if h == "report"}
    assert fit and report and not fit & report
    for probe, refs in zip(s.probes, s.refs, strict=True):
        assert refs and probe not in refs and {identity(r) for r in refs} == {identity(probe)}


def test_scores_fall_with_blur(lfw):
    crop = cv2.resize(lfw_image("Aaron_Peirsol", 1)[69:181, 69:181], (112, 112))
    for name in quality.CROP_SCORES:
        sharp = quality.score(name, crop)
        blurred = quality.score(name, cv2.GaussianBlur(crop, (0, 0), 2))
        assert blurred < 0.7 * sharp, name
    with pytest.raises(ValueError, match="unknown quality score"):
        quality.score("nope", crop)


# -- the flag in the engine ----------------------------------------------------------------------
@pytest.mark.parametrize("side", [250, 500, 600, 1000])
def test_scaling_is_not_blur(engine, section, side):
    """A natural LFW face sent at any size is not flagged, and the score barely moves."""
    img = lfw_image("Aaron_Peirsol", 1)
    s = face_score(engine, upscaled(img, side), section["score"])
    ref = face_score(engine, upscaled(img, 500), section["score"])
    assert s >= section["threshold"]
    assert abs(s - ref) <= 0.25 * abs(ref)


def test_blurred_background_is_not_blur(engine, section):
    img = upscaled(lfw_image("Aaron_Peirsol", 1), 600)
    face = engine.largest_face(img, 0).face
    x1, y1, x2, y2 = (int(v) for v in face.box)
    out = cv2.GaussianBlur(img, (0, 0), 12)
    out[y1:y2, x1:x2] = img[y1:y2, x1:x2]
    assert compare_blur(engine, out, upscaled(lfw_image("Aaron_Peirsol", 2))) is None


def test_blurred_face_is_flagged_and_named(engine):
    sharp = upscaled(lfw_image("Aaron_Peirsol", 2))
    blurred = cv2.GaussianBlur(upscaled(lfw_image("Aaron_Peirsol", 1)), (0, 0), 8)
    assert compare_blur(engine, sharp, blurred) == "IMAGE_BLURED: image2"
    assert compare_blur(engine, blurred, sharp) == "IMAGE_BLURED: image1"
    assert compare_blur(engine, blurred, blurred) == "IMAGE_BLURED: image1"
    # off by default
    r = engine.compare(CompareRequest(encode(sharp), encode(blurred)))
    assert 0 <= r.confidence <= 100


def test_blurred_faceless_image_is_no_face(engine):
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (500, 500, 3), dtype=np.uint8), (0, 0), 10)
    sharp = upscaled(lfw_image("Aaron_Peirsol", 2))
    assert compare_blur(engine, sharp, noise) == f"{ErrorCode.CAN_NOT_DETECT_FACE.value}: image2"


def test_report_half_slice(engine, lfw, section):
    """A small honest slice of held-out people: natural photos pass, strong blur is flagged."""
    people = sorted({identity(p) for p in lfw_images(lfw) if cb.half_of(identity(p)) == "report"})
    paths = [f"{n}/{n}_0001.jpg" for n in people[::60][:40]]
    natural, blurred = [], []
    for p in paths:
        native = cv2.imread(str(lfw / "images" / p))
        for out, img in ((natural, native), (blurred, cb.degrade(native, "gaussian", 4.0))):
            found = engine.largest_face(cb.as_sent(img), 0)
            if found is not None:
                _, norms = engine.embedder.embed([found.crop])
                out.append(quality.score(section["score"], found.crop, float(norms[0])))
    t = section["threshold"]
    assert len(natural) >= 38
    assert np.mean(np.array(natural) < t) <= 1 / 38
    assert np.mean(np.array(blurred) < t) >= 0.9
