"""Why synthetic cards are missed: the stage each missed card of a half stops at.

    PYTHONPATH=src python benchmarks/documents_misses.py [--half train] [--cards 300]
        [--seed 0] [--save reports/misses]

For every card photo (``synth_cards.card_plan(lfw, half, n, seed)`` + ``render``): whether the
classical gate passes (``DocumentReader._candidate``), whether ``find`` confirms it and by
which proof, and whether a portrait inside the card is taken. Prints the miss rate per rotation
and layout and, for each miss, the stage it stopped at; ``--save`` writes the missed photos
(for looking at, never committed). Development is on the train half; the test half is held out
for documents_eval.py.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from facecompare.compare import Engine
from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.data.synth_cards import card_plan, render


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--half", default="train")
    ap.add_argument("--cards", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=None)
    args = ap.parse_args()
    shared = shared_dir() / "datasets"
    lfw, docs = shared / "lfw", shared / "id-documents"
    engine = Engine.load()
    reader = engine.documents
    _ = reader.ocr
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    rows = []
    for person, source, seed in card_plan(lfw, args.half, args.cards, args.seed):
        card = render(lfw, docs, person, source, seed)
        t0 = time.perf_counter()
        gate = reader._candidate(card.image) is not None
        doc = reader.find(card.image)
        face = reader.portrait(card.image, doc) if doc is not None else None
        inside = False
        if face is not None:
            x1, y1, x2, y2 = face.face.box
            q = card.quad.reshape(-1, 1, 2).astype(np.float32)
            inside = cv2.pointPolygonTest(q, (float(x1 + x2) / 2, float(y1 + y2) / 2), False) >= 0
        stage = (
            "ok"
            if inside
            else "gate"
            if not gate
            else "confirm"
            if doc is None
            else "no-portrait"
            if face is None
            else "wrong-face"
        )
        rows.append(
            {
                "seed": seed,
                "rotation": card.rotation,
                "layout": card.layout,
                "stage": stage,
                "proof": doc.proof if doc is not None else "",
                "ms": (time.perf_counter() - t0) * 1000,
            }
        )
        if args.save and stage != "ok":
            name = f"{seed}-{card.layout}-{card.rotation}-{stage}.jpg"
            cv2.imwrite(str(args.save / name), card.image)
    n = len(rows)
    ok = sum(r["stage"] == "ok" for r in rows)
    print(
        f"{args.half} half, {n} cards (seed {args.seed}): portrait in the card {ok}/{n} "
        f"({100 * ok / n:.1f} %)"
    )
    for key in ("rotation", "layout"):
        for v in sorted({r[key] for r in rows}):
            sub = [r for r in rows if r[key] == v]
            good = sum(r["stage"] == "ok" for r in sub)
            print(f"  {key} {v}: {good}/{len(sub)} ({100 * good / len(sub):.1f} %)")
    print("  proofs:", dict(Counter(r["proof"] or "-" for r in rows)))
    print("  misses by stage:", dict(Counter(r["stage"] for r in rows if r["stage"] != "ok")))
    for r in rows:
        if r["stage"] != "ok":
            print(f"    seed {r['seed']:>6} {r['layout']:<9} {r['rotation']:>3}° {r['stage']}")
    median = float(np.median([r["ms"] for r in rows]))
    print(f"  median ms per card (gate + find + portrait): {median:.0f}")


if __name__ == "__main__":
    main()
