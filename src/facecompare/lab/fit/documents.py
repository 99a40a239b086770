"""Document–photo calibration from synthetic card photos (people-disjoint halves of LFW).

``python -m facecompare.lab.fit.documents`` renders ``--cards`` card photos of the *train*
half (see :mod:`facecompare.lab.data.synth_cards`), runs the server's document path on each
(document detection, portrait, alignment, embedding) and scores every card against LFW photos of the
same half: genuine pairs with the card person's other photos, impostor pairs with everyone else's.
The ``document-photo`` scenario of the calibration file is replaced (read-modify-write of that
scenario only). FAR levels the impostor count cannot support are refused, never invented.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...calibration import DOCUMENT_PHOTO
from ...compare import Engine
from ...config import Settings
from ...embed import similarity
from ...models.pack import DEFAULT_PACK
from ..data import synth_cards
from ..data.datasets import shared_dir
from ..measure.evaluate import DOCUMENT_SOURCES, cache_dir, embed_one, source_hash
from .lfw import write
from .scale import InsufficientData, scenario_entry
from .target import in_force, output_path, seeded

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


def scenario(engine: Engine, n_cards: int, lfw: Path, docs: Path, log=print) -> dict:
    cards = card_set(engine, "train", n_cards, lfw, docs, log)
    selfies = selfie_set(engine, "train", lfw, log)
    genuine, impostor, lost = pair_scores(cards, selfies, engine.scorer.band)
    genuine = genuine[genuine > -1.0]  # thresholds from the pairs the server would score
    entry = scenario_entry(
        genuine,
        impostor,
        {
            "dataset": "synthetic ID-card photos (facecompare.lab.data.synth_cards), train half of "
            "LFW people; selfies: up to 3 LFW photos per person of the same half",
            "cards": int(len(cards.people)),
            "cards_without_document": int((~cards.doc_found).sum()),
            "cards_without_portrait": int((~cards.face_found).sum()),
            "genuine_pairs_lost": lost,
            "selfies": int(selfies.found.sum()),
            "face_choice": "card: the server's document path; selfie: face nearest the centre",
        },
    )
    return entry


def write_scenario(path: Path, entry: dict, command: str) -> None:
    """Replace only the document-photo scenario of an existing calibration file."""
    data = json.loads(path.read_text())
    entry["data"]["command"] = command
    entry["data"]["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data["scenarios"][DOCUMENT_PHOTO] = entry
    write(data, path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cards", type=int, default=400, help="train-half card photos to render")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="calibration file to update (default: $FACECOMPARE_HOME/calibration/<pack>.json, "
        "made from the file in force; the shipped file only when its path is given here)",
    )
    ap.add_argument("--pack", default=None, help="model pack [env FACECOMPARE_PACK]")
    args = ap.parse_args(argv)
    shared = shared_dir() / "datasets"
    engine = Engine.load(Settings.from_env(pack=args.pack), with_calibration=False)
    target = output_path(args.out, engine.pack.name)
    try:
        entry = scenario(engine, args.cards, shared / "lfw", shared / "id-documents")
    except InsufficientData as exc:
        raise SystemExit(f"refused: {exc}") from None
    pack = "" if engine.pack.name == DEFAULT_PACK else f" --pack {engine.pack.name}"
    write_scenario(
        seeded(target, in_force(engine.settings, engine.pack.name)),
        entry,
        f"python -m facecompare.lab.fit.documents --cards {args.cards}{pack}",
    )
    print(json.dumps(entry, indent=1))
    print(f"wrote the {DOCUMENT_PHOTO} scenario of {target}")
    print(f"serve it with FACECOMPARE_CALIBRATION={target}")


if __name__ == "__main__":
    main()
