"""Keys in a real PostgreSQL server (Debian's packages), started by the test with initdb/pg_ctl.

Skips with a message where PostgreSQL or psycopg is absent, or no non-root user can run it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Server, free_port, jpeg_b64, lfw_image, upscaled
from facecompare.api.auth import KeyError_

psycopg = pytest.importorskip("psycopg", reason="psycopg missing: pip install '.[postgres]'")


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def as_user(user: str | None, cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run PostgreSQL as the 'postgres' system user then."""
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server not installed (apt-get install -y postgresql)")
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run PostgreSQL as")
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser")
        user = "postgres"
    # its own directory under /tmp (pytest's are private to root), owned by the server's user
    base = Path(tempfile.mkdtemp(prefix="facecompare-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if user:
        for d in (base, sock):
            shutil.chown(d, user, user)
    port = free_port()
    subprocess.run(
        as_user(user, [initdb, "-D", str(data), "-U", "facecompare", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        as_user(
            user, [pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "pg.log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
        timeout=60,
    )
    url = f"postgresql://facecompare@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        subprocess.run(
            as_user(user, [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


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
