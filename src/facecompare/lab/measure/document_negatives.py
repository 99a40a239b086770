"""What the document reader must refuse, and the real specimens it must find.

- false documents: the share of ordinary photos where ``DocumentReader.find`` returns a
  document: held-out hard-negative scenes (:mod:`..data.hard_negatives`: faces beside text),
  LFW photos upscaled to 500 × 500, kpop and korean-family photos upscaled to 512 × 512;
- plain pairs with ``verified_document``: two such photos sent through ``Engine.compare``
  must be refused with CAN_NOT_DETECT_IDCARD;
- the specimens of ``id-documents/labels.csv``: each found (``specimens``).

Images are rendered or read on the fly, deterministic in their seeds; nothing is written.
Used by ``benchmarks/documents_eval.py`` and :mod:`.documents_lodo`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from ...compare import CompareRequest, Engine
from ...errors import ErrorCode, FaceCompareError
from ..data import hard_negatives
from ..data.datasets import lfw_images

LFW_SIDE, KOREAN_SIDE = 500, 512  # what the small photos are scaled up to, as a client would
REFUSED = ErrorCode.CAN_NOT_DETECT_IDCARD.value  # the answer to a pair without a document


def specimens(engine: Engine, root: Path) -> list[dict]:
    """Each specimen of ``root/labels.csv``: document found, its evidence, portrait found."""
    rows = []
    for r in csv.DictReader((root / "labels.csv").open()):
        img = cv2.imread(str(root / r["file"]), cv2.IMREAD_COLOR)
        doc = engine.documents.find(img)
        face = engine.documents.portrait(img, doc) if doc is not None else None
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


def _sample(paths: list[str], n: int) -> list[str]:
    """A deterministic sample of ``n`` of ``paths`` (0 or more than there are: all)."""
    if 0 < n < len(paths):
        rng = np.random.default_rng(0)
        paths = sorted(rng.choice(paths, n, replace=False))
    return paths


def _photos(root: Path, paths: Iterable[str], side: int) -> Iterator[np.ndarray]:
    """The photos ``root/p``, each scaled (cubic) to ``side`` × ``side``."""
    for p in paths:
        img = cv2.imread(str(root / p), cv2.IMREAD_COLOR)
        yield cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)


def lfw_sample(lfw: Path, sample: int) -> list[str]:
    """A deterministic sample of ``sample`` LFW images (0 or more than there are: all)."""
    return _sample(lfw_images(lfw), sample)


def lfw_photos(lfw: Path, paths: Iterable[str]) -> Iterator[np.ndarray]:
    return _photos(lfw / "images", paths, LFW_SIDE)


def lfw_false(engine: Engine, lfw: Path, sample: int) -> tuple[int, int, list[str]]:
    """False documents on LFW photos upscaled to 500 × 500: count, photos, the photos hit."""
    paths = lfw_sample(lfw, sample)
    hits = [
        p
        for p, img in zip(paths, lfw_photos(lfw, paths), strict=True)
        if engine.documents.find(img) is not None
    ]
    return len(hits), len(paths), hits


def scene_false(
    engine: Engine, lfw: Path, n: int, vocabulary: str = "syllables"
) -> tuple[dict[str, list[int]], list[bool]]:
    """Held-out hard-negative scenes: per kind [false documents, scenes]; per scene a flag."""
    per: dict[str, list[int]] = {}
    flags = []
    for sc in hard_negatives.scenes(lfw, "test", n, seed=1, vocabulary=vocabulary):
        hit = engine.documents.find(sc.image) is not None
        c = per.setdefault(sc.kind, [0, 0])
        c[0] += hit
        c[1] += 1
        flags.append(hit)
    return per, flags


def upscaled_sample(root: Path, n: int) -> list[str]:
    """A deterministic sample of ``n`` of the JPEG photos under ``root`` (0: all)."""
    return _sample(sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg")), n)


def upscaled_photos(root: Path, paths: Iterable[str]) -> Iterator[np.ndarray]:
    return _photos(root, paths, KOREAN_SIDE)


def upscaled_false(engine: Engine, root: Path, n: int) -> tuple[int, int, list[bool]]:
    """kpop or korean-family photos (a deterministic sample of ``n``, 0: all) upscaled to 512:
    false documents, photos, a flag per photo."""
    paths = upscaled_sample(root, n)
    flags = [engine.documents.find(img) is not None for img in upscaled_photos(root, paths)]
    return sum(flags), len(flags), flags


def refused_pairs(
    engine: Engine, pairs: Iterable[tuple[np.ndarray, np.ndarray]]
) -> list[str | None]:
    """Each pair of plain photos sent through ``Engine.compare`` with ``verified_document``
    (JPEG, quality 95): the error code it was refused with, or None where it was answered."""
    out: list[str | None] = []
    for a, b in pairs:
        data = [
            cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for im in (a, b)
        ]
        try:
            engine.compare(CompareRequest(data[0], data[1], verified_document=True))
            out.append(None)
        except FaceCompareError as err:
            out.append(err.code.value)
    return out
