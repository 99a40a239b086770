"""Threads in one server process against one server process per core, same run.

    PYTHONPATH=src python benchmarks/processes.py [--pairs 20] [--requests 200] [--repeats 2]

The bench's phone-style pairs over HTTP at a total concurrency of 4, in turn: one server with the
defaults (two inference threads; the two photos of a compare side by side when it runs alone),
and two servers of one inference thread and one image thread each, loaded at concurrency 2
each at the same time (what one process per core behind a port-sharing listener or a proxy would
get, without its balancing cost). Prints total compares/s, p50/p99, CPU ms per compare (all the
servers' threads, /proc) and the servers' total RSS; then one compare at a time (concurrency 1)
against one server of each kind, where only the threaded one can put the two photos on two cores.
"""

from __future__ import annotations

import argparse
import os
import threading

import psutil

from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs
from facecompare.lab.load import LoadResult, bodies, run_load
from facecompare.lab.server import LocalServer

ONE_CORE = {"FACECOMPARE_WORKERS": "1", "FACECOMPARE_IMAGE_THREADS": "1"}


def cpu_s(servers: list[LocalServer]) -> float:
    return sum(sum(psutil.Process(s.proc.pid).cpu_times()[:2]) for s in servers)


def loaded(
    servers: list[LocalServer], keys: list[str], payloads: list, n: int, c: int
) -> tuple[list[LoadResult], float]:
    """``c`` clients on each server at once, ``n`` requests each; CPU ms per compare."""
    results: list[LoadResult | None] = [None] * len(servers)

    def one(i: int) -> None:
        results[i] = run_load(
            servers[i].url, payloads, count=n, concurrency=c, key=keys[i], warmup=c
        )

    c0 = cpu_s(servers)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for r in results if r is not None]
    cpu = (cpu_s(servers) - c0) * 1000 / sum(r.requests + c for r in done)
    return done, cpu


def report(label: str, results: list[LoadResult], cpu: float, rss: float) -> None:
    rate = sum(r.throughput for r in results)
    lat = sorted(x for r in results for x in r.latencies_s)
    p = (lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else (lambda q: 0)
    errors = sum(r.errors for r in results)
    print(
        f"  {label:44s} {rate:5.1f} compares/s, p50 {p(0.5):6.1f} ms, p99 {p(0.99):6.1f} ms, "
        f"errors {errors}; CPU {cpu:5.1f} ms per compare; RSS {rss:.0f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--requests", type=int, default=200, help="per level, in total")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    payloads = bodies(build_pairs(lfw_dir(), args.pairs))
    threaded = [LocalServer()]
    per_core = [LocalServer(env=ONE_CORE) for _ in range(2)]
    kinds = {"one process, 2 inference threads": threaded, "two processes, 1 thread each": per_core}
    keys = {k: [s.new_key("bench") for s in v] for k, v in kinds.items()}
    try:
        for rep in range(args.repeats):
            print(f"repeat {rep + 1}, load average {os.getloadavg()[0]:.1f}; total concurrency 4")
            for label, servers in kinds.items():
                c = 4 // len(servers)
                results, cpu = loaded(
                    servers, keys[label], payloads, args.requests // len(servers), c
                )
                rss = sum(s.rss_mb()[0] for s in servers)
                report(label, results, cpu, rss)
            print("  concurrency 1, one server of each kind:")
            for label, servers in kinds.items():
                results, cpu = loaded(servers[:1], keys[label][:1], payloads, args.requests // 2, 1)
                report(label, results, cpu, servers[0].rss_mb()[0])
    finally:
        for s in [*threaded, *per_core]:
            s.stop()


if __name__ == "__main__":
    main()
