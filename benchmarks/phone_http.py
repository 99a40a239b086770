"""Big phone photos over HTTP against the plain pipeline in-process, same run.

    PYTHONPATH=src python benchmarks/phone_http.py [--pairs 10] [--size 4032 3024]

The bench's LFW-based phone pairs, resized to ``--size`` and re-encoded (JPEG 90). Our server
(`facecompare serve`, defaults) answers them one at a time over HTTP (JSON with base64, as a
client sends them); the plain pipeline (`bench.run.PLAIN`: full decode, detector 640, SCRFD's
points, no flip, original graphs) compares the same bytes in this process. Alternated pair by
pair; prints the median and p90 of each, and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import httpx
import numpy as np

from facecompare.config import Settings
from facecompare.lab.bench.run import PAUSE_S, PLAIN, ours
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import BenchPair, build_pairs, jpeg
from facecompare.lab.load import COMPARE_PATH, bodies
from facecompare.lab.server import LocalServer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--size", type=int, nargs=2, default=(4032, 3024))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    def resized(data: bytes) -> bytes:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return jpeg(cv2.resize(img, tuple(args.size), interpolation=cv2.INTER_CUBIC))

    pairs = [
        BenchPair(resized(p.a), resized(p.b), p.same) for p in build_pairs(lfw_dir(), args.pairs)
    ]
    payloads = bodies(pairs)
    plain = ours(Settings.from_env(**PLAIN))
    server = LocalServer()
    http_ms: list[float] = []
    plain_ms: list[float] = []
    errors = 0
    try:
        headers = {"x-aigen-key": server.new_key("bench"), "content-type": "application/json"}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for r in range(args.rounds + 1):  # round 0 warms both up
                for p, body in zip(pairs, payloads, strict=True):
                    time.sleep(PAUSE_S)
                    t = time.perf_counter()
                    resp = client.post(COMPARE_PATH, content=body, headers=headers)
                    ms = (time.perf_counter() - t) * 1000
                    errors += resp.status_code != 200 or "confidence" not in resp.json()
                    time.sleep(PAUSE_S)
                    t = time.perf_counter()
                    plain(p.a, p.b)
                    if r:
                        http_ms.append(ms)
                        plain_ms.append((time.perf_counter() - t) * 1000)
    finally:
        server.stop()
    mb = statistics.fmean(len(b) for b in payloads) / 1e6
    print(
        f"{args.pairs} pairs at {args.size[0]}×{args.size[1]}, JSON body {mb:.1f} MB, "
        f"{args.rounds} rounds; errors over HTTP: {errors}"
    )
    for name, v in (
        ("ours over HTTP (concurrency 1)", http_ms),
        ("plain pipeline in-process", plain_ms),
    ):
        q = np.percentile(v, [50, 90])
        print(f"  {name:32s} p50 {q[0]:7.1f} ms  p90 {q[1]:7.1f} ms")
    ratio = statistics.median(plain_ms) / statistics.median(http_ms)
    print(f"  ratio of medians (plain / ours): {ratio:.2f}×")


if __name__ == "__main__":
    main()
