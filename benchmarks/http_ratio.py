"""Issue 18's HTTP targets in one run: our server against the plain pipeline in-process.

    PYTHONPATH=src python benchmarks/http_ratio.py [--pairs 20] [--requests 200] [--repeats 2]
        [--env FACECOMPARE_BACKEND=onnxruntime ...]

The bench's phone-style 1280×960 pairs. Repeated ``--repeats`` times, in turn: the plain
pipeline in-process (``bench.run.PLAIN``: full decode, detector 640, SCRFD's points, no flip,
original graphs, onnxruntime fp32) with 1 and with 2 onnxruntime threads, one compare after
another; then our server (``facecompare serve``, defaults plus ``--env``) over HTTP at
concurrency 1 and 4 (JSON with base64, keep-alive clients, bodies built before the clock).
Prints compares/s and p50 for each, the ratios the issue sets (HTTP compares/s at
concurrency 4 ÷ the faster plain rate; p50 at concurrency 1 ÷ one plain compare), the server's
RSS, and the load average before and after each part.

Fairness on a shared host: the server runs its inference threads at niceness 5
(api/limits.WORKER_NICENESS, so that cheap answers stay fast); the plain pipeline is run at the
same niceness (``--plain-nice``, set after the server has started so the server is unaffected).
Under contention wall-clock ratios then measure the scheduler as much as the code, so CPU time
is printed too: the server's CPU ms per compare (all its threads, /proc) and the plain
pipeline's (process CPU time); on an idle 2-core host the concurrency-4 throughput ratio is
about 2 × plain CPU ÷ server CPU when the server is CPU-bound.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import psutil

from facecompare.api.limits import WORKER_NICENESS
from facecompare.config import Settings
from facecompare.lab.bench.run import PAUSE_S, PLAIN, ours
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs
from facecompare.lab.load import bodies, run_load
from facecompare.lab.server import LocalServer


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--requests", type=int, default=200, help="per HTTP level")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    ap.add_argument("--plain-nice", type=int, default=WORKER_NICENESS)
    args = ap.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    pairs = build_pairs(lfw_dir(), args.pairs)
    payloads = bodies(pairs)
    server = LocalServer(env=env)
    key = server.new_key("bench")
    proc = psutil.Process(server.proc.pid)
    print(f"server env {env or 'defaults'}: start-up to ready {server.startup_s:.2f} s")
    # this thread, and the onnxruntime threads it creates, at the server's inference niceness
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), args.plain_nice)
    plains = {t: ours(Settings.from_env(**{**PLAIN, "intra_op_threads": t})) for t in (1, 2)}
    try:
        for rep in range(args.repeats):
            print(f"repeat {rep + 1}, load average {load()}")
            plain_ms: dict[int, list[float]] = {1: [], 2: []}
            plain_cpu: dict[int, float] = {1: 0.0, 2: 0.0}
            for p in pairs:
                for t, fn in plains.items():
                    fn(p.a, p.b)  # warm, as the bench does
                    time.sleep(PAUSE_S)
                    c0, t0 = time.process_time(), time.perf_counter()
                    fn(p.a, p.b)
                    plain_ms[t].append((time.perf_counter() - t0) * 1000)
                    plain_cpu[t] += (time.process_time() - c0) * 1000 / len(pairs)
            med = {t: statistics.median(v) for t, v in plain_ms.items()}
            for t in (1, 2):
                print(
                    f"  plain in-process, {t} thread(s): {med[t]:6.1f} ms, {1000 / med[t]:.1f}/s,"
                    f" CPU {plain_cpu[t]:.1f} ms per compare"
                )
            best = min(med.values())
            print(f"  load average {load()}")
            for c in (1, 4):
                cpu0 = sum(proc.cpu_times()[:2])
                r = run_load(
                    server.url, payloads, count=args.requests, concurrency=c, key=key, warmup=c
                )
                cpu = (sum(proc.cpu_times()[:2]) - cpu0) * 1000 / (args.requests + c)
                ratio = (
                    f"p50 / plain = {r.percentile(50) * 1000 / best:.2f}"
                    if c == 1
                    else f"compares/s / plain = {r.throughput * best / 1000:.2f}×"
                )
                p50, p99 = r.percentile(50) * 1000, r.percentile(99) * 1000
                print(
                    f"  HTTP concurrency {c}: {r.throughput:5.1f}/s, p50 {p50:6.1f} ms, "
                    f"p99 {p99:6.1f} ms, "
                    f"errors {r.errors}/{r.requests}; {ratio}; "
                    f"server CPU {cpu:.1f} ms per compare (2 × plain-1 CPU ÷ it: "
                    f"{2 * plain_cpu[1] / cpu:.2f}×)"
                )
            print(f"  load average {load()}, server RSS {server.rss_mb()[0]:.0f} MB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
