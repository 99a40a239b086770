"""The in-process document–selfie figures over HTTP: the same pairs, scored both ways.

    PYTHONPATH=src python benchmarks/documents_http.py [--cards 120] [--genuine 2]
        [--impostors 6] [--seed 0] [--selfie png|jpeg] [--json FILE]

The Korean family held-out half and its report card plan, as
``python -m facecompare.lab.fit.document_populations --report`` makes them (every layout, half
of the cards on the held-out design, the report's seed); a seeded sample of ``--cards`` of them.
Each card is rendered as ``lab.measure.cards.card_set`` renders it and read in process
(``engine.documents.find`` / ``.portrait``, the portrait embedded, scored with
``engine.scorer`` against the population's photos as ``document_scores`` scores them). Each is
paired with ``--genuine`` other photos of the same person (of the card's life stage first) and
``--impostors`` photos under the population's impostor rule, and every pair is also sent to
``facecompare serve`` (defaults, a fresh key) with the project's client: ``image1`` the card
photo as a JPEG of quality 95 with ``image1_is_document: true``, ``image2`` the selfie as a
client sends it. The photos on disk are 128 px, under the API's 480×480 rule (one is sent as is
to show the answer); the selfie sent is the population's own "what a client would send" (scaled
up to 512, ``Population.transform``), which is the image the lab embeds: as PNG (lossless, the
default) or ``--selfie jpeg`` (quality 95).

Printed: HTTP errors by code beside the in-process "not found", found / not found agreement,
|confidence difference| (HTTP against the in-process score through the served calibration's
mapping), decision agreement per threshold level, and HTTP TAR / FAR beside the in-process
ones. A third column reads the card from the JPEG that was sent, in process, to tell the JPEG
from the server apart when they disagree.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facecompare.calibration import DOCUMENT_PHOTO, THRESHOLD_FARS
from facecompare.client import Client, FaceCompareAPIError
from facecompare.compare import Engine
from facecompare.lab.bench.host import cpu_model
from facecompare.lab.data import synth_cards
from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.data.populations import HELD_OUT_HALF, Population, named
from facecompare.lab.fit.document_populations import HELD_OUT_DESIGN, REPORT_SEED
from facecompare.lab.measure.cards import plan_cards, render_card
from facecompare.lab.measure.embeddings import embed_population
from facecompare.lab.server import LocalServer

LEVELS = tuple(THRESHOLD_FARS)


@dataclass
class Card:
    k: int  # row in the report's card plan
    index: int  # the photo printed on it (population row)
    layout: str
    rotation: int
    jpeg: bytes
    lab_emb: np.ndarray | None  # 2 × D (plain, flip) of the portrait read from the rendered array
    lab_doc: bool
    jpeg_emb: np.ndarray | None  # the same, read from the JPEG sent
    jpeg_doc: bool


@dataclass
class PairResult:
    card: int  # plan row
    photo: str  # the selfie's file
    genuine: bool
    same_stage: bool
    lab: float | None  # in-process confidence (rendered card), None: card not read
    lab_jpeg: float | None  # in-process confidence (the JPEG sent)
    http: float | None  # the server's confidence
    http_status: int
    http_error: str | None
    thresholds: dict[str, float] = field(default_factory=dict)


def render(engine: Engine, pop: Population, es, plan, k: int, docs_root: Path) -> Card:
    """Card ``k`` of the plan rendered as ``cards.card_set`` renders it, read in process from the
    array and from its JPEG (quality 95)."""
    card = render_card(pop, es, plan, k, docs_root, pop.transform())
    ok, buf = cv2.imencode(".jpg", card.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    jpeg = buf.tobytes()

    def read(image: np.ndarray) -> tuple[bool, np.ndarray | None]:
        doc = engine.documents.find(image)
        face = engine.documents.portrait(image, doc) if doc is not None else None
        emb = engine.pipeline.embed([face.crop])[0] if face is not None else None
        return doc is not None, emb

    lab_doc, lab_emb = read(card.image)
    jpeg_doc, jpeg_emb = read(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))
    return Card(
        k,
        int(plan.index[k]),
        plan.layout[k],
        card.rotation,
        jpeg,
        lab_emb,
        lab_doc,
        jpeg_emb,
        jpeg_doc,
    )


def selfies(
    pop: Population, es, i: int, genuine: int, impostors: int, rng: np.random.Generator
) -> list[tuple[int, bool, bool]]:
    """(photo row, genuine, same life stage) of card photo ``i``: other photos of the person,
    of the card's stage first, and impostors under the population's rule; photos with a face."""
    cols = np.where(es.found)[0]
    same, imp = pop.pair_masks(np.array([i]), cols)
    stage = pop.meta.get("stage")
    st = np.array(stage)[cols] == stage[i] if isinstance(stage, list) else np.ones(len(cols), bool)
    mates = cols[same[0] & (cols != i)]
    one = mates[st[same[0] & (cols != i)]]
    other = np.setdiff1d(mates, one)
    chosen = list(rng.permutation(one)[:genuine])
    chosen += list(rng.permutation(other)[: genuine - len(chosen)])
    out = [(int(j), True, bool(j in one)) for j in chosen]
    bad = cols[imp[0]]
    out += [(int(j), False, False) for j in rng.choice(bad, min(impostors, len(bad)), False)]
    return out


def pct(k: int, n: int) -> str:
    return f"{k / n * 100:.2f} % ({k} of {n})" if n else "—"


def summary(rows: list[PairResult], cards: list[Card], thresholds: dict[str, float]) -> dict:
    gen = [r for r in rows if r.genuine]
    imp = [r for r in rows if not r.genuine]
    both = [r for r in rows if r.lab is not None and r.http is not None]
    diff = np.array([abs(r.http - r.lab) for r in both])  # type: ignore[operator]
    both_j = [r for r in rows if r.lab_jpeg is not None and r.http is not None]
    diff_j = np.array([abs(r.http - r.lab_jpeg) for r in both_j])  # type: ignore[operator]
    found = Counter((r.lab is not None, r.http is not None) for r in rows)
    found_j = Counter((r.lab_jpeg is not None, r.http is not None) for r in rows)

    def accepted(rs: list[PairResult], attr: str, level: str) -> int:
        return sum(1 for r in rs if (v := getattr(r, attr)) is not None and v >= thresholds[level])

    def agree(rs: list[PairResult], level: str) -> tuple[int, int]:
        t = thresholds[level]
        pairs = [r for r in rs if r.lab is not None and r.http is not None]
        return sum((r.lab >= t) == (r.http >= t) for r in pairs), len(pairs)  # type: ignore[operator]

    imp_http = [r for r in imp if r.http is not None]
    imp_lab = [r for r in imp if r.lab is not None]
    return {
        "pairs": len(rows),
        "cards": len(cards),
        "genuine_pairs": len(gen),
        "impostor_pairs": len(imp),
        "cards_not_read": {
            "in_process": sum(c.lab_emb is None for c in cards),
            "in_process_documents_not_found": sum(not c.lab_doc for c in cards),
            "in_process_from_jpeg": sum(c.jpeg_emb is None for c in cards),
        },
        "pairs_not_read_in_process": sum(r.lab is None for r in rows),
        "pairs_not_read_in_process_from_jpeg": sum(r.lab_jpeg is None for r in rows),
        "http_errors": dict(
            Counter(f"{r.http_status} {r.http_error}" for r in rows if r.http is None)
        ),
        "found": {
            "both": found[(True, True)],
            "neither": found[(False, False)],
            "in_process_only": found[(True, False)],
            "http_only": found[(False, True)],
        },
        "found_jpeg": {
            "both": found_j[(True, True)],
            "neither": found_j[(False, False)],
            "in_process_only": found_j[(True, False)],
            "http_only": found_j[(False, True)],
        },
        "abs_confidence_difference": {
            "pairs": len(diff),
            "median": float(np.median(diff)) if len(diff) else None,
            "max": float(diff.max()) if len(diff) else None,
        },
        "abs_confidence_difference_jpeg": {
            "pairs": len(diff_j),
            "median": float(np.median(diff_j)) if len(diff_j) else None,
            "max": float(diff_j.max()) if len(diff_j) else None,
        },
        "thresholds": thresholds,
        "levels": {
            level: {
                "decision_agreement_genuine": agree(gen, level),
                "decision_agreement_impostor": agree(imp, level),
                "tar_http": (accepted(gen, "http", level), len(gen)),
                "tar_in_process": (accepted(gen, "lab", level), len(gen)),
                "far_http": (accepted(imp_http, "http", level), len(imp_http)),
                "far_in_process": (accepted(imp_lab, "lab", level), len(imp_lab)),
            }
            for level in LEVELS
        },
    }


def table(s: dict) -> list[str]:
    f = s["found"]
    d, dj = s["abs_confidence_difference"], s["abs_confidence_difference_jpeg"]
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(s["http_errors"].items())) or "none"
    nr = s["cards_not_read"]
    lines = [
        "| figure | value |",
        "|---|---|",
        f"| pairs sent (cards × selfies) | {s['pairs']:,} ({s['cards']} cards; "
        f"{s['genuine_pairs']} genuine, {s['impostor_pairs']} impostor) |",
        f"| HTTP errors, pairs | {errors} |",
        f"| in process: cards not read (document not found) | {nr['in_process']} "
        f"({nr['in_process_documents_not_found']}), {s['pairs_not_read_in_process']} pairs |",
        f"| found agreement: both / neither / in process only / HTTP only | {f['both']} / "
        f"{f['neither']} / {f['in_process_only']} / {f['http_only']} |",
        f"| abs. confidence difference, median / max | {d['median']:.2f} / {d['max']:.2f} "
        f"(of {d['pairs']} pairs) |",
        f"| the same, in process read from the JPEG sent | {dj['median']:.2f} / "
        f"{dj['max']:.2f} (of {dj['pairs']} pairs; cards not read: "
        f"{nr['in_process_from_jpeg']}) |",
    ]
    for level in LEVELS:
        v = s["levels"][level]
        ag, ai = v["decision_agreement_genuine"], v["decision_agreement_impostor"]
        lines.append(
            f"| `{level}` ({s['thresholds'][level]:.2f}): decisions agree, genuine / impostor | "
            f"{ag[0]} of {ag[1]} / {ai[0]} of {ai[1]} |"
        )
    for level in LEVELS:
        v = s["levels"][level]
        lines.append(
            f"| `{level}`: TAR HTTP / in process | {pct(*v['tar_http'])} / "
            f"{pct(*v['tar_in_process'])} |"
        )
    for level in LEVELS:
        v = s["levels"][level]
        lines.append(
            f"| `{level}`: FAR HTTP / in process | {pct(*v['far_http'])} / "
            f"{pct(*v['far_in_process'])} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cards", type=int, default=120)
    ap.add_argument("--genuine", type=int, default=2, help="genuine selfies per card")
    ap.add_argument("--impostors", type=int, default=6, help="impostor selfies per card")
    ap.add_argument("--seed", type=int, default=0, help="of the card sample and the selfies")
    ap.add_argument("--selfie", choices=("png", "jpeg"), default="png")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    started = time.time()

    engine = Engine.load()
    docs_root = shared_dir() / "datasets" / "id-documents"
    pop = named("korean-family").split(HELD_OUT_HALF)
    es = embed_population(engine, pop)
    es.scorer = engine.scorer
    plan = plan_cards(
        pop, es, layouts=synth_cards.LAYOUTS, held_out=HELD_OUT_DESIGN, seed=REPORT_SEED
    )
    rng = np.random.default_rng(args.seed)
    ks = np.sort(rng.choice(len(plan.index), min(args.cards, len(plan.index)), replace=False))
    print(f"{pop.name}: {len(pop)} photos, plan {len(plan.index)} cards, sample {len(ks)}")

    with ThreadPoolExecutor(2) as pool:
        cards = list(pool.map(lambda k: render(engine, pop, es, plan, int(k), docs_root), ks))
    print(f"  cards rendered and read in process: {time.time() - started:.0f} s")

    calib = engine.calibrated
    thresholds = calib.thresholds(DOCUMENT_PHOTO)
    send = pop.transform()
    jobs: list[tuple[Card, int, bool, bool]] = []
    for c in cards:
        for j, gen, st in selfies(pop, es, c.index, args.genuine, args.impostors, rng):
            jobs.append((c, j, gen, st))

    def confidence(emb: np.ndarray | None, j: int) -> float | None:
        if emb is None:
            return None
        return calib.confidence(float(engine.scorer.matrix(emb[None], es.emb[j][None])[0, 0]))

    def selfie(j: int) -> np.ndarray | bytes:
        img = cv2.imread(str(pop.root / pop.paths[j]), cv2.IMREAD_COLOR)
        img = send(img) if send is not None else img
        if args.selfie == "png":
            return img  # the client encodes an array as PNG
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        return buf.tobytes()

    server = LocalServer()
    try:
        key = server.new_key("documents-http")
        with Client(server.url, key=key, timeout=120) as client:
            raw = (pop.root / pop.paths[cards[0].index]).read_bytes()
            try:
                client.compare(cards[0].jpeg, raw, image1_is_document=True)
                on_disk = "answered with a confidence"
            except FaceCompareAPIError as err:
                on_disk = f"{err.status} {err.message}"
            print(f"  a selfie as the 128 px file on disk: {on_disk}")

            def one(job: tuple[Card, int, bool, bool]) -> PairResult:
                c, j, gen, st = job
                r = PairResult(
                    int(c.k), pop.paths[j], gen, st, confidence(c.lab_emb, j),
                    confidence(c.jpeg_emb, j), None, 200, None,
                )  # fmt: skip
                try:
                    ans = client.compare(c.jpeg, selfie(j), image1_is_document=True)
                    r.http, r.thresholds = ans.confidence, asdict(ans.thresholds)
                except FaceCompareAPIError as err:
                    r.http_status, r.http_error = err.status, err.message
                return r

            t = time.time()
            with ThreadPoolExecutor(args.concurrency) as pool:
                rows = list(pool.map(one, jobs))
            http_s = time.time() - t
    finally:
        server.stop()

    served = {json.dumps(r.thresholds, sort_keys=True) for r in rows if r.thresholds}
    s = summary(rows, cards, thresholds)
    s |= {
        "command": "PYTHONPATH=src python benchmarks/documents_http.py "
        f"--cards {args.cards} --genuine {args.genuine} --impostors {args.impostors} "
        f"--seed {args.seed} --selfie {args.selfie}",
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "http_seconds": round(http_s, 1),
        "total_seconds": round(time.time() - started, 1),
        "selfie_on_disk_answer": on_disk,
        "thresholds_served_over_http": [json.loads(x) for x in served],
    }
    print(
        f"{s['date']}, {s['cpu']}; {len(rows)} requests in {http_s:.0f} s "
        f"(concurrency {args.concurrency}), run {s['total_seconds']:.0f} s; thresholds "
        f"in process {thresholds}, over HTTP {s['thresholds_served_over_http']}"
    )
    for line in table(s):
        print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = s | {
            "pair_rows": [asdict(r) for r in rows],
            "card_rows": [
                {
                    "plan_row": c.k,
                    "photo": pop.paths[c.index],
                    "layout": c.layout,
                    "rotation": c.rotation,
                    "document_found": c.lab_doc,
                    "portrait": c.lab_emb is not None,
                    "document_found_jpeg": c.jpeg_doc,
                    "portrait_jpeg": c.jpeg_emb is not None,
                    "jpeg_bytes": len(c.jpeg),
                }  # fmt: skip
                for c in cards
            ],
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
