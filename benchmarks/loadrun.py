"""Bounded load run: mixed hostile traffic against a local server, then a burst past its queue.

    PYTHONPATH=$PWD/src python benchmarks/loadrun.py            # 20,000 requests, concurrency 32

Starts ``facecompare serve`` on a free port (its own temporary key store and home), sends
``--requests`` requests (valid compares, faceless images, argument errors, damaged and
undersized images, decompression bombs, oversized bodies, bad/missing/revoked keys, health
probes) at ``--concurrency``, checks every answer against the spec (status and exact
``error_message``, ``request_id`` = ``x-request-id``, float ``time_used``), then sends a burst
of valid compares at ``--burst-concurrency`` (more than the queue holds) to measure 429s.
Prints status counts, 5xx, connection errors, latency percentiles per kind, the server's RSS
before and after; writes reports/loadrun.json and reports/loadrun.png.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import multiprocessing
import random
import struct
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image

from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.load import Answer, Send, run_load
from facecompare.lab.server import LocalServer

PATH = "/aiface/face-compare/v1"
MB = 1024 * 1024


@dataclass
class Kind:
    name: str
    weight: float
    status: int
    message: str | None  # exact error_message; None: a comparison (confidence) is expected
    body: bytes | None = None
    key: str = "good"  # good | wrong | none | revoked
    method: str = "POST"
    path: str = PATH
    chunked: bool = False


@dataclass
class Outcome:
    kind: str
    status: int | None
    latency: float
    ok: bool
    detail: str = ""
    server: float | None = None  # the answer's time_used: time spent inside the server


@dataclass
class Stats:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, o: Outcome) -> None:
        self.outcomes.append(o)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def build_kinds() -> list[Kind]:
    lfw = shared_dir() / "datasets" / "lfw" / "images"
    face = cv2.imread(str(lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"))
    face2 = cv2.imread(str(lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg"))
    if face is None or face2 is None:
        sys.exit(f"LFW not found under {lfw}")
    a = b64(jpeg(cv2.resize(face, (500, 500), interpolation=cv2.INTER_CUBIC)))
    b = b64(jpeg(cv2.resize(face2, (500, 500), interpolation=cv2.INTER_CUBIC)))
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (500, 500, 3), dtype=np.uint8), (9, 9), 3)
    faceless = b64(jpeg(noise))
    small = b64(jpeg(face))  # 250 × 250
    png_bomb = io.BytesIO()
    Image.new("L", (30000, 30000)).save(png_bomb, format="PNG", compress_level=9)
    jpeg_bomb = bytearray(jpeg(np.zeros((16, 16, 3), np.uint8)))
    sof = jpeg_bomb.index(b"\xff\xc0")
    jpeg_bomb[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    prog = io.BytesIO()
    Image.fromarray(noise).save(prog, format="JPEG", progressive=True, quality=50)
    p = prog.getvalue()
    sos = p.index(b"\xff\xda")
    scan_bomb = p[:sos] + p[sos:-2] * 300 + b"\xff\xd9"
    truncated = base64.b64decode(a)[:6000]
    gif = b"GIF89a" + b"\0" * 200
    oversized = b'{"image1": "' + b"A" * (26 * MB) + b'", "image2": "x"}'

    def ok_kind(name: str, w: float, status: int, msg: str | None, **f: object) -> Kind:
        return Kind(name, w, status, msg, body(**f))

    return [
        ok_kind("valid", 1.5, 200, None, image1=a, image2=b),
        ok_kind("faceless", 0.5, 200, "CAN_NOT_DETECT_FACE: image2", image1=a, image2=faceless),
        ok_kind("small", 6, 400, "INVALID_IMAGE_SIZE: image1", image1=small, image2=b),
        ok_kind(
            "png-bomb",
            3,
            400,
            "INVALID_IMAGE_SIZE: image2",
            image1=a,
            image2=b64(png_bomb.getvalue()),
        ),
        ok_kind(
            "jpeg-bomb",
            4,
            400,
            "INVALID_IMAGE_SIZE: image1",
            image1=b64(bytes(jpeg_bomb)),
            image2=b,
        ),
        ok_kind(
            "scan-bomb",
            2,
            400,
            "IMAGE_ERROR_UNSUPPORTED_FORMAT: image1",
            image1=b64(scan_bomb),
            image2=b,
        ),
        ok_kind(
            "truncated",
            4,
            400,
            "IMAGE_ERROR_UNSUPPORTED_FORMAT: image1",
            image1=b64(truncated),
            image2=b,
        ),
        ok_kind("gif", 4, 400, "IMAGE_ERROR_UNSUPPORTED_FORMAT: image2", image1=a, image2=b64(gif)),
        ok_kind(
            "bad-base64", 7, 400, "IMAGE_ERROR_UNSUPPORTED_FORMAT: image1", image1="%%%", image2=b
        ),
        ok_kind("missing", 7, 400, "MISSING_ARGUMENTS: image2", image1=a),
        ok_kind(
            "flag-string",
            5,
            400,
            "BAD_ARGUMENTS: blur_detection",
            image1="QUJD",
            image2="QUJD",
            blur_detection="true",
        ),
        ok_kind("image-number", 4, 400, "BAD_ARGUMENTS: image1", image1=5, image2="QUJD"),
        ok_kind("image-null", 3, 400, "BAD_ARGUMENTS: image2", image1="QUJD", image2=None),
        Kind("not-object", 4, 400, "BAD_ARGUMENTS: body", b"[1, 2, 3]"),
        Kind("malformed-json", 5, 400, "BAD_ARGUMENTS: body", b'{"image1": "QUJD", '),
        Kind("oversized", 0.6, 413, "REQUEST_ENTITY_TOO_LARGE", oversized),
        Kind("oversized-chunked", 0.3, 413, "REQUEST_ENTITY_TOO_LARGE", oversized, chunked=True),
        Kind("wrong-key", 5, 401, "AUTHENTICATION_ERROR", body(image1=a, image2=b), key="wrong"),
        Kind("no-key", 4, 401, "AUTHENTICATION_ERROR", body(image1=a, image2=b), key="none"),
        Kind(
            "revoked-key", 3, 401, "AUTHENTICATION_ERROR", body(image1=a, image2=b), key="revoked"
        ),
        Kind("healthz", 2, 200, None, method="GET", path="/healthz"),
        Kind("not-found", 1, 404, None, method="GET", path="/no/such/page"),
        Kind("wrong-method", 1, 405, None, method="GET", path=PATH),
    ]


def start_server(tmp: Path, extra: list[str]) -> tuple[LocalServer, str, str]:
    """The server (its own key store and home in ``tmp``), a good key and a revoked one."""
    home = {"FACECOMPARE_HOME": str(tmp / "home")}
    srv = LocalServer(tmp, *extra, env=home, log=tmp / "server.log")
    key, revoked = srv.new_key("loadrun"), srv.new_key("revoked")
    if srv.cli("keys", "revoke", "revoked").returncode != 0:
        sys.exit("could not revoke the test key")
    return srv, key, revoked


def check(kind: Kind, r: httpx.Response) -> tuple[bool, str]:
    if r.status_code != kind.status:
        return False, f"status {r.status_code} != {kind.status}: {r.text[:200]}"
    if kind.path != PATH or kind.method != "POST":
        return True, ""
    try:
        data = r.json()
    except ValueError:
        return False, "not JSON"
    if data.get("request_id") != r.headers.get("x-request-id") or not data.get("request_id"):
        return False, "request_id missing or not the x-request-id header"
    if not isinstance(data.get("time_used"), float):
        return False, "time_used not a float"
    if kind.message is None:
        ok = "confidence" in data and set(data.get("thresholds", {})) == {
            "err_01",
            "err_001",
            "err_0001",
        }
        return ok, "" if ok else f"no comparison: {data}"
    if data.get("error_message") != kind.message:
        return False, f"error_message {data.get('error_message')!r} != {kind.message!r}"
    if "confidence" in data:
        return False, "confidence in an error"
    return True, ""


def sender(plan: list[Kind], key: str, revoked: str) -> Send:
    """The i-th request of the plan."""
    keys = {"good": key, "wrong": "fc_" + "w" * 43, "revoked": revoked}

    async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
        kind = plan[i]
        headers = {"content-type": "application/json"}
        if kind.key in keys:
            headers["x-aigen-key"] = keys[kind.key]
        if kind.method == "GET":
            return await client.get(kind.path, headers=headers)
        content: bytes | object = kind.body or b""
        if kind.chunked:
            data = kind.body or b""

            async def stream():  # no content-length: the server must count
                for at in range(0, len(data), MB):
                    yield data[at : at + MB]

            content = stream()
        return await client.post(kind.path, content=content, headers=headers)

    return send


def run(url: str, plan: list[Kind], concurrency: int, keys: tuple[str, str]) -> Stats:
    """The plan through the shared load generator; every answer checked against its kind."""
    stats = Stats()

    def judge(i: int, answer: Answer, latency: float) -> bool:
        kind = plan[i]
        if isinstance(answer, httpx.HTTPError):
            o = Outcome(kind.name, None, latency, False, f"connection error: {answer!r}")
            stats.add(o)
            return False
        server = None
        if kind.path == PATH and kind.method == "POST":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                server = float(answer.json()["time_used"])
        if answer.status_code == 429 and kind.path == PATH:
            kind = Kind("429", 0, 429, "CONCURRENCY_LIMIT_EXCEEDED")
        ok, detail = check(kind, answer)
        stats.add(Outcome(plan[i].name, answer.status_code, latency, ok, detail, server))
        return ok

    send = sender(plan, *keys)
    run_load(url, send, count=len(plan), concurrency=concurrency, timeout=300, judge=judge)
    return stats


def probe(url: str, key: str, stop, results) -> None:  # noqa: ANN001 - multiprocessing objects
    """A quiet client in its own process: sequential small requests while the burst fills the
    queue; the client-side latency of their 429s, without the load generator's own delays."""
    out: list[tuple[int, float]] = []
    with httpx.Client(base_url=url, headers={"x-aigen-key": key}, timeout=60) as c:
        c.get("/healthz")
        while not stop.is_set():
            t = time.perf_counter()
            r = c.post(PATH, content=b"{}", headers={"content-type": "application/json"})
            out.append((r.status_code, time.perf_counter() - t))
            time.sleep(0.02)
    results.put(out)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def table(stats: Stats) -> tuple[str, dict]:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in stats.outcomes:
        by_kind[o.kind].append(o)
    lines = [
        f"{'kind':<18}{'n':>7}{'statuses':>24}{'bad':>5}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'srv p50':>9}{'srv p99':>9}"
    ]
    summary = {}
    for name, outs in sorted(by_kind.items()):
        lat = [o.latency * 1000 for o in outs]
        st = Counter(o.status for o in outs)
        sts = " ".join(f"{k}:{v}" for k, v in sorted(st.items(), key=lambda kv: str(kv[0])))
        bad = sum(not o.ok for o in outs)
        srv = [o.server * 1000 for o in outs if o.server is not None]
        row = [pct(lat, 50), pct(lat, 95), pct(lat, 99), max(lat), pct(srv, 50), pct(srv, 99)]
        lines.append(
            f"{name:<18}{len(outs):>7}{sts:>24}{bad:>5}" + "".join(f"{v:>9.1f}" for v in row)
        )
        summary[name] = {
            "n": len(outs),
            "statuses": {str(k): v for k, v in st.items()},
            "bad": bad,
            "p50_ms": row[0],
            "p95_ms": row[1],
            "p99_ms": row[2],
            "max_ms": row[3],
        }
    return "\n".join(lines), summary


