"""The document path of a base revision (A) against the working tree's (B), in one run.

    PYTHONPATH=src python benchmarks/documents_cost_ab.py [--base main] [--cards 40]
        [--negatives 40] [--selfies 4] [--repeat 1] [--profile 20]

A is ``src/facecompare/documents/`` as committed at ``--base`` (read with ``git show`` and
loaded as a package of its own beside the working tree's, so both run on the same loaded
models, the same OCR session and the same images); B is the working tree. Images, all of the
train half (the test half is held out): synthetic card photos (``synth_cards.card_plan``
seed 0 + ``render``), hard-negative scenes (``hard_negatives.scenes`` seed 0; ``--stress``:
the same with identity-document captions in their text) and selfies holding a card
(``synth_cards.selfie_with_card``). For every image, A and B in turn (the order
alternating, so a change of load hits both): ``find`` + ``portrait``, whether a document was
found, the proof, the portrait box, and the CPU time (``time.process_time``, all threads; the
least of ``--repeat`` runs).
Then a cProfile pass of each on the first ``--profile`` cards and scenes: CPU ms per stage.
``--wall N``: what a user waits for, on N cards: ``Engine.compare`` of the card (JPEG) and a
selfie (the person's LFW photo at 960 × 960, JPEG) with ``image1_is_document``, the engine's
reader A or B in turn, and the same pair without flags; wall ms, ``--repeat`` rounds, medians.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import importlib.util
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facecompare.compare import CompareRequest, Engine
from facecompare.documents import reader as reader_b
from facecompare.errors import FaceCompareError
from facecompare.lab.data import hard_negatives
from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.data.synth_cards import card_plan, render, selfie_with_card

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "src/facecompare/documents"

# (label, file name ending, function names "|"-separated: a revision before the reader's
# stages had other names): the stages of the per-stage profile
STAGES = [
    ("find + portrait", "reader.py", "find"),
    ("  orient + gate (_candidate)", "reader.py", "orient|locate|_candidate"),
    ("    evidence.analyse", "evidence.py", "analyse"),
    ("      evidence.measure", "evidence.py", "measure"),
    ("      find_quads", "evidence.py", "find_quads"),
    ("      _line_quads", "evidence.py", "_line_quads"),
    ("      _line_blobs", "evidence.py", "_line_blobs"),
    ("  confirm (_verified_portrait)", "reader.py", "confirm|_verified_portrait"),
    ("    region_faces", "reader.py", "region_faces|_view_faces"),
    ("    layout.text_near", "layout.py", "text_near"),
    ("  PP-OCR text detector", "ppocr.py", "detect"),
    ("  PP-OCR recogniser", "ppocr.py", "read"),
    ("  SCRFD face detector", "scrfd.py", "detect"),
    ("  landmarks (106)", "landmark106.py", "five"),
    ("  ArcFace embed", "arcface.py", "embed"),
]


def base_reader(rev: str, tmp: Path):
    """The ``reader`` module of ``documents/`` at ``rev``, as package facecompare._ab_base."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, PACKAGE + "/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in names:
        if name.endswith(".py"):
            src = subprocess.run(
                ["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            (tmp / Path(name).name).write_bytes(src)
    pkg = "facecompare._ab_base"
    spec = importlib.util.spec_from_file_location(
        pkg, tmp / "__init__.py", submodule_search_locations=[str(tmp)]
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[pkg] = mod
    spec.loader.exec_module(mod)
    return importlib.import_module(pkg + ".reader")


def images(lfw: Path, docs: Path, cards: int, negatives: int, selfies: int, stress: int = 0):
    for person, source, seed in card_plan(lfw, "train", cards):
        yield "card", render(lfw, docs, person, source, seed).image
    for sc in hard_negatives.scenes(lfw, "train", negatives, seed=0):
        yield "negative", sc.image
    for sc in hard_negatives.scenes(lfw, "train", stress, seed=0, vocabulary="captions"):
        yield "stress", sc.image
    plan = card_plan(lfw, "train", 2 * selfies, seed=3)
    for k in range(selfies):
        person, source, seed = plan[k]
        live = plan[selfies + k][1]
        yield "selfie", selfie_with_card(lfw, docs, person, source, live, seed).image


def run(reader, img: np.ndarray, repeat: int = 1) -> tuple[float, tuple]:
    """CPU seconds (the least of ``repeat`` runs: other jobs on the host only add) and the
    answer."""
    cpu = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        doc = reader.find(img)
        face = reader.portrait(img, doc) if doc is not None else None
        cpu = min(cpu, time.process_time() - t0)
    box = None if face is None else tuple(np.round(face.face.box, 3).tolist())
    return cpu, (doc is not None, "" if doc is None else doc.proof, box)


def wall(engine: Engine, a, b, lfw: Path, docs: Path, n: int, repeat: int) -> None:
    """Engine.compare wall ms: card + selfie with image1_is_document through reader A and B,
    and without flags; per rotation and overall (medians, and of per-pair differences)."""
    engine.documents._ocr = a.ocr
    pairs = []
    for person, source, seed in card_plan(lfw, "train", n, seed=7):
        card = render(lfw, docs, person, source, seed)
        selfie = cv2.resize(cv2.imread(str(lfw / "images" / source)), (960, 960))
        enc = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
               for im in (card.image, selfie)]  # fmt: skip
        pairs.append((card.rotation, *enc))

    def timed(reader, x: bytes, y: bytes) -> float:
        flag = reader is not None
        if flag:
            engine.documents = reader
        t0 = time.perf_counter()
        try:
            engine.compare(CompareRequest(x, y, image1_is_document=flag))
        except FaceCompareError:
            return float("nan")
        return (time.perf_counter() - t0) * 1000

    for _, x, y in pairs[:3]:  # first runs of each input shape out of the timings
        for r in (a, b, None):
            timed(r, x, y)
    rows = []
    for rep in range(repeat):
        for k, (rot, x, y) in enumerate(pairs):
            order = [("A", a), ("B", b), ("plain", None)]
            if (k + rep) % 2:
                order.reverse()
            t = {name: timed(r, x, y) for name, r in order}
            rows.append((rot, t))
    print(f"  Engine.compare wall ms, {n} cards x {repeat} (card + selfie, image1_is_document):")
    for label, sub in [("all", rows)] + [
        (f"{r}°", [x for x in rows if x[0] == r]) for r in (0, 90, 180, 270)
    ]:
        if not sub:
            continue
        med = {k: float(np.nanmedian([t[k] for _, t in sub])) for k in ("plain", "A", "B")}
        add = {k: float(np.nanmedian([t[k] - t["plain"] for _, t in sub])) for k in "AB"}
        print(
            f"    {label:4s} n={len(sub):3d}  plain {med['plain']:5.0f}  A {med['A']:5.0f}  "
            f"B {med['B']:5.0f}   added (median of per-pair differences) A {add['A']:+.0f} "
            f"B {add['B']:+.0f}"
        )


def stages(prof: cProfile.Profile) -> dict[str, tuple[float, int]]:
    """Per stage: cumulative CPU seconds and calls."""
    st = pstats.Stats(prof).stats  # (file, line, name) → (cc, nc, tt, ct, callers)
    out = {}
    for label, file, name in STAGES:
        names = name.split("|")
        hits = [v for (f, _, n), v in st.items() if n in names and f.endswith("/" + file)]
        out[label] = (sum(v[3] for v in hits), sum(v[1] for v in hits))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="main", help="git revision of A")
    ap.add_argument("--cards", type=int, default=40)
    ap.add_argument("--negatives", type=int, default=40)
    ap.add_argument("--selfies", type=int, default=4)
    ap.add_argument(
        "--stress", type=int, default=0, help="hard-negative scenes with ID captions in their text"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per image and side (least CPU)")
    ap.add_argument("--profile", type=int, default=20, help="cards and scenes profiled")
    ap.add_argument("--wall", type=int, default=0, help="cards timed through Engine.compare")
    args = ap.parse_args()
    shared = shared_dir() / "datasets"
    lfw, docs = shared / "lfw", shared / "id-documents"
    engine = Engine.load(with_calibration=bool(args.wall))
    with tempfile.TemporaryDirectory() as tmp:
        mod_a = base_reader(args.base, Path(tmp))
        a = mod_a.DocumentReader(engine.pipeline)
        b = reader_b.DocumentReader(engine.pipeline)
        b._ocr = a.ocr  # one OCR session: loaded once, outside the timings

        warm = next(images(lfw, docs, 1, 0, 0))[1]
        for r in (a, b):  # first-run costs (sessions, allocations) out of the timings
            run(r, warm)
        rows: dict[str, list] = {}
        profiled: dict[str, list] = {"card": [], "negative": []}
        todo = images(lfw, docs, args.cards, args.negatives, args.selfies, args.stress)
        for k, (kind, img) in enumerate(todo):
            order = (("A", a), ("B", b)) if k % 2 == 0 else (("B", b), ("A", a))
            res = dict((name, run(r, img, args.repeat)) for name, r in order)
            rows.setdefault(kind, []).append(res)
            if kind in profiled and len(profiled[kind]) < args.profile:
                profiled[kind].append(img)

        if args.wall:
            wall(engine, a, b, lfw, docs, args.wall, max(1, args.repeat))
        print(f"documents_cost_ab: A = {args.base}, B = working tree")
        for kind, rs in rows.items():
            n = len(rs)
            found = {x: sum(r[x][1][0] for r in rs) for x in "AB"}
            same = sum(r["A"][1] == r["B"][1] for r in rs)
            med = {x: 1000 * float(np.median([r[x][0] for r in rs])) for x in "AB"}
            mean = {x: 1000 * float(np.mean([r[x][0] for r in rs])) for x in "AB"}
            diff = 1000 * float(np.median([r["B"][0] - r["A"][0] for r in rs]))
            print(
                f"  {kind:9s} n={n:3d}  documents A {found['A']:3d} B {found['B']:3d}  "
                f"same answer (found, proof, portrait box) {same}/{n}  "
                f"CPU ms median A {med['A']:.0f} B {med['B']:.0f}  mean A {mean['A']:.0f} "
                f"B {mean['B']:.0f}  median of B - A per image {diff:+.0f}"
            )
            for i, r in enumerate(rs):
                if r["A"][1] != r["B"][1]:
                    print(f"    differs: {kind} #{i}: A {r['A'][1]}  B {r['B'][1]}")

        for kind, todo in profiled.items():
            if not todo:
                continue
            prof = {}
            for name, r in (("A", a), ("B", b)):
                p = cProfile.Profile(time.process_time)  # CPU seconds, all threads
                p.enable()
                for img in todo:
                    doc = r.find(img)
                    if doc is not None:
                        r.portrait(img, doc)
                p.disable()
                prof[name] = stages(p)
            n = max(1, len(todo))
            print(f"  cProfile, {kind}: CPU ms per image (calls) over {len(todo)} (A → B):")
            for label, _, _ in STAGES:
                (ta, ca), (tb, cb) = prof["A"][label], prof["B"][label]
                print(
                    f"    {label:32s} {1000 * ta / n:7.1f} ({ca:3d})"
                    f" → {1000 * tb / n:7.1f} ({cb:3d})"
                )


if __name__ == "__main__":
    main()
