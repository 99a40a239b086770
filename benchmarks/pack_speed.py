"""Per-compare time of each model pack, in one run: the server's Engine.compare on the same
phone-style LFW pairs (1280×960 JPEGs, facecompare.lab.data.phones), packs interleaved pair by pair
so that both see the same machine load.

    PYTHONPATH=src python benchmarks/pack_speed.py [--pairs 40] [--rounds 3]

Prints, per pack: median and mean wall ms per compare (photos side by side on two threads, as
the server does when no other compare runs) and CPU ms per compare (process time, both
threads), and the open pack's ratio to the default's.
"""

from __future__ import annotations

import argparse
import statistics
import time

from facecompare.compare import CompareRequest, Engine
from facecompare.config import Settings
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs

PACKS = ("vectron-mbf", "open")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    pairs = build_pairs(lfw_dir(), args.pairs)
    engines = {p: Engine.load(Settings.from_env(pack=p)) for p in PACKS}
    wall: dict[str, list[float]] = {p: [] for p in PACKS}
    cpu: dict[str, list[float]] = {p: [] for p in PACKS}
    for _ in range(args.rounds):
        for bp in pairs:
            req = CompareRequest(bp.a, bp.b)
            for name, eng in engines.items():
                eng.compare(req)  # warm: the timed call is the second one
                t, c = time.perf_counter(), time.process_time()
                eng.compare(req)
                wall[name].append((time.perf_counter() - t) * 1000)
                cpu[name].append((time.process_time() - c) * 1000)
    n = len(wall[PACKS[0]])
    print(f"{n} compares per pack ({args.pairs} phone-style LFW pairs × {args.rounds} rounds)")
    print("pack          wall median  wall mean   CPU median  CPU mean   (ms per compare)")
    for p in PACKS:
        print(
            f"{p:12s}  {statistics.median(wall[p]):10.1f}  {statistics.mean(wall[p]):9.1f}"
            f"   {statistics.median(cpu[p]):10.1f}  {statistics.mean(cpu[p]):8.1f}"
        )
    a, b = PACKS
    print(
        f"ratio {b}/{a}: wall median {statistics.median(wall[b]) / statistics.median(wall[a]):.2f}"
        f", CPU median {statistics.median(cpu[b]) / statistics.median(cpu[a]):.2f}"
    )


if __name__ == "__main__":
    main()
