"""Our server over real HTTP: start-up time, memory, and a closed-loop load at concurrency C."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson

from ..compare import PARAMS
from .data.phones import BenchPair

COMPARE_PATH = "/aiface/face-compare/v1"


@dataclass
class LoadResult:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        return (
            float(np.percentile(self.latencies_ms, q)) if self.latencies_ms.size else float("nan")
        )


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, MB (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    kb = [float(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")]
    return kb[0] / 1024, kb[1] / 1024


class BenchServer:
    """``facecompare serve`` in a subprocess with a throw-away key store."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="facecompare-bench-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "FACECOMPARE_KEYS_DB": str(self.tmp / "keys.db"), **(env or {})}
        out = subprocess.run(
            [sys.executable, "-m", "facecompare", "keys", "create", "bench"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        self.key = out.stdout.strip().splitlines()[-1]
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facecompare", "serve", "--port", str(self.port)]
            + ["--log-level", "warning"],
            env=self.env,
        )
        self.startup_s = self._wait_ready(started)

    def _wait_ready(self, started: float) -> float:
        while time.perf_counter() - started < 120:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("server exited during start-up")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("server not ready after 120 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def bodies(pairs: list[BenchPair]) -> list[bytes]:
    """The JSON request bodies, built before the clock starts (the client is not measured)."""
    return [
        orjson.dumps(
            {k: base64.b64encode(v).decode() for k, v in zip(PARAMS, (p.a, p.b), strict=True)}
        )
        for p in pairs
    ]


async def _load(url: str, key: str, payloads: list[bytes], concurrency: int, n: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n))
    headers = {"x-aigen-key": key, "content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def user() -> None:
            nonlocal errors
            for i in counter:
                t = time.perf_counter()
                try:
                    r = await client.post(
                        COMPARE_PATH, content=payloads[i % len(payloads)], headers=headers
                    )
                    ok = r.status_code == 200 and "confidence" in r.json()
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t) * 1000)
                errors += not ok

        # warm-up: one request per connection, not counted
        await asyncio.gather(
            *(
                client.post(COMPARE_PATH, content=payloads[0], headers=headers)
                for _ in range(concurrency)
            )
        )
        start = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return LoadResult(concurrency, n, errors, seconds, np.array(latencies))


def run_load(server: BenchServer, payloads: list[bytes], concurrency: int, n: int) -> LoadResult:
    return asyncio.run(_load(server.url, server.key, payloads, concurrency, n))
