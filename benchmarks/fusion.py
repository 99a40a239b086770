"""Score-level fusion of the two packs' recognisers (MobileFaceNet + SFace), measured, not shipped.

    PYTHONPATH=src python benchmarks/fusion.py [--far 1e-3] [--far 1e-4]

Both packs' per-population embeddings come from the lab's cache (``lab.embed_population``,
filled by ``facecompare eval-populations`` and ``facecompare calibrate`` of each pack); the
pairs are the lab's (``lab.pairs.population_scores``), on the images where *both* packs found
a face, so the three systems score exactly the same genuine and impostor pairs. Each pack's
score is its served score (cosine, flip TTA inside its calibration's band).

- fused score: the mean of the two scores after standardising each by the mean and standard
  deviation of its impostor scores on the fit halves (LFW[A] and Korean[A], each half weighted
  equally);
- threshold at each FAR: fitted on the fit halves, the strictest of the two (as the shipped
  calibration does), for every system alike;
- measured on the held-out halves (LFW[B], Korean[B]) and on populations no fit saw (kpop,
  faces94, ORL): realised FAR (false accepts) and TAR.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time

import numpy as np

from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.lab.data.populations import FIT_HALF, HELD_OUT_HALF, Population, named
from facecompare.lab.fit.command import FIT_POPULATIONS
from facecompare.lab.measure.embeddings import embed_population
from facecompare.lab.measure.evaluate import EmbeddingSet
from facecompare.lab.measure.pairs import population_scores
from facecompare.lab.measure.verification import InsufficientData, far_threshold

PACKS = ("vectron-mbf", "open")
UNSEEN = ("kpop", "faces94", "orl")
SYSTEMS = ("MobileFaceNet (vectron-mbf)", "SFace (open)", "fused (mean of z-scores)")

Scores = tuple[np.ndarray, np.ndarray]  # genuine, impostor


def _both(sets: dict[str, EmbeddingSet]) -> dict[str, EmbeddingSet]:
    """The embedding sets with ``found`` = a face found by both packs (same pairs for all)."""
    found = np.logical_and.reduce([es.found for es in sets.values()])
    return {p: dataclasses.replace(es, found=found) for p, es in sets.items()}


def scores_of(engines: dict[str, Engine], pop: Population) -> tuple[dict[str, Scores], int]:
    """Per pack, the genuine and impostor scores of ``pop``'s pairs (same order for both packs),
    and how many images lack a face in at least one pack."""
    sets = {p: embed_population(e, pop) for p, e in engines.items()}
    lost = int((~np.logical_and.reduce([es.found for es in sets.values()])).sum())
    both = _both(sets)
    return {p: population_scores(both[p], pop, engines[p].scorer) for p in engines}, lost


def standardiser(fit: list[dict[str, Scores]], pack: str) -> tuple[float, float]:
    """Mean and standard deviation of the pack's impostor scores, each fit half weighted
    equally (the pooled moments of the per-population moments)."""
    means = [float(s[pack][1].mean()) for s in fit]
    second = [float((s[pack][1].astype(np.float64) ** 2).mean()) for s in fit]
    mu = float(np.mean(means))
    return mu, float(np.sqrt(np.mean(second) - mu * mu))


def systems(s: dict[str, Scores], z: dict[str, tuple[float, float]]) -> list[Scores]:
    a, b = PACKS

    def fused(k: int) -> np.ndarray:
        return 0.5 * sum((s[p][k] - z[p][0]) / z[p][1] for p in (a, b))

    return [s[a], s[b], (fused(0), fused(1))]


def strictest(fit: list[list[Scores]], far: float) -> list[float | None]:
    """Per system, the highest of the fit halves' thresholds at ``far`` (None: too few pairs)."""
    out: list[float | None] = []
    for k in range(len(SYSTEMS)):
        ts = []
        for sys_scores in fit:
            with contextlib.suppress(InsufficientData):
                ts.append(far_threshold(sys_scores[k][1], far))
        out.append(max(ts) if ts else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--far", type=float, action="append", help="FAR level(s) (default 1e-3)")
    args = ap.parse_args()
    fars = args.far or [1e-3]
    t0 = time.perf_counter()
    engines = {p: Engine.load(Settings.from_env(pack=p)) for p in PACKS}
    fit_scores, test_scores = [], []
    fit_names, test_names = [], []
    for name in FIT_POPULATIONS:
        whole = named(name)
        for half, bucket, names in (
            (FIT_HALF, fit_scores, fit_names),
            (HELD_OUT_HALF, test_scores, test_names),
        ):
            pop = whole.split(half)
            sc, lost = scores_of(engines, pop)
            bucket.append(sc)
            names.append((pop.name + (" fit" if half == FIT_HALF else " held out"), lost))
    for name in UNSEEN:
        sc, lost = scores_of(engines, named(name))
        test_scores.append(sc)
        test_names.append((name + " unseen", lost))
    z = {p: standardiser(fit_scores, p) for p in PACKS}
    for p, (mu, sd) in z.items():
        print(f"{p}: impostor mean {mu:.4f}, std {sd:.4f} (fit halves, equal weight)")
    fit_sys = [systems(s, z) for s in fit_scores]
    test_sys = [systems(s, z) for s in test_scores]
    for far in fars:
        th = strictest(fit_sys, far)
        print(f"\nFAR target {far:g}: thresholds fitted on the fit halves (strictest of the two)")
        print("thresholds: " + ", ".join(f"{n} {t:.4f}" for n, t in zip(SYSTEMS, th, strict=True)))
        head = "| population (images without a face in a pack) | genuine / impostor pairs | "
        head += " | ".join(f"{n}: FAR (false accepts) / TAR" for n in SYSTEMS) + " |"
        print(head)
        print("|" + "---|" * (2 + len(SYSTEMS)))
        for (label, lost), sc in zip(fit_names + test_names, fit_sys + test_sys, strict=True):
            gen, imp = sc[0]
            cells = [f"{label} ({lost})", f"{gen.size:,} / {imp.size:,}"]
            for (g, i), t in zip(sc, th, strict=True):
                if t is None:
                    cells.append("n/a")
                    continue
                k = int((i >= t).sum())
                cells.append(f"{k / i.size * 100:.3f} % ({k:,}) / {(g >= t).mean() * 100:.2f} %")
            print("| " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
