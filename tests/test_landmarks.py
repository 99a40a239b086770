"""The 106-point landmark model: where the alignment points come from (docs/accuracy.md)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from conftest import lfw_image
from facecompare.errors import ModelIntegrityError
from facecompare.models import load_pack
from facecompare.models.pack import package_dir, read_manifest, verified_bytes
from facecompare.models.rewrite import prelu_as_relu


@pytest.mark.parametrize("name", ["Aaron_Peirsol", "Serena_Williams", "Tony_Blair"])
def test_five_points_from_106_sit_on_the_detector_points(engine, name):
    img = lfw_image(name, 1)
    face = engine.pipeline.faces(img, 0)[0]
    five = engine.pipeline.alignment_points(img, face)
    iod = np.linalg.norm(face.landmarks[0] - face.landmarks[1])
    err = np.linalg.norm(five - face.landmarks, axis=1) / iod
    assert five.shape == (5, 2) and five.dtype == np.float32
    assert err.max() < 0.15, err  # the same anatomical points, placed more precisely
    # and they follow the face: shifting the image shifts the points by the same amount
    shifted = np.zeros((img.shape[0] + 40, img.shape[1] + 30, 3), np.uint8)
    shifted[40:, 30:] = img
    moved = engine.pipeline.alignment_points(shifted, engine.pipeline.faces(shifted, 0)[0])
    np.testing.assert_allclose(moved - five, np.broadcast_to([30, 40], (5, 2)), atol=1.5)


def test_every_pack_file_is_verified_including_the_landmark_model(tmp_path):
    manifest = read_manifest()
    src = package_dir(manifest)
    files = {e["file"] for e in manifest["files"].values()}
    assert "2d106det.onnx" in files
    for f in files:
        (tmp_path / f).symlink_to(src / f)
    assert load_pack(model_dir=tmp_path).files["landmarks"].path.name == "2d106det.onnx"
    (tmp_path / "2d106det.onnx").unlink()
    data = bytearray((src / "2d106det.onnx").read_bytes())
    data[-1] ^= 1
    (tmp_path / "2d106det.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match the pinned"):
        load_pack(model_dir=tmp_path)


@pytest.mark.parametrize("role", ["landmarks", "recognizer"])
def test_prelu_rewrite_computes_the_same_function(engine, role):
    """models/rewrite.py: PRelu → Relu/Mul/Add changes the graph, not the outputs."""
    original = verified_bytes(engine.pack.files[role])
    rewritten = prelu_as_relu(original)
    ops = [n.op_type for n in onnx.load_from_string(rewritten).graph.node]
    assert "PRelu" not in ops and "PRelu" in {
        n.op_type for n in onnx.load_from_string(original).graph.node
    }
    img = lfw_image("Tony_Blair", 1)
    face = engine.pipeline.faces(img, 0)[0]
    fast = engine.pack.session(role, 1, fast_prelu=True)
    slow = engine.pack.session(role, 1, fast_prelu=False)
    if role == "landmarks":
        blob, _ = engine.pipeline.landmarker.blob(img, face.box)
    else:
        blob = engine.pipeline.embedder.blob([engine.pipeline.aligned(img, face)])
    name = fast.get_inputs()[0].name
    a, b = fast.run(None, {name: blob})[0], slow.run(None, {name: blob})[0]
    assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()
