"""Keys in a real PostgreSQL server (Debian's packages) that lab/postgres.py starts with initdb.

Skips with a message where PostgreSQL or psycopg is absent, or no non-root user can run it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Server, jpeg_b64, lfw_image, upscaled
from facecompare.api.auth import KeyError_
from facecompare.lab import postgres

psycopg = pytest.importorskip("psycopg", reason="psycopg missing: pip install '.[postgres]'")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    with postgres.PostgresServer() as server:
        yield server.url


def test_postgres_store_create_verify_revoke_shared_by_replicas(pg_url: str) -> None:
    from facecompare.api.keystores import PostgresKeyStore, open_key_store

    a = open_key_store(Path("/nonexistent/keys.db"), pg_url)
    b = PostgresKeyStore(pg_url)  # a second replica
    assert isinstance(a, PostgresKeyStore)
    key = a.create("alice")
    assert key.startswith("fc_") and b.verify(key) == "alice"
    with pytest.raises(KeyError_):
        b.create("alice")
    assert [k.name for k in b.list()] == ["alice"] and b.list()[0].active
    with psycopg.connect(pg_url) as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys").fetchall()
    assert key not in str(stored)  # only the hash is kept
    a.revoke("alice")
    assert b.verify(key) is None and not b.list()[0].active
    with pytest.raises(KeyError_):
        b.revoke("alice")
    assert b.verify("") is None and b.verify("fc_unknown") is None
    a.close()
    b.close()


def test_store_reconnects_after_the_connection_drops(pg_url: str) -> None:
    from facecompare.api.keystores import PostgresKeyStore

    store = PostgresKeyStore(pg_url)
    key = store.create("reconnect")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = 'postgres'"
        )
    time.sleep(0.2)
    assert store.verify(key) == "reconnect"
    store.close()


def test_two_servers_share_keys_in_postgres(pg_url: str, tmp_path: Path) -> None:
    env = {"FACECOMPARE_DATABASE_URL": pg_url}
    s1 = Server(tmp_path / "r1", env=env)
    try:
        s2 = Server(tmp_path / "r2", env=env)
        try:
            key = s1.new_key("fleet")  # the keys command writes to PostgreSQL
            assert not s1.keys_db.exists()  # nothing went to the SQLite default
            img = jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1)))
            body = {"image1": img, "image2": img}
            for srv in (s1, s2):
                r = httpx.post(
                    srv.url + "/aiface/face-compare/v1",
                    json=body,
                    headers={"x-aigen-key": key},
                    timeout=60,
                )
                assert r.status_code == 200 and r.json()["confidence"] > 90
            assert s2.cli("keys", "revoke", "fleet").returncode == 0
            r = httpx.post(
                s1.url + "/aiface/face-compare/v1", json=body, headers={"x-aigen-key": key}
            )
            assert r.status_code == 401 and r.json()["error_message"] == "AUTHENTICATION_ERROR"
        finally:
            s2.stop()
    finally:
        s1.stop()
