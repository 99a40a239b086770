"""A throw-away PostgreSQL server (Debian's packages) for the tests and the fault benchmark:
``initdb`` into a temporary folder, ``pg_ctl start`` / ``stop`` on a free port of 127.0.0.1.

``unavailable()`` says why it cannot run here (no PostgreSQL binaries, root without a
``postgres`` user to run it as), or None; callers skip with that message."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def unavailable() -> str | None:
    """Why a PostgreSQL server cannot be started here, or None when it can."""
    if not (pg_bin("initdb") and pg_bin("pg_ctl")):
        return "PostgreSQL server not installed (apt-get install -y postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no 'postgres' user to run PostgreSQL as"
        if not shutil.which("runuser"):
            return "running as root without runuser"
    return None


class PostgresServer:
    """One cluster in its own folder under /tmp, owned by the server's user (initdb refuses
    to run as root: then it runs as the ``postgres`` system user). ``url`` connects as the
    trusted superuser ``facecompare`` to the database ``postgres``."""

    def __init__(self) -> None:
        reason = unavailable()
        if reason:
            raise RuntimeError(reason)
        self.initdb, self.pg_ctl = str(pg_bin("initdb")), str(pg_bin("pg_ctl"))
        self.user = "postgres" if os.geteuid() == 0 else None
        self.base = Path(tempfile.mkdtemp(prefix="facecompare-pg-"))
        self.data, sock = self.base / "data", self.base / "sock"
        sock.mkdir()
        if self.user:
            for d in (self.base, sock):
                shutil.chown(d, self.user, self.user)
        self.port = _free_port()
        self.url = f"postgresql://facecompare@127.0.0.1:{self.port}/postgres"
        self._opts = f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [self.initdb, "-D", str(self.data), "-U", "facecompare", "--auth=trust", "-E", "UTF8"]
        )
        self.start()

    def _run(self, cmd: list[str]) -> None:
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        log = str(self.base / "pg.log")
        self._run([self.pg_ctl, "-D", str(self.data), "-o", self._opts, "-l", log, "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        """Stop (``fast``: disconnect clients, clean shutdown; ``immediate``: like a crash)."""
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"])

    def _pids(self) -> list[int]:
        """The postmaster and its children (backends, writer, checkpointer...)."""
        main = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == main:
                children.append(int(stat.parent.name))
        return [main, *children]

    def freeze(self) -> None:
        """SIGSTOP every process of the server: connections are accepted by the kernel and
        queries are sent, but nothing answers (a hung server, like a network that drops)."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def remove(self) -> None:
        """Stop if running, and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
