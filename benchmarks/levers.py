"""Speed levers on the in-process pipeline, one run: time per compare and agreement with the
reference pipeline (full decode, detector at 640) on phone-style pairs built from LFW.

    PYTHONPATH=src python benchmarks/levers.py --pairs 60 --out reports

Prints a table and writes reports/levers.json and reports/levers.png. Accuracy of levers that
change the models' inputs on LFW itself is measured by ``facecompare eval`` (see
docs/performance.md); this script checks what LFW's 250×250 images cannot: big photos.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from facecompare.compare import CompareRequest, Engine
from facecompare.config import Settings
from facecompare.errors import FaceCompareError
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs
from facecompare.lab.measure.evaluate import best_threshold

REFERENCE = {"reduced_decode": False, "det_size": 640, "det_retry_size": 640}
VARIANTS: dict[str, dict[str, object]] = {
    "reference: full decode, detector 640": REFERENCE,
    "reduced decode (align from ≥112 px)": {"reduced_decode": True, "det_size": 640},
    "reduced decode, always align reduced": {
        "reduced_decode": True,
        "det_size": 640,
        "align_min_face": 0,
    },
    "detector 480, retry 640, reduced": {"reduced_decode": True, "det_size": 480},
    "detector 320, retry 640, reduced": {"reduced_decode": True, "det_size": 320},
    "detector 480, reduced, 2 onnxruntime threads": {
        "reduced_decode": True,
        "intra_op_threads": 2,
    },
    "detector 480, reduced, images side by side": {"reduced_decode": True, "image_threads": 2},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("reports"))
    ap.add_argument("--size", type=int, nargs=2, default=None, help="rescale photos to W H")
    args = ap.parse_args()

    pairs = build_pairs(lfw_dir(), args.pairs, seed=7)
    if args.size:
        import cv2

        from facecompare.lab.data.phones import BenchPair, jpeg

        def big(data: bytes) -> bytes:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            return jpeg(cv2.resize(img, tuple(args.size), interpolation=cv2.INTER_CUBIC))

        pairs = [BenchPair(big(p.a), big(p.b), p.same) for p in pairs]
    engines = {
        name: Engine.load(Settings.from_env(**{"intra_op_threads": 1, "image_threads": 1, **kw}))
        for name, kw in VARIANTS.items()
    }
    ms: dict[str, list[float]] = {n: [] for n in engines}
    cos: dict[str, list[float]] = {n: [float("nan")] * len(pairs) for n in engines}
    for _ in range(args.rounds):
        for i, p in enumerate(pairs):
            req = CompareRequest(p.a, p.b)
            for name, eng in engines.items():  # pair by pair: the machine's load hits all alike
                t = time.perf_counter()
                try:
                    cos[name][i] = eng.compare(req).cosine
                except FaceCompareError:
                    cos[name][i] = float("nan")
                ms[name].append((time.perf_counter() - t) * 1000)

    labels = np.array([p.same for p in pairs])
    ref = np.array(cos[next(iter(engines))])
    rows = []
    for name in engines:
        c = np.array(cos[name])
        ok = ~np.isnan(c)
        _, acc = best_threshold(np.where(ok, c, -1.0), labels)
        rows.append(
            {
                "variant": name,
                "settings": VARIANTS[name],
                "median_ms": statistics.median(ms[name]),
                "no_face": int((~ok).sum()),
                "max_abs_dcos": float(np.nanmax(np.abs(c - ref))),
                "mean_abs_dcos": float(np.nanmean(np.abs(c - ref))),
                "best_threshold_accuracy": acc,
            }
        )
    base = rows[0]["median_ms"]
    size = "x".join(map(str, args.size)) if args.size else "1280x960"
    lines = [
        f"{len(pairs)} phone-style pairs ({size}, JPEG q90), {args.rounds} rounds, 1 thread "
        "unless said",
        f"  {'variant':40} {'ms':>7} {'speed-up':>8} {'no face':>7} {'mean|Δcos|':>10} "
        f"{'max|Δcos|':>9} {'acc':>6}",
    ]
    for r in rows:
        lines.append(
            f"  {r['variant']:40} {r['median_ms']:7.1f} {base / r['median_ms']:7.2f}× "
            f"{r['no_face']:7d} {r['mean_abs_dcos']:10.4f} {r['max_abs_dcos']:9.4f} "
            f"{r['best_threshold_accuracy'] * 100:5.1f}%"
        )
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"levers-{size}"
    (args.out / f"{stem}.json").write_text(json.dumps({"rows": rows, "table": text}, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.barh([r["variant"] for r in rows][::-1], [r["median_ms"] for r in rows][::-1])
    ax.set_xlabel("ms per compare, in-process (median)")
    ax.set_title(f"Speed levers, {size} phone-style pairs, same run")
    fig.tight_layout()
    fig.savefig(args.out / f"{stem}.png", dpi=120)


if __name__ == "__main__":
    main()
