"""YuNet at its file's fixed 640×640 input (letterbox: the image at the top left, zeros around)
against the input size opened in memory (models/rewrite.free_input_size: the image padded to a
multiple of 32 only), on LFW View 2 pairs through the open pack's other stages.

    PYTHONPATH=src python benchmarks/yunet_input.py [--folds 2]

Prints per input: images without a face, 10-fold-style accuracy over the chosen folds (plain
cosine, threshold from the other chosen folds; best threshold if one fold), and detector ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.lab.data.datasets import lfw_dir, lfw_pairs
from facecompare.lab.measure.evaluate import best_threshold, choose, ten_fold
from facecompare.models.pack import verified_bytes
from facecompare.models.rewrite import dequantize_constants
from facecompare.models.yunet import YuNet


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=2)
    args = ap.parse_args()
    engine = Engine.load(Settings.from_env(pack="open"), with_calibration=False)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    raw = dequantize_constants(verified_bytes(engine.pack.files["detector"]))
    detectors = {
        "free (padded to ×32)": engine.pipeline.detector,
        "fixed 640×640 letterbox": YuNet(
            ort.InferenceSession(raw, opts, providers=["CPUExecutionProvider"])
        ),
    }
    root = lfw_dir()
    pairs = [p for p in lfw_pairs(root) if p.fold < args.folds]
    paths = sorted({q for p in pairs for q in (p.a, p.b)})
    imgs = {q: cv2.imread(str(root / "images" / q)) for q in paths}
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    print(f"LFW View 2 folds 1–{args.folds}: {len(pairs)} pairs, {len(paths)} images")
    for name, det in detectors.items():
        emb, ms, lost = {}, [], 0
        for q, img in imgs.items():
            t = time.perf_counter()
            faces = det.detect(img, engine.settings.det_size, engine.settings.det_threshold)
            ms.append((time.perf_counter() - t) * 1000)
            if not faces:
                lost += 1
                continue
            face = choose(faces, img.shape, "central")
            emb[q] = engine.pipeline.embedder.embed([engine.pipeline.aligned(img, face)])[0][0]
        scores = np.array(
            [float(emb[p.a] @ emb[p.b]) if p.a in emb and p.b in emb else -1.0 for p in pairs]
        )
        if args.folds > 1:
            acc = float(np.mean(ten_fold(scores, labels, folds)))
        else:
            acc = best_threshold(scores, labels)[1]
        print(
            f"  {name:26s} no face {lost:3d}  accuracy {acc * 100:.2f} %"
            f"  detector median {statistics.median(ms):.1f} ms"
        )


if __name__ == "__main__":
    main()
