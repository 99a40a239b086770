"""Embeddings of a data set through the server's pipeline, cached, and the standard protocols."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ... import quality
from ...compare import Engine
from ...config import default_home
from ...detect import Face
from ...scoring import Scorer
from ..data.datasets import Pair


@dataclass
class EmbeddingSet:
    paths: list[str]
    emb: np.ndarray  # N × 2 × 512: plain and flip-TTA unit embeddings; zeros where no face
    found: np.ndarray  # N bools
    boxes: np.ndarray  # N × 4 (x1, y1, x2, y2) of the face used
    n_faces: np.ndarray  # N: faces the detector returned
    sharpness: np.ndarray  # N: quality.sharpness of the aligned crop
    scorer: Scorer = Scorer()  # how two faces are scored (the engine's: cohort, flip band)

    def index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.paths)}


def cache_dir() -> Path:
    return default_home() / "cache"


PACKAGE = Path(__file__).resolve().parents[2]  # src/facecompare: source_hash paths start here
# the service modules an embedding goes through: detection, landmarks, alignment, embedding
PIPELINE_SOURCES = (
    "detect.py",
    "align.py",
    "embed.py",
    "quality.py",
    "pipeline.py",
    "models/rewrite.py",
    "models/scrfd.py",
    "models/landmark106.py",
    "models/arcface.py",
    "models/yunet.py",
    "models/sface.py",
)
# and those a document image goes through before its portrait is embedded
DOCUMENT_SOURCES = (
    *PIPELINE_SOURCES,
    "compare.py",
    "documents/evidence.py",
    "documents/layout.py",
    "documents/mrz.py",
    "documents/proofs.py",
    "documents/reader.py",
    "documents/turns.py",
    "documents/views.py",
    "models/ppocr.py",
    "models/packs/ocr-ppocrv5.json",
)


def source_hash(*names: str) -> str:
    """Hash of these package source files (paths relative to src/facecompare), for cache keys."""
    h = hashlib.sha256()
    for name in names:
        h.update((PACKAGE / name).read_bytes())
    return h.hexdigest()[:12]


def pipeline_fingerprint() -> str:
    """Hash of the pipeline's source, so cached embeddings are never reused across code changes."""
    return source_hash(*PIPELINE_SOURCES)


Row = tuple[np.ndarray | None, np.ndarray, int, float]


FACE_CHOICES = ("central", "largest")


def choose(faces: list[Face], shape: tuple[int, ...], choice: str) -> Face:
    """``largest``: the server's rule. ``central``: the face nearest the image centre, which is
    the labelled person in LFW (its images are crops centred on that person)."""
    if choice == "largest":
        return faces[0]
    h, w = shape[:2]
    return min(
        faces, key=lambda f: np.hypot((f.box[0] + f.box[2] - w) / 2, (f.box[1] + f.box[3] - h) / 2)
    )


def embed_one(engine: Engine, img: np.ndarray, min_face: float, choice: str = "central") -> Row:
    """The chosen face → embedding, box, face count, sharpness (``faces`` is the server's stage)."""
    faces = engine.pipeline.faces(img, min_face)
    if not faces:
        return None, np.zeros(4, np.float32), 0, 0.0
    face = choose(faces, img.shape, choice)
    crop = engine.pipeline.aligned(img, face)
    emb = engine.pipeline.embed([crop])[0]  # 2 × 512
    return emb, face.box.astype(np.float32), len(faces), quality.sharpness(crop)


