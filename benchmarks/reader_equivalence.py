"""The document reader's answers on a fixed, seeded set of images, dumped or compared.

    PYTHONPATH=src python benchmarks/reader_equivalence.py --out before.json
    (change the reader)
    PYTHONPATH=src python benchmarks/reader_equivalence.py --out after.json --compare before.json
    PYTHONPATH=src python benchmarks/reader_equivalence.py --out after.json --compare before.json \
        --no-run                                      # two dumps already made

For each image, ``DocumentReader.find`` then ``.portrait``: whether a document was found, its
proof, the portrait box (rounded to 1 px), the region, whether the text runs vertically and
the gate's reasons. Also ``.portrait`` on the classical gate's document alone
(``evidence.find_document`` with the detector's faces, no OCR proof: the region search the
lab's measurements may use). The images, all deterministic:

- synthetic card photos of every layout of ``synth_cards.LAYOUTS`` (``--cards`` per layout):
  an LFW photo's largest face framed as the portrait (``synth_cards.population_card``, as
  ``lab/measure/cards.card_set`` makes them), the photo then turned by k × 90° on top of the
  card's own drawn turn, so every layout is seen at all four turns;
- the specimens of ``id-documents`` (``labels.csv``) at the four turns;
- hard-negative scenes (``hard_negatives.scenes``, test half, seed 1, as
  ``benchmarks/documents_eval.py`` makes them; ``--negatives``);
- plain LFW photos upscaled to 500 × 500 (``--lfw``).

``--compare``: the records of another dump, image by image; prints the differences and exits
1 when there are any. The time of ``find`` + ``portrait`` (wall and CPU, all threads) is in the
dump, and the ratio to the compared dump's is printed (the same images).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from facecompare.compare import Engine
from facecompare.documents import evidence
from facecompare.lab.data import hard_negatives, synth_cards
from facecompare.lab.data.datasets import lfw_images, shared_dir

TURNS = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)


def _turn(img: np.ndarray, k: int) -> np.ndarray:
    return img if TURNS[k] is None else cv2.rotate(img, TURNS[k])


def images(
    engine: Engine, lfw: Path, docs: Path, cards: int, negatives: int, plain: int
) -> Iterator[tuple[str, np.ndarray]]:
    """(key, BGR image) of the fixed set, in a fixed order."""
    paths = lfw_images(lfw)
    rng = np.random.default_rng(20261208)
    for layout in synth_cards.LAYOUTS:
        made = 0
        while made < cards:
            rel = paths[int(rng.integers(len(paths)))]
            seed = int(rng.integers(0, 2**31 - 1))
            photo = cv2.imread(str(lfw / "images" / rel), cv2.IMREAD_COLOR)
            faces = engine.pipeline.faces(photo, engine.settings.min_face)
            if not faces:
                continue
            card = synth_cards.population_card(photo, faces[0].box, docs, layout, seed)
            k = made % 4
            turned = (card.rotation + 90 * k) % 360
            yield f"card/{layout}/{made:02d}/{rel}/seed{seed}/turn{turned}", _turn(card.image, k)
            made += 1
    rows = list(csv.DictReader((docs / "labels.csv").open()))
    for r in rows:
        img = cv2.imread(str(docs / r["file"]), cv2.IMREAD_COLOR)
        for k in range(4):
            yield f"specimen/{r['file']}/turn{90 * k}", _turn(img, k)
    for i, sc in enumerate(hard_negatives.scenes(lfw, "test", negatives, seed=1)):
        yield f"negative/{i:03d}/{sc.kind}", sc.image
    prng = np.random.default_rng(0)
    for rel in sorted(prng.choice(paths, plain, replace=False)):
        img = cv2.imread(str(lfw / "images" / rel), cv2.IMREAD_COLOR)
        yield f"lfw/{rel}", cv2.resize(img, (500, 500), interpolation=cv2.INTER_CUBIC)


def _box(face) -> list[int] | None:
    return None if face is None else [round(float(v)) for v in face.face.box]


def record(engine: Engine, img: np.ndarray) -> tuple[dict, float, float]:
    """The reader's answers on one image, and the wall and CPU seconds of find + portrait."""
    reader = engine.documents
    w0, c0 = time.perf_counter(), time.process_time()
    doc = reader.find(img)
    face = reader.portrait(img, doc) if doc is not None else None
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    out = {
        "document": doc is not None,
        "proof": doc.proof if doc is not None else "",
        "portrait": _box(face),
        "region": list(doc.region) if doc is not None else None,
        "vertical": bool(doc.vertical) if doc is not None else None,
        "reasons": list(doc.evidence.reasons) if doc is not None else [],
    }
    # the portrait search on the classical gate's document alone (no OCR proof)
    s = engine.settings
    faces = engine.pipeline.detector.detect(img, s.det_retry_size, s.det_threshold)
    gate = evidence.find_document(img, [f.box for f in faces], tuple(faces))
    out["gate_document"] = gate is not None
    out["gate_portrait"] = _box(reader.portrait(img, gate)) if gate is not None else None
    return out, wall, cpu


def compare(now: dict, before: dict) -> int:
    a, b = before["records"], now["records"]
    if list(a) != list(b):
        print(f"image sets differ: {len(a)} before, {len(b)} now")
        return max(len(a), len(b))
    diffs = 0
    for key, rec in b.items():
        if rec != a[key]:
            diffs += 1
            changed = {k: (a[key].get(k), v) for k, v in rec.items() if a[key].get(k) != v}
            print(f"DIFF {key}: {changed}")
    print(f"compared {len(b)} images: {diffs} differences")
    for what in ("wall_s", "cpu_s"):
        print(
            f"find + portrait {what[:-2]}: before {before[what]:.1f} s, now {now[what]:.1f} s,"
            f" ratio {now[what] / before[what]:.3f}"
        )
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--cards", type=int, default=25, help="card photos per layout")
    ap.add_argument("--negatives", type=int, default=100)
    ap.add_argument("--lfw", type=int, default=50)
    ap.add_argument("--no-run", action="store_true", help="compare --out with --compare only")
    args = ap.parse_args()
    if args.no_run:
        now, before = (json.loads(p.read_text()) for p in (args.out, args.compare))
        return 1 if compare(now, before) else 0
    root = shared_dir() / "datasets"
    lfw, docs = root / "lfw", root / "id-documents"
    engine = Engine.load()
    engine.warm()
    records: dict[str, dict] = {}
    wall = cpu = 0.0
    t0 = time.perf_counter()
    for key, img in images(engine, lfw, docs, args.cards, args.negatives, args.lfw):
        rec, w, c = record(engine, img)
        records[key] = rec
        wall += w
        cpu += c
    print(
        f"{len(records)} images, {sum(r['document'] for r in records.values())} documents;"
        f" find + portrait {wall:.1f} s wall, {cpu:.1f} s CPU; run {time.perf_counter() - t0:.0f} s"
    )
    now = {"wall_s": wall, "cpu_s": cpu, "records": records}
    args.out.write_text(json.dumps(now, indent=1))
    if args.compare is not None:
        return 1 if compare(now, json.loads(args.compare.read_text())) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
