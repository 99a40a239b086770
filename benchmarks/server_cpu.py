"""Where an HTTP load spends the CPU: the server process vs the load client, per request.

    PYTHONPATH=src python benchmarks/server_cpu.py [--concurrency 4] [--requests 200]

Starts `facecompare serve` (lab.server.LocalServer), sends phone-style pairs at a fixed
concurrency, and reads both processes' CPU times before and after (psutil).
"""

from __future__ import annotations

import argparse
import os
import time

import psutil

from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs
from facecompare.lab.load import bodies, run_load
from facecompare.lab.server import LocalServer


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    payloads = bodies(build_pairs(lfw_dir(), 20))
    server = LocalServer()
    try:
        key = server.new_key("bench")
        conc = args.concurrency
        run_load(server.url, payloads, count=20, concurrency=conc, key=key, warmup=conc)
        srv, me = psutil.Process(server.proc.pid), psutil.Process(os.getpid())
        s0, c0, t0 = cpu_s(srv), cpu_s(me), time.perf_counter()
        r = run_load(
            server.url, payloads, count=args.requests, concurrency=conc, key=key, warmup=conc
        )
        dt = time.perf_counter() - t0
        s, c = cpu_s(srv) - s0, cpu_s(me) - c0
    finally:
        server.stop()
    print(
        f"concurrency {conc}: {r.throughput:.1f} compares/s, p50 {r.percentile(50) * 1000:.0f} ms, "
        f"{r.errors} errors"
    )
    print(f"  server: {s / dt:.2f} cores busy, {s / args.requests * 1000:.1f} ms CPU per request")
    print(f"  client: {c / dt:.2f} cores busy, {c / args.requests * 1000:.1f} ms CPU per request")


if __name__ == "__main__":
    main()
