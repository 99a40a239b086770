"""Blurred ID documents with ``blur_detection`` (IMAGE_BLURED, not CAN_NOT_DETECT_IDCARD), and
the document path's models loaded before ``/readyz`` says ready."""

from __future__ import annotations

import contextlib

import cv2
import httpx
import numpy as np
import pytest

from conftest import DOCS, LFW, jpeg_b64, lfw_image, need, upscaled
from facecompare import quality
from facecompare.compare import CompareRequest, Engine
from facecompare.errors import ErrorCode, FaceCompareError
from facecompare.lab.data import synth_cards
from facecompare.pipeline import Pipeline

PATH = "/aiface/face-compare/v1"


def card(k: int, blur: float = 0.0) -> np.ndarray:
    """Card photo ``k`` of the held-out people, with an extra Gaussian blur of σ ``blur`` px."""
    person, source, seed = synth_cards.card_plan(need(LFW), "test", 40)[k]
    return synth_cards.render(LFW, DOCS, person, source, seed, blur=blur).image


def post(server, key: str, body: dict) -> dict:
    r = httpx.post(server.url + PATH, json=body, headers={"x-aigen-key": key}, timeout=120)
    assert r.status_code in (200, 400), r.text
    return r.json()


def test_edge_sharpness_falls_with_blur():
    """The score falls with every step of blur; the sharp photo is above the document
    threshold, σ 4 px below; an image without edges is not judged."""
    scores = [quality.edge_sharpness(card(2, sigma)) for sigma in (0, 2, 4, 6)]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores
    assert scores[0] >= quality.DOCUMENT_EDGE_SHARPNESS > scores[2]
    assert quality.edge_sharpness(np.full((600, 800, 3), 128, np.uint8)) is None
    step = np.zeros((480, 640), np.uint8)
    step[:, 320:] = 200  # an ideal step: 4 (Sobel gain), whatever its height
    assert quality.edge_sharpness(step) == pytest.approx(4.0, abs=0.05)
    assert quality.edge_sharpness(step // 2) == pytest.approx(4.0, abs=0.05)


def test_blurred_card_is_image_blured_over_http(server, api_key):
    """A card photo blurred by σ 6 px flagged as a document: IMAGE_BLURED naming it with
    blur_detection, CAN_NOT_DETECT_IDCARD without; image2 too; decoding still comes first."""
    selfie = jpeg_b64(upscaled(lfw_image("Colin_Powell", 2)))
    for k in (0, 1):
        blurred = jpeg_b64(card(k, 6.0))
        body = {"image1": blurred, "image2": selfie, "image1_is_document": True}
        assert post(server, api_key, {**body, "blur_detection": True})["error_message"] == (
            "IMAGE_BLURED: image1"
        )
        assert post(server, api_key, body)["error_message"] == "CAN_NOT_DETECT_IDCARD: image1"
    body = {"image1": selfie, "image2": blurred, "image2_is_document": True, "blur_detection": True}
    assert post(server, api_key, body)["error_message"] == "IMAGE_BLURED: image2"
    body = {"image1": blurred, "image2": "QUJD", "image1_is_document": True, "blur_detection": True}
    assert post(server, api_key, body)["error_message"] == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image2"


def test_sharp_non_documents_stay_can_not_detect_idcard(engine):
    """Sharp images that are no document, flagged as one with blur_detection: an LFW photo sent
    enlarged (soft edges, a sharp face) and a poster scene keep CAN_NOT_DETECT_IDCARD."""
    from facecompare.lab.data import hard_negatives

    other = jpeg_b64(upscaled(lfw_image("Colin_Powell", 2)))
    scene = next(iter(hard_negatives.scenes(need(LFW), "test", 1, seed=1))).image
    for img in (upscaled(lfw_image("Aaron_Peirsol", 1)), scene):
        req = CompareRequest(jpeg_b64(img), other, image1_is_document=True, blur_detection=True)
        with pytest.raises(FaceCompareError) as err:
            engine.compare(req)
        assert err.value.message == "CAN_NOT_DETECT_IDCARD: image1"


def test_found_card_with_a_blurred_portrait_is_image_blured(engine):
    """A passport page whose text is sharp (the document is found) but whose portrait is
    blurred: IMAGE_BLURED by the face rules, after the document and face checks."""
    img = cv2.imread(str(need(DOCS) / "specimens" / "passport-td3.jpg"), cv2.IMREAD_COLOR)
    face = engine.documents.portrait(img, engine.documents.find(img))
    x1, y1, x2, y2 = (int(v) for v in face.face.box)
    pad = (y2 - y1) // 3
    roi = img[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
    roi[:] = cv2.GaussianBlur(roi, (0, 0), 0.06 * (y2 - y1))
    other = jpeg_b64(upscaled(lfw_image("Colin_Powell", 2)))
    req = CompareRequest(jpeg_b64(img), other, image1_is_document=True)
    assert engine.compare(req).scenario  # found, compared
    with pytest.raises(FaceCompareError) as err:
        engine.compare(
            CompareRequest(jpeg_b64(img), other, image1_is_document=True, blur_detection=True)
        )
    assert err.value.code == ErrorCode.IMAGE_BLURED and err.value.param == "image1"


def test_ready_only_once_the_text_models_are_loaded(tmp_path, engine):
    """/readyz answers 200 only after the document path's text models are loaded: a fresh
    engine's reader has them when the app says ready, and the first document compare after
    that loads nothing (the same models)."""
    from fastapi.testclient import TestClient

    from facecompare.api.app import create_app
    from facecompare.config import Settings

    fresh = Engine(Pipeline(engine.pack, engine.settings), engine.calibration)
    assert not fresh.documents.loaded
    app = create_app(Settings(keys_db=tmp_path / "k.db"), engine=fresh)
    assert TestClient(app).get("/readyz").status_code == 503  # no lifespan run: not loaded
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        assert fresh.documents.loaded
        ocr = fresh.documents.ocr
        other = jpeg_b64(upscaled(lfw_image("Colin_Powell", 2)))
        with contextlib.suppress(FaceCompareError):  # only the reading matters here
            fresh.compare(CompareRequest(jpeg_b64(card(1)), other, image1_is_document=True))
        assert fresh.documents.ocr is ocr