def totals(stats: Stats, label: str) -> dict:
    statuses = Counter(o.status for o in stats.outcomes)
    lat = [o.latency * 1000 for o in stats.outcomes]
    lat429 = [o.latency * 1000 for o in stats.outcomes if o.status == 429]
    srv429 = [o.server * 1000 for o in stats.outcomes if o.status == 429 and o.server is not None]
    res = {
        "requests": len(stats.outcomes),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "5xx": sum(v for k, v in statuses.items() if k is not None and k >= 500),
        "connection_errors": statuses.get(None, 0),
        "spec_mismatches": sum(not o.ok for o in stats.outcomes),
        "latency_ms": {f"p{q}": round(pct(lat, q), 1) for q in (50, 90, 95, 99)}
        | {"max": round(max(lat), 1)},
        "429_latency_ms": {f"p{q}": round(pct(lat429, q), 1) for q in (50, 95, 99)}
        | {"max": round(max(lat429), 1) if lat429 else None},
        "429_server_ms": {f"p{q}": round(pct(srv429, q), 2) for q in (50, 99)},
    }
    print(f"\n== {label}: {res['requests']} requests")
    print("status counts:", res["statuses"])
    print(
        f"5xx: {res['5xx']}   connection errors: {res['connection_errors']}   "
        f"answers not matching the spec: {res['spec_mismatches']}"
    )
    print("latency ms:", res["latency_ms"])
    if lat429:
        print("429 latency ms (client):", res["429_latency_ms"], "server:", res["429_server_ms"])
    for o in [o for o in stats.outcomes if not o.ok][:10]:
        print(f"  MISMATCH {o.kind}: {o.detail}")
    return res


