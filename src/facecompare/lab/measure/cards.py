"""A population's faces on ID documents, scored against the population's photos.

Each chosen photo of a population becomes the portrait of a synthetic document
(:func:`facecompare.lab.data.synth_cards.population_card`: a layout, print effects, a phone
photo of the card at one of four turns); the card photo goes through the server's document
path (``DocumentReader.find`` and ``.portrait``) and its portrait is embedded as the server
embeds it. Every card is then scored against every other photo of the population (the
"selfies", embedded as the server embeds a photo: :func:`.embeddings.embed_population`): the
same person on another photo is a genuine pair, a different person under the population's
impostor rule an impostor pair. A card whose document or portrait is not found is a reject in
its genuine pairs and takes no part in the impostor pairs (the server answers with an error).

Card photos are rendered on the fly from a seed and never written; their embeddings are
cached on disk (keyed by the code, the model pack, the settings and the plan).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...compare import Engine
from ...scoring import Scorer
from ..data import synth_cards
from ..data.populations import Population
from .evaluate import DOCUMENT_SOURCES, EmbeddingSet, cache_dir, source_hash

CARD_SOURCES = (*DOCUMENT_SOURCES, "lab/data/synth_cards.py", "lab/measure/cards.py")


@dataclass(frozen=True)
class CardPlan:
    """Which photos of a population become cards, on which layout, from which seed."""

    index: np.ndarray  # N: image index (in the population) of each card's portrait
    layout: list[str]  # N: a name of synth_cards.LAYOUTS
    seed: np.ndarray  # N

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(self.index.astype(np.int64).tobytes())
        h.update("|".join(self.layout).encode())
        h.update(self.seed.astype(np.int64).tobytes())
        return h.hexdigest()[:16]


def plan_cards(
    pop: Population,
    es: EmbeddingSet,
    *,
    cards: int | None = None,
    per_image: int = 1,
    layouts: Sequence[str] = synth_cards.LAYOUTS,
    held_out: str | None = None,
    held_out_share: float = 0.5,
    seed: int = 0,
) -> CardPlan:
    """Cards of ``pop``: ``per_image`` cards of every photo with a face, or of ``cards`` of them
    (drawn among people with at least two such photos, so each card has a genuine pair).
    Layouts are drawn uniformly from ``layouts``; ``held_out`` (a design no fit has seen)
    takes ``held_out_share`` of the cards when given. Deterministic in ``seed``."""
    rng = np.random.default_rng([seed, *pop.name.encode()])
    with_face = np.where(es.found)[0]
    if cards is not None and cards < len(with_face):
        people = np.array(pop.people)[with_face]
        names, counts = np.unique(people, return_counts=True)
        paired = with_face[np.isin(people, names[counts >= 2])]
        pool = paired if len(paired) >= cards else with_face
        chosen = np.sort(rng.choice(pool, cards, replace=False))
    else:
        chosen = with_face
    index = np.repeat(chosen, per_image)
    others = [name for name in layouts if name != held_out]
    layout = []
    for _ in range(len(index)):
        if held_out is not None and rng.random() < held_out_share:
            layout.append(held_out)
        else:
            layout.append(str(others[int(rng.integers(len(others)))]))
    seeds = rng.integers(0, 2**31 - 1, len(index))
    return CardPlan(index, layout, seeds)


@dataclass
class CardSet:
    """The server's view of each planned card: document found, portrait found, embedding."""

    plan: CardPlan
    rotation: np.ndarray  # N: right-angle turn of the card in its photo
    doc_found: np.ndarray  # N bools
    face_found: np.ndarray  # N bools
    emb: np.ndarray  # N × 2 × D: plain and flip-TTA unit embeddings (zeros where no portrait)
    seconds: np.ndarray  # N: document check and portrait, per card (wall, this thread)

    def subset(self, keep: np.ndarray) -> CardSet:
        p = self.plan
        plan = CardPlan(p.index[keep], [p.layout[i] for i in np.where(keep)[0]], p.seed[keep])
        return CardSet(
            plan, self.rotation[keep], self.doc_found[keep], self.face_found[keep],
            self.emb[keep], self.seconds[keep],
        )  # fmt: skip

    def of_layout(self, names: Sequence[str]) -> CardSet:
        return self.subset(np.isin(np.array(self.plan.layout), list(names)))


def card_set(
    engine: Engine,
    pop: Population,
    es: EmbeddingSet,
    plan: CardPlan,
    docs_root: Path,
    threads: int = 2,
    log: Callable[[str], None] = print,
) -> CardSet:
    """Render each planned card from its photo (as a client would send the photo, with the face
    box the pipeline found in it) and run the server's document path on it (cached)."""
    backend = engine.pipeline.backend
    key = "|".join(
        [
            engine.pack.digest,
            source_hash(*CARD_SOURCES),
            pop.tag(),
            str(pop.root),
            hashlib.sha256("\n".join(pop.paths).encode()).hexdigest()[:16],
            plan.key(),
            str(engine.settings),
            "" if backend.backend == "onnxruntime" else repr(backend),
        ]
    )
    cache = cache_dir() / f"cards-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"
    if cache.exists():
        z = np.load(cache)
        return CardSet(plan, z["rotation"], z["doc_found"], z["face_found"], z["emb"], z["seconds"])
    send = pop.transform()

    def work(k: int) -> tuple[int, bool, np.ndarray | None, float]:
        card = render_card(pop, es, plan, k, docs_root, send)
        t = time.perf_counter()
        doc = engine.documents.find(card.image)
        face = engine.documents.portrait(card.image, doc) if doc is not None else None
        emb = engine.pipeline.embed([face.crop])[0] if face is not None else None
        return card.rotation, doc is not None, emb, time.perf_counter() - t

    out = _run(engine, plan, work, threads, log, pop.name)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache, rotation=out.rotation, doc_found=out.doc_found, face_found=out.face_found,
        emb=out.emb, seconds=out.seconds,
    )  # fmt: skip
    return out


