"""LFW 10-fold accuracy of landmark-refinement levers: where the 5 alignment points
come from.

    python benchmarks/landmark_levers.py [--limit N]

Variants, all on the same first detection (the central face, LFW's label):
  scrfd        the detector's own 5 points (the server's pipeline)
  refine-R     SCRFD run a second time on a crop around the face, scaled so the face box is R px
  lm106-5      the wheel's 2d106det model (192×192 crop), 5 points derived from its 106 (the
               server's pipeline, see facecompare.models.landmark106)
  and mixes of these, a bicubic warp, a 106-point template fit.
Each with and without flip test-time augmentation. ~14 min on 2 idle cores.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from facecompare.align import ARCFACE_TEMPLATE, align, similarity_transform
from facecompare.compare import Engine
from facecompare.lab.data.datasets import lfw_dir, lfw_pairs
from facecompare.lab.measure.evaluate import choose, ten_fold
from facecompare.models.landmark106 import crop_matrix


def back(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    inv = cv2.invertAffineTransform(m)
    return points @ inv[:, :2].T + inv[:, 2]


def refine_scrfd(
    engine: Engine, img: np.ndarray, box: np.ndarray, face_px: int
) -> np.ndarray | None:
    center = (box[:2] + box[2:]) / 2
    side = max(box[2] - box[0], box[3] - box[1])
    scale = face_px / side
    out = int(-(-face_px * 2 // 32) * 32)
    m = crop_matrix(center, scale, out)
    crop = cv2.warpAffine(img, m, (out, out), flags=cv2.INTER_LINEAR, borderValue=0)
    faces = engine.pipeline.detector.detect(crop, out, 0.3)
    if not faces:
        return None
    best = min(faces, key=lambda f: np.hypot(*((f.box[:2] + f.box[2:]) / 2 - out / 2)))
    return back(best.landmarks.astype(np.float64), m)


def five_from_106(p: np.ndarray, idx: list[list[int]]) -> np.ndarray:
    return np.stack([p[i].mean(0) for i in idx])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    engine = Engine.load(with_calibration=False)
    assert engine.pipeline.landmarker is not None, "the pack has no landmark model"
    root = lfw_dir()
    pairs = lfw_pairs(root)
    paths = sorted({p for pr in pairs for p in (pr.a, pr.b)})
    if args.limit:
        paths = paths[: args.limit]

    def marks(path: str) -> dict[str, np.ndarray | None]:
        img = cv2.imread(str(root / "images" / path), cv2.IMREAD_COLOR)
        face = choose(engine.pipeline.faces(img, 0), img.shape, "central")
        return {
            "scrfd": face.landmarks.astype(np.float64),
            "refine-128": refine_scrfd(engine, img, face.box, 128),
            "refine-192": refine_scrfd(engine, img, face.box, 192),
            "lm106": engine.pipeline.landmarker.points(img, face.box),
        }

    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        lms = dict(zip(paths, pool.map(marks, paths), strict=True))
    print(f"landmarks: {time.perf_counter() - t:.0f} s")

    # which 106 points are nearest each SCRFD point
    s5 = np.stack([lms[p]["scrfd"] for p in paths[:500]])
    p106 = np.stack([lms[p]["lm106"] for p in paths[:500]])
    iod = np.linalg.norm(s5[:, 0] - s5[:, 1], axis=1)
    idx: list[list[int]] = []
    for k in range(5):
        d = (np.linalg.norm(p106 - s5[:, k : k + 1], axis=2) / iod[:, None]).mean(0)
        order = np.argsort(d)[:4]
        print(f"  point {k}: nearest 106 indices {order.tolist()} at {d[order].round(3).tolist()}")
        # the eyes: the two nearest points sit at the same distance (pupil and eye centre)
        idx.append([int(i) for i in order[:2]] if k < 2 else [int(order[0])])
    variants = ["scrfd", "refine-128", "refine-192", "lm106-5", "mean(scrfd,lm106-5)"]
    variants += ["lm106 eyes=contour mean", "mean(refine-192,lm106-5)"]
    for p in paths:
        five = five_from_106(lms[p]["lm106"], idx)
        lms[p]["lm106-5"] = five
        lms[p]["mean(scrfd,lm106-5)"] = (five + lms[p]["scrfd"]) / 2
        for v in ("refine-128", "refine-192"):
            if lms[p][v] is None:
                lms[p][v] = lms[p]["scrfd"]
        lms[p]["mean(refine-192,lm106-5)"] = (five + lms[p]["refine-192"]) / 2
        contour = five.copy()
        contour[0], contour[1] = lms[p]["lm106"][33:43].mean(0), lms[p]["lm106"][87:97].mean(0)
        lms[p]["lm106 eyes=contour mean"] = contour
    for v in variants[1:]:
        dev = np.mean([np.linalg.norm(lms[p][v] - lms[p]["scrfd"], axis=1).mean() for p in paths])
        print(f"  mean |{v} - scrfd| = {dev:.2f} px")
    # a 106-point template in the ArcFace frame (mean shape, no labels), fitted on the 73 inner
    # points (eyes, brows, nose, mouth) instead of 5
    inner = list(range(33, 106))
    shapes = []
    for p in paths:
        m = similarity_transform(lms[p]["lm106-5"], ARCFACE_TEMPLATE)
        shapes.append(lms[p]["lm106"] @ m[:, :2].T + m[:, 2])
    template = np.mean(shapes, 0)[inner]

    point_sets = list(variants)  # aligned with the linear warp on their 5 points

    def crops_of(img: np.ndarray, path: str) -> list[np.ndarray]:
        out = [align(img, lms[path][v]) for v in point_sets]
        m = similarity_transform(lms[path]["lm106-5"], ARCFACE_TEMPLATE)
        out.append(cv2.warpAffine(img, m, (112, 112), flags=cv2.INTER_CUBIC, borderValue=0))
        m = similarity_transform(lms[path]["lm106"][inner], template)
        out.append(cv2.warpAffine(img, m, (112, 112), flags=cv2.INTER_LINEAR, borderValue=0))
        return out

    variants += ["lm106-5, bicubic warp", "106-point template fit (73 inner points)"]

    def work(path: str) -> np.ndarray:
        img = cv2.imread(str(root / "images" / path), cv2.IMREAD_COLOR)
        crops = []
        for c in crops_of(img, path):
            crops += [c, cv2.flip(c, 1)]
        return engine.pipeline.embedder.embed(crops)[0]

    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        embs = dict(zip(paths, pool.map(work, paths), strict=True))
    print(f"embeddings: {time.perf_counter() - t:.0f} s")
    if args.limit:
        return
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v)

    for i, v in enumerate(variants):
        for flip in (False, True):

            def f(e: np.ndarray, i: int = i, flip: bool = flip) -> np.ndarray:
                return unit(e[2 * i] + e[2 * i + 1]) if flip else e[2 * i]

            scores = np.array([f(embs[p.a]) @ f(embs[p.b]) for p in pairs])
            acc = np.array(ten_fold(scores, labels, folds))
            name = v + (" + flip" if flip else "")
            print(f"  {name:32s} {acc.mean() * 100:.2f} % ± {acc.std() * 100:.2f}")


if __name__ == "__main__":
    main()
