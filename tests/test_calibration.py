from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import LFW, jpeg_b64, lfw_image, need, upscaled
from facecompare.calibration import (
    THRESHOLD_FARS,
    CalibrationError,
    ConfidenceMapping,
    default_path,
    load_calibration,
)
from facecompare.compare import CompareRequest, Engine
from facecompare.lab.fit.scale import (
    SCALE_ANCHORS,
    InsufficientData,
    far_threshold,
    fit_mapping,
)
from facecompare.models import load_pack
from facecompare.pipeline import Pipeline


@given(st.floats(-1, 1), st.floats(-1, 1))
def test_mapping_monotone_and_bounded(a, b):
    m = ConfidenceMapping(0.3, 0.05)
    lo, hi = sorted((a, b))
    assert 0 <= m(lo) <= m(hi) <= 100


def test_mapping_inverse():
    m = ConfidenceMapping(0.25, 0.04)
    for c in (10.0, 45.92, 80.0):
        assert m(m.inverse(c)) == pytest.approx(c, abs=1e-9)


def test_far_threshold_promise():
    rng = np.random.default_rng(0)
    impostor = rng.normal(0, 0.1, 1_000_000).astype(np.float32)
    for far in (1e-3, 1e-4, 1e-5):
        t = far_threshold(impostor, far)
        realised = (impostor >= t).mean()
        assert realised <= far
        assert (impostor >= np.nextafter(t, -np.inf) - 1e-4).mean() > far * 0.5


def test_far_threshold_refuses_thin_data():
    with pytest.raises(InsufficientData, match="impostor pairs"):
        far_threshold(np.zeros(100_000, np.float32), 1e-5)


def test_fit_mapping_lands_near_anchors():
    cos = {"err_01": 0.30, "err_001": 0.36, "err_0001": 0.41}
    m = fit_mapping(cos)
    for name, anchor in SCALE_ANCHORS.items():
        assert abs(m(cos[name]) - anchor) < 3


def test_shipped_file_matches_pack():
    pack = load_pack()
    cal = load_calibration(default_path(pack.name), pack.digest)
    t = cal.thresholds("photo-photo")
    assert list(t) == list(THRESHOLD_FARS)
    assert t["err_01"] < t["err_001"] < t["err_0001"]
    data = cal.data["scenarios"]["photo-photo"]["data"]
    assert data["impostor_pairs"] > 10_000_000  # supports FAR 1e-5 with ≥ 100 false accepts


def test_wrong_pack_refused(tmp_path):
    pack = load_pack()
    data = json.loads(default_path(pack.name).read_text())
    data["model_pack"]["digest"] = "0" * 16
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="made for model pack"):
        load_calibration(path, pack.digest)


def test_changing_the_file_changes_the_answer(tmp_path, engine):
    """The server's thresholds and confidence come only from the calibration file."""
    pack = engine.pack
    data = json.loads(default_path(pack.name).read_text())
    data["mapping"]["center"] -= 0.05
    for t in data["scenarios"]["photo-photo"]["thresholds"].values():
        t["score"] += 0.1
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    other = Engine(Pipeline(pack, engine.settings), load_calibration(path, pack.digest))
    req = CompareRequest(
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1))),
        jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 2))),
    )
    a, b = engine.compare(req), other.compare(req)
    assert a.cosine == pytest.approx(b.cosine)
    assert b.confidence > a.confidence
    assert all(b.thresholds[k] != a.thresholds[k] for k in THRESHOLD_FARS)


# -- what a calibration command may write (lab/fit/review.py, lab/fit/target.py) ----------------
def _row(name: str, impostor: int, false_accepts: dict[str, int]) -> dict:
    """A validation row as population_report.Row.as_dict() gives it."""
    from facecompare.lab.measure.population_report import wilson

    return {
        "population": name,
        "impostor_pairs": impostor,
        "thresholds": {
            n: {"false_accepts": k, "far_ci95": list(wilson(k, impostor))}
            for n, k in false_accepts.items()
        },
    }


