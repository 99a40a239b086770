"""int8 post-training quantisation of the recogniser: speed and drift against fp32, same run.

    PYTHONPATH=src python benchmarks/int8.py [--calibration 300] [--test 200] [--reps 3]

MobileFaceNet (the default pack's ``w600k_mbf.onnx``, SHA-256 checked) quantised after the
hash check with a calibration set of aligned LFW crops (people whose name hashes to an even
number), and measured on crops of *other* people (odd): onnxruntime's static quantisation
(QOperator, per-channel int8 weights, uint8 activations; QDQ per-channel is refused by this
model's opset) and, when ``nncf`` is installed (``pip install nncf``), OpenVINO int8 by NNCF's
post-training quantisation (preset performance, fast bias correction). Every network runs one
thread, one stream, the inputs interleaved. Prints the median ms per crop and the drift of the
embeddings from onnxruntime fp32 (per-embedding cosine and ``models/backend.drift``: the bounds
a precision must hold to serve the shipped thresholds).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.lab.data.datasets import identity, lfw_dir, lfw_images
from facecompare.models.arcface import ArcFaceEmbedder
from facecompare.models.backend import drift, onnxruntime_session
from facecompare.models.pack import verified_bytes
from facecompare.models.rewrite import prelu_as_relu

Run = Callable[[np.ndarray], np.ndarray]


def crops(engine: Engine, paths: list[str], n: int) -> list[np.ndarray]:
    out = []
    for p in paths:
        found = engine.pipeline.largest_face(cv2.imread(str(lfw_dir() / "images" / p)), 40)
        if found is not None:
            out.append(found.crop)
        if len(out) == n:
            break
    return out


def ort_int8(model: bytes, cal: list[np.ndarray]) -> Run:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    sess32 = onnxruntime_session(model, 1)
    name = sess32.get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{name: ArcFaceEmbedder.blob([c])} for c in cal])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:  # the quantiser works on files
        src, dst = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(model)
        quantize_static(
            str(src),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        sess = onnxruntime_session(dst.read_bytes(), 1)
    return lambda b: sess.run(None, {name: b})[0]


def openvino_runs(model: bytes, cal: list[np.ndarray]) -> dict[str, Run]:
    import openvino as ov

    core = ov.Core()
    graph = core.read_model(model, b"")
    graph.reshape({0: [1, 3, 112, 112]})
    config = {"NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": 1, "ENABLE_CPU_PINNING": False}
    runs: dict[str, Run] = {}
    req32 = core.compile_model(graph, "CPU", {**config, "INFERENCE_PRECISION_HINT": "f32"})
    r32 = req32.create_infer_request()
    runs["OpenVINO f32"] = lambda b: r32.infer({0: b})[0].copy()
    try:
        import nncf
    except ImportError:
        print("  (nncf not installed: OpenVINO int8 skipped; pip install nncf)")
        return runs
    quantised = nncf.quantize(
        graph,
        nncf.Dataset([ArcFaceEmbedder.blob([c]) for c in cal]),
        preset=nncf.QuantizationPreset.PERFORMANCE,
        subset_size=len(cal),
        fast_bias_correction=True,
    )
    r8 = core.compile_model(quantised, "CPU", config).create_infer_request()
    runs["OpenVINO int8 (NNCF)"] = lambda b: r8.infer({0: b})[0].copy()
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=int, default=300)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    engine = Engine.load(Settings.from_env(backend="onnxruntime"), with_calibration=False)
    paths = lfw_images()
    rng = np.random.default_rng(0)
    rng.shuffle(paths)

    def half(p: str) -> int:
        return hashlib.sha256(identity(p).encode()).digest()[0] % 2

    cal = crops(engine, [p for p in paths if half(p) == 0], args.calibration)
    test = crops(engine, [p for p in paths if half(p) == 1], args.test)
    model = prelu_as_relu(verified_bytes(engine.pack.files["recognizer"]))
    ref_sess = onnxruntime_session(model, 1)
    name = ref_sess.get_inputs()[0].name
    runs: dict[str, Run] = {
        "onnxruntime fp32 (PRelu rewritten)": lambda b: ref_sess.run(None, {name: b})[0]
    }
    runs["onnxruntime int8 (QOperator)"] = ort_int8(model, cal)
    runs.update(openvino_runs(verified_bytes(engine.pack.files["recognizer"]), cal))
    blobs = [ArcFaceEmbedder.blob([c]) for c in test]
    ms: dict[str, list[float]] = {k: [] for k in runs}
    embs: dict[str, list[np.ndarray]] = {k: [] for k in runs}
    for b in blobs:  # interleaved, input by input
        for k, run in runs.items():
            out = run(b)
            t = time.perf_counter()
            for _ in range(args.reps):
                run(b)
            ms[k].append((time.perf_counter() - t) * 1000 / args.reps)
            embs[k].append(out.reshape(-1) / np.linalg.norm(out))
    ref = np.stack(embs[next(iter(runs))])
    print(
        f"{len(cal)} calibration crops, {len(test)} test crops of other people; one thread; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for k in runs:
        got = np.stack(embs[k])
        cos = np.sum(ref * got, axis=1)
        d = drift(ref, got)
        print(
            f"  {k:36s} {statistics.median(ms[k]):6.2f} ms   cosine to fp32 min {cos.min():.4f}, "
            f"1 % {np.quantile(cos, 0.01):.4f}, median {np.median(cos):.4f}; pair shift mean "
            f"{d.mean_pair_shift:+.4f}, max {d.max_pair_shift:.4f}; within the drift bounds: "
            f"{d.within_bounds}"
        )


if __name__ == "__main__":
    main()
