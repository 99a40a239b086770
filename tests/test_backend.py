"""Inference backends (models/backend.py): the start-up choice, OpenVINO on the verified bytes,
embeddings within the drift bound of onnxruntime fp32 on real LFW crops, /v1/info."""

from __future__ import annotations

import dataclasses
import os
import threading

import httpx
import numpy as np
import pytest

from conftest import Server, lfw_image
from facecompare.align import align
from facecompare.config import Settings
from facecompare.errors import ModelIntegrityError
from facecompare.models.backend import (
    EMBEDDING_COS_MIN,
    MEAN_SHIFT_MAX,
    PAIR_SHIFT_MAX,
    BackendError,
    Choice,
    choose,
    cpu_flags,
    drift,
    openvino_available,
)

AMX = frozenset({"avx2", "avx512f", "avx512_vnni", "amx_int8", "amx_bf16", "avx512_bf16"})
AVX2 = frozenset({"avx2", "fma"})
ORT = Choice("onnxruntime", "f32", "reference")
BF16 = Choice("openvino", "bf16", "test")
F32 = Choice("openvino", "f32", "test")

needs_openvino = pytest.mark.skipif(not openvino_available(), reason="openvino not installed")
needs_bf16 = pytest.mark.skipif(
    not openvino_available() or not {"amx_bf16", "avx512_bf16"} & cpu_flags(),
    reason="needs openvino and a CPU with native bf16",
)


def test_auto_takes_openvino_bf16_only_where_the_cpu_computes_bf16():
    c = choose(flags=AMX, have_openvino=True)
    assert (c.backend, c.precision) == ("openvino", "bf16")
    assert "amx_bf16" in c.info()["cpu_features"]
    for flags, have in ((AVX2, True), (AMX, False), (frozenset(), True)):
        c = choose(flags=flags, have_openvino=have)
        assert (c.backend, c.precision) == ("onnxruntime", "f32"), (flags, have)
    forced = choose("onnxruntime", "auto", AMX, True)
    assert (forced.backend, forced.precision) == ("onnxruntime", "f32")
    ov32 = choose("openvino", "f32", AMX, True)
    assert (ov32.backend, ov32.precision) == ("openvino", "f32")
    assert choose("openvino", "auto", AVX2, True).precision == "f32"


