"""Fit the photo-photo calibration so that each threshold holds inside each population.

Thresholds are fitted on people-disjoint *fit* halves of several populations (mixed public
faces and a single-nationality population) and each FAR level takes the **strictest** of the
populations' thresholds: the promise must hold for a client who serves one population, not only
on the pooled mix. The other halves are never seen by the fit; ``facecompare eval-populations``
reports on them and on populations not used at all.

The same code fits an operator's own faces (``facecompare calibrate --population DIR``): their
people are split in halves, thresholds fitted on one are validated on the other, and the file
is fitted on all of them. A FAR level that the data cannot support (fewer than
``measure.verification.MIN_FALSE_ACCEPTS`` false accepts) or that the other half does not
validate is not written: the threshold in force is kept for it, and only while the levels stay
in order (``review.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...calibration import PHOTO_PHOTO, THRESHOLD_FARS
from ...compare import Engine
from ...embed import flip_band
from ...scoring import Scorer
from ..data.populations import Population
from ..measure.embeddings import embed_population
from ..measure.evaluate import EmbeddingSet
from ..measure.pairs import population_scores
from ..measure.population_report import measure, wilson
from .scale import SCALE_ANCHORS, InsufficientData, far_threshold, fit_mapping

FORMAT = 2
# the flip-TTA band reaches this many times the largest flip shift of a score beyond the
# lowest and highest threshold, so every decision at a threshold is the full-TTA decision
FLIP_MARGIN = 2.0


@dataclass
class FitSet:
    pop: Population
    es: EmbeddingSet


def fit_sets(
    engine: Engine, pops: Sequence[Population], log: Callable[[str], None] = print
) -> list[FitSet]:
    out = []
    for pop in pops:
        log(f"embedding {pop.name}: {len(pop):,} images")
        out.append(FitSet(pop, embed_population(engine, pop)))
    return out


def _scores(fs: FitSet, scorer: Scorer) -> tuple[np.ndarray, np.ndarray]:
    return population_scores(fs.es, fs.pop, scorer)


def strictest(
    scored: dict[str, tuple[np.ndarray, np.ndarray]],
) -> tuple[dict[str, float], dict[str, Any]]:
    """Per FAR level, the highest of the populations' thresholds; levels no population can
    support are left out. Also the per-population detail."""
    fitted: dict[str, dict[str, float | str]] = {}
    for name, far in THRESHOLD_FARS.items():
        fitted[name] = {}
        for pop, (_, impostor) in scored.items():
            try:
                fitted[name][pop] = far_threshold(impostor, far)
            except InsufficientData as exc:
                fitted[name][pop] = str(exc)
    chosen: dict[str, float] = {}
    detail: dict[str, Any] = {}
    names = list(THRESHOLD_FARS)
    for k, name in enumerate(names):
        per: dict[str, Any] = {}
        for pop in scored:
            value = fitted[name][pop]
            if isinstance(value, float):
                per[pop] = value
                continue
            # Too few impostors for this level: the population's threshold one level up plus
            # the step between the two levels measured on a population that supports both
            # (a stated assumption, shown in the file; never lower than the level above).
            prev = names[k - 1] if k else None
            steps = [
                fitted[name][q] - fitted[prev][q]  # type: ignore[operator]
                for q in scored
                if prev
                and isinstance(fitted[name][q], float)
                and isinstance(fitted[prev][q], float)
            ]
            if (
                prev
                and isinstance(per_prev := detail[prev]["thresholds"].get(pop), float)
                and steps
            ):
                per[pop] = per_prev + max(steps)
                per[f"{pop} (note)"] = f"{value} -> {prev} threshold + step {max(steps):.4f}"
            else:
                per[f"{pop} (note)"] = value
        numbers = [v for v in per.values() if isinstance(v, float)]
        if numbers:
            floor = chosen.get(names[k - 1], -math.inf) if k else -math.inf
            chosen[name] = max(max(numbers), floor)  # a stricter level is never lower
        detail[name] = {"thresholds": per}
    return chosen, detail


def flip_shift(fsets: list[FitSet], scorer: Scorer, sample: int = 400, seed: int = 0) -> float:
    """The largest change of a score between the plain and the flip-TTA view, over pairs of a
    sample of each fit set's faces (genuine and impostor alike)."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    plain_only = Scorer(scorer.cohort, None)
    tta_only = Scorer(scorer.cohort, flip_band("always", 0, 0))
    for fs in fsets:
        idx = np.where(fs.es.found)[0]
        idx = rng.choice(idx, min(sample, idx.size), replace=False)
        faces = fs.es.emb[idx]
        delta = np.abs(tta_only.matrix(faces, faces) - plain_only.matrix(faces, faces))
        worst = max(worst, float(delta.max()))
    return worst


