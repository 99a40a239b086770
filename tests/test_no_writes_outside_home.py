"""Nothing is written outside FACECOMPARE_HOME: the real server, started with a fresh HOME and
TMPDIR, serves a photo pair and a document request with both runtimes loaded (onnxruntime for
the faces, OpenVINO for the document text detector), and HOME and TMPDIR stay empty.

Both runtimes write a telemetry identifier under HOME on import unless turned off
(facecompare/telemetry.py): this is the check that they are."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from conftest import Server, photo_file
from facecompare.models.backend import openvino_available

# CI runs set these, and both runtimes stay quiet under them: a server on an operator's host
# has none, so neither does the one under test (else the check could not fail in CI)
CI_VARIABLES = ("CI", "TF_BUILD", "JENKINS_URL", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE")
QUIET_VARIABLES = ("ORT_DISABLE_TELEMETRY", "ORT_RUNNING_UNIT_TESTS")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.skipif(not openvino_available(), reason="openvino not installed")
def test_the_server_writes_nothing_outside_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (*CI_VARIABLES, *QUIET_VARIABLES):
        monkeypatch.delenv(var, raising=False)
    home, tmp, fc_home = tmp_path / "home", tmp_path / "tmp", tmp_path / "fc-home"
    for d in (home, tmp, fc_home):
        d.mkdir()
    photos = tmp_path / "photos"
    photos.mkdir()
    a = photo_file(photos / "a.jpg", "Aaron_Peirsol", 1)
    b = photo_file(photos / "b.jpg", "Aaron_Peirsol", 2)
    env = {
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "FACECOMPARE_HOME": str(fc_home),
        "FACECOMPARE_OCR_BACKEND": "openvino",  # both runtimes in the process, on any CPU
    }
    srv = Server(fc_home, env=env, keys_db=fc_home / "keys.db")
    try:
        key = srv.new_key("home-check")
        body = {"image1": base64.b64encode(a.read_bytes()).decode()}
        body["image2"] = base64.b64encode(b.read_bytes()).decode()
        with httpx.Client(base_url=srv.url, headers={"x-aigen-key": key}, timeout=60) as http:
            photo = http.post("/aiface/face-compare/v1", json=body).json()
            document = http.post(
                "/aiface/face-compare/v1", json={**body, "image1_is_document": True}
            ).json()
            info = http.get("/v1/info").json()
        maps = Path(f"/proc/{srv.proc.pid}/maps").read_text()
    finally:
        srv.stop()
    assert photo["confidence"] > photo["thresholds"]["err_01"], photo
    assert "request_id" in document  # answered (a face photo is no ID card)
    assert info["document_text_detector"]["backend"] == "openvino"
    assert "libonnxruntime" in maps and "libopenvino" in maps  # both runtimes were loaded
    assert _files(home) == [] and _files(tmp) == []
    assert "keys.db" in _files(fc_home)
