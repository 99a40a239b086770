"""End to end: a real server process, real models, real HTTP, every row of the spec."""

from __future__ import annotations

import base64
import concurrent.futures as cf

import cv2
import httpx
import numpy as np
import pytest

from conftest import Server, jpeg_b64, lfw_image, upscaled

PATH = "/aiface/face-compare/v1"


def post(
    server: Server,
    key: str | None,
    body: object = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    h = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        h["x-aigen-key"] = key
    if content is None:
        return httpx.post(server.url + PATH, json=body, headers=h, timeout=60)
    return httpx.post(server.url + PATH, content=content, headers=h, timeout=60)


@pytest.fixture(scope="module")
def same_pair() -> tuple[str, str]:
    return (
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1))),
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 2))),
    )


@pytest.fixture(scope="module")
def other() -> str:
    return jpeg_b64(upscaled(lfw_image("Angelina_Jolie", 1)))


@pytest.fixture(scope="module")
def faceless() -> str:
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (500, 500, 3), dtype=np.uint8), (9, 9), 3)
    return jpeg_b64(noise)


def check_envelope(r: httpx.Response) -> dict:
    data = r.json()
    assert r.headers["content-type"].startswith("application/json")
    assert data["request_id"] and r.headers["x-request-id"] == data["request_id"]
    assert isinstance(data["time_used"], float)
    return data


def expect_error(r: httpx.Response, status: int, message: str) -> None:
    assert r.status_code == status, r.text
    data = check_envelope(r)
    assert data["error_message"] == message
    assert "confidence" not in data and "thresholds" not in data
    assert "Traceback" not in r.text


def test_same_person(server, api_key, same_pair):
    r = post(server, api_key, {"image1": same_pair[0], "image2": same_pair[1]})
    assert r.status_code == 200
    data = check_envelope(r)
    assert "error_message" not in data
    t = data["thresholds"]
    assert set(t) == {"err_01", "err_001", "err_0001"}
    assert 0 < t["err_01"] < t["err_001"] < t["err_0001"] < 100
    assert data["confidence"] > t["err_0001"]
    assert round(data["confidence"], 2) == data["confidence"]


def test_different_people(server, api_key, same_pair, other):
    r = post(server, api_key, {"image1": same_pair[0], "image2": other})
    data = check_envelope(r)
    assert r.status_code == 200
    assert 0 <= data["confidence"] < data["thresholds"]["err_01"]


def test_face_boxes_returned(server, api_key, same_pair):
    data = post(server, api_key, {"image1": same_pair[0], "image2": same_pair[1]}).json()
    for name in ("face1", "face2"):
        face = data[name]
        assert set(face) == {"x", "y", "width", "height", "score"}
        assert min(face["width"], face["height"]) >= 112
        assert 0 <= face["x"] < 500 and 0 <= face["y"] < 500
        assert 0.5 <= face["score"] <= 1


def test_data_url_and_line_breaks(server, api_key, same_pair):
    wrapped = "\n".join(same_pair[1][i : i + 76] for i in range(0, len(same_pair[1]), 76))
    r = post(
        server,
        api_key,
        {"image1": "data:image/jpeg;base64," + same_pair[0], "image2": wrapped, "unknown_field": 1},
    )
    assert r.status_code == 200 and "confidence" in r.json()


def test_png_accepted(server, api_key, same_pair):
    ok, png = cv2.imencode(".png", upscaled(lfw_image("Aaron_Peirsol", 2)))
    r = post(
        server,
        api_key,
        {"image1": same_pair[0], "image2": base64.b64encode(png.tobytes()).decode()},
    )
    assert r.status_code == 200 and r.json()["confidence"] > 50


@pytest.mark.parametrize("key", [None, "", "fc_not-a-key"])
def test_authentication_error(server, key, same_pair):
    expect_error(
        post(server, key, {"image1": same_pair[0], "image2": same_pair[1]}),
        401,
        "AUTHENTICATION_ERROR",
    )


