"""The README's commands still run.

Every fenced shell block of README.md (```sh, bash, shell) is read; each command in it (lines
joined at a trailing backslash, split at `&&` and `;`, leading `VAR=value` dropped) that starts
with `facecompare`, `<path>/facecompare`, `python -m facecompare` or `curl` is checked:

- a facecompare command: its sub-command exists (`--help` runs) and every `--flag` it passes is
  one that sub-command's `--help` lists;
- the cheap ones are run for real: `keys create / list / revoke` in README order against a
  fresh FACECOMPARE_HOME, `compare` on two LFW photos, anything with `--help`;
- curl: run as written against a real server (``LocalServer``), with `$KEY` a real key, the
  README's host:port the server's, and the image files it names real photos; the answer must
  be a comparison, not an error.

Written against these shapes, not the README's wording, so it holds through a rewrite.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Server, photo_file

README = Path(__file__).parents[1] / "README.md"
SHELLS = {"sh", "bash", "shell", "console"}
CHEAP = {("keys", "create"), ("keys", "list"), ("keys", "revoke"), ("compare",)}
LOCAL_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|0\.0\.0\.0):8000")
IMAGE = re.compile(r"(?<![\w/.$-])[\w./-]+\.(?:jpe?g|png)\b", re.IGNORECASE)
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Command:
    text: str  # as written (continuations joined)
    words: list[str]  # shell words, leading assignments and the program dropped
    kind: str  # facecompare | curl
    line: int  # first line in README.md


def shell_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of every fenced shell block."""
    blocks: list[tuple[int, list[str]]] = []
    fence, lang, start, lines = "", "", 0, []
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not fence:
            m = re.match(r"^(`{3,}|~{3,})\s*([\w-]*)", stripped)
            if m:
                fence, lang, start, lines = m.group(1), m.group(2).lower(), n + 1, []
        elif stripped.startswith(fence):
            if lang in SHELLS:
                blocks.append((start, lines))
            fence = ""
        else:
            lines.append(line)
    return blocks


def _split(line: str) -> list[str]:
    """A shell line at its top-level `&&` and `;` (not inside quotes or $( ))."""
    parts, buf, quote, depth, i = [], "", "", 0, 0
    while i < len(line):
        c = line[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif line.startswith("$(", i):
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif not depth and (line.startswith("&&", i) or c == ";"):
            parts.append(buf)
            buf, i = "", i + (2 if c == "&" else 1)
            continue
        buf += c
        i += 1
    return [p.strip() for p in [*parts, buf] if p.strip()]


def commands(text: str) -> list[Command]:
    out = []
    for start, lines in shell_blocks(text):
        joined: list[tuple[int, str]] = []
        for k, line in enumerate(lines):
            if joined and joined[-1][1].endswith("\\"):
                joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + line.strip())
            else:
                joined.append((start + k, line.strip()))
        for n, line in joined:
            for part in _split(line):
                words = shlex.split(part, comments=True)
                while words and ASSIGNMENT.match(words[0]):
                    words = words[1:]
                if not words:
                    continue
                text_ = re.sub(r"\s+#.*$", "", part) if "#" in part else part
                if words[0] == "facecompare" or words[0].endswith("/facecompare"):
                    out.append(Command(text_, words[1:], "facecompare", n))
                elif re.fullmatch(r"(.*/)?python3?", words[0]) and words[1:3] == [
                    "-m",
                    "facecompare",
                ]:
                    out.append(Command(text_, words[3:], "facecompare", n))
                elif words[0] == "curl":
                    out.append(Command(text_, words[1:], "curl", n))
    return out


def _app():  # noqa: ANN202 - typer's own (vendored) click types
    import typer

    from facecompare.cli import app

    return typer.main.get_command(app)


def sub_command(words: list[str]) -> tuple[list[str], list[str]]:
    """The sub-command path at the start of ``words``, and the words after it."""
    node, path = _app(), []
    rest = list(words)
    while rest and rest[0] in getattr(node, "commands", {}):
        node = node.commands[rest[0]]
        path.append(rest.pop(0))
    if getattr(node, "commands", None) and rest and not rest[0].startswith("-"):
        raise AssertionError(f"facecompare {' '.join(path)} has no sub-command {rest[0]!r}")
    return path, rest


