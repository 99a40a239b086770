"""Shared fixtures: the shared data sets, one engine, one real server process over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.server import LocalServer as Server

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


def photo_file(path: Path, name: str, n: int, side: int = 500) -> Path:
    """LFW image ``n`` of ``name`` upscaled to ``side`` × ``side``, written to ``path`` (the
    suffix chooses JPEG or PNG)."""
    cv2.imwrite(str(path), upscaled(lfw_image(name, n), side))
    return path


def jpeg_b64(img: np.ndarray, quality: int = 95) -> str:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


@pytest.fixture(scope="session")
def engine():
    from facecompare.compare import Engine

    return Engine.load()


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
