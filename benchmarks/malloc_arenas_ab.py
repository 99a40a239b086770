"""Two servers side by side, glibc malloc arenas capped at 2 (default) vs glibc's default.

    PYTHONPATH=src python benchmarks/malloc_arenas_ab.py

Alternates the servers: 20 phone pairs one at a time (concurrency 1 latency) then 40 requests
at concurrency 4 (throughput), 3 measured rounds after a warm-up round; prints medians and each
server's resident memory at the end.
"""

from __future__ import annotations

import statistics
import time

import httpx

from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs
from facecompare.lab.load import COMPARE_PATH, bodies, run_load
from facecompare.lab.server import LocalServer


def main() -> None:
    payloads = bodies(build_pairs(lfw_dir(), 20))
    servers = {
        "arenas capped at 2": LocalServer(),
        "glibc default": LocalServer(env={"FACECOMPARE_MALLOC_ARENAS": "0"}),
    }
    ms: dict[str, list[float]] = {k: [] for k in servers}
    rate: dict[str, list[float]] = {k: [] for k in servers}
    rss: dict[str, float] = {}
    try:
        keys = {name: server.new_key("bench") for name, server in servers.items()}
        for r in range(4):
            for name, server in servers.items():
                headers = {"x-aigen-key": keys[name], "content-type": "application/json"}
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    for body in payloads:
                        time.sleep(0.05)
                        t = time.perf_counter()
                        client.post(COMPARE_PATH, content=body, headers=headers)
                        if r:
                            ms[name].append((time.perf_counter() - t) * 1000)
                load = run_load(
                    server.url, payloads, count=40, concurrency=4, key=keys[name], warmup=4
                )
                if r:
                    rate[name].append(load.throughput)
        rss = {name: server.rss_mb()[0] for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    for name in servers:
        print(
            f"  {name:20s} concurrency 1 p50 {statistics.median(ms[name]):5.1f} ms   "
            f"concurrency 4 {statistics.median(rate[name]):5.1f}/s   RSS {rss[name]:.0f} MB"
        )


if __name__ == "__main__":
    main()
