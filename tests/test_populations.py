"""Population rules, AS-norm scoring, the cohort file and the border retry of the detector."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest

from conftest import SHARED, need
from facecompare.lab.data.populations import KOREAN_FAMILY_GAP, korean_family, named
from facecompare.scoring import Cohort, Scorer, as_norm


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_as_norm_formula():
    cos = np.array([[0.5]])
    sa, sb = np.array([[0.1, 0.05]]), np.array([[0.3, 0.1]])
    assert as_norm(cos, sa, sb)[0, 0] == pytest.approx(0.5 * ((0.5 - 0.1) / 0.05 + 0.2 / 0.1))


def test_cohort_stats_are_top_k():
    rng = np.random.default_rng(0)
    cohort = Cohort(unit(rng.normal(size=(50, 8))).astype(np.float32), 5)
    face = unit(rng.normal(size=(1, 8))).astype(np.float32)
    sims = np.sort(cohort.emb @ face[0])[-5:]
    mu, sd = cohort.stats(face)[0]
    assert mu == pytest.approx(sims.mean(), abs=1e-6) and sd == pytest.approx(sims.std(), abs=1e-6)


def test_a_face_like_the_cohort_needs_a_higher_cosine():
    """Two pairs with the same cosine: the pair whose faces resemble many cohort faces scores
    lower (that is the point of cohort normalisation)."""
    rng = np.random.default_rng(1)
    centre = unit(rng.normal(size=16))
    crowd = unit(centre + 0.3 * rng.normal(size=(200, 16)))  # a population the cohort holds
    others = unit(rng.normal(size=(200, 16)))
    scorer = Scorer(Cohort(np.vstack([crowd, others]).astype(np.float32), 20))
    a1, b1 = unit(centre + 0.3 * rng.normal(size=16)), None

    # b1: a vector at a fixed cosine 0.4 to a1
    def at_cosine(a: np.ndarray, c: float) -> np.ndarray:
        r = unit(rng.normal(size=a.size) - a * (a @ rng.normal(size=a.size)))
        r = unit(r - a * (r @ a))
        return c * a + np.sqrt(1 - c * c) * r

    b1 = at_cosine(a1, 0.4)
    a2 = unit(rng.normal(size=16))
    b2 = at_cosine(a2, 0.4)
    assert a1 @ b1 == pytest.approx(a2 @ b2, abs=1e-9)
    in_crowd = scorer.single(a1.astype(np.float32), b1.astype(np.float32))
    outside = scorer.single(a2.astype(np.float32), b2.astype(np.float32))
    assert in_crowd < outside


def test_scorer_matrix_matches_single():
    rng = np.random.default_rng(2)
    cohort = Cohort(unit(rng.normal(size=(300, 32))).astype(np.float32), 30)
    faces = unit(rng.normal(size=(4, 2, 32))).astype(np.float32)
    m = Scorer(cohort).matrix(faces, faces)
    for i in range(4):
        for j in range(4):
            assert m[i, j] == pytest.approx(Scorer(cohort).single(faces[i, 0], faces[j, 0]), 1e-5)


def test_cohort_file_roundtrip(tmp_path):
    rng = np.random.default_rng(3)
    c = Cohort(unit(rng.normal(size=(40, 8))).astype(np.float32), 7, {"sources": ["x"]})
    c.save(tmp_path / "c.npz")
    d = Cohort.load(tmp_path / "c.npz")
    assert d.top_k == 7 and d.provenance == {"sources": ["x"]}
    np.testing.assert_allclose(d.emb, c.emb, atol=1e-3)  # stored as float16


def test_cohort_with_another_hash_is_refused(tmp_path, engine):
    from facecompare.calibration import CalibrationError, load_calibration
    from facecompare.compare import scorer_for

    rng = np.random.default_rng(4)
    Cohort(unit(rng.normal(size=(40, 512))).astype(np.float32), 10).save(tmp_path / "c.npz")
    data = json.loads(engine.calibrated.path.read_text())
    data["scoring"] = {
        "kind": "as-norm",
        "cohort": {"file": "c.npz", "sha256": hashlib.sha256(b"another file").hexdigest()},
    }
    (tmp_path / "cal.json").write_text(json.dumps(data))
    other = load_calibration(tmp_path / "cal.json", engine.pack.digest)
    with pytest.raises(CalibrationError, match="SHA-256"):
        scorer_for(other, engine.settings)
    data["scoring"]["cohort"]["sha256"] = hashlib.sha256(
        (tmp_path / "c.npz").read_bytes()
    ).hexdigest()
    (tmp_path / "cal.json").write_text(json.dumps(data))
    scorer = scorer_for(
        load_calibration(tmp_path / "cal.json", engine.pack.digest), engine.settings
    )
    assert scorer.cohort is not None and scorer.cohort.top_k == 10


def test_operator_calibration_refuses_what_its_data_cannot_support(tmp_path, engine):
    """faces94 as an operator's population: 18 people give 40,256 impostor pairs, enough to
    fit err_01 on all of them but not on a half, so err_01 cannot be validated: nothing is
    written unless the operator accepts it unvalidated. Then err_01 comes from their data,
    marked so, the stricter levels stay those in force, the flip-TTA band covers every
    threshold of the file (document-photo's too), and the server loads the file."""
    import subprocess
    import sys

    from facecompare.calibration import load_calibration
    from facecompare.compare import CompareRequest, Engine
    from facecompare.pipeline import Pipeline

    folder = need(SHARED / "datasets" / "faces94")
    out = tmp_path / "cal.json"
    cmd = [sys.executable, "-m", "facecompare", "calibrate", "--population", str(folder)]
    cmd += ["--upscale", "540", "--scenarios", "photo-photo", "--out", str(out)]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1 and "nothing written" in refused.stdout, refused.stderr[-2000:]
    assert not out.exists()
    done = subprocess.run([*cmd, "--accept-unvalidated"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "validation impossible" in done.stdout and "err_001: FAR 0.0001 needs" in done.stdout
    assert "confidence scale, " in done.stdout and "photo-photo thresholds" in done.stdout
    cal = load_calibration(out, engine.pack.digest)
    rows = cal.data["scenarios"]["photo-photo"]["thresholds"]
    sources = cal.data["scenarios"]["photo-photo"]["data"]["threshold_sources"]
    assert sources["err_01"].startswith("fitted on your data, not validated")
    assert sources["err_01"].endswith("(accepted with --accept-unvalidated)")
    assert sources["err_001"].startswith("kept") and sources["err_0001"].startswith("kept")
    assert rows["err_01"]["per_population"]["faces94"]["false_accepts"] <= 40
    t = cal.threshold_scores("photo-photo")
    assert t["err_01"] < t["err_001"] < t["err_0001"]
    # flip TTA decides at every threshold served: the photo-photo levels fitted and kept, and
    # the document-photo ones kept from the file in force
    lo, hi = cal.data["scoring"]["flip_band"]
    documents = cal.threshold_scores("document-photo")
    served = [*t.values(), *documents.values()]
    assert len(documents) == 3 and all(lo < v < hi for v in served), (lo, hi, t, documents)
    other = Engine(Pipeline(engine.pack, engine.settings), cal)
    img = cv2.imread(str(next(iter(sorted(folder.glob("*/*.jpg"))))))
    big = cv2.imencode(".jpg", cv2.resize(img, (540, 600)))[1].tobytes()
    r = other.compare(CompareRequest(big, big, blur_detection=True))
    assert r.thresholds == other.calibrated.thresholds("photo-photo")


def test_an_operator_file_has_flip_tta_around_every_threshold_it_serves():
    """The band reaches the flip margin beyond every scenario's thresholds, fitted or kept;
    while photo-photo is kept as in force (only document-photo written), its band in force is
    widened where a new threshold needs it, never narrowed."""
    from facecompare.lab.fit.command import _served_band

    def rows(*scores: float) -> dict:
        return {"thresholds": {f"level{k}": {"score": v} for k, v in enumerate(scores)}}

    data = {
        "scoring": {"kind": "cosine", "flip_band": [0.2, 0.5]},
        "scenarios": {"photo-photo": rows(0.30, 0.40), "document-photo": rows(0.25, 0.55)},
    }
    assert _served_band(data, 0.1, keep=False) == pytest.approx([0.15, 0.65])
    assert _served_band(data, 0.02, keep=False) == pytest.approx([0.23, 0.57])
    assert _served_band(data, 0.02, keep=True) == pytest.approx([0.2, 0.57])


@pytest.fixture(scope="module")
def korean():
    need(SHARED / "datasets" / "korean-family")
    return korean_family()


def test_korean_rules(korean):
    assert all(st >= "d" for st in korean.meta["stage"])  # adults only
    files = [korean.root / p for p in korean.paths]
    digests = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert len(digests) == len(files)  # exact duplicates dropped
    n = len(korean)
    idx = np.arange(n)
    genuine, impostor = korean.pair_masks(idx, idx)
    fam = korean.group
    assert (np.abs(fam[:, None] - fam[None, :])[impostor] >= KOREAN_FAMILY_GAP).all()
    same = np.array(korean.people)[:, None] == np.array(korean.people)[None, :]
    assert not (impostor & same).any() and (genuine == same).all()


def test_korean_halves_hold_no_common_person(korean):
    a, b = korean.split(0), korean.split(1)
    assert len(a) > 500 and len(b) > 500
    assert a.group.max() + KOREAN_FAMILY_GAP <= b.group.min()


def test_lfw_halves_are_people_disjoint():
    lfw = named("lfw")
    a, b = lfw.split(0), lfw.split(1)
    assert not set(a.people) & set(b.people)
    assert abs(len(a) - len(b)) < 0.2 * len(lfw)


def test_a_face_that_fills_the_frame_is_found(engine):
    """kpop crops are tight (the face touches the border): found through the grey margin."""
    path = next(iter(sorted(need(SHARED / "datasets" / "kpop").glob("*/*.jpg"))))
    img = cv2.resize(cv2.imread(str(path)), (480, 480), interpolation=cv2.INTER_CUBIC)
    assert not [f for f in engine.pipeline.detector.detect(img, 640) if f.min_side >= 112]
    faces = engine.pipeline.faces(img, 112)
    assert faces and faces[0].min_side >= 240
    x1, y1, x2, y2 = faces[0].box
    assert x1 < 60 and y1 < 80 and x2 > 420  # the face is the frame