def flip_margin(fsets: list[FitSet], scorer: Scorer) -> float:
    """How far the flip-TTA band reaches beyond the lowest and highest threshold."""
    return FLIP_MARGIN * flip_shift(fsets, scorer)


def fit_scorer(fsets: list[FitSet], scorer: Scorer) -> tuple[Scorer, dict[str, float], dict]:
    """Thresholds (strictest over the fit sets) under ``scorer`` with flip TTA in a band around
    them: first fitted on full TTA, then the band is set and the thresholds re-fitted."""
    full = Scorer(scorer.cohort, flip_band("always", 0, 0))
    first, detail = strictest({fs.pop.name: _scores(fs, full) for fs in fsets})
    margin = flip_margin(fsets, scorer)
    if not first:  # no level has enough impostor pairs
        return scorer, {}, {"detail": detail, "scored": {}, "flip_margin": margin}
    band = (min(first.values()) - margin, max(first.values()) + margin)
    banded = Scorer(scorer.cohort, band)
    scored = {fs.pop.name: _scores(fs, banded) for fs in fsets}
    chosen, detail = strictest(scored)
    return banded, chosen, {"detail": detail, "scored": scored, "flip_margin": margin}


def scenario_rows(
    chosen: dict[str, float], scored: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, t in chosen.items():
        rows[name] = {
            "far": THRESHOLD_FARS[name],
            "score": round(t, 6),
            "per_population": {
                pop: {
                    "false_accepts": int((imp >= t).sum()),
                    "impostor_pairs": int(imp.size),
                    "realised_far": float((imp >= t).mean()),
                    "tar": round(float((gen >= t).mean()), 6) if gen.size else None,
                }
                for pop, (gen, imp) in scored.items()
            },
        }
    return rows


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calibration_data(
    engine: Engine,
    scorer: Scorer,
    chosen: dict[str, float],
    scored: dict[str, tuple[np.ndarray, np.ndarray]],
    fsets: list[FitSet],
    cohort_file: Path | None,
    command: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    mapping = fit_mapping(chosen)
    scoring: dict[str, Any] = {"kind": "cosine" if scorer.cohort is None else "as-norm"}
    if scorer.cohort is not None and cohort_file is not None:
        scoring["cohort"] = {
            "file": cohort_file.name,
            "sha256": file_sha256(cohort_file),
            "faces": int(len(scorer.cohort.emb)),
            "top_k": scorer.cohort.top_k,
            "provenance": scorer.cohort.provenance,
        }
    if scorer.band is not None:
        scoring["flip_band"] = [round(float(b), 6) for b in scorer.band]
    return {
        "format": FORMAT,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "model_pack": {"name": engine.pack.name, "digest": engine.pack.digest},
        "scoring": scoring,
        "mapping": {
            "kind": "logistic",
            "center": round(mapping.center, 6),
            "scale": round(mapping.scale, 6),
            "formula": "confidence = 100 / (1 + exp(-(score - center) / scale))",
            "anchors": SCALE_ANCHORS,
        },
        "scenarios": {
            PHOTO_PHOTO: {
                "thresholds": scenario_rows(chosen, scored),
                "data": {
                    "rule": "each FAR level: the strictest threshold over the fit populations",
                    "fit_populations": [
                        {
                            "name": fs.pop.name,
                            "description": fs.pop.description,
                            "people": len(set(fs.pop.people)),
                            "images": len(fs.pop),
                            "images_without_face": int((~fs.es.found).sum()),
                        }
                        for fs in fsets
                    ],
                    "genuine_pairs": int(sum(g.size for g, _ in scored.values())),
                    "impostor_pairs": int(sum(i.size for _, i in scored.values())),
                    **(extra or {}),
                },
            }
        },
    }


def merge_into(data: dict[str, Any], out: Path) -> None:
    """Write ``data``, keeping what other commands made for this pack in ``out``: the blur
    section and the other scenarios (document-photo), which the caller must re-fit when the
    scoring changed (the file records the scoring it was fitted under)."""
    if out.exists():
        old = json.loads(out.read_text())
        if old.get("model_pack") == data["model_pack"]:
            for key, value in old.items():
                if key not in data:
                    data[key] = value
            data["scenarios"] = {**old.get("scenarios", {}), **data["scenarios"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")


def validate(scorer: Scorer, chosen: dict[str, float], tests: list[FitSet]) -> list[dict[str, Any]]:
    """Realised FAR (Wilson interval) and TAR of ``chosen`` on other people."""
    rows = []
    for fs in tests:
        gen, imp = _scores(fs, scorer)
        rows.append(measure(fs.pop, gen, imp, chosen, int((~fs.es.found).sum())).as_dict())
    return rows


__all__ = [
    "FitSet",
    "calibration_data",
    "fit_scorer",
    "fit_sets",
    "flip_margin",
    "merge_into",
    "strictest",
    "validate",
    "wilson",
]
