"""Each pack's LFW-fitted photo-photo thresholds on face sets it was not fitted on, in one run:
realised FAR and TAR on all pairs (reports.transfer_report, central face).

    PYTHONPATH=src python benchmarks/pack_populations.py

kpop: 366 colour 160×160 crops of 15 Korean idols (../shared/datasets/kpop), padded to 224×224
(the detector needs context around a tight crop, as for ORL in `facecompare eval`).
"""

from __future__ import annotations

from facecompare.compare import Engine
from facecompare.config import Settings
from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.measure.reports import pad_to_square, transfer_report

PACKS = ("vectron-mbf", "open")


def main() -> None:
    root = shared_dir() / "datasets" / "kpop"
    paths = sorted(str(p.relative_to(root)) for p in root.glob("*/*.jpg"))
    for pack in PACKS:
        engine = Engine.load(Settings.from_env(pack=pack))
        _, lines = transfer_report(
            engine, root, paths, f"kpop, padded to 224×224 [{pack}]", pad_to_square
        )
        print("\n".join(lines))


if __name__ == "__main__":
    main()
