"""Where the time of one compare goes, stage by stage, in CPU milliseconds (one thread).

    PYTHONPATH=src python benchmarks/profile_stages.py [--pairs 6] [--size 1280 960]
        [--backend auto|onnxruntime|openvino] [--precision auto|f32|bf16]

CPU time (time.process_time) rather than wall time, so the load of a shared machine matters
less; each stage is timed alone on real phone-style pairs, averaged over the pairs. ``--backend``
and ``--precision`` set our engine's inference backend (models/backend.py; the rows marked
"original PRelu" and the plain pipeline stay onnxruntime fp32). OpenVINO computes on its own
threads: process CPU time counts them too.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from facecompare import imaging
from facecompare.align import align
from facecompare.compare import CompareRequest, Engine
from facecompare.config import Settings
from facecompare.lab.bench.run import PLAIN
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs, jpeg


def cpu_ms(fn: Callable[[], object], n: int = 10) -> float:
    fn()
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1000


def stages(
    data: bytes, other: bytes, fast: Engine, slow: Engine, plain: Engine
) -> dict[str, float]:
    text = base64.b64encode(data).decode()
    h = imaging.read_header(data, "image1")
    f = imaging.reduction(h, fast.settings.det_retry_size)
    full = imaging.decode(data, h, "image1")
    small = imaging.decode_reduced(data, h, "image1", f)
    face = fast.pipeline.faces(small, 0)[0]
    crop = align(small, face.landmarks)
    req = CompareRequest(text, base64.b64encode(other).decode())
    return {
        "base64 decode (one image)": cpu_ms(lambda: imaging.b64decode(text, "image1")),
        "header + size rules": cpu_ms(lambda: imaging.read_header(data, "image1")),
        "JPEG decode, full scale": cpu_ms(lambda: imaging.decode(data, h, "image1")),
        f"JPEG decode, 1/{f} scale": cpu_ms(lambda: imaging.decode_reduced(data, h, "x", f)),
        "detect (full-scale image, 640)": cpu_ms(lambda: plain.pipeline.detector.detect(full, 640)),
        "detect (reduced image, 640)": cpu_ms(lambda: fast.pipeline.detector.detect(small, 640)),
        "detect (reduced image, 480)": cpu_ms(lambda: fast.pipeline.detector.detect(small, 480)),
        "detect (reduced image, 320: first pass)": cpu_ms(
            lambda: fast.pipeline.detector.detect(small, 320)
        ),
        "landmarks, 2d106det (ours)": cpu_ms(lambda: fast.pipeline.alignment_points(small, face)),
        "landmarks, 2d106det (original PRelu)": cpu_ms(
            lambda: slow.pipeline.alignment_points(small, face)
        ),
        "align (5-point similarity warp)": cpu_ms(lambda: align(small, face.landmarks)),
        "embed one 112×112 crop (ours)": cpu_ms(lambda: fast.pipeline.embedder.embed([crop])),
        "embed one 112×112 crop (original PRelu)": cpu_ms(
            lambda: slow.pipeline.embedder.embed([crop])
        ),
        "embed two crops in one batch": cpu_ms(lambda: fast.pipeline.embedder.embed([crop, crop])),
        "compare, plain pipeline (bench.run.PLAIN)": cpu_ms(lambda: plain.compare(req), 5),
        "compare, ours (defaults, one thread)": cpu_ms(lambda: fast.compare(req), 5),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--size", type=int, nargs=2, default=None)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()
    one = {"intra_op_threads": 1, "image_threads": 1}
    fast = Engine.load(Settings.from_env(backend=args.backend, precision=args.precision, **one))
    slow = Engine.load(Settings.from_env(fast_prelu=False, backend="onnxruntime", **one))
    plain = Engine.load(Settings.from_env(**{**PLAIN, **one}))
    rows: dict[str, list[float]] = {}
    for p in build_pairs(lfw_dir(), args.pairs):
        data = p.a
        if args.size:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            data = jpeg(cv2.resize(img, tuple(args.size), interpolation=cv2.INTER_CUBIC))
        for name, ms in stages(data, p.b, fast, slow, plain).items():
            rows.setdefault(name, []).append(ms)
    size = "x".join(map(str, args.size)) if args.size else "1280x960"
    c = fast.pipeline.backend
    print(f"CPU ms per stage, one thread, {args.pairs} phone-style pairs ({size}), mean")
    print(f"ours: {c.backend} {c.precision}; load average {os.getloadavg()}")
    for name, v in rows.items():
        print(f"  {name:40} {statistics.fmean(v):7.2f}")


if __name__ == "__main__":
    main()
