"""How much flip TTA moves a score, and what scoring with it only inside a band costs and gives.

    python benchmarks/flip_band.py      # seconds when `facecompare eval` has filled the cache
    FACECOMPARE_PACK=open python benchmarks/flip_band.py     # the open pack

LFW View 2 pairs through the server's stages (central face), cached embeddings: for each band,
the share of pairs that need the second (mirrored) inference and the 10-fold accuracy.
"""

from __future__ import annotations

import numpy as np

from facecompare.compare import Engine
from facecompare.embed import in_band, similarity
from facecompare.lab.data.datasets import lfw_dir, lfw_images, lfw_pairs
from facecompare.lab.measure.evaluate import embed_images, ten_fold

BANDS = [None, (0.20, 0.40), (0.15, 0.45), (0.10, 0.50), (0.05, 0.60)]
# the open pack (SFace): its thresholds lie at 0.37–0.50 (calibration/data/open.json)
BANDS += [(0.25, 0.60), (0.25, 0.65), (0.20, 0.70), (-np.inf, np.inf)]


def main() -> None:
    engine = Engine.load(with_calibration=False)
    root = lfw_dir()
    es = embed_images(engine, root / "images", lfw_images(root), choice="central")
    idx = es.index()
    pairs = lfw_pairs(root)
    a = es.emb[[idx[p.a] for p in pairs]]
    b = es.emb[[idx[p.b] for p in pairs]]
    plain = np.einsum("nd,nd->n", a[:, 0], b[:, 0])
    tta = np.einsum("nd,nd->n", a[:, 1], b[:, 1])
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    shift = np.abs(tta - plain)
    print(f"LFW View 2, {len(pairs)} pairs: |flip-TTA cosine - plain cosine|")
    print(f"  mean {shift.mean():.4f}  p99 {np.quantile(shift, 0.99):.4f}  max {shift.max():.4f}")
    print("  band (plain cosine)      pairs flipped  same / different   10-fold accuracy")
    for band in BANDS:
        score = np.array(
            [similarity(a[i : i + 1], b[i : i + 1], band)[0, 0] for i in range(len(pairs))]
        )
        inside = in_band(plain, band)
        acc = np.array(ten_fold(score, labels, folds))
        name = "off (plain)" if band is None else f"[{band[0]:.2f}, {band[1]:.2f}]"
        print(
            f"  {name:24s} {inside.mean() * 100:11.1f} %  "
            f"{inside[labels].mean() * 100:5.1f} / {inside[~labels].mean() * 100:4.1f} %"
            f"   {acc.mean() * 100:.2f} % ± {acc.std() * 100:.2f}"
        )


if __name__ == "__main__":
    main()
