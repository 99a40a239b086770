"""Fault injection: an engine that fails unexpectedly answers 500 INTERNAL_ERROR, no traceback."""

from __future__ import annotations

import base64
import copy
import logging

import cv2
import numpy as np
from fastapi.testclient import TestClient

from facecompare.api.app import create_app
from facecompare.api.auth import KeyStore
from facecompare.config import Settings

# passes the cheap checks (base64, format, size) done before the engine runs
BLANK = base64.b64encode(cv2.imencode(".jpg", np.zeros((480, 480, 3), np.uint8))[1]).decode()


def test_internal_error(tmp_path, caplog, engine):
    def explode(req, side_by_side=None):
        raise ZeroDivisionError("boom")

    broken = copy.copy(engine)
    broken.compare = explode  # type: ignore[method-assign]
    settings = Settings(keys_db=tmp_path / "k.db")
    key = KeyStore(settings.keys_db).create("t")
    app = create_app(settings, engine=broken)
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        r = client.post(
            "/aiface/face-compare/v1",
            headers={"x-aigen-key": key},
            json={"image1": BLANK, "image2": BLANK},
        )
    assert r.status_code == 500
    body = r.json()
    assert body["error_message"] == "INTERNAL_ERROR"
    assert body["request_id"] == r.headers["x-request-id"]
    assert "boom" not in r.text and "Traceback" not in r.text
    assert body["request_id"] in caplog.text and "ZeroDivisionError" in caplog.text
