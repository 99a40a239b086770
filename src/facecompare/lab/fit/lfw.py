"""``facecompare calibrate``: the photo-photo calibration from LFW all pairs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...calibration import PHOTO_PHOTO
from ...compare import Engine
from ...models.pack import DEFAULT_PACK
from ..data.datasets import identity, lfw_images
from ..measure.evaluate import all_pairs, embed_images
from .scale import SCALE_ANCHORS, fit_mapping, scenario_entry

BLUR_NATURAL_QUANTILE = 0.01  # first version: flag the blurriest 1 % of natural LFW faces


def calibrate_lfw(
    engine: Engine, lfw_root: Path, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    paths = lfw_images(lfw_root)
    es = embed_images(engine, lfw_root / "images", paths, progress=progress)
    genuine, impostor = all_pairs(es, [identity(p) for p in paths])
    entry = scenario_entry(
        genuine,
        impostor,
        {
            "dataset": "LFW deep-funneled, all pairs of distinct images",
            "images": len(paths),
            "images_without_face": int((~es.found).sum()),
            "face_choice": "face nearest the image centre (LFW's labelled person), size rule "
            "bypassed; detection, alignment and embedding as in the server",
        },
    )
    cosines = {k: v["cosine"] for k, v in entry["thresholds"].items()}
    mapping = fit_mapping(cosines)
    sharp = es.sharpness[es.found]
    return {
        "format": 1,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "facecompare calibrate --lfw ../shared/datasets/lfw"
        + ("" if engine.pack.name == DEFAULT_PACK else f" --pack {engine.pack.name}"),
        "model_pack": {"name": engine.pack.name, "digest": engine.pack.digest},
        "mapping": {
            "kind": "logistic",
            "center": round(mapping.center, 6),
            "scale": round(mapping.scale, 6),
            "formula": "confidence = 100 / (1 + exp(-(cosine - center) / scale))",
            "anchors": SCALE_ANCHORS,
        },
        "scenarios": {PHOTO_PHOTO: entry},
        "blur": {
            "metric": "variance of the Laplacian of the aligned 112x112 face (inner region)",
            "threshold": round(float(np.quantile(sharp, BLUR_NATURAL_QUANTILE)), 3),
            "basis": f"{BLUR_NATURAL_QUANTILE:.0%} quantile of natural LFW faces",
        },
    }


def write(data: dict[str, Any], out: Path) -> None:
    """Write the photo-photo calibration, keeping what other commands made for this pack: the
    blur section (`facecompare calibrate-blur`) and other scenarios (document-photo)."""
    if out.exists():
        old = json.loads(out.read_text())
        if old.get("model_pack") == data["model_pack"]:
            if "score" in old.get("blur", {}):
                data = {**data, "blur": old["blur"]}
            data["scenarios"] = {**old.get("scenarios", {}), **data["scenarios"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
