"""Each model on each inference backend and precision, one thread, real inputs, same run.

    PYTHONPATH=src python benchmarks/backends.py [--pairs 6] [--reps 5]

Inputs are the blobs the server builds from the bench's phone-style pairs: the detector's
480-px input of the reduced decode, the 106-point model's 192×192 crop, the recogniser's
112×112 aligned crop. Each model runs as onnxruntime fp32 (original graph and PRelu rewritten)
and as OpenVINO f32 / bf16 (original and rewritten), interleaved input by input with a pause,
one thread, streams 1; the last row compiles the graph for the inputs' exact shapes instead
of the dynamic ones (models/backend.py ``shapes``). Prints the median wall ms and the agreement
with onnxruntime fp32 on the original graph: cosine of the raw embeddings, largest landmark
shift in crop pixels, largest detector-score difference. Also prints the CPU's deciding flags
and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import numpy as np

from facecompare import imaging
from facecompare.align import align
from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.lab.data.datasets import lfw_dir
from facecompare.lab.data.phones import build_pairs
from facecompare.models.arcface import ArcFaceEmbedder
from facecompare.models.backend import Choice, cpu_flags, open_session
from facecompare.models.pack import verified_bytes

CONFIGS = [
    ("onnxruntime fp32, original graph", Choice("onnxruntime", "f32", ""), False),
    ("onnxruntime fp32, PRelu rewritten", Choice("onnxruntime", "f32", ""), True),
    ("OpenVINO f32, original graph", Choice("openvino", "f32", ""), False),
    ("OpenVINO f32, PRelu rewritten", Choice("openvino", "f32", ""), True),
    ("OpenVINO bf16, original graph", Choice("openvino", "bf16", ""), False),
    ("OpenVINO bf16, PRelu rewritten", Choice("openvino", "bf16", ""), True),
    ("OpenVINO bf16, original, fixed shape", Choice("openvino", "bf16", ""), False),
]
FIXED = len(CONFIGS) - 1  # the same graph also compiled for the input's exact shape


def detector_blob(img: np.ndarray, size: int) -> np.ndarray:
    """SCRFD's input as models.scrfd.SCRFD.detect builds it (shrink, pad to 32, normalise)."""
    h0, w0 = img.shape[:2]
    scale = min(1.0, size / max(h0, w0))
    nh, nw = round(h0 * scale), round(w0 * scale)
    resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
    padded = cv2.copyMakeBorder(resized, 0, ph - nh, 0, pw - nw, cv2.BORDER_CONSTANT, value=0)
    return cv2.dnn.blobFromImage(padded, 1 / 128.0, (pw, ph), (127.5, 127.5, 127.5), True)


def blobs(engine: Engine, pairs: int) -> dict[str, list[np.ndarray]]:
    """The three models' real inputs from ``pairs`` phone pairs (both photos)."""
    out: dict[str, list[np.ndarray]] = {"detector": [], "landmarks": [], "recognizer": []}
    s = engine.settings
    for p in build_pairs(lfw_dir(), pairs):
        for data in (p.a, p.b):
            h = imaging.read_header(data, "image1")
            f = imaging.reduction(h, s.det_retry_size)
            img = imaging.decode_reduced(data, h, "image1", f)
            face = engine.pipeline.faces(img, 0)[0]
            out["detector"].append(detector_blob(img, s.det_size))
            assert engine.pipeline.landmarker is not None
            out["landmarks"].append(engine.pipeline.landmarker.blob(img, face.box)[0])
            crop = align(img, engine.pipeline.alignment_points(img, face))
            out["recognizer"].append(ArcFaceEmbedder.blob([crop]))
    return out


UNITS = {"recognizer": "cosine", "landmarks": "largest shift, px", "detector": "score diff"}


def agreement(role: str, ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    """Embedding cosine (recogniser), largest point shift in crop pixels (landmarks: outputs in
    [-1, 1] of 192 px), largest face-score difference over the three strides (detector)."""
    if role == "detector":
        return max(float(np.abs(r - g).max()) for r, g in zip(ref[:3], got[:3], strict=True))
    a, b = ref[0].astype(np.float64).ravel(), got[0].astype(np.float64).ravel()
    if role == "recognizer":
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    return float(np.abs(a - b).max() * 96)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    engine = Engine.load(Settings.from_env(backend="onnxruntime", image_threads=1))
    inputs = blobs(engine, args.pairs)
    flags = sorted(f for f in cpu_flags() if "amx" in f or "vnni" in f or "bf16" in f)
    print(f"CPU flags: {' '.join(flags)}; load average {os.getloadavg()}")
    for role, xs in inputs.items():
        raw = verified_bytes(engine.pack.files[role])
        shapes = tuple(dict.fromkeys(x.shape for x in xs))
        sessions = [
            open_session(raw, c, 1, 1, rw, shapes if i == FIXED else ())
            for i, (_, c, rw) in enumerate(CONFIGS)
        ]
        names = [s.get_inputs()[0].name for s in sessions]
        ms: list[list[float]] = [[] for _ in CONFIGS]
        agree: list[list[float]] = [[] for _ in CONFIGS]
        for x in xs:
            ref = sessions[0].run(None, {names[0]: x})
            for i, (sess, name) in enumerate(zip(sessions, names, strict=True)):
                out = sess.run(None, {name: x})  # warm for this input shape
                agree[i].append(agreement(role, ref, out))
                for _ in range(args.reps):
                    time.sleep(0.01)
                    t = time.perf_counter()
                    sess.run(None, {name: x})
                    ms[i].append((time.perf_counter() - t) * 1000)
        print(f"{role}, input {xs[0].shape[2]}×{xs[0].shape[3]} ({len(xs)} inputs):")
        for (label, _, _), v, a in zip(CONFIGS, ms, agree, strict=True):
            worst = min(a) if role == "recognizer" else max(a)
            print(f"  {label:36} {statistics.median(v):7.2f} ms   worst {UNITS[role]} {worst:.5f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
