"""A key-store outage under load, as an operator would try it: PostgreSQL stopped, then started.

    PYTHONPATH=$PWD/src python benchmarks/keystore_outage.py              # 4 clients, 6 s down
    PYTHONPATH=$PWD/src python benchmarks/keystore_outage.py --fault freeze

Starts a throw-away PostgreSQL (``lab/postgres.py``) and ``facecompare serve`` on it
(``FACECOMPARE_DATABASE_URL``, JSON logs at INFO to a file), creates a key, and lets
``--clients`` threads send valid compares without pause. After ``--before`` s PostgreSQL is
stopped (``pg_ctl -m fast``; ``--fault freeze``: all its processes get SIGSTOP, a server that
hangs) for ``--down`` s, then started again (SIGCONT); the run ends ``--after`` s later.
Prints: the answers while the store was down (statuses, error messages, Retry-After, latency
percentiles), what ``/readyz`` said during the outage, the time from the store's return to the
first 200, and the server log read line by line: lines by level, lines written during the
outage, tracebacks, and lines whose ``request_id`` is not the request their message or the
access line names (checked against the answers the clients received).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import httpx
import numpy as np

from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.load import Sent, send_until
from facecompare.lab.postgres import PostgresServer
from facecompare.lab.server import LocalServer

PATH = "/aiface/face-compare/v1"
RID_IN_TEXT = re.compile(r"request_id=([0-9a-f]{32})")


def pair_body() -> bytes:
    img = cv2.imread(str(shared_dir() / "datasets/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"))
    assert img is not None, "LFW image missing"
    img = cv2.resize(img, (500, 500), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    b64 = base64.b64encode(buf.tobytes()).decode()
    return json.dumps({"image1": b64, "image2": b64}).encode()


def probe_ready(url: str, stop: threading.Event, out: list[tuple[float, int]]) -> None:
    with httpx.Client(timeout=5) as http:
        while not stop.is_set():
            t = time.perf_counter()
            try:
                out.append((t, http.get(url + "/readyz").status_code))
            except httpx.HTTPError:
                out.append((t, 0))
            time.sleep(0.2)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def read_log(
    path: Path, answers: dict[str, Sent], down: float, up: float, t0_wall: float, t0: float
) -> dict[str, object]:
    """Every line parsed; ids checked against the message and the answers."""
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    levels = Counter(e["level"] for e in lines)
    wrong, unknown = [], 0
    for e in lines:
        rid = e.get("request_id")
        named = RID_IN_TEXT.search(e["message"])
        if named and named.group(1) != rid:
            wrong.append(e)
        if e.get("logger") == "facecompare.access" and e.get("path") == PATH:
            sent = answers.get(str(rid))
            if sent is None:
                unknown += 1
            elif sent.status != e.get("status"):
                wrong.append(e)

    def when(e: dict) -> float:  # the line's ts on the clients' perf_counter clock
        ts = time.mktime(time.strptime(e["ts"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        return ts + int(e["ts"][20:23]) / 1000 - t0_wall + t0

    window = [e for e in lines if down <= when(e) <= up + 3]
    outage = [e for e in window if e.get("logger") != "facecompare.access"]
    return {
        "lines": len(lines),
        "levels": dict(levels),
        "tracebacks": sum("exception" in e for e in lines),
        "lines_with_another_request_id": len(wrong),
        "access_lines_of_unknown_requests": unknown,
        "lines_while_down": sum(down <= when(e) <= up for e in lines),
        "lines_from_outage_start_to_3s_after": len(window),
        "non_access_lines_from_outage_start_to_3s_after": [
            f"{e['level']} {e['message']}" for e in outage
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--before", type=float, default=3.0)
    ap.add_argument("--down", type=float, default=6.0)
    ap.add_argument("--after", type=float, default=4.0)
    ap.add_argument(
        "--fault",
        choices=["stop", "freeze"],
        default="stop",
        help="stop: pg_ctl -m fast stop / start; freeze: SIGSTOP / SIGCONT (a hung server)",
    )
    args = ap.parse_args()
    body = pair_body()
    with PostgresServer() as pg, tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        env = {"FACECOMPARE_DATABASE_URL": pg.url, "FACECOMPARE_HOME": tmp}
        with LocalServer(Path(tmp), env=env, log=log, log_level="info") as srv:
            key = srv.new_key("outage")
            stop = threading.Event()
            sent: list[Sent] = []
            ready: list[tuple[float, int]] = []
            threads = [
                threading.Thread(target=send_until, args=(srv.url, key, body, stop, sent))
                for _ in range(args.clients)
            ]
            threads.append(threading.Thread(target=probe_ready, args=(srv.url, stop, ready)))
            t0, t0_wall = time.perf_counter(), time.time()
            for t in threads:
                t.start()
            time.sleep(args.before)
            stopping = time.perf_counter()
            pg.stop() if args.fault == "stop" else pg.freeze()
            down = time.perf_counter()
            time.sleep(args.down)
            pg.start() if args.fault == "stop" else pg.thaw()
            up = time.perf_counter()
            time.sleep(args.after)
            stop.set()
            for t in threads:
                t.join()
            time.sleep(0.5)  # the last access lines
        report: dict[str, object] = {
            "fault": args.fault,
            "clients": args.clients,
            "down_s": round(up - down, 2),
        }
        during = [s for s in sent if s.start >= down and s.end <= up]
        report["pg_ctl_stop_s"] = round(down - stopping, 2)
        report["answers_while_down"] = len(during)
        report["statuses_while_down"] = dict(Counter(str(s.status) for s in during))
        report["messages_while_down"] = dict(Counter(s.message for s in during))
        report["retry_after_while_down"] = dict(Counter(str(s.retry_after) for s in during))
        lat = [s.end - s.start for s in during]
        report["latency_while_down_ms"] = {
            "p50": round(pct(lat, 50) * 1000, 2),
            "p99": round(pct(lat, 99) * 1000, 2),
            "max": round(max(lat, default=float("nan")) * 1000, 2),
        }
        report["over_1s_by_status"] = dict(
            Counter(str(s.status) for s in sent if s.end - s.start > 1)
        )
        report["connection_errors"] = sum(s.status is None for s in sent)
        report["5xx_other_than_503"] = sum((s.status or 0) >= 500 and s.status != 503 for s in sent)
        first_200 = min((s.end for s in sent if s.status == 200 and s.start >= up), default=None)
        report["first_200_after_return_s"] = round(first_200 - up, 3) if first_200 else None
        last_503 = max((s.end for s in sent if s.status == 503), default=None)
        report["last_503_after_return_s"] = round(last_503 - up, 3) if last_503 else None
        report["readyz_while_down"] = dict(Counter(str(c) for t, c in ready if down + 1 <= t <= up))
        report["statuses_all"] = dict(Counter(str(s.status) for s in sent))
        answers = {s.request_id: s for s in sent if s.request_id}
        report["log"] = read_log(log, answers, stopping, up, t0_wall, t0)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
