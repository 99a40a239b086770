"""Two settings of the same model pack on phone photos, in one run: CPU, faces, embedding drift.

    PYTHONPATH=src python benchmarks/settings_ab.py [--pairs 100] [--a det_first_size=0]
        [--b det_first_size=320] [--sets phone,small]

Two engines in one process, one thread each, the same model pack, with the ``config.Settings``
fields of ``--a`` and ``--b`` (``NAME=VALUE``, repeatable; the defaults compare the detector at
``det_size`` alone against a first, small pass at 320 before it). Two sets of phone-style
1280×960 pairs from LFW View 2 (half same person): the bench's (the LFW image enlarged to
460–640 px, face ~200–300 px) and one with small faces (enlarged to 300–400 px, face ~120–170
px, at the API's 112 px minimum). For every photo, in turn for the two engines: CPU ms of the
whole compare (``time.process_time``), whether a face was found and whether flip TTA ran, the
cosine between the two engines' embeddings of it, and per pair the shift of the confidence and
whether the decision at the shipped err_01 threshold changed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from facecompare import imaging
from facecompare.compare import CompareRequest, Engine
from facecompare.config import Settings
from facecompare.errors import FaceCompareError
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs

SETS = {"phone": ("face ~200-300 px", (460, 640)), "small": ("faces ~120-170 px", (300, 400))}


def settings(pairs: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` strings → Settings overrides, parsed as the environment variables are."""
    return {name: Settings.parse(name, raw) for name, raw in (p.split("=", 1) for p in pairs)}


def compare(engine: Engine, a: bytes, b: bytes) -> tuple[float | None, float, bool]:
    """(confidence, or None when the compare answered an error; CPU ms; flip TTA ran)."""
    t = time.process_time()
    try:
        r = engine.compare(CompareRequest(a, b))
    except FaceCompareError:
        return None, (time.process_time() - t) * 1000, False
    return r.confidence, (time.process_time() - t) * 1000, r.flipped


def embeddings(engine: Engine, data: bytes) -> np.ndarray | None:
    header = imaging.read_header(data, "image1")
    got = engine.pipeline.embedded_photo(data, header, "image1", reduce=True)
    return None if got is None else got.embedding


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--a", action="append", default=[], help="NAME=VALUE (A side)")
    ap.add_argument("--b", action="append", default=[], help="NAME=VALUE (B side)")
    ap.add_argument("--sets", default="phone,small")
    args = ap.parse_args()
    sides = {
        "A": settings(args.a or ["det_first_size=0"]),
        "B": settings(args.b or ["det_first_size=320"]),
    }
    engines = {k: Engine.load(Settings.from_env(image_threads=1, **v)) for k, v in sides.items()}
    for k, v in sides.items():
        print(f"{k}: {', '.join(f'{n}={x}' for n, x in v.items())}")
    names = list(engines)
    any_engine = engines[names[0]]
    err_01 = any_engine.calibrated.thresholds("photo-photo")["err_01"]
    c = any_engine.pipeline.backend
    print(
        f"{c.backend} {c.precision}; det_size {any_engine.settings.det_size}; shipped err_01 "
        f"confidence {err_01}; load average {os.getloadavg()[0]:.1f}"
    )
    for name in args.sets.split(","):
        label, patch = SETS[name]
        pairs = build_pairs(lfw_dir(), args.pairs, sides=patch)
        cpu: dict[str, list[float]] = {n: [] for n in names}
        lost, flipped = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
        shifts, flips, coss = [], 0, []
        for p in pairs:
            conf = {}
            for n in names:
                compare(engines[n], p.a, p.b)  # warm, untimed
                conf[n], ms, flip = compare(engines[n], p.a, p.b)
                cpu[n].append(ms)
                flipped[n] += flip
                lost[n] += conf[n] is None
            a, b = conf[names[0]], conf[names[1]]
            if a is not None and b is not None:
                shifts.append(b - a)
                flips += (a >= err_01) != (b >= err_01)
            for data in (p.a, p.b):
                e = [embeddings(engines[n], data) for n in names]
                if e[0] is not None and e[1] is not None:
                    coss.append(float(e[0] @ e[1]))
        print(f"\n{name} ({label}): {len(pairs)} pairs, {2 * len(pairs)} photos 1280×960")
        for n in names:
            print(
                f"  {n} CPU ms per compare: median {statistics.median(cpu[n]):6.1f}, "
                f"mean {statistics.fmean(cpu[n]):6.1f}; pairs without an answer {lost[n]}, "
                f"with flip TTA {flipped[n]}"
            )
        ratio = statistics.fmean(cpu[names[1]]) / statistics.fmean(cpu[names[0]])
        q = np.quantile(coss, [0.0, 0.01, 0.5]) if coss else [float("nan")] * 3
        print(
            f"  mean CPU ratio {ratio:.2f}; embedding cosine between the two: min {q[0]:.4f}, "
            f"1 % {q[1]:.4f}, median {q[2]:.5f} ({len(coss)} photos); confidence shift: "
            f"|max| {max(map(abs, shifts), default=0):.2f}, mean {statistics.fmean(shifts):+.3f}; "
            f"decisions at err_01 changed: {flips} of {len(shifts)}"
        )
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
