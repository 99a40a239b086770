from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import jpeg_b64, lfw_image, upscaled
from facecompare.calibration import (
    THRESHOLD_FARS,
    CalibrationError,
    ConfidenceMapping,
    default_path,
    load_calibration,
)
from facecompare.compare import CompareRequest, Engine
from facecompare.lab.fit.scale import (
    SCALE_ANCHORS,
    InsufficientData,
    far_threshold,
    fit_mapping,
)
from facecompare.models import load_pack
from facecompare.pipeline import Pipeline


@given(st.floats(-1, 1), st.floats(-1, 1))
def test_mapping_monotone_and_bounded(a, b):
    m = ConfidenceMapping(0.3, 0.05)
    lo, hi = sorted((a, b))
    assert 0 <= m(lo) <= m(hi) <= 100


def test_mapping_inverse():
    m = ConfidenceMapping(0.25, 0.04)
    for c in (10.0, 45.92, 80.0):
        assert m(m.inverse(c)) == pytest.approx(c, abs=1e-9)


def test_far_threshold_promise():
    rng = np.random.default_rng(0)
    impostor = rng.normal(0, 0.1, 1_000_000).astype(np.float32)
    for far in (1e-3, 1e-4, 1e-5):
        t = far_threshold(impostor, far)
        realised = (impostor >= t).mean()
        assert realised <= far
        assert (impostor >= np.nextafter(t, -np.inf) - 1e-4).mean() > far * 0.5


def test_far_threshold_refuses_thin_data():
    with pytest.raises(InsufficientData, match="impostor pairs"):
        far_threshold(np.zeros(100_000, np.float32), 1e-5)


def test_fit_mapping_lands_near_anchors():
    cos = {"err_01": 0.30, "err_001": 0.36, "err_0001": 0.41}
    m = fit_mapping(cos)
    for name, anchor in SCALE_ANCHORS.items():
        assert abs(m(cos[name]) - anchor) < 3


def test_shipped_file_matches_pack():
    pack = load_pack()
    cal = load_calibration(default_path(pack.name), pack.digest)
    t = cal.thresholds("photo-photo")
    assert list(t) == list(THRESHOLD_FARS)
    assert t["err_01"] < t["err_001"] < t["err_0001"]
    data = cal.data["scenarios"]["photo-photo"]["data"]
    assert data["impostor_pairs"] > 10_000_000  # supports FAR 1e-5 with ≥ 100 false accepts


def test_wrong_pack_refused(tmp_path):
    pack = load_pack()
    data = json.loads(default_path(pack.name).read_text())
    data["model_pack"]["digest"] = "0" * 16
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="made for model pack"):
        load_calibration(path, pack.digest)


def test_changing_the_file_changes_the_answer(tmp_path, engine):
    """The server's thresholds and confidence come only from the calibration file."""
    pack = engine.pack
    data = json.loads(default_path(pack.name).read_text())
    data["mapping"]["center"] -= 0.05
    for t in data["scenarios"]["photo-photo"]["thresholds"].values():
        t["score"] += 0.1
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    other = Engine(Pipeline(pack, engine.settings), load_calibration(path, pack.digest))
    req = CompareRequest(
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1))),
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 2))),
    )
    a, b = engine.compare(req), other.compare(req)
    assert a.cosine == pytest.approx(b.cosine)
    assert b.confidence > a.confidence
    assert all(b.thresholds[k] != a.thresholds[k] for k in THRESHOLD_FARS)
