"""How many ID-document portraits the blur flag would refuse (the flag was fitted on photos).

PYTHONPATH=src python benchmarks/blur_documents.py
"""

from __future__ import annotations

import csv

import cv2

from facecompare import quality
from facecompare.compare import Engine
from facecompare.lab.data.datasets import shared_dir


def main() -> None:
    engine = Engine.load()
    blur = engine.calibrated.section("blur") or {}
    name, threshold = blur.get("score", "laplacian_var"), float(blur["threshold"])
    root = shared_dir() / "datasets" / "id-documents"
    flagged = total = 0
    with open(root / "labels.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["has_portrait"] == "yes"]
    for row in rows:
        img = cv2.imread(str(root / row["file"]))
        doc = engine.documents.find(img)
        found = engine.documents.portrait(img, doc) if doc else None
        found = found or engine.pipeline.largest_face(img, engine.settings.min_document_face)
        if found is None:
            print(f"{row['file']:<36} no face")
            continue
        _, norms = engine.pipeline.embedder.embed([found.crop])
        s = quality.score(name, found.crop, float(norms[0]))
        total += 1
        flagged += s < threshold
        verdict = "FLAGGED" if s < threshold else "ok"
        print(f"{row['file']:<36} face {found.face.min_side:5.0f} px  {name} {s:9.1f}  {verdict}")
    print(f"{flagged} of {total} portraits flagged ({name} < {threshold:g})")


if __name__ == "__main__":
    main()