def embed_images(
    engine: Engine,
    root: Path,
    paths: list[str],
    *,
    min_face: float = 0,
    choice: str = "central",
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    tag: str = "",
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> EmbeddingSet:
    """Embed every image (cached on disk by model pack, settings and file list)."""
    key = hashlib.sha256(
        "\n".join(
            [
                engine.pack.digest,
                pipeline_fingerprint(),
                str(engine.settings.det_size),
                str(engine.settings.det_first_size),
                str(engine.settings.det_threshold),
                str(engine.settings.border_margin),
                "plain+tta",
                str(min_face),
                choice,
                tag,
                str(root),
                *paths,
                # the inference backend, when not the historical onnxruntime fp32 (whose cached
                # embeddings keep their key): bf16 embeddings differ (models/backend.py)
                *(
                    []
                    if engine.pipeline.backend.backend == "onnxruntime"
                    else [repr(engine.pipeline.backend), source_hash("models/backend.py")]
                ),
            ]
        ).encode()
    ).hexdigest()[:20]
    cache = cache_dir() / f"emb-{engine.pack.digest}-{key}.npz"
    if cache.exists():
        z = np.load(cache)
        return EmbeddingSet(
            paths, z["emb"], z["found"], z["boxes"], z["n_faces"], z["sharpness"], engine.scorer
        )

    def work(p: str) -> Row:
        img = cv2.imread(str(root / p), cv2.IMREAD_COLOR)
        if transform is not None:
            img = transform(img)
        return embed_one(engine, img, min_face, choice)

    n = len(paths)
    emb = np.zeros((n, 2, engine.pipeline.embedder.dim), np.float32)
    found = np.zeros(n, bool)
    boxes = np.zeros((n, 4), np.float32)
    n_faces = np.zeros(n, np.int32)
    sharp = np.zeros(n, np.float32)
    with ThreadPoolExecutor(threads) as pool:
        for i, (e, box, k, s) in enumerate(pool.map(work, paths)):
            if e is not None:
                emb[i], found[i] = e, True
            boxes[i], n_faces[i], sharp[i] = box, k, s
            if progress:
                progress(i + 1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, emb=emb, found=found, boxes=boxes, n_faces=n_faces, sharpness=sharp)
    return EmbeddingSet(paths, emb, found, boxes, n_faces, sharp, engine.scorer)


def pair_scores(
    es: EmbeddingSet, pairs: Iterable[Pair]
) -> tuple[np.ndarray, np.ndarray, list[Pair]]:
    """Cosine of each pair, the same-person labels, and the pairs lost (no face in an image)."""
    idx = es.index()
    scores, labels, lost = [], [], []
    for p in pairs:
        i, j = idx[p.a], idx[p.b]
        if not (es.found[i] and es.found[j]):
            lost.append(p)
            scores.append(-1.0)  # a lost pair counts as "different": it costs accuracy
        else:
            scores.append(float(es.scorer.matrix(es.emb[i : i + 1], es.emb[j : j + 1])[0, 0]))
        labels.append(p.same)
    return np.array(scores), np.array(labels), lost


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Threshold maximising accuracy on these pairs, and that accuracy."""
    order = np.argsort(scores)
    s, y = scores[order], labels[order]
    # accept when score > t; candidate t between consecutive sorted scores
    n_pos = y.sum()
    fn = np.concatenate([[0], np.cumsum(y)])  # positives at or below each cut
    tn = np.concatenate([[0], np.cumsum(~y)])
    acc = (tn + (n_pos - fn)) / len(y)
    k = int(acc.argmax())
    lo = s[k - 1] if k > 0 else s[0] - 1e-3
    hi = s[k] if k < len(s) else s[-1] + 1e-3
    return float((lo + hi) / 2), float(acc[k])


def ten_fold(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> list[float]:
    """LFW protocol: per fold, the threshold is chosen on the 9 other folds."""
    accs = []
    for f in np.unique(folds):
        test = folds == f
        t, _ = best_threshold(scores[~test], labels[~test])
        accs.append(float(((scores[test] > t) == labels[test]).mean()))
    return accs


def all_pairs(es: EmbeddingSet, ids: list[str], block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor scores over every pair of distinct images with a face."""
    keep = np.where(es.found)[0]
    emb = es.emb[keep]
    stats = es.scorer.stats(emb)
    lab = np.unique(np.array(ids)[keep], return_inverse=True)[1]
    genuine, impostor = [], []
    n = len(keep)
    for s in range(0, n, block):
        rows_stats = None if stats is None else stats[s : s + block]
        sim = es.scorer.matrix(emb[s : s + block], emb, rows_stats, stats)
        rows = np.arange(s, min(n, s + block))
        upper = np.arange(n)[None, :] > rows[:, None]
        same = lab[rows][:, None] == lab[None, :]
        genuine.append(sim[upper & same])
        impostor.append(sim[upper & ~same])
    return np.concatenate(genuine), np.concatenate(impostor)
