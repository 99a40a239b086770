"""All genuine and impostor scores of a population, under a scorer (blocked, vectorised)."""

from __future__ import annotations

import numpy as np

from ...scoring import Scorer
from ..data.populations import Population
from .evaluate import EmbeddingSet


def population_scores(
    es: EmbeddingSet, pop: Population, scorer: Scorer, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every genuine and every impostor pair of distinct images with a face (the
    population's rules say which pairs are which; other pairs are not used)."""
    keep = np.where(es.found)[0]
    faces = es.emb[keep]
    stats = scorer.stats(faces)
    genuine, impostor = [], []
    n = len(keep)
    for s in range(0, n, block):
        rows = np.arange(s, min(n, s + block))
        sim = scorer.matrix(faces[rows], faces, None if stats is None else stats[rows], stats)
        upper = np.arange(n)[None, :] > rows[:, None]
        g, i = pop.pair_masks(keep[rows], keep)
        genuine.append(sim[upper & g])
        impostor.append(sim[upper & i])
    return np.concatenate(genuine), np.concatenate(impostor)
