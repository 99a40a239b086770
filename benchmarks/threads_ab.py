"""Speed A/B, same run: our engine sequential, images side by side, 2 intra-op threads, the
detector at 320, flip always, the plain pipeline and FaceAnalysis (default modules), pair by
pair, shuffled, with a pause.

    PYTHONPATH=src python benchmarks/threads_ab.py [--pairs 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from facecompare.config import Settings
from facecompare.lab.bench import peers
from facecompare.lab.bench.run import PAUSE_S, PLAIN, ours
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    pairs = build_pairs(lfw_dir(), args.pairs)
    one = {"intra_op_threads": 1}
    systems: dict[str, peers.Compare | str] = {
        "ours, images one after the other": ours(Settings.from_env(image_threads=1, **one)),
        "ours, images side by side": ours(Settings.from_env(image_threads=2, **one)),
        "ours, 2 onnxruntime threads": ours(Settings.from_env(image_threads=1, intra_op_threads=2)),
        "ours, side by side, detector 320": ours(
            Settings.from_env(image_threads=2, det_size=320, **one)
        ),
        "ours, side by side, flip always": ours(
            Settings.from_env(image_threads=2, flip_tta="always", **one)
        ),
        "ours, side by side, SCRFD points": ours(
            Settings.from_env(image_threads=2, refine_landmarks=False, **one)
        ),
        "plain pipeline": ours(Settings.from_env(**{**PLAIN, **one})),
        "FaceAnalysis (default modules)": peers.insightface_peer(None),
    }
    ready = {k: v for k, v in systems.items() if not isinstance(v, str)}
    ms: dict[str, list[float]] = {k: [] for k in ready}
    rng = random.Random(0)
    for _ in range(args.rounds):
        for p in pairs:
            for name in rng.sample(list(ready), len(ready)):
                time.sleep(PAUSE_S)
                t = time.perf_counter()
                ready[name](p.a, p.b)
                ms[name].append((time.perf_counter() - t) * 1000)
    print(f"{len(pairs)} phone-style pairs (1280×960), {args.rounds} rounds, median ms")
    for name, v in ms.items():
        print(f"  {name:36} {statistics.median(v):7.1f}")


if __name__ == "__main__":
    main()
