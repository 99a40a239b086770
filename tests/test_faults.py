"""Faults of the parts around the service, made for real: the PostgreSQL key store stopped and
started under load, the server killed with SIGKILL and restarted, a key writer killed in the
middle of its writes, the SQLite key store's disk full and its file read-only.

PostgreSQL, mounting a small tmpfs (disk full) and ``chattr +i`` (read-only file) need the
packages or privileges CI has (root, ``.ci/run`` installs PostgreSQL); each test skips with a
message where its part is absent. Each takes seconds.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from conftest import Server, jpeg_b64, lfw_image, upscaled
from facecompare.client import Client
from facecompare.lab import postgres
from facecompare.lab.load import send_until

PATH = "/aiface/face-compare/v1"
CHEAP = {"image1": "x", "image2": "y"}  # 400 with a good key, 401 with a refused one


@pytest.fixture(scope="module")
def pg() -> Iterator[postgres.PostgresServer]:
    pytest.importorskip("psycopg", reason="psycopg missing: pip install '.[postgres]'")
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    with postgres.PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def body() -> bytes:
    img = jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1), 480), quality=80)
    return json.dumps({"image1": img, "image2": img}).encode()


def key_state(url: str, key: str) -> int:
    """400: the key is accepted (the cheap body is then refused); 401: it is not."""
    return httpx.post(url + PATH, json=CHEAP, headers={"x-aigen-key": key}, timeout=30).status_code


def images(body: bytes) -> tuple[bytes, bytes]:
    data = json.loads(body)
    return base64.b64decode(data["image1"]), base64.b64decode(data["image2"])


def log_lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


# -- the key store (PostgreSQL) stopped and started under load -----------------------------------
def test_key_store_outage_answers_503_logs_twice_and_recovers(
    pg: postgres.PostgresServer, body: bytes, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    env = {"FACECOMPARE_DATABASE_URL": pg.url}
    with Server(tmp_path, log_level="info", log=log, env=env) as srv:
        key, doomed = srv.new_key("outage"), srv.new_key("revoked-after-outage")
        assert httpx.get(srv.url + "/readyz").json() == {"status": "ready", "key_store": "ok"}
        stop, sent = threading.Event(), []
        clients = [
            threading.Thread(target=send_until, args=(srv.url, key, body, stop, sent))
            for _ in range(4)
        ]
        for t in clients:
            t.start()
        time.sleep(1.0)
        pg.stop()
        down = time.perf_counter()
        time.sleep(0.8)
        ready_down = httpx.get(srv.url + "/readyz", timeout=5)
        metrics_down = httpx.get(srv.url + "/metrics", timeout=5).text
        time.sleep(1.2)
        log_mark = len(log.read_text().splitlines())
        pg.start()
        up = time.perf_counter()
        time.sleep(2.5)
        stop.set()
        for t in clients:
            t.join()
        ready_up = httpx.get(srv.url + "/readyz", timeout=5)
        # revocation right after the outage is effective on the next request
        assert srv.cli("keys", "revoke", "revoked-after-outage").returncode == 0
        assert key_state(srv.url, doomed) == 401 and key_state(srv.url, key) == 400

        # a client that keeps its retries (Retry-After) through a second outage gets its answer
        pg.stop()
        with Client(srv.url, key, retries=10) as fc:
            restart = threading.Timer(1.0, pg.start)
            restart.start()
            result = fc.compare(*images(body))
            restart.join()
        assert result.confidence > 90

        # PostgreSQL hung (SIGSTOP): nothing answers, nothing refuses; the requests that were
        # waiting for it get 503 after 1 s, the next ones at once
        time.sleep(0.5)
        stop, hung = threading.Event(), []
        clients = [
            threading.Thread(target=send_until, args=(srv.url, key, body, stop, hung))
            for _ in range(4)
        ]
        for t in clients:
            t.start()
        time.sleep(0.5)
        pg.freeze()
        frozen = time.perf_counter()
        time.sleep(2.5)
        ready_hung = httpx.get(srv.url + "/readyz", timeout=5)
        pg.thaw()
        thawed = time.perf_counter()
        time.sleep(2.0)
        stop.set()
        for t in clients:
            t.join()
        time.sleep(0.5)

    assert all(s.status is not None for s in sent), "connection errors"
    assert {s.status for s in sent} <= {200, 503}
    during = [s for s in sent if s.start >= down + 0.1 and s.end <= up]
    assert len(during) > 20
    assert all(
        s.status == 503 and s.message == "SERVICE_UNAVAILABLE" and s.retry_after == "1"
        for s in during
    )
    latency = [s.end - s.start for s in during]
    assert np.percentile(latency, 99) < 1.0 and max(latency) < 5.0, sorted(latency)[-5:]
    first_200 = min(s.end for s in sent if s.status == 200 and s.end > up)
    assert first_200 - up < 2.0
    assert ready_down.status_code == 503
    assert ready_down.json()["status"] == "unavailable"
    assert ready_down.json()["key_store"] == "unreachable"
    assert ready_up.status_code == 200 and ready_up.json()["key_store"] == "ok"
    assert "facecompare_key_store_up 0.0" in metrics_down

    lines = log_lines(log)
    assert not [e for e in lines if "exception" in e], "a traceback was logged"
    # the whole first outage, access lines aside: one line when it starts, one when it ends
    outage = [e for e in lines[:log_mark] if e["logger"] != "facecompare.access"]
    outage = [e for e in outage if "key store" in e["message"]]
    assert [e["message"].split(",")[0] for e in outage] == ["key store unreachable"]
    ends = [e for e in lines if e["message"].startswith("key store reachable again")]
    starts = [e for e in lines if e["message"].startswith("key store unreachable")]
    assert len(starts) == len(ends) == 3  # three outages, logged twice each
    refused = int(re.search(r"(\d+) requests were answered 503", ends[0]["message"]).group(1))
    # the count is logged when the store answers again; a request of each of the 4 clients may
    # still be on its way to its 503 then
    assert 0 <= sum(s.status == 503 for s in sent) - refused <= 4
    assert "did not answer within 1 s" in starts[2]["message"]
    noisy = [e for e in lines if e["level"] in ("warning", "error")]
    assert len(noisy) == 6, noisy

    # the hung store: 503 within the 1 s limit, then at once; back within 2 s of the thaw
    assert all(s.status is not None for s in hung) and {s.status for s in hung} <= {200, 503}
    while_hung = [s for s in hung if s.start >= frozen + 0.1 and s.end <= thawed]
    assert len(while_hung) > 20 and all(s.status == 503 for s in while_hung)
    latency = [s.end - s.start for s in while_hung]
    assert np.percentile(latency, 99) < 1.5 and max(latency) < 3.0, sorted(latency)[-5:]
    assert np.median(latency) < 0.2
    assert min(s.end for s in hung if s.status == 200 and s.end > thawed) - thawed < 2.0
    assert ready_hung.status_code == 503 and ready_hung.elapsed.total_seconds() < 1.5
    # the 503s are counted in those lines, not one access line each at INFO
    assert not [e for e in lines if e.get("error_code") == "SERVICE_UNAVAILABLE"]


def test_server_starts_while_the_key_store_is_down_and_serves_when_it_returns(
    pg: postgres.PostgresServer, tmp_path: Path
) -> None:
    from facecompare.api.keystores import PostgresKeyStore

    store = PostgresKeyStore(pg.url)
    key = store.create("late")
    store.close()
    env = {"FACECOMPARE_DATABASE_URL": pg.url}
    pg.stop()
    try:
        srv = Server(tmp_path, env=env, wait=False)
        # meanwhile, the keys command says what is wrong (no traceback)
        for args in (("keys", "create", "while-down"), ("keys", "list")):
            out = srv.cli(*args)
            assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
            assert "cannot be reached" in out.stderr and "PostgreSQL at 127.0.0.1" in out.stderr
        deadline = time.perf_counter() + 60
        while not up(srv.url) and time.perf_counter() < deadline:
            time.sleep(0.2)  # models load; the key store stays down
        r = httpx.get(srv.url + "/readyz", timeout=5)
        assert r.status_code == 503 and r.json()["status"] == "unavailable"
        refused = httpx.post(srv.url + PATH, json=CHEAP, headers={"x-aigen-key": key})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    finally:
        pg.start()
    try:
        time.sleep(0.6)
        assert key_state(srv.url, key) == 400
        assert httpx.get(srv.url + "/readyz").status_code == 200
    finally:
        srv.stop()


def up(url: str) -> bool:
    """The server answers (its models are loaded: /readyz says more than ``loading``)."""
    try:
        return httpx.get(url + "/readyz", timeout=2).json()["status"] != "loading"
    except httpx.HTTPError:
        return False


# -- SIGKILL ------------------------------------------------------------------------------------
WRITER = """
import sys
from pathlib import Path
from facecompare.api.auth import KeyStore
store = KeyStore(Path(sys.argv[1]))
for i in range(100000):
    key = store.create(f"w{i}")
    print(f"w{i} {key}", flush=True)  # printed once committed
