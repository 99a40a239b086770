"""The house: the service never imports the lab, no import cycle, no tooling on the request path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import facecompare

PKG = Path(facecompare.__file__).parent
# folders that are one room each: a cycle between rooms is an import running up a floor
ROOMS = (
    "facecompare.api",
    "facecompare.models",
    "facecompare.documents",
    "facecompare.calibration",
)


def _module(path: Path) -> str:
    parts = ["facecompare", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules of the package that a file imports (relative imports resolved)."""
    mod = _module(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("facecompare")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("facecompare"):
                out.add(target)
                out |= {f"{target}.{a.name}" for a in node.names}
    return out


def _room(mod: str) -> str:
    if mod.startswith("facecompare.lab"):
        return "facecompare.lab"
    for room in ROOMS:
        if mod == room or mod.startswith(room + "."):
            return room
    return mod


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        targets = {t for t in _imports(path) if t in files}
        graph.setdefault(_room(mod), set()).update(
            _room(t) for t in targets if _room(t) != _room(mod)
        )
    return graph


def test_the_service_never_imports_the_lab() -> None:
    offenders = [
        f"{_module(p)} imports {t}"
        for p in PKG.rglob("*.py")
        if not _module(p).startswith("facecompare.lab") and _module(p) != "facecompare.cli"
        for t in _imports(p)
        if t.startswith("facecompare.lab")
    ]
    assert not offenders


def test_no_import_cycle_between_rooms() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt])
            elif not state.get(nxt):
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
    assert not cycles


def test_server_app_and_cli_load_no_tooling() -> None:
    code = (
        "import sys, facecompare.api.app, facecompare.cli; "
        "print([m for m in sys.modules if m.startswith(('facecompare.lab', 'matplotlib'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
