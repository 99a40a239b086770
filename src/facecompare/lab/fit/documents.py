"""Cards of LFW's train or test half against LFW photos of the same half (up to three per
person): the card sets ``benchmarks/documents_eval.py`` measures TAR at the document thresholds
with. The served document-photo thresholds are fitted per population by
:mod:`.document_populations`."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...compare import Engine
from ...embed import similarity
from ..data import synth_cards
from ..measure.evaluate import DOCUMENT_SOURCES, cache_dir, embed_one, source_hash

SELFIES_PER_PERSON = 3  # LFW photos per person in the selfie pool (George W Bush has 530)


@dataclass
class CardSet:
    people: list[str]
    rotation: np.ndarray  # N
    layout: list[str]
    doc_found: np.ndarray  # N bools
    face_found: np.ndarray  # N bools
    emb: np.ndarray  # N × 2 × 512, plain and flip TTA (zeros where no portrait)
    seconds: np.ndarray  # N: document check + portrait, per card


@dataclass
class SelfieSet:
    paths: list[str]
    people: list[str]
    found: np.ndarray
    emb: np.ndarray


_CARD_SOURCES = (*DOCUMENT_SOURCES, "lab/data/synth_cards.py")


def card_set(engine: Engine, half: str, n: int, lfw: Path, docs: Path, log=print) -> CardSet:
    """Render and process ``n`` cards of a half (cached by code, model pack and settings)."""
    key = "|".join(
        [engine.pack.digest, source_hash(*_CARD_SOURCES), half, str(n), str(engine.settings)]
    )
    cache = cache_dir() / f"cards-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return CardSet(
            list(z["people"]), z["rotation"], list(z["layout"]), z["doc_found"],
            z["face_found"], z["emb"], z["seconds"],
        )  # fmt: skip
    plan = synth_cards.card_plan(lfw, half, n)
    people, rot, layout = [], np.zeros(len(plan), int), []
    doc_found, face_found = np.zeros(len(plan), bool), np.zeros(len(plan), bool)
    emb, secs = (
        np.zeros((len(plan), 2, engine.pipeline.embedder.dim), np.float32),
        np.zeros(len(plan)),
    )
    start = time.time()
    for i, (person, source, seed) in enumerate(plan):
        card = synth_cards.render(lfw, docs, person, source, seed)
        people.append(person)
        rot[i] = card.rotation
        layout.append(card.layout)
        t = time.perf_counter()
        doc = engine.documents.find(card.image)
        face = engine.documents.portrait(card.image, doc) if doc is not None else None
        secs[i] = time.perf_counter() - t
        doc_found[i] = doc is not None
        if face is not None:
            face_found[i] = True
            emb[i] = engine.pipeline.embed([face.crop])[0]
        if (i + 1) % 50 == 0:
            log(f"  {half}: {i + 1}/{len(plan)} cards, {time.time() - start:.0f} s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache, people=np.array(people), rotation=rot, layout=np.array(layout),
        doc_found=doc_found, face_found=face_found, emb=emb, seconds=secs,
    )  # fmt: skip
    return CardSet(people, rot, layout, doc_found, face_found, emb, secs)


def selfie_paths(lfw: Path, half: str) -> list[str]:
    images = lfw / "images"
    out: list[str] = []
    for d in sorted(p for p in images.iterdir() if p.is_dir()):
        if synth_cards.half_of(d.name) == half:
            out.extend(sorted(f"{d.name}/{f.name}" for f in d.glob("*.jpg"))[:SELFIES_PER_PERSON])
    return out


def selfie_set(engine: Engine, half: str, lfw: Path, log=print) -> SelfieSet:
    """LFW photos of a half through the photo path (face nearest the centre, as in the
    photo-photo calibration), cached."""
    import cv2

    paths = selfie_paths(lfw, half)
    key = "|".join([engine.pack.digest, source_hash(*_CARD_SOURCES), half, *paths])
    cache = cache_dir() / f"selfies-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"
    people = [p.split("/", 1)[0] for p in paths]
    if cache.exists():
        z = np.load(cache)
        return SelfieSet(paths, people, z["found"], z["emb"])
    found = np.zeros(len(paths), bool)
    emb = np.zeros((len(paths), 2, engine.pipeline.embedder.dim), np.float32)
    start = time.time()
    for i, p in enumerate(paths):
        e, _, _, _ = embed_one(engine, cv2.imread(str(lfw / "images" / p)), 0, "central")
        if e is not None:
            found[i], emb[i] = True, e
        if (i + 1) % 1000 == 0:
            log(f"  {half}: {i + 1}/{len(paths)} selfies, {time.time() - start:.0f} s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, found=found, emb=emb)
    return SelfieSet(paths, people, found, emb)


def pair_scores(
    cards: CardSet, selfies: SelfieSet, band: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Genuine and impostor cosines, card × selfie; cards without a portrait score −1 (a
    reject) in their genuine pairs and are left out of the impostor pairs. Also the number of
    genuine pairs lost that way."""
    cp = np.array(cards.people)
    sp = np.array(selfies.people)
    s_ok = selfies.found
    sim = similarity(cards.emb, selfies.emb[s_ok], band)
    same = cp[:, None] == sp[s_ok][None, :]
    sim[~cards.face_found] = -1.0
    genuine = sim[same]
    impostor = sim[cards.face_found][~same[cards.face_found]]
    lost = int(same[~cards.face_found].sum())
    return genuine, impostor, lost
