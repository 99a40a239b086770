"""Identity documents: detection recall, false detections, portraits, selfie-vs-card accuracy, cost.

    PYTHONPATH=$PWD/src python benchmarks/documents_eval.py [--cards 400] [--lfw-sample 1000]
        [--negatives 400] [--selfie-cards 100] [--asian 500]

Prints a table and writes reports/documents-eval.json and reports/documents-scores.png.
Figures:
1. recall on the 17 specimens of ../shared/datasets/id-documents (labels.csv: all documents),
   and whether a portrait of ≥ min_document_face px was found on those with one;
2. false "document" on LFW photos upscaled to 500 × 500 (a deterministic sample, or all);
3. synthetic held-out card photos (test half of the people, ~40 % turned 90° or 180°):
   document found, portrait found, selfie-vs-card TAR at the document-photo err_01 of the
   calibration file (fitted on the train half) and the realised FAR;
4. cost: document check + portrait against the plain photo path (largest face and its
   embedding, as the reader embeds its candidates too), same images,
   same run (the OCR models loaded before the timing); and as a user sees it: ``Engine.compare``
   of a card and a selfie with ``image1_is_document`` against the same pair without flags;
5. hard negatives: held-out scenes of facecompare.lab.data.hard_negatives (test half
   of the people, seed 1): posters, logo walls, signs, printed T-shirts, book pages, screenshots, a
   sheet of paper or a phone held up; the same scenes with identity-document field captions in
   their text (``vocabulary="captions"``, a stress test of the caption reading); plus the kpop
   photos and a korean-family sample, both upscaled to 512 × 512; false "document" per set;
6. two plain photos with verified_document: pairs (scene k, LFW photo k) and (kpop k,
   korean-family k) are refused with CAN_NOT_DETECT_IDCARD when neither image is a document
   (the server checks image1, then image2);
7. selfie holding the card (synth_cards.selfie_with_card, held-out people): document found,
   and the portrait taken lies inside the card (never the live face beside it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from facecompare.calibration import DOCUMENT_PHOTO, default_path, load_calibration
from facecompare.compare import CompareRequest, Engine
from facecompare.errors import FaceCompareError
from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.data.synth_cards import card_plan, render, selfie_with_card
from facecompare.lab.fit.documents import card_set, pair_scores, selfie_set
from facecompare.lab.measure.document_negatives import (
    lfw_false,
    lfw_sample,
    scene_false,
    specimens,
    upscaled_false,
)


def selfie_cards(engine: Engine, lfw: Path, docs: Path, n: int) -> dict[str, int]:
    """Selfies holding a card: the document is found and its portrait (not the live face)
    is the face taken."""
    plan = card_plan(lfw, "test", 2 * n, seed=3)
    found = inside = live = 0
    for k in range(n):
        person, source, seed = plan[k]
        sample = selfie_with_card(lfw, docs, person, source, plan[n + k][1], seed)
        doc = engine.documents.find(sample.image)
        face = engine.documents.portrait(sample.image, doc) if doc is not None else None
        found += doc is not None
        if face is not None:
            x1, y1, x2, y2 = face.face.box
            c = ((x1 + x2) / 2, (y1 + y2) / 2)
            q = sample.quad.reshape(-1, 1, 2).astype(np.float32)
            ok = cv2.pointPolygonTest(q, (float(c[0]), float(c[1])), False) >= 0
            inside += ok
            live += not ok
    return {"selfies": n, "document": found, "card_portrait": inside, "live_face": live}


def cost(engine: Engine, lfw: Path, docs: Path, n: int = 20) -> dict[str, float]:
    """Median ms per image: the plain photo path (largest face, embedded) vs document check +
    portrait (its candidates embedded), same cards, same decoded image."""
    plain, document = [], []
    _ = engine.documents.ocr  # loaded on the first document request; not part of a request's cost
    for person, source, seed in card_plan(lfw, "test", n, seed=7):
        img = render(lfw, docs, person, source, seed).image
        t0 = time.perf_counter()
        face = engine.pipeline.largest_face(img, engine.settings.min_face)
        if face is not None:  # both sides embed their face (the reader embeds its candidates)
            engine.pipeline.embedder.embed([face.crop])
        t1 = time.perf_counter()
        doc = engine.documents.find(img)
        if doc is not None:
            engine.documents.portrait(img, doc)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        document.append(t2 - t1)
    p, d = float(np.median(plain)) * 1000, float(np.median(document)) * 1000
    added = np.array(document) - np.array(plain)
    return {
        "plain_ms": p,
        "document_ms": d,
        "added_ms": d - p,
        "added_p90_ms": float(np.percentile(added, 90)) * 1000,
    }


def compare_cost(engine: Engine, lfw: Path, docs: Path, n: int = 20, repeats: int = 3) -> dict:
    """What a user waits for: ``Engine.compare`` of a card photo (JPEG) and a selfie (the
    person's LFW photo upscaled to 960 × 960, JPEG) with ``image1_is_document`` against the
    same pair without flags, alternating, ``repeats`` times; wall ms, medians."""
    pairs = []
    for person, source, seed in card_plan(lfw, "test", n, seed=7):
        card = render(lfw, docs, person, source, seed).image
        selfie = cv2.resize(cv2.imread(str(lfw / "images" / source)), (960, 960))
        pairs.append(
            tuple(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
                  for im in (card, selfie))
        )  # fmt: skip

    def wall(req: CompareRequest) -> float | None:
        t0 = time.perf_counter()
        try:
            engine.compare(req)
        except FaceCompareError:
            return None
        return time.perf_counter() - t0

    _ = engine.documents.ocr
    for a, b in pairs[:2]:  # first runs of each input shape out of the timings
        wall(CompareRequest(a, b, image1_is_document=True))
        wall(CompareRequest(a, b))
    plain, document = [], []
    for rep in range(repeats):
        for k, (a, b) in enumerate(pairs):
            reqs = [CompareRequest(a, b), CompareRequest(a, b, image1_is_document=True)]
            if (k + rep) % 2:
                reqs.reverse()
            times = {r.image1_is_document: wall(r) for r in reqs}
            if None not in times.values():
                plain.append(times[False])
                document.append(times[True])
    p, d = float(np.median(plain)) * 1000, float(np.median(document)) * 1000
    return {
        "plain_ms": p,
        "document_ms": d,
        "added_ms": d - p,
        "added_median_ms": float(np.median(np.subtract(document, plain))) * 1000,
        "pairs": len(plain),
    }


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
    ap.add_argument("--negatives", type=int, default=400, help="held-out hard-negative scenes")
    ap.add_argument("--selfie-cards", type=int, default=100, help="selfies holding a card")
    ap.add_argument("--asian", type=int, default=500, help="korean-family sample (0: all)")
    ap.add_argument("--out", type=Path, default=Path("reports"))
    ap.add_argument("--cost-only", action="store_true", help="only the two cost figures")
    args = ap.parse_args()
    shared = shared_dir() / "datasets"
    lfw, docs = shared / "lfw", shared / "id-documents"
    engine = Engine.load()
    t_load = time.perf_counter()
    _ = engine.documents.ocr
    ocr_load_s = time.perf_counter() - t_load
    if args.cost_only:
        c, cc = cost(engine, lfw, docs), compare_cost(engine, lfw, docs)
        print(
            f"find + portrait vs largest face: added {c['added_ms']:.0f} ms (document "
            f"{c['document_ms']:.0f}, plain {c['plain_ms']:.0f}); Engine.compare: added "
            f"{cc['added_ms']:.0f} ms (document {cc['document_ms']:.0f}, plain "
            f"{cc['plain_ms']:.0f}, median of differences {cc['added_median_ms']:.0f})"
        )
        return

    spec = specimens(engine, docs)
    n_false, n_lfw, false_hits = lfw_false(engine, lfw, args.lfw_sample)
    scene_per, scene_flags = scene_false(engine, lfw, args.negatives)
    cap_per, cap_flags = scene_false(engine, lfw, args.negatives, "captions")
    kpop_false, kpop_n, kpop_flags = upscaled_false(engine, shared / "kpop", 0)
    kf_false, kf_n, kf_flags = upscaled_false(engine, shared / "korean-family", args.asian)
    swc = selfie_cards(engine, lfw, docs, args.selfie_cards)
    # pairs of two plain photos with verified_document: refused when neither is a document
    lfw_flags = [p in set(false_hits) for p in lfw_sample(lfw, args.lfw_sample)]
    pairs = list(zip(scene_flags, lfw_flags, strict=False))
    pairs += list(zip(kpop_flags, kf_flags, strict=False))
    refused = sum(not (a or b) for a, b in pairs)
    cards = card_set(engine, "test", args.cards, lfw, docs)
    selfies = selfie_set(engine, "test", lfw)
    genuine, impostor, lost = pair_scores(cards, selfies, engine.scorer.band)
    # the calibration file as it is now (the calibration command may have run meanwhile)
    cal = load_calibration(default_path(engine.pack.name), engine.pack.digest)
    t01 = cal.threshold_cosines(DOCUMENT_PHOTO)["err_01"]
    has_doc_cal = DOCUMENT_PHOTO in cal.scenarios
    tar = float((genuine >= t01).mean())
    far = float((impostor >= t01).mean())
    rot = cards.rotation
    turned = np.isin(rot, (90, 180))
    c = cost(engine, lfw, docs)
    cc = compare_cost(engine, lfw, docs)

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
        f"  hard-negative scenes (held out): false document {sum(scene_flags)}/"
        f"{len(scene_flags)} ({100 * sum(scene_flags) / max(1, len(scene_flags)):.2f} %): "
        + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in scene_per.items()),
        f"  the same scenes with identity-document captions in their text (stress): false "
        f"document {sum(cap_flags)}/{len(cap_flags)}: "
        + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in cap_per.items()),
        f"  kpop upscaled to 512: {kpop_false}/{kpop_n}; korean-family upscaled to 512: "
        f"{kf_false}/{kf_n}",
        f"  two plain photos with verified_document refused: {refused}/{len(pairs)} "
        f"({100 * refused / max(1, len(pairs)):.2f} %)",
        f"  selfie holding a card: document {swc['document']}/{swc['selfies']}, portrait from "
        f"the card {swc['card_portrait']}, live face taken {swc['live_face']}",
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
        f"document check + portrait {c['document_ms']:.0f} ms, added {c['added_ms']:.0f} ms "
        f"(p90 {c['added_p90_ms']:.0f} ms); OCR models loaded on first use in {ocr_load_s:.2f} s",
        f"  cost as a user sees it, Engine.compare(card, selfie), {cc['pairs']} timings: no flag "
        f"{cc['plain_ms']:.0f} ms, image1_is_document {cc['document_ms']:.0f} ms, added "
        f"{cc['added_ms']:.0f} ms (median of per-pair differences {cc['added_median_ms']:.0f})",
        "  portrait found / document found by rotation: "
        + ", ".join(
            f"{r}°: {cards.doc_found[rot == r].mean() * 100:.1f} / "
            f"{cards.face_found[rot == r].mean() * 100:.1f} %"
            for r in (0, 90, 180, 270)
            if (rot == r).any()
        ),
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
        "compare_cost": cc,
        "hard_negatives": {
            "per_kind": scene_per,
            "false": sum(scene_flags),
            "of": len(scene_flags),
        },
        "caption_negatives": {"per_kind": cap_per, "false": sum(cap_flags), "of": len(cap_flags)},
        "kpop": {"false": kpop_false, "of": kpop_n},
        "korean_family": {"false": kf_false, "of": kf_n},
        "verified_document_pairs": {"refused": refused, "of": len(pairs)},
        "selfie_with_card": swc,
        "table": table,
    }
    (args.out / "documents-eval.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    main()