def render_card(
    pop: Population,
    es: EmbeddingSet,
    plan: CardPlan,
    k: int,
    docs_root: Path,
    send: Callable[[np.ndarray], np.ndarray] | None = None,
) -> synth_cards.CardSample:
    """Card ``k`` of ``plan``: its photo as a client would send it (``send``:
    ``pop.transform()``), its face (the box the pipeline found) printed on the planned layout
    and photographed."""
    i = int(plan.index[k])
    img = cv2.imread(str(pop.root / pop.paths[i]), cv2.IMREAD_COLOR)
    if send is not None:
        img = send(img)
    return synth_cards.population_card(
        img, es.boxes[i], docs_root, plan.layout[k], int(plan.seed[k]), pop.people[i],
        pop.paths[i],
    )  # fmt: skip


def photographed_set(
    engine: Engine,
    paths: Sequence[Path],
    index: np.ndarray,
    threads: int = 2,
    log: Callable[[str], None] = print,
) -> CardSet:
    """Real document photos (an operator's), through the server's document path; ``index``:
    the row of each in the population it is scored in. Not cached (an operator's data)."""
    plan = CardPlan(np.asarray(index), ["photographed"] * len(paths), np.zeros(len(paths), int))

    def work(k: int) -> tuple[int, bool, np.ndarray | None, float]:
        img = cv2.imread(str(paths[k]), cv2.IMREAD_COLOR)
        if img is None:
            return 0, False, None, 0.0
        t = time.perf_counter()
        doc = engine.documents.find(img)
        face = engine.documents.portrait(img, doc) if doc is not None else None
        emb = engine.pipeline.embed([face.crop])[0] if face is not None else None
        return 0, doc is not None, emb, time.perf_counter() - t

    return _run(engine, plan, work, threads, log, "documents")


def _run(
    engine: Engine,
    plan: CardPlan,
    work: Callable[[int], tuple[int, bool, np.ndarray | None, float]],
    threads: int,
    log: Callable[[str], None],
    name: str,
) -> CardSet:
    n = len(plan.index)
    rotation = np.zeros(n, np.int32)
    doc_found, face_found = np.zeros(n, bool), np.zeros(n, bool)
    emb = np.zeros((n, 2, engine.pipeline.embedder.dim), np.float32)
    seconds = np.zeros(n)
    start = time.time()
    with ThreadPoolExecutor(threads) as pool:
        for k, (rot, doc, e, s) in enumerate(pool.map(work, range(n))):
            rotation[k], doc_found[k], seconds[k] = rot, doc, s
            if e is not None:
                face_found[k], emb[k] = True, e
            if (k + 1) % 200 == 0:
                log(f"  {name}: {k + 1}/{n} cards, {time.time() - start:.0f} s")
    return CardSet(plan, rotation, doc_found, face_found, emb, seconds)


RIGHT_PORTRAIT = 0.5  # cosine of a card's portrait to its source photo: the right face, upright


def right_portrait(cards: CardSet, es: EmbeddingSet) -> np.ndarray:
    """Cards whose portrait is the face printed on them, upright: cosine (plain embeddings) to
    the photo it was printed from at least ``RIGHT_PORTRAIT`` (a wrong or wrongly turned face
    falls far below)."""
    cos = np.einsum("nd,nd->n", cards.emb[:, 0], es.emb[cards.plan.index, 0])
    return cards.face_found & (cos >= RIGHT_PORTRAIT)


@dataclass(frozen=True)
class DocumentScores:
    genuine: np.ndarray  # scores of card × photo of the same person (another photo)
    impostor: np.ndarray  # scores of card × photo of people the impostor rule separates
    lost: int  # genuine pairs whose card gave no portrait (counted in ``genuine`` as -1)
    same_stage: np.ndarray | None  # genuine pairs of one life stage (populations that have one)


def document_scores(
    cards: CardSet, es: EmbeddingSet, pop: Population, scorer: Scorer, block: int = 512
) -> DocumentScores:
    """Every card against every other photo of the population with a face, under ``scorer``."""
    cols = np.where(es.found)[0]
    photos = es.emb[cols]
    stats_b = scorer.stats(photos)
    stage = pop.meta.get("stage")
    stage_arr = np.array(stage) if isinstance(stage, list) else None
    genuine, impostor, same_stage = [], [], []
    lost = 0
    n = len(cards.plan.index)
    for s in range(0, n, block):
        ks = np.arange(s, min(n, s + block))
        rows = cards.plan.index[ks]
        ok = cards.face_found[ks]
        same, imp = pop.pair_masks(rows, cols)
        same &= rows[:, None] != cols[None, :]  # not the card's own photo
        sim = np.full(same.shape, -1.0, np.float32)
        if ok.any():
            sim[ok] = scorer.matrix(cards.emb[ks[ok]], photos, None, stats_b)
        lost += int(same[~ok].sum())
        genuine.append(sim[same])
        impostor.append(sim[ok][imp[ok]])
        if stage_arr is not None:
            one = same & (stage_arr[rows][:, None] == stage_arr[cols][None, :])
            same_stage.append(sim[one])
    return DocumentScores(
        np.concatenate(genuine),
        np.concatenate(impostor),
        lost,
        np.concatenate(same_stage) if stage_arr is not None else None,
    )
