"""Shared fixtures: the shared data sets, one engine, one real server process over HTTP."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from facecompare.lab.data.datasets import shared_dir

SHARED = shared_dir()
LFW = SHARED / "datasets" / "lfw"
DOCS = SHARED / "datasets" / "id-documents"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data set missing at {path} (CI always has ../shared)")
    return path


@pytest.fixture(scope="session")
def lfw() -> Path:
    return need(LFW)


def lfw_image(name: str, n: int) -> np.ndarray:
    img = cv2.imread(str(need(LFW) / "images" / name / f"{name}_{n:04d}.jpg"))
    assert img is not None
    return img


def upscaled(img: np.ndarray, side: int = 500) -> np.ndarray:
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)


def jpeg_b64(img: np.ndarray, quality: int = 95) -> str:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


@pytest.fixture(scope="session")
def engine():
    from facecompare.compare import Engine

    return Engine.load()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        tmp: Path,
        *args: str,
        env: dict[str, str] | None = None,
        log: Path | None = None,  # the server's stderr goes there (default: inherited)
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.keys_db = tmp / "keys.db"
        self.env = {**os.environ, "FACECOMPARE_KEYS_DB": str(self.keys_db), **(env or {})}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facecompare",
                "serve",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *args,
            ],
            env=self.env,
            stderr=log.open("wb") if log else None,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("server exited during start-up")
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server not ready after 60 s")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "facecompare", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def new_key(self, name: str) -> str:
        out = self.cli("keys", "create", name)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def api_key(server: Server) -> str:
    return server.new_key("tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long evaluations (``@pytest.mark.slow``) run only when asked: ``pytest -m slow``."""
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="a long evaluation: run with `pytest -m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
