"""Flip test-time augmentation where the plain cosine is uncertain (embed.similarity)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import jpeg_b64, lfw_image, upscaled
from facecompare.compare import CompareRequest, Engine
from facecompare.embed import flip_band, similarity, unit
from facecompare.pipeline import Pipeline

BAND = (0.10, 0.50)


def faces(rng: np.random.Generator, n: int) -> np.ndarray:
    plain = unit(rng.normal(size=(n, 512)))
    return np.stack([plain, unit(plain + 0.2 * rng.normal(size=(n, 512)) / np.sqrt(512))], 1)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_similarity_is_tta_inside_the_band_and_plain_outside(seed):
    rng = np.random.default_rng(seed)
    a, b = faces(rng, 5), faces(rng, 7)
    b[:3, 0] = unit(a[:3, 0] + rng.uniform(0.5, 3) * b[:3, 0])  # some pairs inside the band
    plain, tta = a[:, 0] @ b[:, 0].T, a[:, 1] @ b[:, 1].T
    got = similarity(a, b, BAND)
    inside = (plain >= BAND[0]) & (plain <= BAND[1])
    np.testing.assert_allclose(got[inside], tta[inside], rtol=1e-6)
    np.testing.assert_allclose(got[~inside], plain[~inside], rtol=1e-6)
    np.testing.assert_allclose(similarity(a, b, None), plain, rtol=1e-6)
    np.testing.assert_allclose(similarity(a, b, flip_band("always", *BAND)), tta, rtol=1e-6)


def test_unknown_flip_mode_is_refused():
    with pytest.raises(ValueError, match="flip_tta"):
        flip_band("sometimes", *BAND)


def test_every_threshold_lies_well_inside_the_band(engine):
    """Flip moves a cosine by at most 0.045 on LFW: with 0.1 of margin on each side, every
    accept/reject decision at a published threshold is the full flip-TTA decision."""
    lo, hi = engine.scorer.band
    for scenario in engine.calibrated.scenarios:
        for cos in engine.calibrated.threshold_cosines(scenario).values():
            assert lo + 0.1 <= cos <= hi - 0.1, (scenario, cos)


def pair(a: tuple[str, int], b: tuple[str, int]) -> CompareRequest:
    return CompareRequest(jpeg_b64(upscaled(lfw_image(*a))), jpeg_b64(upscaled(lfw_image(*b))))


def test_uncertain_pair_is_scored_with_flip_and_a_clear_one_is_not(engine: Engine):
    always = Engine(
        Pipeline(engine.pack, dataclasses.replace(engine.settings, flip_tta="always")),
        engine.calibration,
    )
    off = Engine(
        Pipeline(engine.pack, dataclasses.replace(engine.settings, flip_tta="off")),
        engine.calibration,
    )
    uncertain = pair(("Juan_Pablo_Montoya", 1), ("Juan_Pablo_Montoya", 8))  # plain cos ≈ 0.3
    clear = pair(("Aaron_Peirsol", 1), ("Aaron_Peirsol", 2))  # plain cos ≈ 0.78
    r, r_off, r_all = engine.compare(uncertain), off.compare(uncertain), always.compare(uncertain)
    assert BAND[0] <= r_off.cosine <= BAND[1] and not r_off.flipped
    assert r.flipped and r.cosine == pytest.approx(r_all.cosine, abs=1e-5)
    assert r.cosine != pytest.approx(r_off.cosine, abs=1e-4)
    r, r_off = engine.compare(clear), off.compare(clear)
    assert not r.flipped and r.cosine == pytest.approx(r_off.cosine, abs=1e-5)
