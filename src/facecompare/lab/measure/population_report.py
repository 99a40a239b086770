"""``facecompare eval-populations``: the served thresholds, population by population.

For each population: every genuine and impostor pair under the server's scorer, and at each
served threshold the realised FAR (false accepts, 95 % Wilson interval) and TAR. Populations
the calibration was fitted on are reported on their held-out half only."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...calibration import PHOTO_PHOTO, THRESHOLD_FARS
from ...compare import Engine
from ..data.populations import Population
from .embeddings import embed_population
from .pairs import population_scores


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Row:
    population: str
    people: int
    images: int
    no_face: int
    genuine: int
    impostor: int
    far: dict[str, tuple[float, int, tuple[float, float]]]  # name → (FAR, false accepts, CI)
    tar: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "people": self.people,
            "images": self.images,
            "no_face": self.no_face,
            "genuine_pairs": self.genuine,
            "impostor_pairs": self.impostor,
            "thresholds": {
                name: {
                    "target_far": THRESHOLD_FARS[name],
                    "realised_far": f,
                    "false_accepts": k,
                    "far_ci95": list(ci),
                    "tar": self.tar[name],
                }
                for name, (f, k, ci) in self.far.items()
            },
        }


def measure(
    pop: Population,
    genuine: np.ndarray,
    impostor: np.ndarray,
    thresholds: dict[str, float],
    no_face: int = 0,
) -> Row:
    far, tar = {}, {}
    for name, t in thresholds.items():
        k = int((impostor >= t).sum())
        far[name] = (k / max(1, impostor.size), k, wilson(k, impostor.size))
        tar[name] = float((genuine >= t).mean()) if genuine.size else float("nan")
    return Row(
        pop.name, len(set(pop.people)), len(pop), no_face, genuine.size, impostor.size, far, tar
    )


def evaluate(
    engine: Engine,
    pop: Population,
    scenario: str = PHOTO_PHOTO,
    progress: Callable[[int], None] | None = None,
) -> Row:
    """The population through the server's pipeline and scorer, at the served thresholds."""
    es = embed_population(engine, pop, progress=progress)
    genuine, impostor = population_scores(es, pop, engine.scorer)
    thresholds = engine.calibrated.threshold_scores(scenario)
    return measure(pop, genuine, impostor, thresholds, int((~es.found).sum()))


def table(rows: list[Row]) -> str:
    names = list(THRESHOLD_FARS)
    head = (
        "| population | people | images (no face) | genuine / impostor pairs | "
        + " | ".join(f"FAR at {n} (false accepts) [95 % CI]" for n in names)
        + " | "
        + " | ".join(f"TAR at {n}" for n in names)
        + " |"
    )
    lines = [head, "|" + "---|" * (4 + 2 * len(names))]
    for r in rows:
        cells = [
            r.population,
            f"{r.people:,}",
            f"{r.images:,} ({r.no_face})",
            f"{r.genuine:,} / {r.impostor:,}",
        ]
        for n in names:  # "-": a level with no threshold (too few pairs to fit it)
            if n not in r.far:
                cells.append("-")
                continue
            f, k, (lo, hi) = r.far[n]
            cells.append(f"{f * 100:.3f} % ({k:,}) [{lo * 100:.3f}, {hi * 100:.3f}]")
        cells += [f"{r.tar[n] * 100:.2f} %" if n in r.tar else "-" for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
