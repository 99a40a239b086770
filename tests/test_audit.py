"""Dependency audit: pip-audit over the pinned versions of every package the server runs with.

The vulnerability database is OSV by default (``FACECOMPARE_AUDIT_SERVICE=pypi`` uses PyPI's
advisory data instead). Without a route to it the test skips and says so."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement

NO_NETWORK = re.compile(
    r"ConnectionError|NameResolution|Temporary failure|Max retries|timed out|unreachable",
    re.I,
)


def runtime_closure(root: str = "facecompare") -> dict[str, str]:
    """name -> installed version for ``root``'s run-time requirements, transitively."""
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen[key] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    seen.pop(root, None)
    return seen


def test_runtime_closure_is_complete():
    deps = runtime_closure()
    for must in ("fastapi", "starlette", "uvicorn", "pillow", "onnxruntime", "numpy", "h11"):
        assert must in deps, sorted(deps)


def test_pip_audit(tmp_path):
    exe = shutil.which("pip-audit") or shutil.which(
        "pip-audit", path=os.path.dirname(sys.executable)
    )
    if exe is None:
        pytest.skip("pip-audit is not installed (pip install -e '.[test]')")
    deps = runtime_closure()
    req = tmp_path / "requirements.txt"
    req.write_text("".join(f"{n}=={v}\n" for n, v in sorted(deps.items())))
    service = os.environ.get("FACECOMPARE_AUDIT_SERVICE", "osv")
    cmd = [exe, "-r", str(req), "--no-deps", "--disable-pip", "-s", service]
    cmd += ["--progress-spinner", "off", "--timeout", "15", "-f", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0 and NO_NETWORK.search(out.stderr):
        pytest.skip(
            f"pip-audit cannot reach its vulnerability database ({service}): no network here. "
            "Run it where the database is reachable, or FACECOMPARE_AUDIT_SERVICE=pypi."
        )
    report = json.loads(out.stdout)
    found = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions']) or '-'})"
        for d in report["dependencies"]
        for v in d.get("vulns", [])
    ]
    assert not found, "known vulnerabilities:\n" + "\n".join(found)
