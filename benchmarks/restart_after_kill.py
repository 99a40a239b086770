"""The server killed with SIGKILL under load and started again on the same key store.

    PYTHONPATH=$PWD/src python benchmarks/restart_after_kill.py         # SQLite, 5 rounds
    PYTHONPATH=$PWD/src python benchmarks/restart_after_kill.py --postgres

Starts ``facecompare serve`` (its own temporary key store: the SQLite file, or a throw-away
PostgreSQL with ``--postgres``), creates ``--keys`` keys, revokes one, then ``--rounds`` times:
2 clients send valid compares, a ``facecompare keys create`` loop writes keys beside them,
server and writer are killed with SIGKILL, and a new server is started on the same store.
Prints per round the time from the new process's start to ``/readyz`` 200, and from the kill
to it, the CPU seconds the start-up took (what an idle host's start-up tends to), what the
clients saw meanwhile (connection errors, no other answer), and whether every key created
(the writer's keys printed before the kill included) is accepted, the revoked one refused,
and (SQLite) ``PRAGMA integrity_check`` is ``ok``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import cv2
import httpx
import psutil

from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.load import Sent, send_until
from facecompare.lab.postgres import PostgresServer
from facecompare.lab.server import LocalServer

PATH = "/aiface/face-compare/v1"
CHEAP = {"image1": "x", "image2": "y"}  # 400 when the key is accepted, 401 when not
WRITER = """
import sys
from pathlib import Path
from facecompare.api.keystores import open_key_store
store = open_key_store(Path(sys.argv[1]))
for i in range(100000):
    key = store.create(f"{sys.argv[2]}-{i}")
    print(f"{sys.argv[2]}-{i} {key}", flush=True)  # printed once committed
"""


def pair_body() -> bytes:
    path = shared_dir() / "datasets/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
    img = cv2.resize(cv2.imread(str(path)), (500, 500), interpolation=cv2.INTER_CUBIC)
    b64 = base64.b64encode(cv2.imencode(".jpg", img)[1].tobytes()).decode()
    return json.dumps({"image1": b64, "image2": b64}).encode()


def answer(s: Sent) -> str:
    """The status, or the transport error's name."""
    return str(s.status) if s.status is not None else s.message


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()
    body = pair_body()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = {"FACECOMPARE_HOME": str(tmp)}
        if args.postgres:
            env["FACECOMPARE_DATABASE_URL"] = stack.enter_context(PostgresServer()).url
        srv = LocalServer(tmp, env=env)
        keys = {f"k{i}": srv.new_key(f"k{i}") for i in range(args.keys)}
        assert srv.cli("keys", "revoke", "k0").returncode == 0
        revoked = keys.pop("k0")
        rounds = []
        for n in range(args.rounds):
            stop, seen = threading.Event(), []
            clients = [
                threading.Thread(target=send_until, args=(srv.url, keys["k1"], body, stop, seen))
                for _ in range(2)
            ]
            for t in clients:
                t.start()
            while sum(s.status == 200 for s in seen) < 2:  # the server is busy with real compares
                time.sleep(0.05)
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(srv.keys_db), f"w{n}"],
                stdout=subprocess.PIPE,
                text=True,
                env=srv.env,
            )
            assert writer.stdout is not None
            for line in writer.stdout:
                name, key = line.split()
                keys[name] = key
                if len(keys) >= args.keys + (n + 1) * 20:
                    break
            writer.send_signal(signal.SIGKILL)
            srv.proc.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            writer.wait()
            srv.stop()
            before = Counter(answer(s) for s in seen)
            seen.clear()
            srv = LocalServer(tmp, env=env)
            ready = time.perf_counter() - killed
            cpu = psutil.Process(srv.proc.pid).cpu_times()
            stop.set()
            for t in clients:
                t.join()
            with httpx.Client(timeout=30) as http:
                lost = [
                    name
                    for name, key in keys.items()
                    if http.post(
                        srv.url + PATH, json=CHEAP, headers={"x-aigen-key": key}
                    ).status_code
                    != 400
                ]
                kept_revoked = (
                    http.post(
                        srv.url + PATH, json=CHEAP, headers={"x-aigen-key": revoked}
                    ).status_code
                    == 401
                )
            integrity = None
            if not args.postgres:
                with sqlite3.connect(srv.keys_db) as db:
                    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            rounds.append(
                {
                    "startup_s": round(srv.startup_s, 2),
                    "kill_to_ready_s": round(ready, 2),
                    "startup_cpu_s": round(cpu.user + cpu.system, 2),  # load-independent
                    "load_average_1min": round(os.getloadavg()[0], 1),
                    "answers_before_kill": dict(before),
                    "seen_while_down": dict(Counter(answer(s) for s in seen)),
                    "keys_checked": len(keys),
                    "keys_lost": lost,
                    "revoked_still_refused": kept_revoked,
                    "integrity_check": integrity,
                }
            )
            print(json.dumps(rounds[-1]), flush=True)
        srv.stop()
    starts = sorted(r["startup_s"] for r in rounds)
    print(
        json.dumps(
            {
                "store": "postgresql" if args.postgres else "sqlite",
                "startup_s_min_median_max": [starts[0], starts[len(starts) // 2], starts[-1]],
                "keys_lost": sum(len(r["keys_lost"]) for r in rounds),
            }
        )
    )


if __name__ == "__main__":
    main()
