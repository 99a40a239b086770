"""What the PRelu rewrite (models/rewrite.py) changes: one core, original vs rewritten graph.

    PYTHONPATH=src python benchmarks/prelu_rewrite.py

For the landmark model and the recogniser: median ms of a run on a constant input, on uniform
noise, and on a real face crop (LFW, through the server's stages), with the original and the
rewritten graph; the largest output difference; how many PRelu slopes lie outside [0, 1]
(where Max(x, s·x) would not be PRelu).
"""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np
import onnx
from onnx import numpy_helper

from facecompare.compare import Engine
from facecompare.lab.data.datasets import lfw_dir
from facecompare.models.pack import verified_bytes


def median_ms(run, n: int = 40) -> float:
    for _ in range(5):
        run()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def slopes_outside(model: bytes) -> tuple[int, int]:
    m = onnx.load_from_string(model)
    consts = {i.name: i for i in m.graph.initializer}
    slopes = [
        numpy_helper.to_array(consts[n.input[1]]).ravel()
        for n in m.graph.node
        if n.op_type == "PRelu" and n.input[1] in consts
    ]
    s = np.concatenate(slopes)
    return int(((s < 0) | (s > 1)).sum()), s.size


def main() -> None:
    engine = Engine.load(with_calibration=False)
    img = cv2.imread(str(lfw_dir() / "images" / "Tony_Blair" / "Tony_Blair_0001.jpg"))
    face = engine.pipeline.faces(img, 0)[0]
    assert engine.pipeline.landmarker is not None
    real = {
        "landmarks": engine.pipeline.landmarker.blob(img, face.box)[0],
        "recognizer": engine.pipeline.embedder.blob([engine.pipeline.aligned(img, face)]),
    }
    rng = np.random.default_rng(0)
    print("one core, median ms per run          original  rewritten")
    for role, blob in real.items():
        outside, total = slopes_outside(verified_bytes(engine.pack.files[role]))
        scale = 255.0 if role == "landmarks" else 1.0  # the landmark model takes [0, 255]
        inputs = {
            "constant": np.full_like(blob, 0.5 * scale),
            "uniform noise": (rng.random(blob.shape) * scale).astype(np.float32),
            "real face crop": blob,
        }
        sessions = [engine.pack.session(role, 1, fast_prelu=f) for f in (False, True)]
        name = sessions[0].get_inputs()[0].name
        print(f"{role} ({outside} of {total} PRelu slopes outside [0, 1])")
        for kind, x in inputs.items():
            feed = {name: x}
            ms = [median_ms(lambda s=s, feed=feed: s.run(None, feed)) for s in sessions]
            print(f"  {kind:32s} {ms[0]:8.2f} {ms[1]:10.2f}")
        a, b = (s.run(None, {name: blob})[0] for s in sessions)
        rel = np.abs(a - b).max() / np.abs(b).max()
        print(f"  max |rewritten - original| / max |original| = {rel:.1e}")


if __name__ == "__main__":
    main()
