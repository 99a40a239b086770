"""Property-based tests (hypothesis) of request parsing: any body gives a request or the
documented argument error, checked in the spec's order."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facecompare.api.limits import RateLimiter
from facecompare.api.schemas import FLAGS, parse_body
from facecompare.compare import CompareRequest
from facecompare.errors import ErrorCode, FaceCompareError

ARG_ERRORS = (ErrorCode.MISSING_ARGUMENTS, ErrorCode.BAD_ARGUMENTS)
FIELDS = ("image1", "image2", *FLAGS)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def expected_error(body: object) -> str | None:
    """The spec's rule, written independently of the parser."""
    if not isinstance(body, dict):
        return "BAD_ARGUMENTS: body"
    for name in ("image1", "image2"):
        value = body.get(name, "")
        if not isinstance(value, str):
            return f"BAD_ARGUMENTS: {name}"
        if not value.strip():
            return f"MISSING_ARGUMENTS: {name}"
    for name in FLAGS:
        if not isinstance(body.get(name, False), bool):
            return f"BAD_ARGUMENTS: {name}"
    return None


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=8)
    | json_values
)
def test_any_json_value(body):
    raw = json.dumps(body).encode()
    want = expected_error(body)
    try:
        req = parse_body(raw)
    except FaceCompareError as err:
        assert err.message == want
    else:
        assert want is None and isinstance(req, CompareRequest)
        assert req.image1 == body["image1"] and req.image2 == body["image2"]
        for name in FLAGS:
            assert getattr(req, name) is body.get(name, False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_any_bytes(raw):
    try:
        parse_body(raw)
    except FaceCompareError as err:
        assert err.code in ARG_ERRORS


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"x"',
        b"1e999999",
        b"\xff\xfe{}",
        b'{"image1": NaN}',
        b"{" * 100_000,
        b'{"a":' * 5000,
    ],
)
def test_hostile_bodies(raw):
    with pytest.raises(FaceCompareError) as exc:
        parse_body(raw)
    assert exc.value.code in ARG_ERRORS


def test_duplicate_keys_last_wins_and_unknown_ignored():
    req = parse_body(b'{"image1": 1, "image1": "a", "image2": "b", "zzz": [1]}')
    assert (req.image1, req.image2) == ("a", "b")


def test_flags_are_strict_booleans():
    for bad in (0, 1, "true", "false", None, [], {}):
        body = orjson.dumps({"image1": "a", "image2": "b", "blur_detection": bad})
        with pytest.raises(FaceCompareError) as exc:
            parse_body(body)
        assert exc.value.message == "BAD_ARGUMENTS: blur_detection"


def test_rate_limiter_token_bucket():
    now = [0.0]
    rl = RateLimiter(60, clock=lambda: now[0])  # 1 a second, bursts of 60
    assert all(rl.allow("a") for _ in range(60))
    assert not rl.allow("a")
    assert rl.allow("b")  # per key
    assert rl.retry_after("a") >= 1
    now[0] += 1.0
    assert rl.allow("a") and not rl.allow("a")
    off = RateLimiter(0)
    assert all(off.allow("a") for _ in range(1000))