def test_the_reason_names_only_a_variable_that_was_set(monkeypatch):
    """/v1/info and the start-up log give the true reason: the default, the variable that was
    set, the caller's settings, or what auto saw on the CPU; never an unset variable."""
    for var in ("FACECOMPARE_BACKEND", "FACECOMPARE_PRECISION", "FACECOMPARE_OCR_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    default = Settings.from_env()
    c = choose(default.backend, default.precision, AMX, True)
    assert (c.backend, c.reason) == (
        "onnxruntime",
        "default (FACECOMPARE_BACKEND unset): onnxruntime fp32",
    )
    caller = choose("openvino", "f32", AMX, True).reason
    assert (
        caller
        == "backend=openvino in the caller's settings, precision=f32 in the caller's settings"
    )
    monkeypatch.setenv("FACECOMPARE_BACKEND", "onnxruntime")
    c = choose(Settings.from_env().backend, "auto", AMX, True)
    assert c.reason == "FACECOMPARE_BACKEND=onnxruntime: onnxruntime fp32"
    monkeypatch.setenv("FACECOMPARE_BACKEND", "auto")
    assert choose("auto", "auto", AMX, True).reason == (
        "FACECOMPARE_BACKEND=auto: the CPU has native bf16 (AMX/AVX512-BF16): OpenVINO bf16"
    )
    assert choose("auto", "auto", AVX2, True).reason == (
        "FACECOMPARE_BACKEND=auto: the CPU lacks native bf16: onnxruntime fp32"
    )
    monkeypatch.setenv("FACECOMPARE_PRECISION", "f32")
    assert choose("auto", "f32", AMX, True).reason == (
        "FACECOMPARE_BACKEND=auto, FACECOMPARE_PRECISION=f32: onnxruntime fp32"
    )
    monkeypatch.setenv("FACECOMPARE_BACKEND", "openvino")
    monkeypatch.delenv("FACECOMPARE_PRECISION")
    assert choose("openvino", "auto", AVX2, True).reason == (
        "FACECOMPARE_BACKEND=openvino, precision auto: the CPU lacks native bf16"
    )
    from facecompare.models.ppocr import choose_backend

    assert choose_backend("auto", AVX2).reason == (
        "default (FACECOMPARE_OCR_BACKEND unset): auto, no AVX-512"
    )
    monkeypatch.setenv("FACECOMPARE_OCR_BACKEND", "onnxruntime")
    assert choose_backend("onnxruntime", AVX2).reason == "FACECOMPARE_OCR_BACKEND=onnxruntime"


@pytest.mark.parametrize(
    ("backend", "precision", "flags", "have", "match"),
    [
        ("tensorrt", "auto", AMX, True, "FACECOMPARE_BACKEND"),
        ("auto", "fp16", AMX, True, "FACECOMPARE_PRECISION"),
        ("auto", "int8", AMX, True, "int8 is not served"),
        ("onnxruntime", "bf16", AMX, True, "no bf16"),
        ("openvino", "bf16", AVX2, True, "native bf16|AMX-BF16"),
        ("openvino", "auto", AMX, False, "openvino package is missing"),
        ("auto", "bf16", AVX2, True, "no native bf16"),
    ],
)
def test_what_cannot_be_served_is_refused_not_replaced(backend, precision, flags, have, match):
    with pytest.raises(BackendError, match=match):
        choose(backend, precision, flags, have)


@needs_openvino
def test_openvino_reads_only_verified_bytes(engine):
    """A file whose SHA-256 differs is refused before OpenVINO sees it, as for onnxruntime."""
    good = engine.pack.files["recognizer"]
    bad = dataclasses.replace(good, sha256="0" * 64)
    pack = dataclasses.replace(engine.pack, files={**engine.pack.files, "recognizer": bad})
    with pytest.raises(ModelIntegrityError, match="does not match the pinned"):
        pack.session("recognizer", backend=F32)
    sess = engine.pack.session("recognizer", backend=F32)
    assert sess.get_inputs()[0].name and type(sess).__name__ == "OpenVINOSession"


def crops(engine, names: list[tuple[str, int]]) -> list[np.ndarray]:
    out = []
    for name, n in names:
        img = lfw_image(name, n)
        face = engine.pipeline.faces(img, 0)[0]
        out.append(align(img, engine.pipeline.alignment_points(img, face)))
    return out


PEOPLE = [
    ("Aaron_Peirsol", 1), ("Aaron_Peirsol", 2), ("Serena_Williams", 1), ("Serena_Williams", 2),
    ("Tony_Blair", 1), ("Tony_Blair", 2), ("George_W_Bush", 1), ("George_W_Bush", 2),
    ("Colin_Powell", 1), ("Colin_Powell", 2), ("Gloria_Macapagal_Arroyo", 1),
    ("Gloria_Macapagal_Arroyo", 2),
]  # fmt: skip


def embeddings(engine, choice: Choice, faces: list[np.ndarray]) -> np.ndarray:
    from facecompare.models.arcface import ArcFaceEmbedder

    sess = engine.pack.session("recognizer", 1, fast_prelu=True, backend=choice)
    return ArcFaceEmbedder(sess).embed(faces)[0]


@pytest.mark.parametrize(
    "choice", [pytest.param(F32, marks=needs_openvino), pytest.param(BF16, marks=needs_bf16)]
)
def test_backend_embeddings_stay_within_the_drift_bound(engine, choice):
    """Per-embedding cosine to onnxruntime fp32 and the shift of every pair's score, on real
    LFW crops (the bounds and their reasons: models/backend.py)."""
    faces = crops(engine, PEOPLE)
    ref, got = embeddings(engine, ORT, faces), embeddings(engine, choice, faces)
    d = drift(ref, got)
    assert d.min_cos >= EMBEDDING_COS_MIN, d
    assert d.max_pair_shift <= PAIR_SHIFT_MAX and abs(d.mean_pair_shift) <= MEAN_SHIFT_MAX, d
    assert d.within_bounds
    # and the check can fail: noise of norm 0.2 (cosine ~0.98 per embedding) is refused
    rng = np.random.default_rng(0)
    noisy = ref + rng.normal(0, 0.2 / np.sqrt(ref.shape[1]), ref.shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    assert drift(ref, noisy).min_cos < EMBEDDING_COS_MIN


@needs_openvino
def test_openvino_session_is_safe_across_threads(engine):
    """One compiled model, one infer request per thread: parallel calls give each caller its
    own answer (the server's workers and the image thread share the sessions)."""
    sess = engine.pack.session("recognizer", backend=F32, streams=2)
    name = sess.get_inputs()[0].name
    from facecompare.models.arcface import ArcFaceEmbedder

    faces = crops(engine, PEOPLE[:4])
    blobs = [ArcFaceEmbedder.blob([f]) for f in faces]
    want = [sess.run(None, {name: b})[0] for b in blobs]
    got: dict[int, list[np.ndarray]] = {i: [] for i in range(4)}

    def work(i: int) -> None:
        for _ in range(10):
            got[i].append(sess.run(None, {name: blobs[i]})[0])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        for g in got[i]:
            np.testing.assert_array_equal(g, want[i])


def test_info_shows_the_backend_and_precision_in_use(server, engine):
    info = httpx.get(server.url + "/v1/info").json()["inference"]
    assert info == engine.pipeline.backend.info()
    assert info["backend"] in ("onnxruntime", "openvino")
    assert info["precision"] in ("f32", "bf16")
    if "FACECOMPARE_BACKEND" not in os.environ:  # the default, said as such
        assert info["reason"] == "default (FACECOMPARE_BACKEND unset): onnxruntime fp32"


def test_forced_onnxruntime_server_says_so(tmp_path):
    log = tmp_path / "server.log"
    env = {"FACECOMPARE_BACKEND": "onnxruntime"}
    srv = Server(tmp_path, "--log-level", "info", env=env, log=log)
    try:
        info = httpx.get(srv.url + "/v1/info").json()["inference"]
    finally:
        srv.stop()
    assert (info["backend"], info["precision"]) == ("onnxruntime", "f32")
    assert info["reason"] == "FACECOMPARE_BACKEND=onnxruntime: onnxruntime fp32"
    assert "backend onnxruntime f32 (FACECOMPARE_BACKEND=onnxruntime: onnxruntime fp32)" in (
        log.read_text()
    )


def test_bad_backend_setting_stops_start_up(tmp_path):
    log = tmp_path / "server.log"
    with pytest.raises(RuntimeError, match="exited during start-up"):
        Server(tmp_path, env={"FACECOMPARE_BACKEND": "gpu"}, log=log)
    assert "FACECOMPARE_BACKEND must be one of" in log.read_text()


@needs_openvino
def test_openvino_first_runs_at_a_shape_go_one_at_a_time(engine, monkeypatch):
    """A request's first run at an input shape is serialised (models/backend._FIRST_RUN); the
    calls after it are not. Four threads, each its first run at two new detector shapes, all
    at once: the 8 first runs (and only they) take the lock, all finish, and the outputs equal
    serial runs of the same inputs."""
    from facecompare.models import backend

    class Counting:
        def __init__(self) -> None:
            self.lock, self.entered = threading.Lock(), 0

        def __enter__(self) -> None:
            self.lock.acquire()
            self.entered += 1

        def __exit__(self, *exc: object) -> None:
            self.lock.release()

    sess = engine.pack.session("detector", backend=F32, streams=2)
    name = sess.get_inputs()[0].name
    rng = np.random.default_rng(0)
    shapes = [(1, 3, 320, 256), (1, 3, 256, 320), (1, 3, 288, 288), (1, 3, 352, 224)]
    blobs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    want = [sess.run(None, {name: b}) for b in blobs]  # serial, on this thread's request
    counting = Counting()
    monkeypatch.setattr(backend, "_FIRST_RUN", counting)
    got: dict[int, list] = {}

    def work(i: int) -> None:
        mine = [blobs[i], blobs[(i + 1) % 4]]
        got[i] = [sess.run(None, {name: b}) for b in mine for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "an OpenVINO call did not return"
    assert counting.entered == 8  # 4 threads × 2 new shapes; the 16 repeats run unlocked
    for i in range(4):
        for k, outs in enumerate(got[i]):
            ref = want[i if k < 3 else (i + 1) % 4]
            for o, r in zip(outs, ref, strict=True):
                np.testing.assert_allclose(o, r, rtol=1e-4, atol=1e-5)