def plot(stats: Stats, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    by_kind: dict[str, list[float]] = defaultdict(list)
    for o in stats.outcomes:
        by_kind[o.kind].append(o.latency * 1000)
    fig, ax = plt.subplots(figsize=(9, 5))
    for name, lat in sorted(by_kind.items()):
        s = np.sort(lat)
        ax.plot(s, np.linspace(0, 1, len(s)), label=name, lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("share of requests")
    ax.set_title("loadrun: latency CDF per request kind")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--burst", type=int, default=300, help="valid compares in the burst (0: none)")
    ap.add_argument("--burst-concurrency", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=10, help="requests of each kind before 'before'")
    ap.add_argument("--out", type=Path, default=Path("reports"))
    ap.add_argument("server_args", nargs="*", help="extra `facecompare serve` options, after --")
    args = ap.parse_args()

    kinds = build_kinds()
    rnd = random.Random(args.seed)
    plan = rnd.choices(kinds, weights=[k.weight for k in kinds], k=args.requests)
    with tempfile.TemporaryDirectory() as tmp:
        srv, key, revoked = start_server(Path(tmp), args.server_args)
        keys = (key, revoked)
        rss_start = srv.rss_mb()[0]
        warmup = [k for k in kinds for _ in range(args.warmup)]
        random.Random(args.seed + 1).shuffle(warmup)
        warm = run(srv.url, warmup, args.concurrency, keys)
        rss_before = srv.rss_mb()[0]
        print(
            f"server {srv.url}; RSS at start {rss_start:.0f} MB, "
            f"after warm-up ({len(warm.outcomes)} requests) {rss_before:.0f} MB"
        )
        t0 = time.perf_counter()
        stats = run(srv.url, plan, args.concurrency, keys)
        wall = time.perf_counter() - t0
        time.sleep(2)
        rss_after = srv.rss_mb()[0]
        text, per_kind = table(stats)
        print(
            f"\n{len(plan)} requests at concurrency {args.concurrency} in {wall:.1f} s "
            f"({len(plan) / wall:.0f} req/s)\n"
        )
        print(text)
        main_totals = totals(stats, "mixed run")
        print(
            f"RSS before {rss_before:.1f} MB, after {rss_after:.1f} MB "
            f"({(rss_after / rss_before - 1) * 100:+.1f} %)"
        )
        burst_totals = None
        if args.burst:
            valid = next(k for k in kinds if k.name == "valid")
            ctx = multiprocessing.get_context("spawn")
            stop, results = ctx.Event(), ctx.Queue()
            prober = ctx.Process(target=probe, args=(srv.url, key, stop, results))
            prober.start()
            time.sleep(3)  # the prober's interpreter starts
            burst = run(srv.url, [valid] * args.burst, args.burst_concurrency, keys)
            stop.set()
            probes = results.get(timeout=60)
            prober.join(10)
            burst_totals = totals(burst, f"burst at concurrency {args.burst_concurrency}")
            p429 = [t * 1000 for code, t in probes if code == 429]
            burst_totals["probe"] = {
                "statuses": dict(Counter(str(code) for code, _ in probes)),
                "429_ms": {f"p{q}": round(pct(p429, q), 1) for q in (50, 90, 99)}
                | {"max": round(max(p429), 1) if p429 else None},
            }
            print("quiet prober during the burst:", burst_totals["probe"])
        healthy = httpx.post(
            srv.url + PATH,
            content=next(k for k in kinds if k.name == "valid").body,
            headers={"x-aigen-key": key, "content-type": "application/json"},
            timeout=60,
        ).status_code
        rss_end = srv.rss_mb()[0]
        code = srv.stop()
        log = srv.log.read_text(errors="replace")
        lines = log.splitlines()
        errors_logged = sum(" ERROR " in x or '"level":"error"' in x for x in lines)
        warnings = [x for x in lines if "WARNING" in x or '"level":"warning"' in x]
        print(f"server log: {len(lines)} lines, {len(warnings)} warnings")
        for line in warnings[:5]:
            print("  ", line[:200])
        print(
            f"\nafter all: a valid compare answers {healthy}; RSS {rss_end:.1f} MB; "
            f"ERROR lines in the server log: {errors_logged}; exit code on SIGTERM {code}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "command": " ".join(sys.argv),
        "wall_s": round(wall, 1),
        "mixed": main_totals,
        "per_kind": per_kind,
        "burst": burst_totals,
        "rss_mb": {
            "start": round(rss_start, 1),
            "before": round(rss_before, 1),
            "after": round(rss_after, 1),
            "end": round(rss_end, 1),
        },
        "healthy_after": healthy,
        "server_log_errors": errors_logged,
    }
    (args.out / "loadrun.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(stats, args.out / "loadrun.png")
    print(f"wrote {args.out / 'loadrun.json'} and {args.out / 'loadrun.png'}")
    failed = (
        main_totals["5xx"] or main_totals["connection_errors"] or main_totals["spec_mismatches"]
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
