"""The load generator: a closed loop over HTTP (``facecompare load``, the bench, the load run).

``concurrency`` clients, each sending its next request as soon as the last one is answered,
until ``count`` requests have been sent; no retries. The requests are bodies POSTed to the
compare endpoint (built before the clock starts: the client is not what is measured) or any
request a ``Send`` callable makes for index i; a ``Judge`` says which answers count as good.

:func:`send_until` is the other shape, for fault runs: one client thread POSTing the same
body until an event is set, every answer kept with its times (:class:`Sent`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import numpy as np
import orjson

from ..client import COMPARE_PATH, build_body

if TYPE_CHECKING:
    from .data.phones import BenchPair

__all__ = [
    "COMPARE_PATH",
    "Answer",
    "Judge",
    "LoadResult",
    "Send",
    "Sent",
    "bodies",
    "closed_loop",
    "compared",
    "run_load",
    "send_until",
    "status_label",
    "table",
]

Answer = httpx.Response | httpx.HTTPError  # a response, or the transport error instead
Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]  # the i-th request
Judge = Callable[[int, Answer, float], bool]  # the i-th answer, its latency in s: good?


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    wall_s: float
    latencies_s: list[float] = field(default_factory=list)  # of the good answers
    statuses: Counter[str] = field(default_factory=Counter)  # status_label of every answer

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def errors(self) -> int:
        return self.requests - self.ok

    @property
    def throughput(self) -> float:
        """Good answers per second."""
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Latency of the good answers, seconds."""
        return float(np.percentile(self.latencies_s, q)) if self.latencies_s else float("nan")

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "concurrency": self.concurrency,
            "ok": self.ok,
            "wall_s": round(self.wall_s, 3),
            "throughput_rps": round(self.throughput, 3),
            "p50_s": round(self.percentile(50), 4),
            "p95_s": round(self.percentile(95), 4),
            "p99_s": round(self.percentile(99), 4),
            "statuses": dict(self.statuses),
        }

    def table(self, name: str) -> str:
        return table([(name, self)])


def table(rows: list[tuple[str, LoadResult]]) -> str:
    head = f"{'run':<22}{'conc':>5}{'ok':>6}{'req/s':>8}{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}  other"
    lines = [head]
    for name, r in rows:
        other = ", ".join(f"{k}×{v}" for k, v in r.statuses.items() if k != "200") or "-"
        lines.append(
            f"{name:<22}{r.concurrency:>5}{r.ok:>6}{r.throughput:>8.2f}"
            f"{r.percentile(50):>8.3f}{r.percentile(95):>8.3f}{r.percentile(99):>8.3f}  {other}"
        )
    return "\n".join(lines)


def _json(r: httpx.Response) -> dict:
    try:
        data = r.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def compared(i: int, answer: Answer, latency_s: float) -> bool:
    """The default judge: a 200 that carries a comparison."""
    return (
        isinstance(answer, httpx.Response)
        and answer.status_code == 200
        and "confidence" in _json(answer)
    )


def status_label(answer: Answer) -> str:
    """``200``, ``400 INVALID_IMAGE_SIZE`` (the error code, not its argument), ``error: ...``."""
    if isinstance(answer, httpx.HTTPError):
        return f"error: {type(answer).__name__}"
    msg = str(_json(answer).get("error_message", "")).split(":")[0]
    return f"{answer.status_code} {msg}".strip()


def bodies(pairs: list[BenchPair]) -> list[bytes]:
    """The JSON request bodies of image pairs (base64, as a client sends them)."""
    return [orjson.dumps(build_body(p.a, p.b)) for p in pairs]


async def closed_loop(
    url: str,
    requests: Sequence[bytes | dict] | Send,
    *,
    count: int,
    concurrency: int,
    key: str | None = None,
    warmup: int = 0,
    timeout: float = 120.0,
    progress: Callable[[int], None] | None = None,
    judge: Judge = compared,
) -> LoadResult:
    """Send ``count`` requests, ``concurrency`` at a time, after ``warmup`` untimed ones.

    ``requests``: bodies POSTed in turn to the compare endpoint with ``key`` (request i gets
    body ``i % len``), or a ``Send``. ``progress(n)`` after each timed answer."""
    if callable(requests):
        send: Send = requests
    else:
        payloads = [b if isinstance(b, bytes) else orjson.dumps(b) for b in requests]
        headers = {"content-type": "application/json"}
        if key:
            headers["x-aigen-key"] = key

        def send(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
            return client.post(COMPARE_PATH, content=payloads[i % len(payloads)], headers=headers)

    result = LoadResult(count, concurrency, 0.0)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout, limits=limits) as http:

        async def client(indices: Iterator[int], timed: bool) -> None:
            for i in indices:
                t0 = time.perf_counter()
                try:
                    answer: Answer = await send(http, i)
                except httpx.HTTPError as exc:
                    answer = exc
                if not timed:
                    continue
                latency = time.perf_counter() - t0
                if judge(i, answer, latency):
                    result.latencies_s.append(latency)
                result.statuses[status_label(answer)] += 1
                if progress:
                    progress(result.statuses.total())

        async def loop(n: int, timed: bool) -> None:
            shared = iter(range(n))  # each client takes the next index when it is free
            await asyncio.gather(*(client(shared, timed) for _ in range(concurrency)))

        await loop(warmup, timed=False)
        start = time.perf_counter()
        await loop(count, timed=True)
        result.wall_s = time.perf_counter() - start
    return result


def run_load(url: str, requests: Sequence[bytes | dict] | Send, **kw: object) -> LoadResult:
    """``closed_loop`` in its own event loop."""
    return asyncio.run(closed_loop(url, requests, **kw))  # type: ignore[arg-type]


@dataclass
class Sent:
    """One request of :func:`send_until`: sent and answered (``time.perf_counter`` s), the
    status (None: a transport error, named in ``message``), the error message of the answer,
    its ``x-request-id`` and ``Retry-After``."""

    start: float
    end: float
    status: int | None
    message: str
    request_id: str = ""
    retry_after: str | None = None


def send_until(url: str, key: str, body: bytes, stop: threading.Event, out: list[Sent]) -> None:
    """POST ``body`` to the compare endpoint with ``key``, the next as soon as the last is
    answered, until ``stop`` is set; each answer appended to ``out``. Run it in threads (one
    client each). After a transport error (the server gone) it waits 50 ms before the next."""
    headers = {"x-aigen-key": key, "content-type": "application/json"}
    with httpx.Client(base_url=url.rstrip("/"), timeout=30) as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                r = http.post(COMPARE_PATH, content=body, headers=headers)
            except httpx.HTTPError as exc:
                out.append(Sent(t0, time.perf_counter(), None, type(exc).__name__))
                time.sleep(0.05)
                continue
            out.append(
                Sent(
                    t0,
                    time.perf_counter(),
                    r.status_code,
                    str(_json(r).get("error_message") or ""),
                    r.headers.get("x-request-id", ""),
                    r.headers.get("retry-after"),
                )
            )
