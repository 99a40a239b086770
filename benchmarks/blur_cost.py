"""Cost of ``blur_detection``: compare with the flag off and on, side by side in one run.

    PYTHONPATH=src python benchmarks/blur_cost.py --pairs 40

Prints the median request time with and without the flag (interleaved, so machine noise hits
both alike) and the time of the blur score alone on the aligned crops.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import cv2
import numpy as np

from facecompare import quality
from facecompare.compare import CompareRequest, Engine
from facecompare.errors import FaceCompareError
from facecompare.lab.data.datasets import lfw_dir, lfw_pairs


def jpeg(path: str) -> bytes:
    img = cv2.imread(str(lfw_dir() / "images" / path))
    up = cv2.resize(img, (500, 500), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", up, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def timed(engine: Engine, req: CompareRequest) -> float:
    t = time.perf_counter()
    with contextlib.suppress(FaceCompareError):
        engine.compare(req)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    engine = Engine.load()
    blur = engine.calibrated.section("blur") or {}
    name = blur.get("score", "laplacian_var")
    pairs = [p for p in lfw_pairs() if p.same][: args.pairs]
    data = [(jpeg(p.a), jpeg(p.b)) for p in pairs]
    off, on = [], []
    for r in range(args.repeats):
        for a, b in data:
            first, second = (False, True) if r % 2 == 0 else (True, False)
            for flag in (first, second):
                dt = timed(engine, CompareRequest(a, b, blur_detection=flag))
                (on if flag else off).append(dt)
    crops = []
    for a, _ in data:
        img = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR)
        found = engine.pipeline.largest_face(img, 0)
        if found is not None:
            crops.append(found.crop)
    t = time.perf_counter()
    n = 0
    for _ in range(20):
        for c in crops:
            quality.score(name, c, 20.0)
            n += 1
    per_face = (time.perf_counter() - t) / n
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"blur score: {name}; {len(data)} LFW genuine pairs upscaled to 500 px, x{args.repeats}")
    print(f"  compare, blur_detection off  median {m_off * 1000:8.2f} ms")
    print(f"  compare, blur_detection on   median {m_on * 1000:8.2f} ms")
    print(f"  difference (on - off)               {(m_on - m_off) * 1000:+8.2f} ms per request")
    print(f"  the score alone                     {per_face * 1000:8.3f} ms per face")


if __name__ == "__main__":
    main()