def test_auth_checked_before_body(server):
    expect_error(post(server, None, content=b"not json"), 401, "AUTHENTICATION_ERROR")


def test_keys_create_list_revoke(server, same_pair):
    key = server.new_key("revoke-me")
    body = {"image1": same_pair[0], "image2": same_pair[1]}
    assert post(server, key, body).status_code == 200
    listed = server.cli("keys", "list").stdout
    assert "revoke-me" in listed and key not in listed
    assert server.cli("keys", "revoke", "revoke-me").returncode == 0
    assert "revoked" in server.cli("keys", "list").stdout
    expect_error(post(server, key, body), 401, "AUTHENTICATION_ERROR")  # no restart needed
    assert server.cli("keys", "revoke", "no-such-key").returncode == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image2": "x"}, "MISSING_ARGUMENTS: image1"),
        ({"image1": "", "image2": "x"}, "MISSING_ARGUMENTS: image1"),
        ({"image1": "QUJD"}, "MISSING_ARGUMENTS: image2"),
        ({}, "MISSING_ARGUMENTS: image1"),
        ({"image1": 5, "image2": "x"}, "BAD_ARGUMENTS: image1"),
        ({"image1": None, "image2": "x"}, "BAD_ARGUMENTS: image1"),
        ({"image1": "QUJD", "image2": ["x"]}, "BAD_ARGUMENTS: image2"),
        (
            {"image1": "QUJD", "image2": "QUJD", "blur_detection": "true"},
            "BAD_ARGUMENTS: blur_detection",
        ),
        (
            {"image1": "QUJD", "image2": "QUJD", "verified_document": 1},
            "BAD_ARGUMENTS: verified_document",
        ),
        ([1, 2], "BAD_ARGUMENTS: body"),
        ("text", "BAD_ARGUMENTS: body"),
    ],
)
def test_argument_errors(server, api_key, body, message):
    expect_error(post(server, api_key, body), 400, message)


def test_malformed_json(server, api_key):
    expect_error(post(server, api_key, content=b'{"image1": '), 400, "BAD_ARGUMENTS: body")


def test_unsupported_format(server, api_key, same_pair):
    gif = base64.b64encode(b"GIF89a" + b"\0" * 100).decode()
    truncated = base64.b64encode(base64.b64decode(same_pair[0])[:5000]).decode()
    cases = [
        ({"image1": "%%% not base64 %%%", "image2": same_pair[1]}, "image1"),
        ({"image1": same_pair[0], "image2": gif}, "image2"),
        ({"image1": truncated, "image2": same_pair[1]}, "image1"),
        ({"image1": gif, "image2": gif}, "image1"),  # the first failing image is named
    ]
    for body, param in cases:
        expect_error(post(server, api_key, body), 400, f"IMAGE_ERROR_UNSUPPORTED_FORMAT: {param}")


def test_invalid_image_size(server, api_key, same_pair):
    small = jpeg_b64(lfw_image("Aaron_Peirsol", 1))  # 250 × 250 < 480 × 480
    expect_error(
        post(server, api_key, {"image1": small, "image2": same_pair[1]}),
        400,
        "INVALID_IMAGE_SIZE: image1",
    )
    huge = jpeg_b64(np.zeros((4100, 100, 3), np.uint8))  # over 4096 px on a side
    expect_error(
        post(server, api_key, {"image1": same_pair[0], "image2": huge}),
        400,
        "INVALID_IMAGE_SIZE: image2",
    )
    # 480 × 480 exactly is allowed (area rule), and so is a 400 × 576 image (same area)
    r = post(
        server,
        api_key,
        {"image1": jpeg_b64(np.zeros((576, 400, 3), np.uint8)), "image2": same_pair[1]},
    )
    assert r.json()["error_message"] == "CAN_NOT_DETECT_FACE: image1"


def test_format_checked_before_size(server, api_key):
    small = jpeg_b64(lfw_image("Aaron_Peirsol", 1))
    expect_error(
        post(server, api_key, {"image1": small, "image2": "@@@"}),
        400,
        "IMAGE_ERROR_UNSUPPORTED_FORMAT: image2",
    )


