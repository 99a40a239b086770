"""Limits, overload, faults and security of the HTTP service, through real servers and HTTP."""

from __future__ import annotations

import base64
import concurrent.futures as cf
import copy
import io
import logging
import re
import signal
import socket
import statistics
import threading
import time
from pathlib import Path

import anyio
import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route

from conftest import Server, jpeg_b64, lfw_image, upscaled
from facecompare.api.app import create_app
from facecompare.api.auth import KeyStore
from facecompare.api.limits import ClientGone, DeadlineExceeded, run_in_worker
from facecompare.api.middleware import RequestContext
from facecompare.config import Settings

PATH = "/aiface/face-compare/v1"


def envelope_ok(r: httpx.Response, status: int, message: str) -> dict:
    assert r.status_code == status, r.text
    data = r.json()
    assert data["error_message"] == message
    assert data["request_id"] == r.headers["x-request-id"]
    assert isinstance(data["time_used"], float)
    assert "Traceback" not in r.text and "confidence" not in data
    return data


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return (
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1))),
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 2))),
    )


SLOW = {"FACECOMPARE_REDUCED_DECODE": "0"}


@pytest.fixture(scope="module")
def slow_pair() -> tuple[str, str]:
    """A pair that keeps a worker busy for a while: large files to decode and scan (the servers
    that use it run with SLOW, i.e. full-scale decoding: reduced-scale decoding makes these
    files fast, see docs/performance.md)."""
    big = cv2.resize(lfw_image("Aaron_Peirsol", 1), (4096, 4096), interpolation=cv2.INTER_CUBIC)
    # fine noise and a progressive scan make the 6 MB files slow to decode: ≈ 0.6 s a compare
    # on an idle core (measured), which the timings below leave room for
    noise = np.random.default_rng(0).integers(-12, 12, big.shape)
    big = np.clip(big.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(
        ".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    )
    assert ok
    data = base64.b64encode(buf.tobytes()).decode()
    return data, data


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory):
    """A server whose stderr (its whole log) is kept, with its own home directory."""
    tmp = tmp_path_factory.mktemp("logged")
    home = tmp / "home"
    home.mkdir()
    srv = Server(tmp, "--log-level", "info", env={"FACECOMPARE_HOME": str(home)}, log=tmp / "log")
    srv.home = home  # type: ignore[attr-defined]
    srv.log = tmp / "log"  # type: ignore[attr-defined]
    srv.key = srv.new_key("logged")  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def read_answer(s: socket.socket) -> str:
    """One whole HTTP answer (headers and content-length bytes of body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.I)
    while length and len(body) < int(length.group(1)):
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


def bomb_b64() -> str:
    buf = io.BytesIO()
    Image.new("L", (30000, 30000)).save(buf, format="PNG", compress_level=9)
    return base64.b64encode(buf.getvalue()).decode()


# -- limits -------------------------------------------------------------------------------------
def test_bomb_refused_in_milliseconds(logged, pair):
    bomb = bomb_b64()
    with httpx.Client(base_url=logged.url, headers={"x-aigen-key": logged.key}) as c:
        c.get("/healthz")  # connection made before timing
        times = []
        for _ in range(5):
            start = time.perf_counter()
            r = c.post(PATH, json={"image1": bomb, "image2": pair[1]}, timeout=30)
            times.append(time.perf_counter() - start)
            envelope_ok(r, 400, "INVALID_IMAGE_SIZE: image1")
    assert statistics.median(times) < 0.1, times


def test_body_limit_chunked_without_length(logged):
    def chunks():
        for _ in range(30):
            yield b"A" * (1024 * 1024)

    r = httpx.post(
        logged.url + PATH,
        content=chunks(),  # chunked transfer: no content-length to refuse up front
        headers={"x-aigen-key": logged.key, "content-type": "application/json"},
        timeout=60,
    )
    envelope_ok(r, 413, "REQUEST_ENTITY_TOO_LARGE")


def test_body_limit_answered_before_reading(logged):
    # a declared 100 MB body is refused from the header: the answer comes though we send nothing
    with socket.create_connection(("127.0.0.1", logged.port), timeout=10) as s:
        s.sendall(
            f"POST {PATH} HTTP/1.1\r\nhost: x\r\nx-aigen-key: {logged.key}\r\n"
            f"content-type: application/json\r\ncontent-length: {100 * 1024 * 1024}\r\n\r\n"
            "{".encode()
        )
        answer = read_answer(s)
    assert answer.startswith("HTTP/1.1 413 ")
    assert '"error_message":"REQUEST_ENTITY_TOO_LARGE"' in answer


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00garbage", "BAD_ARGUMENTS: body"),
        (b"[" * 50_000, "BAD_ARGUMENTS: body"),
        (b'{"image1": "QUJD", "image2": {"a": 1}}', "BAD_ARGUMENTS: image2"),
        (b'{"image1": "   ", "image2": "QUJD"}', "MISSING_ARGUMENTS: image1"),
        (b'{"image1": "\\u00e9\\u00e9\\u00e9\\u00e9", "image2": "QUJD"}', None),
    ],
)
def test_hostile_bodies(logged, content, message):
    r = httpx.post(
        logged.url + PATH, content=content, headers={"x-aigen-key": logged.key}, timeout=30
    )
    envelope_ok(r, 400, message or "IMAGE_ERROR_UNSUPPORTED_FORMAT: image1")


def test_slow_body_times_out_and_frees_its_slot(tmp_path):
    srv = Server(tmp_path, "--max-queue", "1", env={"FACECOMPARE_BODY_TIMEOUT": "1"})
    try:
        key = srv.new_key("slow")
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(
                f"POST {PATH} HTTP/1.1\r\nhost: x\r\nx-aigen-key: {key}\r\n"
                "content-type: application/json\r\ncontent-length: 1000\r\n\r\n{".encode()
            )
            time.sleep(0.3)  # the slot is held while the body trickles in
            busy = httpx.post(srv.url + PATH, json={}, headers={"x-aigen-key": key})
            envelope_ok(busy, 429, "CONCURRENCY_LIMIT_EXCEEDED")
            start = time.perf_counter()
            answer = read_answer(s)
            assert time.perf_counter() - start < 3
        assert answer.startswith("HTTP/1.1 400 ") and "BAD_ARGUMENTS: body" in answer
        r = httpx.post(srv.url + PATH, json={}, headers={"x-aigen-key": key})
        envelope_ok(r, 400, "MISSING_ARGUMENTS: image1")  # the slot is free again
    finally:
        srv.stop()


def admitted(url: str, n: int, within: float = 10.0) -> None:
    """Wait until the server has admitted ``n`` requests (``facecompare_queue_depth``): a fixed
    sleep lets a loaded host send the burst before the slow requests are in."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = httpx.get(url + "/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            if family.name == "facecompare_queue_depth" and family.samples[0].value >= n:
                return
        time.sleep(0.02)
    raise AssertionError(f"{n} requests not admitted within {within} s")


def test_queue_full_answers_429_at_once(tmp_path, slow_pair, pair):
    srv = Server(tmp_path, "--workers", "1", "--max-queue", "2", env=SLOW)
    try:
        key = srv.new_key("burst")
        slow = {"image1": slow_pair[0], "image2": slow_pair[1]}
        with cf.ThreadPoolExecutor(2) as pool:
            busy = [
                pool.submit(
                    httpx.post, srv.url + PATH, json=slow, headers={"x-aigen-key": key}, timeout=120
                )
                for _ in range(2)
            ]
            admitted(srv.url, 2)  # both admitted (one running, one waiting: ≈ 1.2 s of work)
            times, codes = [], []
            with httpx.Client(base_url=srv.url, headers={"x-aigen-key": key}) as c:
                c.get("/healthz")
                for _ in range(10):
                    start = time.perf_counter()
                    r = c.post(PATH, json={"image1": pair[0], "image2": pair[1]}, timeout=30)
                    times.append(time.perf_counter() - start)
                    codes.append(r.status_code)
                    if r.status_code == 429:
                        envelope_ok(r, 429, "CONCURRENCY_LIMIT_EXCEEDED")
                        assert r.headers["retry-after"] == "1"
            assert [f.result().status_code for f in busy] == [200, 200]
        assert codes.count(429) >= 5, codes
        fast = [t for t, c in zip(times, codes, strict=True) if c == 429]
        assert statistics.median(fast) < 0.05, fast
        # healthy after the burst
        r = httpx.post(
            srv.url + PATH,
            json={"image1": pair[0], "image2": pair[1]},
            headers={"x-aigen-key": key},
            timeout=60,
        )
        assert r.status_code == 200
    finally:
        srv.stop()


def test_work_of_gone_clients_is_dropped(tmp_path, slow_pair, pair):
    log = tmp_path / "log"
    srv = Server(
        tmp_path, "--workers", "1", "--max-queue", "20", "--log-level", "info", log=log, env=SLOW
    )
    try:
        key = srv.new_key("gone")
        h = {"x-aigen-key": key}
        slow = {"image1": slow_pair[0], "image2": slow_pair[1]}
        with cf.ThreadPoolExecutor(8) as pool:
            running = pool.submit(httpx.post, srv.url + PATH, json=slow, headers=h, timeout=120)
            time.sleep(0.1)

            def impatient(_: int) -> None:  # gives up while the running compare (≈ 0.6 s) holds
                with pytest.raises(httpx.TimeoutException):  # the only worker
                    httpx.post(srv.url + PATH, json=slow, headers=h, timeout=0.3)

            list(pool.map(impatient, range(6)))
            assert running.result().status_code == 200
        # the six abandoned compares were never run: this one does not wait behind them
        start = time.perf_counter()
        r = httpx.post(
            srv.url + PATH, json={"image1": pair[0], "image2": pair[1]}, headers=h, timeout=60
        )
        assert r.status_code == 200
        one = r.json()["time_used"]
        assert time.perf_counter() - start < 3 + 2 * one
        time.sleep(0.2)
        assert log.read_text().count("client gone, work dropped") >= 5
    finally:
        srv.stop()


def test_deadline_while_waiting_for_a_worker():
    async def main() -> None:
        limiter = anyio.CapacityLimiter(1)

        async def never() -> dict:
            await anyio.sleep_forever()
            return {}

        request = Request({"type": "http", "method": "POST", "headers": []}, never)
        started = threading.Event()
        release = threading.Event()

        def hold() -> None:
            started.set()
            release.wait(5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: anyio.to_thread.run_sync(hold, limiter=limiter))
            await anyio.to_thread.run_sync(started.wait)
            ran = []
            t0 = time.perf_counter()
            with pytest.raises(DeadlineExceeded):
                await run_in_worker(lambda: ran.append(1), limiter, 0.2, request)
            assert 0.15 < time.perf_counter() - t0 < 1.0 and not ran
            release.set()
        assert await run_in_worker(lambda: 42, limiter, 1.0, request) == 42

        async def gone() -> dict:
            return {"type": "http.disconnect"}

        with pytest.raises(ClientGone):
            await run_in_worker(
                lambda: time.sleep(0.5),
                limiter,
                5.0,
                Request({"type": "http", "headers": []}, gone),
            )

    anyio.run(main)


# -- faults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("exc", [ZeroDivisionError, MemoryError, RecursionError, SystemExit])
def test_worker_crash_answers_500_and_server_stays_up(tmp_path, caplog, engine, pair, exc):
    calls = []
    real = engine.compare

    def flaky(req, side_by_side=None):
        calls.append(1)
        if len(calls) == 1:
            raise exc("secret-detail")
        return real(req, side_by_side)

    broken = copy.copy(engine)
    broken.compare = flaky  # type: ignore[method-assign]
    settings = Settings(keys_db=tmp_path / "k.db")
    key = KeyStore(settings.keys_db).create("t")
    body = {"image1": pair[0], "image2": pair[1]}
    with caplog.at_level(logging.ERROR), TestClient(create_app(settings, engine=broken)) as c:
        r = c.post(PATH, headers={"x-aigen-key": key}, json=body)
        data = r.json()
        assert r.status_code == 500 and data["error_message"] == "INTERNAL_ERROR"
        assert "secret-detail" not in r.text and "Traceback" not in r.text
        assert data["request_id"] in caplog.text and exc.__name__ in caplog.text
        r2 = c.post(PATH, headers={"x-aigen-key": key}, json=body)
        assert r2.status_code == 200 and r2.json()["confidence"] > 50


def test_unhandled_error_anywhere_gives_the_envelope(caplog):
    def boom(request: Request):
        raise KeyError("secret")

    # placed as FastAPI places it: inside Starlette's last-resort handler
    app = Starlette(routes=[Route("/x", boom)], middleware=[Middleware(RequestContext)])
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/x")
    assert r.status_code == 500
    data = r.json()
    assert data["error_message"] == "INTERNAL_ERROR" and data["request_id"] in caplog.text
    assert "secret" not in r.text and r.headers["x-content-type-options"] == "nosniff"


def test_graceful_shutdown_finishes_in_flight_work(tmp_path, slow_pair):
    srv = Server(tmp_path, env=SLOW)
    key = srv.new_key("shutdown")
    with cf.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(
            httpx.post,
            srv.url + PATH,
            json={"image1": slow_pair[0], "image2": slow_pair[1]},
            headers={"x-aigen-key": key},
            timeout=120,
        )
        time.sleep(0.5)
        srv.proc.send_signal(signal.SIGTERM)
        r = fut.result()
    assert r.status_code == 200 and "confidence" in r.json()
    assert srv.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled


# -- security -------------------------------------------------------------------------------
def test_security_headers_and_no_cors(logged, pair):
    h = {"x-aigen-key": logged.key, "origin": "https://evil.example"}
    for r in (
        httpx.post(logged.url + PATH, json={"image1": "x"}, headers=h),
        httpx.get(logged.url + "/healthz", headers=h),
        httpx.get(logged.url + "/no-such-page", headers=h),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert r.headers["x-request-id"]
        assert not any(k.startswith("access-control-") for k in r.headers)
    pre = httpx.options(
        logged.url + PATH,
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_when_configured(tmp_path, engine):
    settings = Settings(keys_db=tmp_path / "k.db", cors_origins="https://kyc.example")
    with TestClient(create_app(settings, engine=engine)) as c:
        ok = c.options(
            PATH, headers={"origin": "https://kyc.example", "access-control-request-method": "POST"}
        )
        assert ok.headers["access-control-allow-origin"] == "https://kyc.example"
        bad = c.options(
            PATH,
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in bad.headers


def test_rate_limit_per_key(tmp_path):
    srv = Server(tmp_path, env={"FACECOMPARE_RATE_LIMIT": "5"})
    try:
        a, b = srv.new_key("a"), srv.new_key("b")
        codes = [
            httpx.post(srv.url + PATH, json={}, headers={"x-aigen-key": a}).status_code
            for _ in range(8)
        ]
        assert codes == [400] * 5 + [429] * 3
        r = httpx.post(srv.url + PATH, json={}, headers={"x-aigen-key": a})
        envelope_ok(r, 429, "CONCURRENCY_LIMIT_EXCEEDED")
        assert int(r.headers["retry-after"]) >= 1
        assert httpx.post(srv.url + PATH, json={}, headers={"x-aigen-key": b}).status_code == 400
    finally:
        srv.stop()


def test_nothing_about_requests_in_logs_or_on_disk(logged, pair, engine):
    h = {"x-aigen-key": logged.key}
    bodies = [
        {"image1": pair[0], "image2": pair[1]},
        {"image1": pair[0], "image2": "not base64 %%%"},
        {"image1": pair[0], "image2": pair[1], "blur_detection": "yes"},
    ]
    for body in bodies:
        httpx.post(logged.url + PATH, json=body, headers=h, timeout=60)
    httpx.post(logged.url + PATH, json=bodies[0], headers={"x-aigen-key": "fc_wrong-key"})
    time.sleep(0.3)
    log = logged.log.read_text(errors="replace")
    assert "request_id=" in log  # the log works, and says only ids and outcomes
    for secret in (logged.key, logged.key[3:], "fc_wrong-key", pair[0][:40], pair[1][-40:]):
        assert secret not in log
    written = sorted(p.name for p in Path(logged.home).rglob("*"))
    assert written == [], written  # the keys db lives elsewhere; nothing else is written
    keys_files = sorted(p.name for p in logged.keys_db.parent.glob("keys.db*"))
    assert set(keys_files) <= {"keys.db", "keys.db-wal", "keys.db-shm"}
    files = [p for p in logged.keys_db.parent.rglob("*") if p.is_file()]
    for p in files:
        if p.name.startswith("keys.db"):
            blob = p.read_bytes()
            assert logged.key.encode() not in blob and pair[0][:40].encode() not in blob


def test_debug_flag_logs_metadata_only(tmp_path, pair):
    log = tmp_path / "log"
    srv = Server(tmp_path, "--log-level", "info", env={"FACECOMPARE_DEBUG_REQUESTS": "1"}, log=log)
    try:
        key = srv.new_key("debugging")
        r = httpx.post(
            srv.url + PATH,
            json={"image1": pair[0], "image2": pair[1]},
            headers={"x-aigen-key": key},
            timeout=60,
        )
        time.sleep(0.3)
        text = log.read_text()
        assert r.json()["request_id"] in text and "key=debugging" in text
        assert key not in text and pair[0][:40] not in text
    finally:
        srv.stop()
