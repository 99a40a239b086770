"""Container and Kubernetes files: parsed and checked against the real app (no Docker engine here).

What a build would do that can be run here is run: the wheel the Dockerfile installs is built and
must carry the demo page, the model-pack manifest and the calibration file.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from conftest import Server

yaml = pytest.importorskip("yaml", reason="pyyaml missing: pip install '.[test]'")
ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_slim_non_root_models_from_wheel_healthcheck() -> None:
    ins = dockerfile()
    froms = [a for i, a in ins if i == "FROM"]
    assert froms and all("slim" in f for f in froms)
    final = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    stage = ins[final:]
    users = [a for w, a in stage if w == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    runs = " ".join(a for w, a in stage if w == "RUN")
    assert "--no-index" in runs  # installs only the wheels built in the first stage
    assert "load_pack()" in runs  # the model files' SHA-256 are checked at build time
    health = [a for w, a in stage if w == "HEALTHCHECK"]
    assert health and "/readyz" in health[0]
    cmd = [a for w, a in stage if w == "CMD"][-1]
    argv = __import__("json").loads(cmd)
    assert argv[:2] == ["facecompare", "serve"] and "0.0.0.0" in argv
    port = argv[argv.index("--port") + 1]
    assert f"EXPOSE {port}" in "\n".join(f"{w} {a}" for w, a in stage)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "reports"} <= set(ignored)


def test_the_wheel_the_image_installs_carries_the_data_files(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if r.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {r.stderr[-300:]}")
    (wheel,) = tmp_path.glob("facecompare-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "facecompare/api/static/demo.html",
        "facecompare/api/static/demo.js",
        "facecompare/api/static/demo.css",
        "facecompare/models/packs/vectron-mbf.json",
        "facecompare/calibration/data/vectron-mbf.json",
    ):
        assert needed in names, needed


def test_compose_runs_replicas_behind_nginx_with_postgres() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    svc = compose["services"]
    app = svc["facecompare"]
    assert app["build"] == "." and app["deploy"]["replicas"] >= 2
    assert app["environment"]["FACECOMPARE_DATABASE_URL"].startswith("postgresql://")
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    conf_mount = svc["nginx"]["volumes"][0].split(":")[0]
    conf = (ROOT / conf_mount).read_text()
    assert "proxy_pass http://facecompare" in conf and "server facecompare:8000" in conf
    assert "client_max_body_size" in conf


def k8s() -> dict[str, dict]:
    docs = {}
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc:
                docs[doc["kind"]] = doc
    return docs


def test_kubernetes_manifests(server: Server) -> None:
    docs = k8s()
    dep, svc, hpa = docs["Deployment"], docs["Service"], docs["HorizontalPodAutoscaler"]
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    port = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["args"][c["args"].index("--port") + 1] == str(port["http"])
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        path = c[probe]["httpGet"]["path"]
        assert c[probe]["httpGet"]["port"] in port
        # the probe paths answer 200 on a real, ready server
        assert httpx.get(server.url + path, timeout=5).status_code == 200, probe
    assert dep["spec"]["selector"]["matchLabels"] == dep["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"][0]["targetPort"] in port
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    assert (
        hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    )
    env = {e["name"] for e in c["env"]}
    assert "FACECOMPARE_DATABASE_URL" in env
    kustom = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    assert set(kustom["resources"]) == {"deployment.yaml", "service.yaml", "hpa.yaml"}
    assert shlex.join(c["args"]).startswith("facecompare serve")
