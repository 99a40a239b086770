"""Key stores chosen by a database URL: SQLite (default, one file) or PostgreSQL (a fleet).

``FACECOMPARE_DATABASE_URL=postgresql://user:pass@host:5432/db`` makes every replica (and the
``facecompare keys`` command) share one ``api_keys`` table; without it keys stay in the SQLite
file of ``FACECOMPARE_KEYS_DB``. PostgreSQL needs the optional extra: ``pip install
'facecompare[postgres]'`` (psycopg 3). Both stores keep only SHA-256 hashes of the keys.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from .auth import KEY_PREFIX, KeyError_, KeyInfo, KeyStore, KeyStoreUnavailable, hash_key

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
)
"""


class KeyStoreLike(Protocol):
    remote: bool  # verified off the event loop (a network round trip), or on it (a local file)

    def create(self, name: str) -> str: ...
    def list(self) -> list[KeyInfo]: ...
    def revoke(self, name: str) -> None: ...
    def verify(self, key: str | None) -> str | None: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


def database_url() -> str | None:
    return os.environ.get("FACECOMPARE_DATABASE_URL") or None


def open_key_store(keys_db: Path, url: str | None = None) -> KeyStoreLike:
    """PostgreSQL for a ``postgresql://`` (or ``postgres://``) URL, else the SQLite file."""
    url = url or database_url()
    if url is None:
        return KeyStore(keys_db)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresKeyStore(url)
    if url.startswith("sqlite:///"):
        return KeyStore(Path(url.removeprefix("sqlite:///")))
    raise ValueError("FACECOMPARE_DATABASE_URL must start with postgresql:// or sqlite:///")


class PostgresKeyStore:
    """The ``api_keys`` table in PostgreSQL: one connection, made when first needed and made
    again after the server restarts. A server that cannot be reached raises
    :class:`KeyStoreUnavailable` (after one reconnection attempt), never a driver error."""

    remote = True

    def __init__(self, url: str, connect_timeout: int = 3) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise RuntimeError(
                "a postgresql:// key store needs psycopg: pip install 'facecompare[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self._url = url
        self._timeout = connect_timeout  # libpq's minimum is 2 s
        self._lock = threading.Lock()
        self._conn: Any = None
        where = psycopg.conninfo.conninfo_to_dict(url)  # named in errors, without the password
        self.name = "PostgreSQL at {}:{}/{}".format(
            where.get("host", "localhost"), where.get("port", 5432), where.get("dbname", "")
        )

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            conn = self._psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=self._timeout,
                # a network that drops packets fails the connection within seconds, not the
                # kernel's 15 minutes: unacknowledged data (tcp_user_timeout), idle probes
                tcp_user_timeout=self._timeout * 1000,
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=2,
            )
            try:
                conn.execute(_PG_SCHEMA)  # once per connection: a new database gets its table
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """Execute with one retry on a dropped connection; returns (rows, rowcount)."""
        with self._lock:
            for attempt in (0, 1):
                try:
                    with self._connect().cursor() as cur:
                        cur.execute(sql, params)
                        rows = cur.fetchall() if cur.description else []
                        return rows, cur.rowcount
                except (self._psycopg.OperationalError, self._psycopg.InterfaceError) as exc:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if attempt:
                        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                        raise KeyStoreUnavailable(
                            f"the key store ({self.name}) cannot be reached: "
                            f"{type(exc).__name__}: {cause}"
                        ) from exc
        raise AssertionError("unreachable")

    def ping(self) -> None:
        self._run("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def create(self, name: str) -> str:
        if not name or len(name) > 100:
            raise KeyError_("a key name is 1 to 100 characters")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        try:
            self._run(
                "INSERT INTO api_keys (name, key_hash, prefix, created_at) VALUES (%s, %s, %s, %s)",
                (name, hash_key(key), key[:7], time.time()),
            )
        except self._psycopg.errors.UniqueViolation:
            raise KeyError_(f"a key named {name!r} already exists") from None
        return key

    def list(self) -> list[KeyInfo]:
        rows, _ = self._run(
            "SELECT name, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at"
        )
        return [KeyInfo(*r) for r in rows]

    def revoke(self, name: str) -> None:
        _, count = self._run(
            "UPDATE api_keys SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
            (time.time(), name),
        )
        if count == 0:
            raise KeyError_(f"no active key named {name!r}")

    def verify(self, key: str | None) -> str | None:
        if not key:
            return None
        digest = hash_key(key)
        rows, _ = self._run(
            "SELECT name, key_hash FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
            (digest,),
        )
        if not rows or not hmac.compare_digest(rows[0][1], digest):
            return None
        return str(rows[0][0])
