"""Multiply-accumulates of the pack's models at our input sizes (the physical floor of a compare).

    PYTHONPATH=src python benchmarks/flops.py

Counts Conv, Gemm and MatMul from ONNX shape inference (the other ops are memory-bound and
small); prints GMACs per model and per compare (two detector passes, two 112×112 crops).
"""

from __future__ import annotations

import onnx
from onnx import shape_inference

from facecompare.models import load_pack


def dims(vi: onnx.ValueInfoProto) -> list[int]:
    return [d.dim_value for d in vi.type.tensor_type.shape.dim]


def macs(path: str, shape: list[int]) -> float:
    model = onnx.load(path)
    inp = model.graph.input[0]
    for d, v in zip(inp.type.tensor_type.shape.dim, shape, strict=True):
        d.ClearField("dim_param")
        d.dim_value = v
    model = shape_inference.infer_shapes(model)
    shapes = {vi.name: dims(vi) for vi in [*model.graph.value_info, *model.graph.output]}
    shapes[inp.name] = shape
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = inits[node.input[1]]
            out = shapes[node.output[0]]
            n_out = 1
            for v in out:
                n_out *= v
            total += n_out * w[1] * w[2] * w[3]  # weight is [out, in / groups, kh, kw]
        elif node.op_type in ("Gemm", "MatMul"):
            a, out = shapes.get(node.input[0]), shapes[node.output[0]]
            if a:
                k = a[-1]
                n_out = 1
                for v in out:
                    n_out *= v
                total += n_out * k
    return total / 1e9


def main() -> None:
    pack = load_pack()
    det = str(pack.files["detector"].path)
    rec = str(pack.files["recognizer"].path)
    rows = [
        ("detector SCRFD-500M, 640×480 (our input for 4:3)", macs(det, [1, 3, 480, 640])),
        ("detector SCRFD-500M, 640×640 (FaceAnalysis' input)", macs(det, [1, 3, 640, 640])),
        (
            "detector SCRFD-500M, 480×384 (our 4:3 input at 480, padded)",
            macs(det, [1, 3, 384, 480]),
        ),
        ("recogniser MobileFaceNet w600k_mbf, 112×112", macs(rec, [1, 3, 112, 112])),
        (
            "detector SCRFD-500M, 320×256 (the first pass for 4:3, padded)",
            macs(det, [1, 3, 256, 320]),
        ),
    ]
    lmk = pack.files["detector"].path.parent / "2d106det.onnx"  # FaceAnalysis runs it too
    if lmk.is_file():
        rows.append(
            ("landmarks 2d106det, 192×192 (FaceAnalysis only)", macs(str(lmk), [1, 3, 192, 192]))
        )
    for name, g in rows:
        print(f"{name:55} {g:6.3f} GMAC")
    lmk_macs = rows[5][1] if len(rows) > 5 else 0.0
    for i, size in ((0, 640), (2, 480), (4, 320)):
        total = 2 * rows[i][1] + 2 * rows[3][1]
        print(f"{f'one compare, two 4:3 photos, detector {size}':55} {total:6.3f} GMAC")
    ours = 2 * (rows[4][1] + lmk_macs + rows[3][1])
    print(f"{'ours: first pass 320, 106 points, no flip':55} {ours:6.3f} GMAC")
    print(f"{'  + flip TTA (two more crops)':55} {2 * rows[3][1]:6.3f} GMAC")


if __name__ == "__main__":
    main()
