"""Third-party telemetry off before any runtime loads: nothing phones home, nothing is written
under the operator's HOME.

Both inference runtimes collect usage data by default, and each writes an identifier file the
moment it is imported, outside ``FACECOMPARE_HOME``:

- onnxruntime (1.29 on, Linux): ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid``
  and an event database, sent to Microsoft's collector. ``ORT_DISABLE_TELEMETRY=1`` (read when
  the library loads) turns it off; an operator's own value of the variable is kept.
- OpenVINO: ``import openvino`` initialises the ``openvino_telemetry`` package (Google
  Analytics), which writes ``~/intel/openvino_ga_cid`` and ``~/intel/stats``. Its documented
  opt-out (``opt_in_out --opt_out``) writes a consent file under HOME itself; instead the
  package is made unimportable in this process, and OpenVINO then uses its own no-op stub
  (``openvino.tools.ovc.telemetry_stub``, the fallback of its ``except ImportError``).

Called from ``facecompare/__init__.py``, so it runs before any facecompare module imports a
runtime (in a process that imported one before facecompare, it comes too late: the server and
the CLI never do). ``tests/test_no_writes_outside_home.py`` starts the real server with a fresh
HOME and checks that nothing appears outside ``FACECOMPARE_HOME``.
"""

from __future__ import annotations

import os
import sys

ORT_VARIABLE = "ORT_DISABLE_TELEMETRY"
OPENVINO_TELEMETRY = "openvino_telemetry"


def third_party_telemetry_off() -> None:
    if not os.environ.get(ORT_VARIABLE):  # unset or empty; an operator's own value is kept
        os.environ[ORT_VARIABLE] = "1"
    # None in sys.modules makes `import openvino_telemetry` raise ImportError
    sys.modules.setdefault(OPENVINO_TELEMETRY, None)  # type: ignore[arg-type]
