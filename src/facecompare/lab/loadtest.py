"""Load generator for a running server (``facecompare load``): throughput and latency."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

COMPARE_PATH = "/aiface/face-compare/v1"


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    wall_s: float
    latencies_s: list[float] = field(default_factory=list)  # of the 200 answers with confidence
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "429", "error:..."

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, q: float) -> float:
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


async def run_load(
    url: str,
    key: str | None,
    body: dict[str, object],
    requests: int,
    concurrency: int,
    progress: Callable[[int], None] | None = None,
    timeout: float = 120.0,
) -> LoadResult:
    """Send ``requests`` identical comparisons, ``concurrency`` at a time (no retries)."""
    headers = {"content-type": "application/json"}
    if key:
        headers["x-aigen-key"] = key
    target = url.rstrip("/") + COMPARE_PATH
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    result = LoadResult(requests, concurrency, 0.0)
    done = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:

        async def worker() -> None:
            nonlocal done
            while not queue.empty():
                queue.get_nowait()
                t0 = time.perf_counter()
                try:
                    r = await http.post(target, json=body, headers=headers)
                    data = r.json()
                    if r.status_code == 200 and "confidence" in data:
                        result.latencies_s.append(time.perf_counter() - t0)
                        result.statuses["200"] += 1
                    else:
                        msg = str(data.get("error_message", "")).split(":")[0]
                        result.statuses[f"{r.status_code} {msg}".strip()] += 1
                except (httpx.HTTPError, ValueError) as exc:
                    result.statuses[f"error: {type(exc).__name__}"] += 1
                done += 1
                if progress:
                    progress(done)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.wall_s = time.perf_counter() - start
    return result


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
