"""How far a backend's LFW embeddings and scores are from onnxruntime fp32, and whether the
shipped thresholds still hold on them.

    PYTHONPATH=src python benchmarks/backend_drift.py [--backend openvino] [--precision bf16]
        [--lfw ../shared/datasets/lfw]

Embeds all 13,233 LFW images through the server's stages twice (cached like `facecompare
eval`: run `FACECOMPARE_BACKEND=... facecompare eval` first and this reads the same cache):
onnxruntime fp32 and the backend asked. Prints the per-embedding cosine between the two
(plain and flip-TTA vectors), the shift of the 6,000 View 2 pair scores and of every all-pairs
score, and for each shipped photo-photo threshold the FAR and TAR on LFW's all pairs with each
backend's embeddings (the thresholds were fitted on onnxruntime fp32). Bounds:
models/backend.py (EMBEDDING_COS_MIN, PAIR_SHIFT_MAX, MEAN_SHIFT_MAX).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.lab.data.datasets import identity, lfw_dir, lfw_images, lfw_pairs
from facecompare.lab.measure.evaluate import all_pairs, embed_images, pair_scores
from facecompare.models.backend import EMBEDDING_COS_MIN, MEAN_SHIFT_MAX, PAIR_SHIFT_MAX


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="openvino")
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--lfw", type=Path, default=None, help="as given to facecompare eval --lfw")
    args = ap.parse_args()
    root = args.lfw or lfw_dir()  # the same path string as the eval's, to reuse its cache
    paths = lfw_images(root)
    engines = {
        "onnxruntime fp32": Engine.load(Settings.from_env(backend="onnxruntime")),
        f"{args.backend} {args.precision}": Engine.load(
            Settings.from_env(backend=args.backend, precision=args.precision)
        ),
    }
    sets = {k: embed_images(e, root / "images", paths) for k, e in engines.items()}
    (ref_name, ref), (got_name, got) = sets.items()
    both = ref.found & got.found
    print(
        f"{got_name} against {ref_name}, LFW {len(paths):,} images, faces in both: "
        f"{both.sum():,} (only ref {(ref.found & ~got.found).sum()}, "
        f"only {got_name} {(got.found & ~ref.found).sum()})"
    )
    for k, name in enumerate(("plain", "flip-TTA")):
        cos = np.sum(ref.emb[both, k] * got.emb[both, k], axis=1)
        q = np.quantile(cos, [0.0, 0.001, 0.01, 0.5])
        print(
            f"  per-embedding cosine ({name}): min {q[0]:.5f}, 0.1 % {q[1]:.5f}, "
            f"1 % {q[2]:.5f}, median {q[3]:.5f}; below {EMBEDDING_COS_MIN}: "
            f"{(cos < EMBEDDING_COS_MIN).sum()}"
        )
    pairs = lfw_pairs(root)
    s_ref, labels, _ = pair_scores(ref, pairs)
    s_got, _, _ = pair_scores(got, pairs)
    d = s_got - s_ref
    print(
        f"  View 2 pair scores (6,000): mean shift {d.mean():+.5f}, |shift| p99 "
        f"{np.quantile(np.abs(d), 0.99):.5f}, max {np.abs(d).max():.5f} "
        f"(bounds: |mean| ≤ {MEAN_SHIFT_MAX}, max ≤ {PAIR_SHIFT_MAX})"
    )
    ids = [identity(p) for p in paths]
    genuine, impostor = {}, {}
    for name, es in sets.items():
        genuine[name], impostor[name] = all_pairs(es, ids)
    # the same pairs in both (all images with a face in both): shift of the impostor tail
    if genuine[ref_name].size == genuine[got_name].size:
        di = impostor[got_name] - impostor[ref_name]
        dg = genuine[got_name] - genuine[ref_name]
        print(
            f"  all-pairs scores: impostor mean shift {di.mean():+.5f} "
            f"(max |{np.abs(di).max():.4f}|), genuine mean shift {dg.mean():+.5f} "
            f"(max |{np.abs(dg).max():.4f}|)"
        )
    cal = engines[ref_name].calibrated.threshold_cosines("photo-photo")
    print("  shipped photo-photo thresholds on LFW all pairs (FAR / TAR per backend):")
    for t_name, t in cal.items():
        row = [
            f"{name}: FAR {(impostor[name] >= t).mean() * 100:.4f} %, "
            f"TAR {(genuine[name] >= t).mean() * 100:.3f} %"
            for name in sets
        ]
        print(f"    {t_name} (cosine {t:.4f}): " + "; ".join(row))


if __name__ == "__main__":
    main()
