"""The detector's shrink: area averaging against bilinear at the 640 → 480 step, same run.

    PYTHONPATH=src python benchmarks/det_resize.py [--pairs 20]

On the bench's phone pairs decoded at 1/2 scale (640×480, as the server does), each photo is
shrunk to the detector's 480 input with cv2.INTER_AREA and with cv2.INTER_LINEAR; prints the
CPU ms of the shrink alone and of the whole detect call, and how far the results move: the
largest change of the best face's box (px, in the 640×480 image) and the cosine between the
embeddings of the two crops (aligned on the 106-point model as the server does).
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from facecompare import imaging
from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs


def cpu_ms(fn, n: int = 20) -> float:  # noqa: ANN001
    fn()
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20)
    args = ap.parse_args()
    engine = Engine.load(Settings.from_env(image_threads=1))
    size = engine.settings.det_size
    shrink = {k: [] for k in ("area", "linear")}
    box_moves, coss = [], []
    for p in build_pairs(lfw_dir(), args.pairs):
        for data in (p.a, p.b):
            h = imaging.read_header(data, "image1")
            img = imaging.decode_reduced(data, h, "image1", 2)
            s = size / max(img.shape[:2])
            wh = (round(img.shape[1] * s), round(img.shape[0] * s))
            small = {
                "area": cv2.resize(img, wh, interpolation=cv2.INTER_AREA),
                "linear": cv2.resize(img, wh, interpolation=cv2.INTER_LINEAR),
            }
            for k, flag in (("area", cv2.INTER_AREA), ("linear", cv2.INTER_LINEAR)):
                shrink[k].append(
                    cpu_ms(lambda f=flag, i=img, w=wh: cv2.resize(i, w, interpolation=f))
                )
            # the detector on each pre-shrunk input (scale 1 inside), boxes back in 640×480
            faces = {
                k: engine.pipeline.detector.detect(v, size)[0].scaled(1 / s)
                for k, v in small.items()
            }
            box_moves.append(float(np.abs(faces["area"].box - faces["linear"].box).max()))
            emb = [
                engine.pipeline.embedder.embed([engine.pipeline.aligned(img, f)])[0][0]
                for f in faces.values()
            ]
            coss.append(float(emb[0] @ emb[1]))
    print(
        f"{2 * args.pairs} phone photos at 640×480 → {size}; {engine.pipeline.backend.backend} "
        f"{engine.pipeline.backend.precision}"
    )
    for k, v in shrink.items():
        print(f"  shrink, {k:6s}: {np.mean(v):.2f} CPU ms")
    print(
        f"  best face's box moves by at most {max(box_moves):.2f} px (median "
        f"{np.median(box_moves):.2f}); embedding cosine area vs linear: min {min(coss):.5f}, "
        f"median {np.median(coss):.5f}"
    )


if __name__ == "__main__":
    main()