def run(cmd: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


ALL = commands(README.read_text())
FACECOMPARE = [c for c in ALL if c.kind == "facecompare"]


def test_the_readme_has_commands_to_check() -> None:
    assert FACECOMPARE, "no facecompare command found in README.md's shell blocks"
    assert any(c.kind == "curl" for c in ALL), "no curl example in README.md's shell blocks"


_HELP: dict[tuple[str, ...], str] = {}


def _help(path: list[str]) -> str:
    if tuple(path) not in _HELP:
        env = {**os.environ, "COLUMNS": "200"}
        r = subprocess.run(
            [sys.executable, "-m", "facecompare", *path, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert r.returncode == 0, f"facecompare {' '.join(path)} --help: {r.stderr[-1000:]}"
        _HELP[tuple(path)] = r.stdout
    return _HELP[tuple(path)]


@pytest.mark.parametrize("cmd", FACECOMPARE, ids=lambda c: f"line {c.line}")
def test_each_readme_command_and_its_flags_exist(cmd: Command) -> None:
    path, rest = sub_command(cmd.words)
    help_text = _help(path)
    for word in rest:
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text), (
                f"README line {cmd.line}: facecompare {' '.join(path)} has no {flag}"
            )


def _images(cmd: str, photos: list[Path]) -> str:
    """The command with each image file it names replaced by a real photo (in order)."""
    names: list[str] = []
    for m in IMAGE.finditer(cmd):
        if m.group(0) not in names:
            names.append(m.group(0))
    for name, photo in zip(names, photos, strict=False):
        cmd = re.sub(rf"(?<![\w/.-]){re.escape(name)}\b", shlex.quote(str(photo)), cmd)
    return cmd


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("readme-photos")
    return [
        photo_file(d / "a1.jpg", "Aaron_Peirsol", 1),
        photo_file(d / "a2.jpg", "Aaron_Peirsol", 2),
        photo_file(d / "b.jpg", "Angelina_Jolie", 1),
    ]


def test_the_cheap_readme_commands_run(
    tmp_path: Path, photos: list[Path], server: Server, api_key: str
) -> None:
    """keys, compare and --help, in README order, against a fresh FACECOMPARE_HOME."""
    store = ("FACECOMPARE_KEYS_DB", "FACECOMPARE_DATABASE_URL")  # the fresh home's store
    env = {k: v for k, v in os.environ.items() if k not in store}
    env |= {"FACECOMPARE_HOME": str(tmp_path / "home"), "KEY": api_key}
    env["FACECOMPARE_KEY"] = api_key
    program = f"{shlex.quote(sys.executable)} -m facecompare"
    ran = 0
    for cmd in FACECOMPARE:
        path, rest = sub_command(cmd.words)
        if tuple(path) not in CHEAP and "--help" not in rest:
            continue
        line = LOCAL_URL.sub(server.url, _images(cmd.text, photos))
        line = re.sub(r"^(?:\S*/)?facecompare\b|^python3? -m facecompare\b", program, line)
        line = re.sub(r"^((?:[A-Za-z_]\w*=\S*\s+)*)(?:\S*/)?facecompare\b", rf"\1{program}", line)
        r = run(line, env, tmp_path)
        assert r.returncode == 0, f"README line {cmd.line}: {line}\n{r.stdout}\n{r.stderr[-2000:]}"
        if path == ["keys", "create"]:
            assert r.stdout.strip().splitlines()[-1].startswith("fc_"), r.stdout
        if path == ["compare"]:
            assert "confidence" in r.stdout, r.stdout
        ran += 1
    assert ran, "no cheap facecompare command (keys, compare) in README.md to run"


def test_the_readme_curl_example_answers(
    tmp_path: Path, photos: list[Path], server: Server, api_key: str
) -> None:
    env = {**os.environ, "KEY": api_key, "FACECOMPARE_KEY": api_key}
    for cmd in (c for c in ALL if c.kind == "curl"):
        line = LOCAL_URL.sub(server.url, _images(cmd.text, photos))
        r = run(line, env, tmp_path)
        assert r.returncode == 0, f"README line {cmd.line}: {line}\n{r.stderr[-2000:]}"
        answer = json.loads(r.stdout)
        assert "error_message" not in answer and "confidence" in answer, (cmd.line, answer)
        assert set(answer["thresholds"]) == {"err_01", "err_001", "err_0001"}
