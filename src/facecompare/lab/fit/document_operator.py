"""The document–photo scenario fitted on an operator's own people (``facecompare calibrate
--population DIR``).

Documents come either from the operator's own photographed documents (``--documents DIR``: a
person per sub-folder, named as in the population folder) or, without them, are made from the
population's photos on every synthetic layout (:mod:`..measure.cards`). As for photo–photo
(:mod:`.populations`): thresholds fitted on a people-disjoint half are validated on the other
half, then the scenario is fitted on all the people; a FAR level the data cannot support is
left out (the caller decides what fills it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...compare import Engine
from ...scoring import Scorer
from ..data import synth_cards
from ..data.populations import IMAGE_SUFFIXES, Population
from ..measure.cards import CardPlan, CardSet, document_scores, photographed_set
from ..measure.embeddings import embed_population, part
from ..measure.evaluate import EmbeddingSet
from ..measure.population_report import measure
from .document_populations import DocSet, doc_set, fit


@dataclass
class OperatorFit:
    thresholds: dict[str, float]  # fitted on all the people (levels the data supports)
    detail: dict[str, Any]  # per level: threshold or why it was refused
    scored: dict[str, tuple[np.ndarray, np.ndarray]]
    half_thresholds: dict[str, float]  # fitted on half A of the people
    half_notes: dict[str, str]  # why a level could not be fitted on half A
    validation: list[dict[str, Any]]  # the half-A thresholds measured on half B
    documents: str  # where the documents came from
    cards: int
    without_portrait: int


def with_documents(
    engine: Engine,
    pop: Population,
    documents: Path,
    scorer: Scorer,
    log: Callable[[str], None] = print,
) -> DocSet:
    """The population's photos and the operator's document photos of the same people, in one
    population whose document rows are never scored as photos."""
    files = sorted(
        p for p in documents.glob("*/*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    known = set(pop.people)
    files = [p for p in files if p.parent.name in known]
    if not files:
        raise SystemExit(f"refused: no document photo in {documents}/<person>/ of a known person")
    es = embed_population(engine, pop)
    whole = Population(
        pop.name, Path("/"),
        [str((pop.root / p).resolve()) for p in pop.paths] + [str(p.resolve()) for p in files],
        pop.people + [p.parent.name for p in files],
        pop.upscale, pop.grey, None, 0, pop.description,
    )  # fmt: skip
    n, m = len(pop), len(files)
    dim = es.emb.shape[1:]
    es_all = EmbeddingSet(
        whole.paths,
        np.concatenate([es.emb, np.zeros((m, *dim), np.float32)]),
        np.concatenate([es.found, np.zeros(m, bool)]),  # documents are rows, never photos
        np.concatenate([es.boxes, np.zeros((m, 4), np.float32)]),
        np.concatenate([es.n_faces, np.zeros(m, np.int32)]),
        np.concatenate([es.sharpness, np.zeros(m, np.float32)]),
        scorer,
    )
    log(f"{pop.name}: {m} document photos")
    cards = photographed_set(engine, files, np.arange(n, n + m), log=log)
    ds = DocSet(whole, es_all, cards)
    ds.scores = document_scores(cards, es_all, whole, scorer)
    return ds


def restrict(ds: DocSet, half: Population) -> DocSet:
    """The cards and photos of the people of ``half`` (a split of ``ds.pop``)."""
    keep = set(half.paths)
    rows = [i for i, p in enumerate(ds.pop.paths) if p in keep]
    where = {i: k for k, i in enumerate(rows)}
    mask = np.isin(ds.cards.plan.index, rows)
    sub = ds.cards.subset(mask)
    plan = CardPlan(
        np.array([where[int(i)] for i in sub.plan.index], int), sub.plan.layout, sub.plan.seed
    )
    cards = CardSet(plan, sub.rotation, sub.doc_found, sub.face_found, sub.emb, sub.seconds)
    es = part(ds.es, [ds.pop.paths[i] for i in rows])
    es.scorer = ds.es.scorer
    pop = ds.pop.subset(rows, half.name)
    out = DocSet(pop, es, cards)
    out.scores = document_scores(cards, es, pop, es.scorer)
    return out


def operator_fit(
    engine: Engine,
    pop: Population,
    docs_root: Path,
    documents: Path | None = None,
    scorer: Scorer | None = None,
    log: Callable[[str], None] = print,
) -> OperatorFit:
    """Fit the document-photo thresholds on all of ``pop``'s people, and on half A of them
    measured on half B (the validation); ``scorer``: how pairs are scored (the engine's)."""
    scorer = scorer or engine.scorer
    if documents is not None:
        ds = with_documents(engine, pop, documents, scorer, log)
        source = f"photographed documents in {documents}"
    else:
        ds = doc_set(
            engine, pop, docs_root, layouts=synth_cards.LAYOUTS, held_out=None, seed=0,
            scorer=scorer, log=log,
        )  # fmt: skip
        source = "synthetic documents made from the population's photos, " + ", ".join(
            synth_cards.LAYOUTS
        )
    halves = [restrict(ds, ds.pop.split(h)) for h in (0, 1)]
    chosen_a, detail_a, _ = fit([halves[0]])
    notes = {
        level: str(note)
        for level, per in detail_a.items()
        for key, note in per["thresholds"].items()
        if key.endswith("(note)")
    }
    validation = []
    if chosen_a:
        b = halves[1]
        validation.append(
            measure(b.pop, b.scores.genuine, b.scores.impostor, chosen_a).as_dict()  # type: ignore[union-attr]
        )
    chosen, detail, scored = fit([ds])
    return OperatorFit(
        chosen, detail, scored, chosen_a, notes, validation, source,
        int(len(ds.cards.plan.index)), int((~ds.cards.face_found).sum()),
    )  # fmt: skip
