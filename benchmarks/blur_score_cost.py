"""CPU cost of the blur scores per aligned face (thread CPU time, so a busy machine counts less).

PYTHONPATH=src python benchmarks/blur_score_cost.py
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from facecompare import quality


def main(calls: int = 3000) -> None:
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    crop = cv2.GaussianBlur((rng.random((112, 112, 3)) * 255).astype(np.uint8), (0, 0), 1.2)
    for name in ("reblur_min", "directional_min_norm", "directional_min"):
        fn = quality.CROP_SCORES[name]
        fn(crop)
        t = time.thread_time()
        for _ in range(calls):
            fn(crop)
        print(f"{name:<22} {(time.thread_time() - t) / calls * 1000:.3f} ms CPU per face")


if __name__ == "__main__":
    main()
