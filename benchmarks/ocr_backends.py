"""The document text detector on each backend (models/ppocr.choose_backend), real crops, one run.

    PYTHONPATH=src python benchmarks/ocr_backends.py [--cards 12] [--reps 5] [--threads 2]

Inputs: the card-sized crops the document path gives the detector (``layout.text_near``'s
crop around the largest face of train-half synthetic card photos, ``synth_cards`` seed 0).
Each crop goes through ``TextDetector.detect`` on onnxruntime fp32, OpenVINO f32 and, where
the CPU computes it natively, OpenVINO bf16, interleaved crop by crop after one warm call per
crop (OpenVINO compiles each new input shape on its first run). Prints the median wall ms per
call and the boxes' agreement with onnxruntime (same box count; largest centre shift, px).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from facecompare.compare import Engine
from facecompare.documents import layout
from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.data.synth_cards import card_plan, render
from facecompare.models.backend import BF16_FLAGS, Choice, cpu_flags, openvino_available
from facecompare.models.ppocr import OCR


def crops(engine: Engine, n: int) -> list[tuple[np.ndarray, int]]:
    """(crop, detector long side) as ``layout.text_near`` builds them, one per card."""
    shared = shared_dir() / "datasets"
    out = []
    for person, source, seed in card_plan(shared / "lfw", "train", n):
        img = render(shared / "lfw", shared / "id-documents", person, source, seed).image
        faces = engine.pipeline.faces(img, engine.settings.min_document_face, 640)
        if not faces:
            continue
        x1, y1, x2, y2 = (float(v) for v in faces[0].box)
        fw, fh = x2 - x1, y2 - y1
        h, w = img.shape[:2]
        crop = img[
            int(max(0, y1 - layout.CROP_ABOVE * fh)) : int(min(h, y2 + layout.CROP_BELOW * fh)),
            int(max(0, x1 - layout.CROP_SIDE * fw)) : int(min(w, x2 + layout.CROP_SIDE * fw)),
        ]
        side = int(min(layout.OCR_MAX_SIDE, max(crop.shape[:2]) * layout.OCR_FACE / fh))
        out.append((crop, max(96, side)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=12)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    engine = Engine.load()
    inputs = crops(engine, args.cards)
    choices = [Choice("onnxruntime", "f32", "bench")]
    if openvino_available():
        choices.append(Choice("openvino", "f32", "bench"))
        if any(f in cpu_flags() for f in BF16_FLAGS):
            choices.append(Choice("openvino", "bf16", "bench"))
    detectors = {f"{c.backend} {c.precision}": OCR.load(args.threads, c).detector for c in choices}
    times: dict[str, list[float]] = {k: [] for k in detectors}
    agree: dict[str, list[float]] = {k: [] for k in detectors}
    same_count = {k: 0 for k in detectors}
    for crop, side in inputs:
        ref = sorted(detectors["onnxruntime f32"].detect(crop, side), key=lambda b: (b.cy, b.cx))
        for name, det in detectors.items():
            got = sorted(det.detect(crop, side), key=lambda b: (b.cy, b.cx))  # warm
            same_count[name] += len(got) == len(ref)
            if len(got) == len(ref) and ref:
                agree[name].append(
                    max(
                        float(np.hypot(a.cx - b.cx, a.cy - b.cy))
                        for a, b in zip(ref, got, strict=True)
                    )
                )
            for _ in range(args.reps):
                t0 = time.perf_counter()
                det.detect(crop, side)
                times[name].append(time.perf_counter() - t0)
    shapes = [c.shape[:2] for c, _ in inputs]
    print(
        f"text detector, {len(inputs)} card crops (e.g. {shapes[:3]}), {args.threads} threads, "
        f"load average {os.getloadavg()[0]:.2f}, CPU flags "
        f"{sorted(f for f in cpu_flags() if f in ('avx2', 'avx512f', *BF16_FLAGS))}"
    )
    base = statistics.median(times["onnxruntime f32"])
    for name in detectors:
        med = statistics.median(times[name])
        shift = max(agree[name], default=0.0)
        print(
            f"  {name:<16} {1000 * med:6.1f} ms per call ({base / med:4.2f}x onnxruntime); "
            f"same box count {same_count[name]}/{len(inputs)}, largest centre shift {shift:.1f} px"
        )


if __name__ == "__main__":
    main()
