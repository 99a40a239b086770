"""The key store as the requests see it: an outage is answered at once and logged twice.

While the store cannot be reached (:class:`KeyStoreUnavailable`), requests are refused at once
(the endpoint answers 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After``) and one request at a
time, at most every ``probe_every`` seconds, tries the store for real: the first that succeeds
ends the outage. So a store that hangs holds one thread, not every request, and the service is
back within ``probe_every`` of the store. A remote store (PostgreSQL) is asked off the event
loop and must answer within ``ANSWER_WITHIN_S``. The outage is logged once when it starts (the
cause, no traceback) and once when it ends (how long, how many requests were refused)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread

from .auth import KeyStoreUnavailable
from .keystores import KeyStoreLike

log = logging.getLogger("facecompare.keys")
T = TypeVar("T")
PROBE_EVERY_S = 0.5
RETRY_AFTER_S = 1  # told to clients: the store is tried again twice a second
ANSWER_WITHIN_S = 1.0  # a remote store slower than this counts as unreachable (a hung server)


class KeyStoreGuard:
    def __init__(
        self,
        store: KeyStoreLike,
        probe_every: float = PROBE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.remote = bool(getattr(store, "remote", False))
        self.probe_every = probe_every
        self.clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._cause = ""
        self._refused = 0  # requests answered 503 during this outage
        self._probing = False
        self._last_try = float("-inf")
        self._last_ok = float("-inf")

    @property
    def reachable(self) -> bool:
        return self._down_since is None

    def state(self) -> dict[str, object]:
        """For ``/readyz``: ``{"key_store": "ok"}``, or unreachable since how long."""
        with self._lock:
            if self._down_since is None:
                return {"key_store": "ok"}
            return {
                "key_store": "unreachable",
                "key_store_down_s": round(self.clock() - self._down_since, 1),
            }

    def verify(self, key: str | None) -> str | None:
        """The key's name, None for a wrong key; :class:`KeyStoreUnavailable` while down."""
        return self._call(self.store.verify, key, count=True)

    def ping(self) -> bool:
        """Whether the store answers, asked at most every ``probe_every`` (for ``/readyz``)."""
        with self._lock:
            if self._down_since is None and self.clock() - self._last_ok < self.probe_every:
                return True
        try:
            self._call(self.store.ping, count=False)
        except KeyStoreUnavailable:
            return False
        return True

    async def verify_async(self, key: str | None) -> str | None:
        """:meth:`verify` for the event loop: a remote store is asked on a worker thread, and
        one that has not answered within ``ANSWER_WITHIN_S`` (a hung server, a network that
        drops packets) starts an outage; its thread is left to finish on its own."""
        if not self.remote:
            return self.verify(key)  # a local file: microseconds
        return await self._within(self.store.verify, key)

    async def ping_async(self) -> bool:
        """:meth:`ping` for the event loop, with the same time limit."""
        if not self.remote:
            return self.ping()
        with self._lock:
            if self._down_since is None and self.clock() - self._last_ok < self.probe_every:
                return True
        try:
            await self._within(self.store.ping, count=False)
        except KeyStoreUnavailable:
            return False
        return True

    async def _within(self, fn: Callable[..., T], *args: object, count: bool = True) -> T:
        """The request is counted here, once, whether its thread fails or is abandoned."""
        call = partial(self._call, fn, *args, count=False)
        try:
            with anyio.move_on_after(ANSWER_WITHIN_S):
                return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except KeyStoreUnavailable:
            with self._lock:
                self._refused += count
            raise
        exc = KeyStoreUnavailable(f"the key store did not answer within {ANSWER_WITHIN_S:g} s")
        self._failed(exc, probe=False, count=count)
        raise exc

    def _call(self, fn: Callable[..., T], *args: object, count: bool) -> T:
        """``fn(*args)``, or refused at once while down; ``count``: a request to be counted."""
        with self._lock:
            probe = self._down_since is not None
            if probe:
                now = self.clock()
                if self._probing or now - self._last_try < self.probe_every:
                    self._refused += count
                    raise KeyStoreUnavailable(self._cause)
                self._probing, self._last_try = True, now
        try:
            result = fn(*args)
        except KeyStoreUnavailable as exc:
            self._failed(exc, probe, count)
            raise
        except BaseException:
            if probe:
                with self._lock:
                    self._probing = False
            raise
        self._succeeded(probe)
        return result

    def _failed(self, exc: KeyStoreUnavailable, probe: bool, count: bool) -> None:
        with self._lock:
            now = self.clock()
            if probe:
                self._probing = False
            self._last_try = now
            if self._down_since is None:
                self._down_since, self._cause, self._refused = now, str(exc), 0
                log.error(
                    "key store unreachable, answering 503 SERVICE_UNAVAILABLE until it is "
                    "back (tried every %.1f s): %s",
                    self.probe_every,
                    exc,
                )
            self._refused += count

    def _succeeded(self, probe: bool) -> None:
        with self._lock:
            now = self.clock()
            if probe:
                self._probing = False
            self._last_ok = now
            if self._down_since is not None:
                log.warning(
                    "key store reachable again after %.1f s; %d requests were answered 503",
                    now - self._down_since,
                    self._refused,
                )
                self._down_since, self._cause, self._refused = None, "", 0
