"""The Python client and the published page's own example, against a real server over HTTP."""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHARED, Server, jpeg_b64, lfw_image, upscaled
from facecompare.client import AsyncClient, Client, FaceCompareAPIError, encode_image
from facecompare.errors import ErrorCode

SPEC_PAGE = SHARED / "spec" / "aigen-face-compare-api.txt"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("pair")
    paths = (d / "a.jpg", d / "b.png")
    cv2.imwrite(str(paths[0]), upscaled(lfw_image("Aaron_Peirsol", 1)))
    cv2.imwrite(str(paths[1]), upscaled(lfw_image("Aaron_Peirsol", 2)))
    return paths


def published_example() -> str:
    """The ``import requests`` snippet exactly as printed on the published page."""
    if not SPEC_PAGE.exists():
        pytest.skip(f"published page missing at {SPEC_PAGE}")
    text = SPEC_PAGE.read_text()
    start = text.index("import requests")
    end = text.index("print(res.json())", start) + len("print(res.json())")
    return text[start:end]


def test_published_requests_example_works_with_only_the_url_changed(
    server: Server, api_key: str, pair: tuple[Path, Path]
) -> None:
    pytest.importorskip("requests", reason="the published example uses requests ([test] extra)")
    code = published_example()
    assert "https://apis.aigen.online/aiface/face-compare/v1" in code
    # The only edit an adopter makes is the URL; the key and images are the placeholders.
    code = code.replace("https://apis.aigen.online", server.url)
    code = code.replace("<key>", api_key)
    code = code.replace('"<base64_string>"', repr(encode_image(pair[0])), 1)
    code = code.replace('"<base64_string>"', repr(encode_image(pair[1])), 1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "published-example", "exec"), {})  # noqa: S102 - the page's code
    answer = ast.literal_eval(out.getvalue().strip())
    assert "error_message" not in answer
    assert answer["confidence"] >= answer["thresholds"]["err_01"]
    assert set(answer["thresholds"]) == {"err_01", "err_001", "err_0001"}
    assert re.fullmatch(r"[0-9a-f]{32}", answer["request_id"])


def test_client_paths_bytes_and_arrays(server: Server, api_key: str, pair) -> None:
    a, b = pair
    with Client(server.url, api_key) as fc:
        by_path = fc.compare(a, b)
        by_bytes = fc.compare(a.read_bytes(), b.read_bytes())
        by_array = fc.compare(cv2.imread(str(a)), str(b))
    assert by_path.confidence == by_bytes.confidence
    assert abs(by_array.confidence - by_path.confidence) < 2.0  # PNG re-encode of the same pixels
    assert by_path.same_person() and by_path.confidence > by_path.thresholds.err_0001
    assert by_path.face1 is not None and by_path.face1.width >= 112


def test_client_raises_spec_errors_with_code(server: Server, api_key: str, pair) -> None:
    with Client(server.url, api_key) as fc:
        with pytest.raises(FaceCompareAPIError) as e:
            fc.compare(pair[0], b"not an image")
        assert e.value.code is ErrorCode.UNSUPPORTED_FORMAT and e.value.param == "image2"
        assert e.value.status == 400 and e.value.request_id
        other = Client(server.url, "fc_wrong")
        with pytest.raises(FaceCompareAPIError) as e:
            other.compare(pair[0], pair[1])
        other.close()
        assert e.value.code is ErrorCode.AUTHENTICATION_ERROR and e.value.status == 401
        diff = fc.compare(pair[0], upscaled(lfw_image("Angelina_Jolie", 1)))
        assert not diff.same_person()
        # a 200 answer carrying an error_message raises too
        faceless = np.full((500, 500, 3), 128, np.uint8)
        with pytest.raises(FaceCompareAPIError) as e:
            fc.compare(pair[0], faceless)
        assert e.value.code is ErrorCode.CAN_NOT_DETECT_FACE and e.value.param == "image2"
        assert e.value.status == 200


def test_async_client(server: Server, api_key: str, pair) -> None:
    async def run() -> list:
        async with AsyncClient(server.url, api_key) as fc:
            return await asyncio.gather(fc.compare(*pair), fc.compare(pair[1], pair[0]))

    r1, r2 = asyncio.run(run())
    assert abs(r1.confidence - r2.confidence) < 0.5
    assert r1.request_id != r2.request_id


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory):
    """A server that accepts one request in flight: the second gets 429 at once."""
    srv = Server(
        tmp_path_factory.mktemp("tight"),
        env={"FACECOMPARE_MAX_QUEUE": "1", "FACECOMPARE_WORKERS": "1"},
    )
    yield srv
    srv.stop()


def test_async_client_retries_429_with_backoff(tight_server: Server) -> None:
    key = tight_server.new_key("retry")
    data = base64.b64decode(jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1))))

    async def burst(retries: int) -> list:
        async with AsyncClient(tight_server.url, key, retries=retries, backoff=0.2) as fc:
            return await asyncio.gather(
                *(fc.compare(data, data) for _ in range(4)), return_exceptions=True
            )

    without = asyncio.run(burst(0))
    refused = [r for r in without if isinstance(r, FaceCompareAPIError)]
    assert refused, "one request in flight at a time: a burst of 4 must see a 429"
    assert all(r.code is ErrorCode.CONCURRENCY_LIMIT_EXCEEDED and r.status == 429 for r in refused)
    with_retries = asyncio.run(burst(8))
    assert all(not isinstance(r, Exception) for r in with_retries), with_retries
