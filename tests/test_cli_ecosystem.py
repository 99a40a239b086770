"""The CLI: compare locally and against a server (--url/--key), bench, and every --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Server, photo_file


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facecompare", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    out = {
        "a1": photo_file(d / "a1.jpg", "Aaron_Peirsol", 1),
        "a2": photo_file(d / "a2.jpg", "Aaron_Peirsol", 2),
        "b": photo_file(d / "b.png", "Angelina_Jolie", 1),
    }
    out["text"] = d / "notes.jpg"
    out["text"].write_text("not an image")
    return out


def parse(stdout: str) -> tuple[float, dict[str, float], str]:
    lines = dict(line.split(" ", 1) for line in stdout.strip().splitlines())
    thresholds = {k: float(v) for k, v in (t.split("=") for t in lines["thresholds"].split())}
    return float(lines["confidence"]), thresholds, lines["verdict"]


def test_compare_locally_and_remotely_agree(server: Server, api_key: str, files) -> None:
    local = cli("compare", str(files["a1"]), str(files["a2"]))
    assert local.returncode == 0, local.stderr
    remote = cli(
        "compare", str(files["a1"]), str(files["a2"]), "--url", server.url, "--key", api_key
    )
    assert remote.returncode == 0, remote.stderr
    c1, t1, v1 = parse(local.stdout)
    c2, t2, v2 = parse(remote.stdout)
    assert c1 == c2 and t1 == t2 and v1 == v2 == "same person (at err_01)"
    assert set(t1) == {"err_01", "err_001", "err_0001"}
    assert f"confidence {c1:.2f}" in local.stdout  # two decimals
    other = cli("compare", str(files["a1"]), str(files["b"]), "--url", server.url, "--key", api_key)
    assert parse(other.stdout)[2] == "different people (at err_01)"


def test_compare_errors_print_the_spec_message(server: Server, api_key: str, files) -> None:
    bad = cli(
        "compare", str(files["a1"]), str(files["text"]), "--url", server.url, "--key", api_key
    )
    assert bad.returncode == 2 and bad.stdout.strip() == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image2"
    nokey = cli("compare", str(files["a1"]), str(files["a2"]), "--url", server.url)
    assert nokey.returncode == 2 and nokey.stdout.strip() == "AUTHENTICATION_ERROR"


def test_bench_against_a_server(server: Server, api_key: str, files, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = cli(
        "load", str(files["a1"]), str(files["a2"]), "--url", server.url, "--key", api_key,
        "--requests", "6", "--concurrency", "2", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "req/s" in r.stdout and "p95 s" in r.stdout
    figures = json.loads(out.read_text())
    assert figures["ok"] == 6 and figures["throughput_rps"] > 0 and figures["p50_s"] > 0


def _commands() -> list[list[str]]:
    """Every command and sub-command of the CLI, as typed after ``facecompare``."""
    import typer

    from facecompare.cli import app

    out: list[list[str]] = [[]]

    def walk(group: object, prefix: list[str]) -> None:  # typer's own (vendored) click types
        for name, cmd in getattr(group, "commands", {}).items():
            out.append([*prefix, name])
            walk(cmd, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return out


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "facecompare")
def test_every_command_has_help(command: list[str]) -> None:
    r = cli(*command, "--help", env={**os.environ, "COLUMNS": "100"})
    assert r.returncode == 0 and "Usage" in r.stdout
    if command:
        # the command's own sentence, not only the option list
        assert len(r.stdout.split("Options")[0].split("Usage")[1]) > 60, r.stdout
    # an option shows its value's type only when it takes one: no `<bool>` after a flag
    assert "<bool>" not in r.stdout, r.stdout
    for line in r.stdout.splitlines():
        if line.strip().startswith("--help"):
            assert line.split() == ["--help", "Show", "this", "message", "and", "exit."], line
    if command == ["serve"]:  # help texts print as written (no markup eats `[env …]`)
        assert "[env FACECOMPARE_KEYS_DB; default" in r.stdout


def test_a_missing_bench_peer_names_the_command_that_installs_it() -> None:
    """The hint is the two-step install checked on a fresh venv (both peers load after it),
    and the same command as pyproject.toml's comment on the bench extra."""
    from facecompare.lab.bench import peers

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert f"#   {peers.INSTALL_PEERS}" in pyproject
    for make in (lambda: peers.insightface_peer(None), peers.face_recognition_peer):
        got = make()
        if isinstance(got, str):  # not installed here: the message carries the command
            assert got.endswith(peers.INSTALL_PEERS), got
