"""The document–photo calibration: faces of any population on every layout (the specimen
designs included), scored against the population's photos under its impostor rule, and the
served document thresholds against the photo ones."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import DOCS, LFW, need
from facecompare.calibration import DOCUMENT_PHOTO, PHOTO_PHOTO, THRESHOLD_FARS
from facecompare.lab.data import synth_cards
from facecompare.lab.data.populations import Population, folder_population
from facecompare.lab.measure.cards import CardPlan, CardSet, document_scores
from facecompare.lab.measure.evaluate import EmbeddingSet, embed_one
from facecompare.scoring import Scorer


@pytest.mark.parametrize("design", list(synth_cards.DESIGNS))
def test_each_design_carries_the_given_portrait(design):
    """The specimen's own portrait is replaced: the design's portrait box (and its ghost) hold
    the new face, the rest of the specimen is unchanged."""
    d = synth_cards.DESIGNS[design]
    original = cv2.imread(str(need(DOCS) / d.file), cv2.IMREAD_COLOR)
    portrait = np.full((400, 312, 3), (0, 0, 255), np.uint8)
    card = synth_cards.design_card(DOCS, design, portrait)
    x1, y1, x2, y2 = d.portrait
    assert (card[y1:y2, x1:x2] == (0, 0, 255)).all()
    outside = np.ones(card.shape[:2], bool)
    outside[y1:y2, x1:x2] = False
    if d.ghost is not None:
        gx1, gy1, gx2, gy2 = d.ghost
        assert not np.array_equal(card[gy1:gy2, gx1:gx2], original[gy1:gy2, gx1:gx2])
        outside[gy1:gy2, gx1:gx2] = False
    assert np.array_equal(card[outside], original[outside])


def test_population_cards_are_read_on_every_layout(engine):
    """A face of another population (a Korean adult, 128 px scaled up) printed on every layout
    and photographed: the server's document path finds a document and a portrait of that
    person on most of them (the reader's misses are part of what the calibration measures)."""
    root = need(DOCS.parent / "korean-family")
    adult = sorted(root.glob("F0001_AGE_*_e*.jpg"))[0]
    src = cv2.resize(cv2.imread(str(adult)), (512, 512), interpolation=cv2.INTER_CUBIC)
    emb, box, _, _ = embed_one(engine, src, 0, "largest")
    assert emb is not None
    matched = 0
    for k, layout in enumerate(synth_cards.LAYOUTS):
        card = synth_cards.population_card(src, box, DOCS, layout, seed=10 + k)
        assert card.layout == layout and card.image.shape[0] >= 960
        doc = engine.documents.find(card.image)
        face = engine.documents.portrait(card.image, doc) if doc is not None else None
        if face is not None:
            matched += float(engine.pipeline.embed([face.crop])[0][0] @ emb[0]) > 0.5
    assert matched >= len(synth_cards.LAYOUTS) - 1


def _toy(vectors: np.ndarray) -> EmbeddingSet:
    n = len(vectors)
    emb = np.stack([vectors, vectors], 1).astype(np.float32)
    return EmbeddingSet(
        [f"p{i}.jpg" for i in range(n)], emb, np.ones(n, bool), np.zeros((n, 4), np.float32),
        np.ones(n, np.int32), np.zeros(n, np.float32), Scorer(),
    )  # fmt: skip


def test_document_scores_follow_the_population_rules():
    """Genuine: the card's person on another photo (never the card's own photo); impostor: the
    population's rule (here families >= 6 apart); a card without portrait rejects its genuine
    pairs and takes no part in the impostor pairs."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=(6, 8))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    people = ["F1-M", "F1-M", "F2-F", "F9-D", "F9-D", "F30-S"]
    pop = Population(
        "toy", Path("."), [f"p{i}.jpg" for i in range(6)], people,
        group=np.array([1, 1, 2, 9, 9, 30]), group_gap=6,
    )  # fmt: skip
    es = _toy(v)
    emb = np.stack([v, v], 1).astype(np.float32)
    plan = CardPlan(np.array([0, 3, 5]), ["thai"] * 3, np.zeros(3, int))
    found = np.array([True, False, True])
    cards = CardSet(plan, np.zeros(3, int), found, found, emb[[0, 3, 5]], np.zeros(3))
    sc = document_scores(cards, es, pop, Scorer())
    # card 0 (F1-M): genuine with photo 1; impostors: photos 3, 4, 5 (family 2 is too close)
    # card 3 (F9-D): no portrait: its genuine pair with photo 4 is lost (-1), no impostors
    # card 5 (F30-S): no genuine; impostors: photos 0, 1, 2, 3, 4
    assert sc.lost == 1
    assert np.allclose(np.sort(sc.genuine), np.sort([float(v[0] @ v[1]), -1.0]), atol=1e-5)
    expect = [v[0] @ v[j] for j in (3, 4, 5)] + [v[5] @ v[j] for j in range(5)]
    assert np.allclose(np.sort(sc.impostor), np.sort(expect), atol=1e-5)


def test_served_document_thresholds_are_fitted_per_population(engine):
    """The served document thresholds come from the population rule (the strictest over the
    fit halves, a design held out), are increasing, and each rests on the fit's false accepts."""
    entry = engine.calibrated.data["scenarios"][DOCUMENT_PHOTO]
    data = entry["data"]
    assert {p["name"] for p in data["fit_populations"]} == {"lfw[A]", "korean-family[A]"}
    assert data["held_out"]["design"] not in data["documents"].split(";")[0]
    t = engine.calibrated.threshold_scores(DOCUMENT_PHOTO)
    assert list(t) == list(THRESHOLD_FARS)
    assert t["err_01"] < t["err_001"] < t["err_0001"]
    for name, row in entry["thresholds"].items():
        per = row["per_population"]
        assert max(p["realised_far"] for p in per.values()) <= THRESHOLD_FARS[name]
    # photo–photo is another scenario, left as it was fitted
    assert engine.calibrated.threshold_scores(PHOTO_PHOTO) != t


def test_operator_document_fit_refuses_what_few_people_cannot_support(engine, tmp_path):
    """Eight people, two photos each: documents made from their photos give far too few
    impostor pairs for FAR 1e-3: nothing is fitted, nothing validated."""
    from facecompare.lab.fit.document_operator import operator_fit

    people = sorted(
        d.name
        for d in (need(LFW) / "images").iterdir()
        if d.is_dir() and len(list(d.glob("*.jpg"))) == 2
    )[:8]
    for name in people:
        (tmp_path / name).mkdir()
        for f in sorted((LFW / "images" / name).glob("*.jpg")):
            img = cv2.resize(cv2.imread(str(f)), (500, 500), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(tmp_path / name / f.name), img)
    fitted = operator_fit(engine, folder_population(tmp_path), DOCS, log=lambda m: None)
    assert fitted.cards == 16
    assert fitted.thresholds == {} and fitted.half_thresholds == {}
    assert fitted.validation == [] and set(fitted.half_notes) == set(THRESHOLD_FARS)
    notes = [v for per in fitted.detail.values() for v in per["thresholds"].values()]
    assert all("impostor pairs" in str(n) for n in notes)


def test_operator_photographed_documents_are_read_and_paired_by_person(engine, tmp_path):
    """An operator's own document photos (a person per sub-folder, named as in the population):
    each is read by the server's document path and scored against the other people's photos
    and its person's; three people are far too few: nothing is fitted."""
    from facecompare.lab.fit.document_operator import operator_fit
    from facecompare.lab.measure.evaluate import embed_one

    root = need(DOCS.parent / "faces94")
    people = sorted(d.name for d in root.iterdir() if d.is_dir())[:3]
    photos, documents = tmp_path / "photos", tmp_path / "documents"
    for k, person in enumerate(people):
        (photos / person).mkdir(parents=True)
        (documents / person).mkdir(parents=True)
        files = sorted((root / person).glob("*.jpg"))[:4]
        for f in files:
            img = cv2.resize(cv2.imread(str(f)), (486, 540), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(photos / person / f.name), img)
        src = cv2.imread(str(photos / person / files[0].name))
        _, box, _, _ = embed_one(engine, src, 0, "largest")
        card = synth_cards.population_card(src, box, DOCS, "id_card_td1_a", seed=k)
        cv2.imwrite(str(documents / person / "card.jpg"), card.image)
    fitted = operator_fit(
        engine, folder_population(photos), DOCS, documents=documents, log=lambda m: None
    )
    assert fitted.cards == 3 and fitted.without_portrait <= 1
    assert fitted.documents == f"photographed documents in {documents}"
    genuine, impostor = fitted.scored["photos"]
    assert genuine.size == 3 * 4 and impostor.size == (3 - fitted.without_portrait) * 8
    assert fitted.thresholds == {} and fitted.validation == []