"""


def test_sigkill_server_and_key_writer_no_key_lost_ready_fast(tmp_path: Path, body: bytes) -> None:
    srv = Server(tmp_path, log_level="info", log=tmp_path / "a.log")
    keys = {name: srv.new_key(name) for name in ("a", "b", "gone")}
    assert srv.cli("keys", "revoke", "gone").returncode == 0
    stop, sent = threading.Event(), []
    load = threading.Thread(target=send_until, args=(srv.url, keys["a"], body, stop, sent))
    load.start()
    deadline = time.monotonic() + 60  # the server is under load: compares are being answered
    while not any(s.status == 200 for s in list(sent)) and time.monotonic() < deadline:
        time.sleep(0.05)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(srv.keys_db)],
        stdout=subprocess.PIPE,
        text=True,
        env=srv.env,
    )
    written = []
    assert writer.stdout is not None
    for line in writer.stdout:  # kill it in the middle of its writes, server under load
        written.append(line.split())
        if len(written) == 50:
            writer.send_signal(signal.SIGKILL)
            srv.proc.send_signal(signal.SIGKILL)
            break
    writer.wait()
    assert srv.stop() == -signal.SIGKILL
    stop.set()
    load.join()
    assert any(s.status == 200 for s in sent)

    with sqlite3.connect(srv.keys_db) as db:  # not half-written: the file is whole
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again = Server(tmp_path, keys_db=srv.keys_db, log_level="info", log=tmp_path / "b.log")
    try:
        loaded = os.getloadavg()[0] > (os.cpu_count() or 1)  # the 5 s target: a host not
        assert again.startup_s < (15.0 if loaded else 5.0), again.startup_s  # oversubscribed
        for name, key in [("a", keys["a"]), ("b", keys["b"]), *written]:
            assert key_state(again.url, key) == 400, name  # every key created is still there
        assert key_state(again.url, keys["gone"]) == 401  # and a revoked one stays revoked
        listed = again.cli("keys", "list").stdout
        assert all(name in listed for name, _ in written)
    finally:
        again.stop()


# -- the SQLite file: disk full, read-only --------------------------------------------------------
def _folder(path: Path) -> Path:
    path.mkdir()  # a folder where the file should be: SQLite cannot open it
    return path


def _not_a_database(path: Path) -> Path:
    path.write_bytes(b"these are not the keys you are looking for\n" * 200)
    return path


def _under_a_file(path: Path) -> Path:
    path.write_text("a file where the folder should be")
    return path / "keys.db"


@pytest.mark.parametrize("broken", [_folder, _not_a_database, _under_a_file])
def test_every_keys_command_and_serve_answer_a_key_store_they_cannot_open(
    tmp_path: Path, broken: Callable[[Path], Path]
) -> None:
    where = broken(tmp_path / "keys.db")
    env = {**os.environ, "FACECOMPARE_HOME": str(tmp_path), "FACECOMPARE_KEYS_DB": str(where)}
    env.pop("FACECOMPARE_DATABASE_URL", None)
    # serve stops at once too: a file that cannot be opened will not mend itself
    for args in (
        ("keys", "create", "new"),
        ("keys", "list"),
        ("keys", "revoke", "new"),
        ("serve",),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "facecompare", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 1 and "Traceback" not in out.stderr, (args, out.stderr)
        assert out.stderr.startswith("error: ") and "cannot be opened" in out.stderr, out.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KB tmpfs mounted for the test (root and mount rights: CI's container has them)."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("filling a disk for real needs root to mount a small tmpfs")
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write zeros until the file system says it is full (ENOSPC)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while f.write(b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_refuses_key_writes_with_a_message_and_corrupts_nothing(
    small_disk: Path, tmp_path: Path
) -> None:
    store = small_disk / "keys.db"
    with Server(tmp_path, keys_db=store) as srv:
        key = srv.new_key("before")
        filler = fill(small_disk)
        for args in (("keys", "create", "while-full"), ("keys", "revoke", "before")):
            out = srv.cli(*args)
            assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
            assert "cannot be written" in out.stderr and "full" in out.stderr, out.stderr
        assert key_state(srv.url, key) == 400  # the server goes on verifying keys
        filler.unlink()
        assert srv.cli("keys", "revoke", "before").returncode == 0
        assert key_state(srv.url, key) == 401  # effective on the next request
        later = srv.new_key("after")
        assert key_state(srv.url, later) == 400
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = [r[0] for r in db.execute("SELECT name FROM api_keys ORDER BY name")]
    assert names == ["after", "before"]


def test_read_only_key_file_refuses_writes_and_keeps_serving(tmp_path: Path) -> None:
    with Server(tmp_path) as srv:
        key = srv.new_key("kept")
        locked = subprocess.run(["chattr", "+i", str(srv.keys_db)], capture_output=True, text=True)
        if locked.returncode != 0:
            pytest.skip(f"cannot make the file immutable here: {locked.stderr.strip()}")
        try:
            for args in (("keys", "create", "while-ro"), ("keys", "revoke", "kept")):
                out = srv.cli(*args)
                assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
                assert "cannot be written" in out.stderr and "readonly" in out.stderr
            assert key_state(srv.url, key) == 400
        finally:
            subprocess.run(["chattr", "-i", str(srv.keys_db)], check=True)
        assert srv.cli("keys", "revoke", "kept").returncode == 0
        assert key_state(srv.url, key) == 401
    with sqlite3.connect(srv.keys_db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
