"""Limits enforced before work is done: admission (bounded queue), per-key rate, body size,
and running inference under a deadline that stops when the client has gone."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request

from ..errors import ErrorCode, FaceCompareError

T = TypeVar("T")


class Admission:
    """Bounded queue: at most ``max_queue`` requests waiting or running, ``workers`` running.

    A request enters right after its key is checked and before its body is read, so memory is
    bounded by ``max_queue`` bodies and a full queue is answered at once."""

    def __init__(self, workers: int, max_queue: int) -> None:
        self.limiter = anyio.CapacityLimiter(workers)
        self.max_queue = max_queue
        self.depth = 0

    def try_enter(self) -> bool:
        if self.depth >= self.max_queue:
            return False
        self.depth += 1
        return True

    def leave(self) -> None:
        self.depth -= 1


class RateLimiter:
    """Token bucket per key name: ``per_minute`` requests a minute, bursts up to that many.

    ``per_minute <= 0`` turns it off. Buckets live in memory only (key names, never keys)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, last time)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def allow(self, name: str) -> bool:
        if not self.enabled:
            return True
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[name] = (tokens, now)
                return False
            self._buckets[name] = (tokens - 1.0, now)
            return True

    def retry_after(self, name: str) -> int:
        """Whole seconds until the next token for ``name``."""
        tokens, _ = self._buckets.get(name, (0.0, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999)) if self.enabled else 0


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit``.

    A declared ``content-length`` over the limit is refused before any byte is read; a chunked
    body is refused as soon as the running total passes it. The server (uvicorn) discards the
    rest of a refused body itself, so the client gets its answer instead of a reset."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise FaceCompareError(ErrorCode.REQUEST_ENTITY_TOO_LARGE)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise FaceCompareError(ErrorCode.REQUEST_ENTITY_TOO_LARGE)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone from None
    return b"".join(chunks)


class ClientGone(Exception):
    """The client closed its connection; nobody will read the answer."""


class DeadlineExceeded(Exception):
    """The request waited longer than its deadline for a worker."""


async def run_in_worker(
    fn: Callable[[], T], limiter: anyio.CapacityLimiter, timeout: float, request: Request
) -> T:
    """``fn()`` on an inference thread, at most ``limiter`` at a time.

    While it waits for a thread, the request is dropped when its client disconnects
    (:class:`ClientGone`) or when ``timeout`` seconds pass (:class:`DeadlineExceeded`); a job
    whose request was dropped never starts. A job that has started runs to its end (a thread
    cannot be interrupted safely); one compare is well under a second."""
    gone = threading.Event()

    def job() -> T:
        if gone.is_set():
            raise ClientGone
        lower_thread_priority()
        try:
            return fn()
        except Exception:
            raise
        except BaseException as exc:  # SystemExit & co. in a worker must not stop the server
            raise WorkerCrashed(repr(exc)) from exc

    outcome: list[T] = []
    failure: list[Exception] = []
    disconnected = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal disconnected
            while (await request.receive())["type"] != "http.disconnect":
                pass
            disconnected = True
            gone.set()
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        try:
            with anyio.move_on_after(timeout):
                outcome.append(await anyio.to_thread.run_sync(job, limiter=limiter))
        except Exception as exc:  # re-raised outside the task group, unwrapped
            failure.append(exc)
        gone.set()
        tg.cancel_scope.cancel()
    if failure:
        raise failure[0]
    if outcome:
        return outcome[0]
    if disconnected:
        raise ClientGone
    raise DeadlineExceeded


WORKER_NICENESS = 5
_niced = threading.local()


def lower_thread_priority(niceness: int = WORKER_NICENESS) -> None:
    """Make the calling (inference) thread yield the CPU to the event loop, so that cheap
    answers (401, 400, 413, 429) stay fast while comparisons saturate the cores. Linux only:
    elsewhere, or if refused, nothing changes."""
    if getattr(_niced, "done", False):
        return
    _niced.done = True
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, niceness))


def lower_other_threads_priority(niceness: int = WORKER_NICENESS) -> int:
    """:func:`lower_thread_priority` for every thread of this process but the calling one (the
    event loop), right after the engine is loaded: OpenVINO computes on its own stream threads,
    created when the models are compiled, while the request's worker thread only waits.
    Returns how many threads were lowered (0 off Linux)."""
    me = threading.get_native_id()
    done = 0
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/task"):
            tid = int(name)
            if tid == me:
                continue
            with contextlib.suppress(OSError):
                current = os.getpriority(os.PRIO_PROCESS, tid)
                os.setpriority(os.PRIO_PROCESS, tid, max(current, niceness))
                done += 1
    return done


class WorkerCrashed(RuntimeError):
    """An inference job ended with a non-``Exception`` (e.g. ``SystemExit``) in its thread."""


def return_big_buffers_to_os(
    threshold: int = 4 << 20, trim: int = 32 << 20, arenas: int = 2
) -> bool:
    """Have glibc serve allocations of ``threshold`` bytes or more (request bodies and their
    base64 strings, decoded photos over 4 MB) with their own mappings, returned to the OS when
    freed, and keep up to ``trim`` bytes free at the top of the heap.

    glibc otherwise raises its mmap threshold after the first big free, and big buffers then
    come from heaps that rarely shrink: resident memory creeps up after bursts of large
    requests. Both values are fixed together because setting one turns off glibc's dynamic
    tuning of both: a 256 KB threshold with the default 128 KB trim made every compare map,
    fault in and unmap its decode and tensor buffers, +15 ms on a 43 ms compare of two
    1280×960 JPEGs (measured in-process, same run); at 4 MB / 32 MB the cost is nil.
    At most ``arenas`` malloc arenas: glibc gives each busy thread its own (up to 8 × cores),
    each keeping its freed memory; the event loop, two request workers, the image thread and
    onnxruntime's buffers then hold ~55 MB more after a load run (benchmarks/loadrun.py: 488
    vs 432 MB) for no measured speed (39.4 vs 39.5 compares/s at concurrency 4).
    A no-op (False) where the C library is not glibc."""
    import ctypes
    import ctypes.util

    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        settings = [(m_mmap_threshold, threshold), (m_trim_threshold, trim)]
        if arenas > 0:  # 0: glibc's default (8 per core)
            settings.append((m_arena_max, arenas))
        return all(bool(libc.mallopt(param, value)) for param, value in settings)
    except (OSError, AttributeError):
        return False
