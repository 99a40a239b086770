"""Which calibration file a lab command reads and which it writes.

Commands read the calibration **in force** (``FACECOMPARE_CALIBRATION``, else the file shipped
with the model pack) and write ``--out``, else ``$FACECOMPARE_HOME/calibration/<pack>.json``:
never the file inside the installed package unless that path is given as ``--out`` (how a
developer refreshes the shipped files under ``src/facecompare/calibration/data/``). A new
output file starts as a copy of the one in force, so what a command does not fit (other
scenarios, the blur section) is what the server served before.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ...calibration import default_path
from ...config import Settings, default_home


def in_force(settings: Settings, pack_name: str) -> Path:
    """The calibration file a server with these settings loads."""
    return settings.calibration or default_path(pack_name)


def output_path(out: Path | None, pack_name: str) -> Path:
    """``--out``, else the operator's own file under ``FACECOMPARE_HOME``."""
    return out if out is not None else default_home() / "calibration" / f"{pack_name}.json"


def seeded(target: Path, source: Path) -> Path:
    """``target``, first made a copy of ``source`` when it does not exist yet."""
    if not target.exists() and source.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return target