def test_can_not_detect_face(server, api_key, same_pair, faceless):
    expect_error(
        post(server, api_key, {"image1": same_pair[0], "image2": faceless}),
        200,
        "CAN_NOT_DETECT_FACE: image2",
    )
    expect_error(
        post(server, api_key, {"image1": faceless, "image2": faceless}),
        200,
        "CAN_NOT_DETECT_FACE: image1",
    )


def test_face_below_minimum_size(server, api_key, same_pair):
    # the LFW face (~100 px) pasted unscaled on a 600 × 600 canvas is under the 112 px rule
    canvas = np.full((600, 600, 3), 128, np.uint8)
    canvas[175:425, 175:425] = lfw_image("Aaron_Peirsol", 1)
    expect_error(
        post(server, api_key, {"image1": jpeg_b64(canvas), "image2": same_pair[1]}),
        200,
        "CAN_NOT_DETECT_FACE: image1",
    )


def test_image_blured(server, api_key, same_pair):
    blurred = jpeg_b64(cv2.GaussianBlur(upscaled(lfw_image("Aaron_Peirsol", 1)), (0, 0), 8))
    body = {"image1": same_pair[0], "image2": blurred}
    r = post(server, api_key, body)
    assert r.status_code == 200 and "confidence" in r.json()  # off by default
    expect_error(
        post(server, api_key, {**body, "blur_detection": True}), 200, "IMAGE_BLURED: image2"
    )
    r = post(server, api_key, {**body, "image2": same_pair[1], "blur_detection": True})
    assert "confidence" in r.json()


def test_can_not_detect_idcard(server, api_key, same_pair):
    body = {"image1": same_pair[0], "image2": same_pair[1]}
    expect_error(
        post(server, api_key, {**body, "image2_is_document": True}),
        200,
        "CAN_NOT_DETECT_IDCARD: image2",
    )
    expect_error(
        post(server, api_key, {**body, "verified_document": True}),
        200,
        "CAN_NOT_DETECT_IDCARD: image1",
    )


def test_request_entity_too_large(server, api_key):
    body = b'{"image1": "' + b"A" * (26 * 1024 * 1024) + b'", "image2": "x"}'
    try:
        r = post(server, api_key, content=body)
    except httpx.WriteError:
        pytest.fail("server reset the connection instead of answering 413")
    expect_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")


def test_concurrency_limit(tmp_path, same_pair):
    srv = Server(tmp_path, "--workers", "1", "--max-queue", "1")
    try:
        key = srv.new_key("burst")
        body = {"image1": same_pair[0], "image2": same_pair[1]}
        with cf.ThreadPoolExecutor(8) as pool:
            rs = list(pool.map(lambda _: post(srv, key, body), range(8)))
        codes = sorted(r.status_code for r in rs)
        assert 200 in codes and 429 in codes, codes
        for r in rs:
            if r.status_code == 429:
                expect_error(r, 429, "CONCURRENCY_LIMIT_EXCEEDED")
        assert post(srv, key, body).status_code == 200  # healthy after the burst
    finally:
        srv.stop()


def test_health_ready_info(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").status_code == 200
    info = httpx.get(server.url + "/v1/info").json()
    assert "non-commercial" in info["model_pack"]["licence"]
    assert set(info["model_pack"]["files"]) == {"detector", "landmarks", "recognizer"}
    assert info["calibration"]["scenarios"]["photo-photo"]["err_01"] > 0


def test_published_example_client(server, api_key, same_pair):
    """The published page's requests example, with only the URL changed (httpx in for requests)."""
    import json

    api = server.url + "/aiface/face-compare/v1"
    headers = {"x-aigen-key": api_key, "content-type": "application/json"}
    data = json.dumps({"image1": same_pair[0], "image2": same_pair[1]})
    res = httpx.post(api, content=data, headers=headers, timeout=60)
    assert set(res.json()) >= {"request_id", "confidence", "thresholds", "time_used"}
