"""Identity documents: detection recall, false detections, portraits, selfie-vs-card accuracy, cost.

    PYTHONPATH=$PWD/src python benchmarks/documents_eval.py [--cards 400] [--lfw-sample 1000]

Prints a table and writes reports/documents-eval.json and reports/documents-scores.png.
Figures:
1. recall on the 17 specimens of ../shared/datasets/id-documents (labels.csv: all documents),
   and whether a portrait of ≥ min_document_face px was found on those with one;
2. false "document" on LFW photos upscaled to 500 × 500 (a deterministic sample, or all);
3. synthetic held-out card photos (test half of the people, ~40 % turned 90° or 180°):
   document found, portrait found, selfie-vs-card TAR at the document-photo err_01 of the
   calibration file (fitted on the train half) and the realised FAR;
4. cost: document check + portrait against the plain photo path (largest face), same images,
   same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np

from facecompare.calibration import DOCUMENT_PHOTO
from facecompare.calibration.documents import card_set, pair_scores, selfie_set
from facecompare.compare import Engine
from facecompare.datasets import lfw_images, shared_dir
from facecompare.synth_cards import card_plan, render


def specimens(engine: Engine, root: Path) -> list[dict]:
    rows = []
    for r in csv.DictReader((root / "labels.csv").open()):
        img = cv2.imread(str(root / r["file"]), cv2.IMREAD_COLOR)
        doc = engine.find_document(img)
        face = engine.document_face(img, doc) if doc is not None else None
        rows.append(
            {
                "file": r["file"],
                "kind": r["kind"],
                "has_portrait": r["has_portrait"] == "yes",
                "document": doc is not None,
                "reasons": list(doc.evidence.reasons) if doc else [],
                "portrait": face is not None,
            }
        )
    return rows


def lfw_false(engine: Engine, lfw: Path, sample: int) -> tuple[int, int, list[str]]:
    paths = lfw_images(lfw)
    if 0 < sample < len(paths):
        rng = np.random.default_rng(0)
        paths = sorted(rng.choice(paths, sample, replace=False))
    hits = []
    for p in paths:
        img = cv2.imread(str(lfw / "images" / p), cv2.IMREAD_COLOR)
        img = cv2.resize(img, (500, 500), interpolation=cv2.INTER_CUBIC)
        if engine.find_document(img) is not None:
            hits.append(p)
    return len(hits), len(paths), hits


def cost(engine: Engine, lfw: Path, docs: Path, n: int = 20) -> dict[str, float]:
    """Median ms per image: the plain photo path vs document check + portrait, same cards."""
    plain, document = [], []
    for person, source, seed in card_plan(lfw, "test", n, seed=7):
        img = render(lfw, docs, person, source, seed).image
        t0 = time.perf_counter()
        engine.largest_face(img, engine.settings.min_face)
        t1 = time.perf_counter()
        doc = engine.find_document(img)
        if doc is not None:
            engine.document_face(img, doc)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        document.append(t2 - t1)
    p, d = float(np.median(plain)) * 1000, float(np.median(document)) * 1000
    return {"plain_ms": p, "document_ms": d, "added_ms": d - p}


def plot(genuine: np.ndarray, impostor: np.ndarray, t01: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(-0.4, 1.0, 141)
    ax.hist(impostor, bins, density=True, alpha=0.6, label=f"impostor ({impostor.size:,})")
    ax.hist(genuine[genuine > -1], bins, density=True, alpha=0.6, label=f"genuine ({genuine.size})")
    ax.axvline(t01, color="k", ls="--", label="document err_01")
    ax.set_xlabel("cosine, selfie vs synthetic card (held-out people)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=400, help="held-out card photos")
    ap.add_argument("--lfw-sample", type=int, default=1000, help="LFW images (0: all 13,233)")
    ap.add_argument("--out", type=Path, default=Path("reports"))
    args = ap.parse_args()
    shared = shared_dir() / "datasets"
    lfw, docs = shared / "lfw", shared / "id-documents"
    engine = Engine.load()

    spec = specimens(engine, docs)
    n_false, n_lfw, false_hits = lfw_false(engine, lfw, args.lfw_sample)
    cards = card_set(engine, "test", args.cards, lfw, docs)
    selfies = selfie_set(engine, "test", lfw)
    genuine, impostor, lost = pair_scores(cards, selfies, engine.flip_band)
    t01 = engine.calibrated.threshold_cosines(DOCUMENT_PHOTO)["err_01"]
    has_doc_cal = DOCUMENT_PHOTO in engine.calibrated.scenarios
    tar = float((genuine >= t01).mean())
    far = float((impostor >= t01).mean())
    rot = cards.rotation
    turned = np.isin(rot, (90, 180))
    c = cost(engine, lfw, docs)

    with_portrait = [r for r in spec if r["has_portrait"]]
    lines = [
        "Identity documents (benchmarks/documents_eval.py)",
        f"  specimens: document recall {sum(r['document'] for r in spec)}/{len(spec)}; "
        f"portrait found {sum(r['portrait'] for r in with_portrait)}/{len(with_portrait)} "
        "of those with one",
        *(
            f"    {'ok  ' if r['document'] else 'MISS'} {r['file']:<32} "
            f"{','.join(r['reasons']) or '-':<22} portrait={'yes' if r['portrait'] else 'no'}"
            for r in spec
        ),
        f"  LFW upscaled to 500x500: false document {n_false}/{n_lfw} "
        f"({100 * n_false / n_lfw:.2f} %)",
        f"  synthetic held-out cards: {len(rot)} ({turned.mean() * 100:.0f} % turned 90/180, "
        f"{(rot == 270).mean() * 100:.0f} % 270)",
        f"    document found  {cards.doc_found.mean() * 100:.1f} %   "
        f"(turned 90/180: {cards.doc_found[turned].mean() * 100:.1f} %)",
        f"    portrait found  {cards.face_found.mean() * 100:.1f} %   "
        f"(turned 90/180: {cards.face_found[turned].mean() * 100:.1f} %)",
        f"    document err_01 cosine {t01:.4f} "
        f"({'document-photo calibration' if has_doc_cal else 'photo-photo fallback!'})",
        f"    TAR at err_01   {tar * 100:.2f} % of {genuine.size} genuine pairs "
        f"({lost} lost: no portrait)",
        f"    realised FAR    {far * 100:.4f} % of {impostor.size:,} impostor pairs",
        f"  cost, median of 20 card photos: plain photo path {c['plain_ms']:.0f} ms, "
        f"document check + portrait {c['document_ms']:.0f} ms, added {c['added_ms']:.0f} ms",
    ]
    table = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(genuine, impostor, t01, args.out / "documents-scores.png")
    report = {
        "specimens": spec,
        "lfw_false": {"count": n_false, "of": n_lfw, "images": false_hits},
        "synthetic": {
            "cards": int(len(rot)),
            "document_found": float(cards.doc_found.mean()),
            "portrait_found": float(cards.face_found.mean()),
            "err_01_cosine": t01,
            "tar_at_err_01": tar,
            "far_at_err_01": far,
            "genuine_pairs": int(genuine.size),
            "impostor_pairs": int(impostor.size),
        },
        "cost": c,
        "table": table,
    }
    (args.out / "documents-eval.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    main()
