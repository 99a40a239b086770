"""Start-up to ready: launch ``facecompare serve`` N times (each with a fresh, empty
FACECOMPARE_HOME) and time each until ``/readyz`` answers 200.

    PYTHONPATH=src python benchmarks/ready_time.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from facecompare.lab.server import free_port


def once() -> float:
    port, home = free_port(), tempfile.mkdtemp()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "facecompare", "serve", "--port", str(port)],
        env={**os.environ, "FACECOMPARE_HOME": home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    times = [once() for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5)]
    print("seconds to ready:", " ".join(f"{t:.2f}" for t in times))
    print(f"median {statistics.median(times):.2f} s, {min(times):.2f}-{max(times):.2f} s")


if __name__ == "__main__":
    main()
