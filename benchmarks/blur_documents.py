"""Blurred ID documents with ``blur_detection``: what a card photo answers, blurred or sharp.

    PYTHONPATH=src python benchmarks/blur_documents.py [--cards 100] [--negatives 100]
        [--cost 20] [--cost-only] [--designs 40]
    PYTHONPATH=src python benchmarks/blur_documents.py --fit [--cards 150]

Default: ``Engine.compare`` of a synthetic card photo (``synth_cards.render``, held-out people
of the test half, seed 0; ``blur``: an extra Gaussian σ in px of the 1280 × 960 or 1600 × 1200
photo) as ``image1`` with ``image1_is_document``, against the person's other LFW photo upscaled
to 500 × 500. Per blur σ (0: the ordinary photo, itself with a random lens blur of σ 0–1.8 px),
the share of answers IMAGE_BLURED / CAN_NOT_DETECT_IDCARD / CAN_NOT_DETECT_FACE / a confidence,
with ``blur_detection`` on; the sharp cards also with it off (the flips are the cards whose
answer the flag changes). Then the same for images that are no document but are flagged as
one (LFW photos of the test half upscaled to 500 × 500, the held-out hard-negative scenes of
``lab/data/hard_negatives.py``), and the 17 specimens of ``id-documents`` enlarged so that the
longer side is 1280 px (never shrunk). Last, the cost on sharp and on σ 4 cards: the median
wall time of a compare with the flag on minus off (same requests, interleaved; on a busy
machine this difference is noise), and the thread CPU time of the check the flag adds to an
image in which no document is found (``Engine._unreadable``).

``--designs N``: only N cards of the specimen designs of ``synth_cards.DESIGNS`` (in turn, the
test half's people), sharp (flag off and on) and σ 4 px: layouts the threshold never saw.

``--fit``: the threshold ``quality.DOCUMENT_EDGE_SHARPNESS`` from train-half card photos: the
geometric mean of the 1st percentile of the sharp cards' ``quality.edge_sharpness`` and the
99th percentile of the σ 4 px cards' (the cut halfway, on a log scale, between the softest
sharp cards and the sharpest blurred ones).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from facecompare import quality
from facecompare.compare import CompareRequest, Engine
from facecompare.errors import FaceCompareError
from facecompare.lab.bench.host import cpu_model
from facecompare.lab.data import hard_negatives
from facecompare.lab.data.datasets import lfw_images, shared_dir
from facecompare.lab.data.synth_cards import (
    DESIGNS,
    card_plan,
    half_of,
    layout_card,
    people_with_pairs,
    photograph,
    pick_rotation,
    portrait_crop,
    render,
)

SIGMAS = (0.0, 2.0, 3.0, 4.0, 6.0)
ANSWERS = ("IMAGE_BLURED", "CAN_NOT_DETECT_IDCARD", "CAN_NOT_DETECT_FACE", "ok")


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def answer(engine: Engine, image1: bytes, image2: bytes, blur: bool) -> tuple[str, float]:
    """The answer (error code or "ok") and the wall seconds of one compare."""
    req = CompareRequest(image1, image2, image1_is_document=True, blur_detection=blur)
    t0 = time.perf_counter()
    try:
        engine.compare(req)
        got = "ok"
    except FaceCompareError as err:
        got = err.code.value
    return got, time.perf_counter() - t0


def row(name: str, answers: list[str]) -> str:
    c = Counter(answers)
    n = max(1, len(answers))
    cells = "  ".join(f"{100 * c[a] / n:6.1f}" for a in ANSWERS)
    return f"  {name:<34} {len(answers):5d}  {cells}"


def header() -> str:
    names = ("BLURED", "IDCARD", "FACE", "ok")  # IMAGE_BLURED, CAN_NOT_DETECT_IDCARD, ..._FACE
    return f"  {'images':<34} {'n':>5}  " + "  ".join(f"{a:>6}" for a in names)


def fit(lfw: Path, docs: Path, n: int) -> None:
    """The document edge threshold from train-half cards, sharp and σ 4."""
    scores: dict[float, list[float]] = {0.0: [], 4.0: []}
    for person, source, seed in card_plan(lfw, "train", n, seed=0):
        for sigma in scores:
            s = quality.edge_sharpness(render(lfw, docs, person, source, seed, blur=sigma).image)
            scores[sigma].append(np.nan if s is None else s)
    sharp, blurred = np.array(scores[0.0]), np.array(scores[4.0])
    lo, hi = float(np.nanpercentile(sharp, 1)), float(np.nanpercentile(blurred, 99))
    cut = float(np.sqrt(lo * hi))
    for sigma, v in scores.items():
        q = np.nanpercentile(v, [0, 1, 5, 50, 95, 99, 100])
        print(
            f"  σ {sigma:g}: edge_sharpness min/1/5/50/95/99/max % "
            + " ".join(f"{x:.2f}" for x in q)
        )
    print(
        f"train half, {len(sharp)} cards: sharp 1st percentile {lo:.3f}, σ 4 99th percentile "
        f"{hi:.3f} → DOCUMENT_EDGE_SHARPNESS {cut:.2f} (sharp below it: "
        f"{np.mean(sharp < cut) * 100:.1f} %, σ 4 below it: {np.mean(blurred < cut) * 100:.1f} %)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=100, help="card photos per blur level")
    ap.add_argument("--negatives", type=int, default=100, help="LFW photos and scenes, each")
    ap.add_argument("--cost", type=int, default=20, help="cards timed flag on vs off per level")
    ap.add_argument("--fit", action="store_true", help="fit the threshold on the train half")
    ap.add_argument("--cost-only", action="store_true", help="only the cost figures")
    ap.add_argument("--designs", type=int, default=0, help="only N cards of the specimen designs")
    args = ap.parse_args()
    datasets = shared_dir() / "datasets"
    lfw, docs = datasets / "lfw", datasets / "id-documents"
    print(f"$ {' '.join(['python', *sys.argv])}")
    print(f"CPU: {cpu_model()}")
    if args.fit:
        fit(lfw, docs, args.cards)
        return
    engine = Engine.load()
    _ = engine.documents.ocr
    people = people_with_pairs(lfw, "test")
    plan = card_plan(lfw, "test", args.cards, seed=0)

    def selfie(person: str) -> bytes:
        img = cv2.imread(str(lfw / "images" / people[person][1]))
        return jpeg(cv2.resize(img, (500, 500), interpolation=cv2.INTER_CUBIC))

    if args.cost_only:
        cost(engine, lfw, docs, plan[: args.cost], selfie)
        return
    if args.designs:
        designs(engine, lfw, docs, card_plan(lfw, "test", args.designs, seed=5), selfie)
        return
    print(f"test half, {len(plan)} cards per level, image1_is_document, answers in %:")
    print(header())
    off_sharp: list[str] = []
    on_sharp: list[str] = []
    for sigma in SIGMAS:
        got = []
        for person, source, seed in plan:
            card = jpeg(render(lfw, docs, person, source, seed, blur=sigma).image)
            got.append(answer(engine, card, selfie(person), True)[0])
            if sigma == 0:
                off_sharp.append(answer(engine, card, selfie(person), False)[0])
        if sigma == 0:
            on_sharp = got
            print(row("sharp cards, blur_detection off", off_sharp))
        print(row(f"cards σ {sigma:g} px, blur_detection on", got))
    flips = Counter(f"{a} → {b}" for a, b in zip(off_sharp, on_sharp, strict=True) if a != b)
    print(f"  sharp cards whose answer the flag changes: {sum(flips.values())} {dict(flips)}")

    other = selfie(plan[0][0])
    paths = [p for p in lfw_images(lfw) if half_of(p.split("/")[0]) == "test"]
    rng = np.random.default_rng(0)
    paths = sorted(rng.choice(paths, min(args.negatives, len(paths)), replace=False))
    lfw_got = []
    for p in paths:
        img = cv2.resize(cv2.imread(str(lfw / "images" / p)), (500, 500), cv2.INTER_CUBIC)
        lfw_got.append(answer(engine, jpeg(img), other, True)[0])
    print(row("LFW photos 500 px, blur_detection on", lfw_got))
    scene_got = [
        answer(engine, jpeg(s.image), other, True)[0]
        for s in hard_negatives.scenes(lfw, "test", args.negatives, seed=1)
    ]
    print(row("hard-negative scenes, blur_detection on", scene_got))
    spec_on, spec_off = [], []
    for r in csv.DictReader((docs / "labels.csv").open()):
        img = cv2.imread(str(docs / r["file"]), cv2.IMREAD_COLOR)
        scale = max(1.0, 1280 / max(img.shape[:2]))
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        spec_off.append(answer(engine, jpeg(img), other, False)[0])
        spec_on.append(answer(engine, jpeg(img), other, True)[0])
    print(row("specimens ≥ 1280 px, blur_detection off", spec_off))
    print(row("specimens ≥ 1280 px, blur_detection on", spec_on))
    changed = sum(a != b for a, b in zip(spec_off, spec_on, strict=True))
    print(f"  specimens whose answer the flag changes: {changed}")

    cost(engine, lfw, docs, plan[: args.cost], selfie)


def designs(engine: Engine, lfw: Path, docs: Path, plan: list, selfie) -> None:
    """Cards of the specimen designs (``synth_cards.DESIGNS``, in turn; never used to fit the
    threshold), photographed sharp and with σ 4 px: answers with the flag (and off, sharp)."""
    print(f"specimen designs, test half, {len(plan)} cards, image1_is_document, answers in %:")
    print(header())
    names = list(DESIGNS)
    for sigma in (0.0, 4.0):
        on, off = [], []
        for k, (person, source, seed) in enumerate(plan):
            rng = np.random.default_rng(seed)
            portrait = portrait_crop(cv2.imread(str(lfw / "images" / source)))
            card = layout_card(docs, names[k % len(names)], portrait, rng)
            rotation = pick_rotation(rng)
            size = (1280, 960) if rng.random() < 0.7 else (1600, 1200)
            img = jpeg(photograph(card, rng, rotation, size, sigma)[0])
            on.append(answer(engine, img, selfie(person), True)[0])
            if sigma == 0:
                off.append(answer(engine, img, selfie(person), False)[0])
        if off:
            print(row("design cards, blur_detection off", off))
        print(row(f"design cards σ {sigma:g} px, blur_detection on", on))


def cost(engine: Engine, lfw: Path, docs: Path, plan: list, selfie) -> None:
    """Wall time of a compare with the flag on minus off (same requests, interleaved), and the
    thread CPU time of what the flag adds to a document image the reader found nothing in
    (``Engine._unreadable``: the edge score, and the face rules when the edges are soft)."""
    for sigma in (0.0, 4.0):
        on, off, added = [], [], []
        for k, (person, source, seed) in enumerate(plan):
            img = render(lfw, docs, person, source, seed, blur=sigma).image
            card = jpeg(img)
            order = (True, False) if k % 2 else (False, True)
            for flag in order:
                (on if flag else off).append(answer(engine, card, selfie(person), flag)[1])
            decoded = cv2.imdecode(np.frombuffer(card, np.uint8), cv2.IMREAD_COLOR)
            t0 = time.thread_time()
            engine._unreadable(decoded)
            added.append(time.thread_time() - t0)
        d = np.subtract(on, off) * 1000
        print(
            f"  cost, cards σ {sigma:g} ({len(d)}): compare median {np.median(off) * 1000:.0f} ms "
            f"flag off, {np.median(on) * 1000:.0f} ms on, median of differences {np.median(d):+.0f}"
            f" ms; the check of an image without a document found: CPU median "
            f"{np.median(added) * 1000:.1f} ms, p90 {np.percentile(added, 90) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
