"""API keys in SQLite: stored only as SHA-256 hashes, shown once, revocable without restart."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
)
"""
KEY_PREFIX = "fc_"


@dataclass(frozen=True)
class KeyInfo:
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyError_(ValueError):
    """A key operation that cannot be done (duplicate name, unknown name)."""


class KeyStoreUnavailable(KeyError_):
    """The key store cannot be reached or written (server down, disk full, read-only file).

    The service answers 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After``; ``facecompare keys``
    prints the message and exits 1. The message names the store and the cause, never a key."""


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """The SQLite file: one connection shared by the threads, in WAL mode (readers never wait
    for a writer). A write that fails (disk full, read-only file) changes nothing: SQLite
    rolls the transaction back, and the error is raised as :class:`KeyStoreUnavailable`."""

    remote = False  # a local file: verified on the event loop, microseconds

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        with self._failing("opened"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)

    @contextlib.contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:  # a duplicate name: the caller's to answer
            raise
        # full, read-only, I/O error, cannot open, not a database; a folder that cannot be made
        except (sqlite3.DatabaseError, OSError) as exc:
            raise KeyStoreUnavailable(f"the key store {self.path} cannot be {what}: {exc}") from exc

    def ping(self) -> None:
        """Raises :class:`KeyStoreUnavailable` when the table cannot be read."""
        with self._lock, self._failing("read"):
            self._db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchall()

    def close(self) -> None:
        self._db.close()

    def create(self, name: str) -> str:
        """Make a key for ``name`` and return it; only its hash is kept."""
        if not name or len(name) > 100:
            raise KeyError_("a key name is 1 to 100 characters")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        try:
            with self._lock, self._failing("written"):
                self._db.execute(
                    "INSERT INTO api_keys (name, key_hash, prefix, created_at) VALUES (?, ?, ?, ?)",
                    (name, hash_key(key), key[:7], time.time()),
                )
        except sqlite3.IntegrityError:
            raise KeyError_(f"a key named {name!r} already exists") from None
        return key

    def list(self) -> list[KeyInfo]:
        with self._lock, self._failing("read"):
            rows = self._db.execute(
                "SELECT name, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at"
            ).fetchall()
        return [KeyInfo(*r) for r in rows]

    def revoke(self, name: str) -> None:
        with self._lock, self._failing("written"):
            cur = self._db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (time.time(), name),
            )
        if cur.rowcount == 0:
            raise KeyError_(f"no active key named {name!r}")

    def verify(self, key: str | None) -> str | None:
        """The name of the active key, or None. The stored hash is compared in constant time."""
        if not key:
            return None
        digest = hash_key(key)
        with self._lock, self._failing("read"):
            row = self._db.execute(
                "SELECT name, key_hash FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[1], digest):
            return None
        return str(row[0])