def test_only_validated_levels_are_written():
    from facecompare.lab.fit.review import decide, validate_levels

    before = {"err_01": 0.39, "err_001": 0.44, "err_0001": 0.50}
    part = {"err_01": 0.40, "err_001": 0.45}  # fitted on half A; err_0001: too few pairs there
    rows = [_row("B", 200_000, {"err_01": 190, "err_001": 60})]  # err_001: 3e-4, 6x the promise
    checks = validate_levels(part, rows, {"err_0001": "FAR 1e-05 needs 1,000,000"})
    assert checks["err_01"].validated
    assert not checks["err_001"].validated and "above the promised" in checks["err_001"].detail
    assert not checks["err_0001"].validated and "1,000,000" in checks["err_0001"].detail
    fitted = {"err_01": 0.41, "err_001": 0.46, "err_0001": 0.52}  # fitted on all the people
    d = decide("photo-photo", before, fitted, checks)
    assert d.thresholds == {"err_01": 0.41, "err_001": 0.44, "err_0001": 0.50}
    assert d.changed == ["err_01"] and set(d.refused) == {"err_001", "err_0001"}
    assert d.sources["err_001"].startswith("kept") and not d.missing
    forced = decide("photo-photo", before, fitted, checks, accept_unvalidated=True)
    assert forced.thresholds == fitted and "--accept-unvalidated" in forced.sources["err_0001"]
    # a half too small to see a level does not validate it, however few false accepts it saw
    small = validate_levels(part, [_row("B", 5_000, {"err_01": 0, "err_001": 0})])
    assert not small["err_01"].validated and "10,000 needed" in small["err_01"].detail
    # several populations: one large enough to see a level validates it unless another refutes
    big, tiny = _row("A", 2_000_000, {"err_0001": 15}), _row("K", 300_000, {"err_0001": 0})
    two = validate_levels({"err_0001": 0.5}, [big, tiny])
    assert two["err_0001"].validated and "(K holds 300,000" in two["err_0001"].detail
    refuting = _row("K", 300_000, {"err_0001": 40})  # 40 false accepts where 3 are promised
    assert not validate_levels({"err_0001": 0.5}, [big, refuting])["err_0001"].validated
    # levels stay in order: a kept threshold below a stricter written one is not kept
    d = decide("photo-photo", before, {"err_01": 0.47}, validate_levels({"err_01": 0.47}, rows))
    assert d.thresholds == {"err_01": 0.47, "err_0001": 0.50} and d.missing == ["err_001"]


@pytest.fixture(scope="module")
def sixty_people(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A newcomer's small folder: 60 LFW people, 3 photos each (a person per sub-folder), and
    an environment with a fresh FACECOMPARE_HOME."""
    import shutil

    root = tmp_path_factory.mktemp("sixty")
    folder = root / "people"
    people = [d for d in sorted((need(LFW) / "images").iterdir()) if len(list(d.glob("*"))) >= 3]
    for d in people[:60]:
        (folder / d.name).mkdir(parents=True)
        for f in sorted(d.glob("*.jpg"))[:3]:
            shutil.copy(f, folder / d.name / f.name)
    return folder, {**os.environ, "FACECOMPARE_HOME": str(root / "home")}


def _facecompare(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "facecompare", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


def test_calibrate_on_too_few_people_changes_nothing_and_says_so(sixty_people):
    """60 people: half of them hold too few impostor pairs to validate err_01, for photo
    against photo and for documents (made from their photos) against photo, so nothing is
    written, not the package's file (the old default) nor one under FACECOMPARE_HOME."""
    folder, env = sixty_people
    shipped = default_path(load_pack().name)
    before = shipped.read_bytes()
    r = _facecompare("calibrate", "--population", str(folder), env=env)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "nothing written" in r.stdout and "the calibration in force stays" in r.stdout
    assert "err_01: fitted" in r.stdout and "not validated" in r.stdout
    assert "document-photo: 180 documents" in r.stdout
    assert "document-photo validation impossible" in r.stdout
    assert "--accept-unvalidated" in r.stdout
    assert shipped.read_bytes() == before
    assert not (Path(env["FACECOMPARE_HOME"]) / "calibration").exists()


def test_eval_populations_with_a_folder_measures_that_folder_alone(sixty_people, tmp_path):
    folder, env = sixty_people
    r = _facecompare("eval-populations", "--folder", str(folder), "--out", str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "populations.json").read_text())
    assert [row["population"] for row in rows] == [folder.name]
    assert [line for line in r.stdout.splitlines() if line.endswith(": done")] == [
        f"{folder.name}: done"
    ]
    from facecompare.lab.data.populations import POPULATIONS
    from facecompare.lab.fit.command import populations_to_measure

    assert populations_to_measure([], folders=False, builtin=False) == list(POPULATIONS)
    assert populations_to_measure([], folders=True, builtin=True) == list(POPULATIONS)
    assert populations_to_measure(["kpop"], folders=True, builtin=False) == ["kpop"]
