"""LFW 10-fold accuracy of alignment / test-time levers over the server's detector and embedder.

    python benchmarks/accuracy_levers.py      # ~2 min on 2 idle cores; prints one row per lever

Every lever is measured in the same run on the same detections (the central face, LFW's label).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from facecompare.align import ARCFACE_TEMPLATE, align, similarity_transform
from facecompare.compare import Engine
from facecompare.lab.data.datasets import lfw_dir, lfw_pairs
from facecompare.lab.measure.evaluate import choose, ten_fold


def clahe(crop: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
    lab[..., 0] = cv2.createCLAHE(2.0, (4, 4)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def crops_of(engine: Engine, img: np.ndarray) -> list[np.ndarray]:
    face = choose(engine.pipeline.faces(img, 0), img.shape, "central")
    m = similarity_transform(face.landmarks, ARCFACE_TEMPLATE)
    plain = align(img, face.landmarks)
    warp = {
        flag: cv2.warpAffine(img, m, (112, 112), flags=flag)
        for flag in (cv2.INTER_CUBIC, cv2.INTER_LANCZOS4)
    }
    reflect = cv2.warpAffine(img, m, (112, 112), borderMode=cv2.BORDER_REFLECT)
    eq = clahe(plain)
    cub, lan = warp[cv2.INTER_CUBIC], warp[cv2.INTER_LANCZOS4]
    #       0      1                  2   3                4        5    6                7    8
    return [plain, cv2.flip(plain, 1), eq, cv2.flip(eq, 1), reflect, cub, cv2.flip(cub, 1), lan,
            cv2.flip(lan, 1)]  # fmt: skip


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


LEVERS = {
    "plain (linear warp)": lambda v: v[0],
    "flip TTA": lambda v: unit(v[0] + v[1]),
    "CLAHE": lambda v: v[2],
    "CLAHE + flip": lambda v: unit(v[2] + v[3]),
    "plain + flip + CLAHE + flip": lambda v: unit(v[0] + v[1] + v[2] + v[3]),
    "border reflect": lambda v: v[4],
    "bicubic warp": lambda v: v[5],
    "bicubic + flip": lambda v: unit(v[5] + v[6]),
    "Lanczos warp": lambda v: v[7],
    "Lanczos + flip": lambda v: unit(v[7] + v[8]),
}


def main() -> None:
    engine = Engine.load(with_calibration=False)
    root = lfw_dir()
    pairs = lfw_pairs(root)
    paths = sorted({p for pr in pairs for p in (pr.a, pr.b)})

    def work(path: str) -> np.ndarray:
        img = cv2.imread(str(root / "images" / path), cv2.IMREAD_COLOR)
        return engine.pipeline.embedder.embed(crops_of(engine, img))[0]

    with ThreadPoolExecutor(2) as pool:
        embs = dict(zip(paths, pool.map(work, paths), strict=True))
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    print(f"LFW 10-fold, {len(pairs)} pairs, central face, detector as in the server")
    for name, combine in LEVERS.items():
        scores = np.array([combine(embs[p.a]) @ combine(embs[p.b]) for p in pairs])
        acc = np.array(ten_fold(scores, labels, folds))
        print(f"  {name:30s} {acc.mean() * 100:.2f} % ± {acc.std() * 100:.2f}")


if __name__ == "__main__":
    main()
