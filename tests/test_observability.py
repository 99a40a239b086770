"""Observability on a real server: /metrics scraped and parsed, JSON logs, the OpenAPI document."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server, jpeg_b64, lfw_image, upscaled
from facecompare.errors import ErrorCode

PATH = "/aiface/face-compare/v1"


def scrape(url: str) -> dict[str, list]:
    r = httpx.get(url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def value(samples: list, name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture(scope="module")
def logged_server(tmp_path_factory: pytest.TempPathFactory):
    """A server at log level info whose stderr (JSON lines) goes to a file we read."""
    tmp = tmp_path_factory.mktemp("obs")
    with Server(tmp, log_level="info", log=tmp / "server.log") as srv:
        yield srv.url, srv.new_key("obs"), srv.log


def test_metrics_count_requests_errors_stages_queue_and_pack(logged_server) -> None:
    url, key, _ = logged_server
    img = jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1)))
    h = {"x-aigen-key": key}
    assert httpx.post(url + PATH, json={"image1": img, "image2": img}, headers=h).status_code == 200
    bad = httpx.post(url + PATH, json={"image1": img, "image2": "@@"}, headers=h, timeout=30)
    assert bad.json()["error_message"] == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image2"
    assert httpx.post(url + PATH, json={"image1": img, "image2": img}).status_code == 401

    m = scrape(url)
    req = m["facecompare_requests"]
    assert value(req, "facecompare_requests_total", path=PATH, status="200", error_code="") >= 1
    assert (
        value(
            req,
            "facecompare_requests_total",
            path=PATH,
            status="400",
            error_code=ErrorCode.UNSUPPORTED_FORMAT.value,
        )
        == 1
    )
    assert value(req, "facecompare_requests_total", status="401", error_code="AUTHENTICATION_ERROR")
    lat = m["facecompare_request_duration_seconds"]
    assert value(lat, "facecompare_request_duration_seconds_count", path=PATH) >= 3
    stages = m["facecompare_stage_duration_seconds"]
    for stage in ("wait", "detect", "embed", "engine"):
        assert value(stages, "facecompare_stage_duration_seconds_count", stage=stage) >= 1, stage
    # two images, one detector run each; the engine also ran for the failed decode
    assert value(stages, "facecompare_stage_duration_seconds_count", stage="detect") >= 2
    assert m["facecompare_queue_depth"][0].value == 0
    assert m["facecompare_key_store_up"][0].value == 1
    assert m["facecompare_queue_capacity"][0].value >= 1
    info = httpx.get(url + "/v1/info").json()["model_pack"]
    pack = m["facecompare_model_pack_info"][0]
    assert pack.labels["digest"] == info["digest"] and pack.labels["name"] == info["name"]


def test_logs_are_json_lines_with_request_id_and_no_request_content(logged_server) -> None:
    url, key, log = logged_server
    r = httpx.post(url + PATH, json={"image1": "x", "image2": "y"}, headers={"x-aigen-key": key})
    rid = r.json()["request_id"]
    time.sleep(0.3)
    lines = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(e) for e in lines)
    mine = [e for e in lines if e.get("request_id") == rid]
    access = [e for e in mine if e["logger"] == "facecompare.access"]
    assert access and access[0]["status"] == 400 and access[0]["path"] == PATH
    assert access[0]["error_code"] == "IMAGE_ERROR_UNSUPPORTED_FORMAT"
    assert any(e["logger"] == "facecompare.api" for e in mine)  # the endpoint's own line
    assert not any(e.get("path") == "/readyz" for e in lines)  # probes log at debug only
    text = Path(log).read_text()
    assert key not in text and key[:12] not in text


def test_openapi_and_docs_describe_the_endpoint_and_every_error(server) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    op = spec["paths"][PATH]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert {"image1", "image2", "blur_detection", "verified_document"} <= set(body["properties"])
    described = json.dumps(op["responses"]) + op.get("description", "")
    for code in ErrorCode:
        assert code.value in described, code
    for status in ("200", "400", "401", "413", "429", "500", "503"):
        assert status in op["responses"]
    assert "/metrics" in spec["paths"] and "/demo" in spec["paths"]
    docs = httpx.get(server.url + "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # on-premises: Swagger UI's files come from this server, not from a CDN
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for a in assets:
        assert httpx.get(server.url + a).status_code == 200, a


def test_every_log_line_names_its_own_request_under_concurrency(tmp_path: Path) -> None:
    """2,000 requests, 32 at a time: failing (wrong key, bad JSON, bad image) and passing
    (compares), with the per-request debug line on. Each line's ``request_id`` is a request
    that was answered, the one its message names, with the status and error it was answered."""
    log = tmp_path / "server.log"
    env = {"FACECOMPARE_DEBUG_REQUESTS": "1"}
    img = jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1), 480), quality=90)
    pair = b'{"image1": "' + img.encode() + b'", "image2": "' + img.encode() + b'"}'
    assert len(pair) > 65536  # over uvicorn's read buffer: it pauses reading the connection
    kinds = [
        (pair, "good"),  # 200
        (b'{"image1": "x", "image2": "y"}', "good"),  # 400 IMAGE_ERROR_UNSUPPORTED_FORMAT
        (b"not json", "good"),  # 400 BAD_ARGUMENTS: body
        (b'{"image1": "x"}', "good"),  # 400 MISSING_ARGUMENTS: image2
        (b'{"image1": "x", "image2": "y"}', "wrong"),  # 401
        # 401 answered before its big body is read: uvicorn resumes reading the connection
        # after the answer, from the request's task (how a request's id once leaked into the
        # next request's lines on that connection)
        (pair, "wrong"),
    ]
    plan = [kinds[0] if i % 50 == 0 else kinds[1 + i % 5] for i in range(2000)]
    with Server(tmp_path, log_level="info", log=log, env=env) as srv:
        keys = {"good": srv.new_key("lines"), "wrong": "fc_" + "x" * 43}

        async def run() -> list[httpx.Response]:
            gate = asyncio.Semaphore(32)
            limits = httpx.Limits(max_connections=32)
            async with httpx.AsyncClient(timeout=60, limits=limits) as http:

                async def one(body: bytes, who: str) -> httpx.Response:
                    async with gate:
                        headers = {"x-aigen-key": keys[who], "content-type": "application/json"}
                        return await http.post(srv.url + PATH, content=body, headers=headers)

                return await asyncio.gather(*(one(b, w) for b, w in plan))

        answers = asyncio.run(run())
        time.sleep(0.5)
    by_id = {r.headers["x-request-id"]: r for r in answers}
    assert len(by_id) == len(plan) and {r.json()["request_id"] for r in answers} == set(by_id)
    statuses = {r.status_code for r in answers}
    assert 200 in statuses and 400 in statuses and 401 in statuses
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    ours = [e for e in lines if e["logger"].startswith("facecompare.") and "request_id" in e]
    access = {e["request_id"]: e for e in ours if e["logger"] == "facecompare.access"}
    assert set(access) == set(by_id)  # one access line per request, none for another
    named = 0
    for e in ours:
        answer = by_id.get(e["request_id"])
        assert answer is not None, e  # an id that no request was answered with
        found = re.search(r"request_id=([0-9a-f]{32})", e["message"])
        if found:
            named += 1
            assert found.group(1) == e["request_id"], e
        error = answer.json().get("error_message", "")
        if e["logger"] == "facecompare.access":
            assert e["status"] == answer.status_code, e
            assert e["error_code"] == error.split(":")[0], e
        elif "error=" in e["message"]:
            assert e["message"].endswith("error=" + error.split(":")[0]), e
    assert named >= len(plan)  # the endpoint's own line for each refusal and each compare


def test_lines_from_worker_threads_carry_their_request_id(tmp_path: Path, engine) -> None:
    """In process: the real engine behind a wrapper that logs from the inference thread and
    fails one request in two (500, logged with its traceback). 120 requests from 16 threads;
    each request's images have their own size, which the worker line names."""
    from fastapi.testclient import TestClient

    from facecompare.api.app import create_app
    from facecompare.api.auth import KeyStore
    from facecompare.api.logs import JsonFormatter
    from facecompare.config import Settings

    worker_log = logging.getLogger("facecompare.test-worker")
    real = engine.compare

    def logging_compare(req, side_by_side=None):  # runs on an inference thread
        worker_log.info("worker has images of %d and %d bytes", len(req.image1), len(req.image2))
        if req.blur_detection:
            raise RuntimeError("failing on purpose")
        return real(req, side_by_side)

    wrapped = copy.copy(engine)
    wrapped.compare = logging_compare  # type: ignore[method-assign]
    face = upscaled(lfw_image("Aaron_Peirsol", 1), 480)
    variants = [jpeg_b64(face, quality=q) for q in range(60, 96, 3)]  # 12 distinct sizes
    assert len({len(v) for v in variants}) == len(variants)
    settings = Settings(keys_db=tmp_path / "k.db")
    key = KeyStore(settings.keys_db).create("w")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    ours = logging.getLogger("facecompare")
    ours.addHandler(handler)
    old_level = ours.level
    ours.setLevel(logging.INFO)
    try:
        with TestClient(create_app(settings, engine=wrapped)) as client:

            def one(i: int) -> tuple[int, httpx.Response]:
                img = variants[i % len(variants)]
                body = {"image1": img, "image2": img, "blur_detection": i % 2 == 1}
                return i, client.post(PATH, json=body, headers={"x-aigen-key": key})

            with ThreadPoolExecutor(16) as pool:
                answers = dict(pool.map(one, range(120)))
    finally:
        ours.removeHandler(handler)
        ours.setLevel(old_level)
    sizes = {
        r.json()["request_id"]: len(base64.b64decode(variants[i % len(variants)]))
        for i, r in answers.items()
    }
    assert {r.status_code for r in answers.values()} == {200, 500}
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    worker = [e for e in lines if e["logger"] == "facecompare.test-worker"]
    assert len(worker) == 120
    for e in worker:
        assert int(e["message"].split()[4]) == sizes[e["request_id"]], e
    failed = [e for e in lines if e["message"].endswith(" failed")]
    assert len(failed) == 60 and all("exception" in e for e in failed)
    for e in failed:
        assert e["message"] == f"request_id={e['request_id']} failed"
        assert answers_status(answers, e["request_id"]) == 500


def answers_status(answers: dict[int, httpx.Response], request_id: str) -> int:
    return next(r.status_code for r in answers.values() if r.json()["request_id"] == request_id)
