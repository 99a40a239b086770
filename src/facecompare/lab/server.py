"""One local server for the tests, the bench and the benchmarks: ``facecompare serve`` in a
subprocess on a free port, ready when ``/readyz`` answers 200."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

POLL_S = 0.05  # between two /readyz probes: start-up time is measured to this precision


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> float:
    """Seconds until ``url/readyz`` answers 200; fails as soon as ``proc`` exits, or at
    ``timeout`` (the process is left to the caller)."""
    started = time.perf_counter()
    with httpx.Client(timeout=1) as http:
        while time.perf_counter() - started < timeout:
            try:
                if http.get(url + "/readyz").status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{url} exited during start-up (code {proc.returncode})")
            time.sleep(POLL_S)
    raise RuntimeError(f"{url} not ready after {timeout:g} s")


class LocalServer:
    """``python -m facecompare serve`` on a free port of 127.0.0.1.

    ``tmp`` holds the SQLite key store (``tmp/keys.db``, unless ``keys_db`` is given); without
    it a temporary folder is made and removed by ``stop()``. ``args`` go to ``serve`` after
    ``--port`` and ``--log-level``; ``env`` is added to this process's environment (the
    ``cli()`` commands get the same); the server's stderr goes to ``log`` if given. The
    constructor returns when ``/readyz`` answers 200 (``wait=False``: call ``wait_ready()``),
    after ``startup_s`` seconds from the process start."""

    def __init__(
        self,
        tmp: Path | None = None,
        *args: str,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        keys_db: Path | None = None,
        log_level: str = "warning",
        timeout: float = 120.0,
        wait: bool = True,
    ) -> None:
        self._own_tmp = tmp is None
        self.tmp = Path(tempfile.mkdtemp(prefix="facecompare-server-")) if tmp is None else tmp
        self.keys_db = keys_db or self.tmp / "keys.db"
        self.env = {**os.environ, "FACECOMPARE_KEYS_DB": str(self.keys_db), **(env or {})}
        self.log = log
        self.timeout = timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_s = float("nan")
        self._stderr: IO[bytes] | None = log.open("wb") if log else None
        cmd = [sys.executable, "-m", "facecompare", "serve", "--port", str(self.port)]
        self._started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*cmd, "--log-level", log_level, *args], env=self.env, stderr=self._stderr
        )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> float:
        """Block until ready; on failure stop the server and raise (with the log's last lines)."""
        try:
            wait_ready(self.url, self.proc, self.timeout - (time.perf_counter() - self._started))
        except RuntimeError as exc:
            self.proc.kill()
            self.proc.wait()
            tail = self.log.read_text(errors="replace")[-4000:] if self.log else ""
            self.stop()
            raise RuntimeError(f"{exc}\n{tail}".rstrip()) from None
        self.startup_s = time.perf_counter() - self._started
        return self.startup_s

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``python -m facecompare ARGS`` with the server's environment (its key store)."""
        return subprocess.run(
            [sys.executable, "-m", "facecompare", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def new_key(self, name: str) -> str:
        out = self.cli("keys", "create", name)
        if out.returncode != 0:
            raise RuntimeError(f"keys create {name}: {out.stderr}")
        return out.stdout.strip().splitlines()[-1]

    def rss_mb(self) -> tuple[float, float]:
        """Resident and peak resident memory of the server process, MB (Linux /proc)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss, peak = (float(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
        return rss, peak

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; the exit code (-9 when killed)."""
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self._stderr:
            self._stderr.close()
        if self._own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return code

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
