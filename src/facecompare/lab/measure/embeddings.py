"""A population through the server's pipeline: embeddings cached on disk (evaluate.embed_images)."""

from __future__ import annotations

from collections.abc import Callable

from ...compare import Engine
from ..data.populations import Population
from .evaluate import EmbeddingSet, embed_images


def embed_population(
    engine: Engine,
    pop: Population,
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> EmbeddingSet:
    """Every image of the population, as a client would send it (scaled up if small), through
    detection, alignment and embedding; the server's face rule (largest face), no size rule.
    A part of a population (a split) is cut from the whole one's (cached) embeddings."""
    whole = pop.parent or pop
    es = embed_images(
        engine,
        whole.root,
        whole.paths,
        choice="largest",
        transform=whole.transform(),
        tag=whole.tag(),
        threads=threads,
        progress=progress,
    )
    return es if whole is pop else part(es, pop.paths)


def part(es: EmbeddingSet, paths: list[str]) -> EmbeddingSet:
    """The rows of ``paths`` (a subset of ``es.paths``)."""
    index = es.index()
    idx = [index[p] for p in paths]
    return EmbeddingSet(
        paths,
        es.emb[idx],
        es.found[idx],
        es.boxes[idx],
        es.n_faces[idx],
        es.sharpness[idx],
        es.scorer,
    )
