"""int8 (QDQ, per-channel) quantisation of the recogniser with onnxruntime's tools: speed and
agreement with fp32 on the same crops. Writes only to a temporary directory.

    PYTHONPATH=src python benchmarks/quantize_int8.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from facecompare.align import align
from facecompare.compare import Engine
from facecompare.lab.data.datasets import lfw_dir, lfw_images


def blob(crops: list[np.ndarray]) -> np.ndarray:
    return cv2.dnn.blobFromImages(crops, 1 / 127.5, (0, 0), (127.5, 127.5, 127.5), True)


def session(path: str) -> ort.InferenceSession:
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.log_severity_level = 3
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def main() -> None:
    engine = Engine.load(with_calibration=False)
    src = str(engine.pack.files["recognizer"].path)
    crops = []
    for p in lfw_images()[::130][:100]:
        img = cv2.imread(str(lfw_dir() / "images" / p))
        faces = engine.pipeline.faces(img, 0)
        if faces:
            crops.append(align(img, faces[0].landmarks))
    name = engine.pipeline.embedder.input_name
    feeds = iter([{name: blob([c])} for c in crops])

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(feeds, None)

    tmp = Path(tempfile.mkdtemp(prefix="facecompare-int8-"))
    model = version_converter.convert_version(onnx.load(src), 13)  # per-channel needs opset 13
    onnx.save(model, tmp / "rec13.onnx")
    quant_pre_process(str(tmp / "rec13.onnx"), str(tmp / "pre.onnx"), skip_symbolic_shape=True)
    quantize_static(
        str(tmp / "pre.onnx"),
        str(tmp / "int8.onnx"),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    fp32, int8 = session(src), session(str(tmp / "int8.onnx"))
    x = blob(crops[:2])
    for _ in range(3):
        for label, s in (("fp32", fp32), ("int8", int8)):
            s.run(None, {name: x})
            t = time.perf_counter()
            for _ in range(20):
                s.run(None, {name: x})
            print(f"{label} batch of 2: {(time.perf_counter() - t) / 20 * 1000:.1f} ms")
    a = fp32.run(None, {name: blob(crops)})[0]
    b = int8.run(None, {name: blob(crops)})[0]
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    cos = (a * b).sum(1)
    print(f"cos(fp32, int8) over {len(crops)} crops: mean {cos.mean():.4f}, min {cos.min():.4f}")


if __name__ == "__main__":
    main()
