"""The leave-one-design-out report of the document reader (lab/measure/documents_lodo.py), on a
handful of cards: every layout has its row, the specimens are all found, what is not a document
is not one, and the kept-pairs rule counts what it says."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import DOCS, need
from facecompare.calibration import DOCUMENT_PHOTO
from facecompare.lab.data import synth_cards
from facecompare.lab.data.populations import Population
from facecompare.lab.measure import documents_lodo as lodo
from facecompare.lab.measure.cards import CardPlan, CardSet
from facecompare.lab.measure.evaluate import EmbeddingSet
from facecompare.scoring import Scorer


def test_kept_pairs_counts_the_pairs_photos_match_and_the_card_keeps():
    """Card of photo 0 (person A, photos 0-2), of photo 3 (person B, no portrait read): the
    photo pairs at or above the threshold are the card's to keep; a card not read keeps none."""
    e = np.eye(4, dtype=np.float32)
    v = np.stack([e[0], 0.6 * e[0] + 0.8 * e[1], e[1], e[2], e[2], e[3]])  # 6 photos
    people = ["A", "A", "A", "B", "B", "C"]
    pop = Population("toy", Path("."), [f"p{i}.jpg" for i in range(6)], people)
    es = EmbeddingSet(
        pop.paths, np.stack([v, v], 1), np.ones(6, bool), np.zeros((6, 4), np.float32),
        np.ones(6, np.int32), np.zeros(6, np.float32), Scorer(),
    )  # fmt: skip
    card = np.stack([0.8 * e[0] + 0.6 * e[3], e[2]])  # card 0: 0.8 to photo 0, 0.48 to photo 1
    plan = CardPlan(np.array([0, 3]), ["thai", "thai"], np.zeros(2, int))
    cards = CardSet(
        plan, np.zeros(2, int), np.array([True, False]), np.array([True, False]),
        np.stack([card, card], 1), np.zeros(2),
    )  # fmt: skip
    matched, kept = lodo.kept_pairs(cards, es, pop, Scorer(), 0.5)
    # card 0: photo 0 matches photo 1 (0.6), not photo 2 (0); the card scores 0.48 on photo 1
    assert matched.tolist() == [1, 1] and kept.tolist() == [0, 0]
    matched, kept = lodo.kept_pairs(cards, es, pop, Scorer(), 0.45)
    assert matched.tolist() == [1, 1] and kept.tolist() == [1, 0]


def test_balanced_plan_deals_each_layout_the_same_number_of_cards():
    pop = Population(
        "toy", Path("."), [f"p{i}.jpg" for i in range(40)], [str(i // 4) for i in range(40)]
    )
    es = EmbeddingSet(
        pop.paths, np.zeros((40, 2, 4), np.float32), np.ones(40, bool),
        np.zeros((40, 4), np.float32), np.ones(40, np.int32), np.zeros(40, np.float32),
    )  # fmt: skip
    plan = lodo.balanced_plan(pop, es, 3, synth_cards.LAYOUTS, seed=0)
    assert sorted(plan.layout) == sorted(list(synth_cards.LAYOUTS) * 3)
    assert len(set(plan.index.tolist())) == len(plan.index)


def test_report_on_a_handful_of_cards(engine, tmp_path, monkeypatch):
    """One kpop face per layout, the specimens as given, one of each negative: every layout has
    its row, the never-seen total is the four designs, the specimens are all found, and the
    negatives are not documents (a plain pair is refused through Engine.compare)."""
    monkeypatch.setenv("FACECOMPARE_HOME", str(tmp_path))  # nothing cached is reused
    docs = need(DOCS)
    t = engine.calibrated.threshold_scores(DOCUMENT_PHOTO)["err_01"]
    items = lodo.population_items(engine, "kpop", 1, docs, t, seed=0, log=lambda _: None)
    items.extend(**lodo.specimen_items(engine, docs, turns=(0,)).__dict__)
    neg = lodo.negatives(engine, docs.parent, 1, 1, log=lambda _: None)
    rep = lodo.report(items, neg, t)

    for name in synth_cards.LAYOUTS:
        row = rep["layouts"][name]
        assert row["items"] == 1, name
        assert row["found"] <= row["items"] and row["right"] <= row["right_of"] <= row["found"]
        assert 0 <= row["kept_pairs"] <= row["matched_pairs"]
    never = rep["totals"]["never seen in development"]
    assert never["items"] == 4
    assert never["found"] == sum(rep["layouts"][d]["found"] for d in synth_cards.DESIGNS)
    assert rep["totals"]["all"]["items"] == 6 + 17
    assert sum(v["of"] for v in never["turns"].values()) == 4
    # most of the six cards are read with the right portrait (the reader's misses are figures)
    cards = rep["totals"]["all"]["found"] - rep["layouts"]["specimens"]["found"]
    assert cards >= 5
    spec = rep["layouts"]["specimens"]
    assert spec["found"] == spec["items"] == 17
    met = {tg["target"]: tg["met"] for tg in rep["targets"]}
    assert met["the specimens all found (as given)"] is True
    for key in ("scenes", "lfw", "kpop", "korean-family"):
        assert neg[key] == {**neg[key], "false": 0, "of": 1}, key
    assert neg["pairs"]["refused"] == neg["pairs"]["of"] == 2
    lines = "\n".join(lodo.render(rep))
    for name in (*synth_cards.LAYOUTS, "specimens", "never seen"):
        assert name in lines


def test_a_scene_without_a_face_is_not_a_document(engine):
    rng = np.random.default_rng(3)
    scene = synth_cards.cluttered_background(960, 1280, rng)
    assert engine.documents.find(scene) is None
