"""Throughput of 1 vs 2 facecompare replicas behind nginx on this machine.

    python benchmarks/replicas.py --requests 40 --concurrency 4 --rounds 2

Each replica runs one inference thread (FACECOMPARE_WORKERS=1). Both set-ups go through the
same nginx, with the same image pair, alternating 1, 2, 1, 2 ... so that load from other
processes hits both. Prints a table, writes reports/replicas.json and reports/replicas.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fleet import Fleet  # noqa: E402

from facecompare.client import build_body  # noqa: E402
from facecompare.lab.data.datasets import lfw_dir  # noqa: E402
from facecompare.lab.load import LoadResult, run_load, table  # noqa: E402


def image_pair(side: int, out: Path) -> tuple[Path, Path]:
    paths = []
    for n in (1, 2):
        img = cv2.imread(str(lfw_dir() / "images" / "Aaron_Peirsol" / f"Aaron_Peirsol_{n:04d}.jpg"))
        p = out / f"bench-{n}.jpg"
        cv2.imwrite(str(p), cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC))
        paths.append(p)
    return paths[0], paths[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=40, help="comparisons per run")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2, help="runs of each set-up, alternated")
    ap.add_argument("--side", type=int, default=1000, help="image side in pixels")
    ap.add_argument("--out", type=Path, default=ROOT / "reports")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="facecompare-bench-"))  # LFW-derived: not in reports/
    a, b = image_pair(args.side, scratch)
    body = build_body(a, b)
    fleets = {n: Fleet(n, workers=1) for n in (1, 2)}
    runs: dict[int, list[LoadResult]] = {1: [], 2: []}
    cpu: dict[int, list[list[float]]] = {1: [], 2: []}  # replica CPU seconds per request
    try:
        keys = {n: f.new_key("bench") for n, f in fleets.items()}
        for n, f in fleets.items():  # warm-up: first requests allocate onnxruntime buffers
            run_load(f.url, [body], count=2 * n, concurrency=n, key=keys[n])
        for _ in range(args.rounds):
            for n, f in fleets.items():
                pids = [r.proc.pid for r in f.replicas]
                before = [cpu_seconds(pid) for pid in pids]
                load = run_load(
                    f.url, [body], count=args.requests, concurrency=args.concurrency, key=keys[n]
                )
                runs[n].append(load)
                spent = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
                cpu[n].append([round(c / args.requests, 4) for c in spent])
    finally:
        for f in fleets.values():
            f.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    rows = [
        (f"{n} replica{'s' * (n > 1)} r{i + 1}", r) for n in runs for i, r in enumerate(runs[n])
    ]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{args.side}x{args.side} JPEG pair, {args.requests} requests per run")
    print(table(rows))
    median = {n: statistics.median(r.throughput for r in rs) for n, rs in runs.items()}
    ratio = median[2] / median[1]
    for n in runs:
        for i, per in enumerate(cpu[n]):
            busy = sum(per) * runs[n][i].throughput / n
            print(f"{n} replica(s) r{i + 1}: replica CPU s per request {per} (sum {sum(per):.3f});"
                  f" replicas busy {busy * 100:.0f} % of one core each")  # fmt: skip
    print(f"median throughput: 1 replica {median[1]:.2f} req/s, 2 replicas {median[2]:.2f} req/s,"
          f" ratio {ratio:.2f}")  # fmt: skip
    (args.out / "replicas.json").write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "runs": {n: [r.as_dict() for r in rs] for n, rs in runs.items()},
                "replica_cpu_s_per_request": cpu,
                "median_throughput": median,
                "ratio": ratio,
            },
            indent=2,
        )
        + "\n"
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    labels = [name for name, _ in rows]
    ax1.bar(labels, [r.throughput for _, r in rows], color=[
        "#8aa9e6" if name.startswith("1 ") else "#2f6fde" for name in labels])  # fmt: skip
    ax1.set_ylabel("comparisons / s")
    ax1.set_title("throughput through nginx")
    ax1.tick_params(axis="x", rotation=30)
    for q, style in ((50, "o-"), (95, "s--")):
        ax2.plot(labels, [r.percentile(q) for _, r in rows], style, label=f"p{q}")
    ax2.set_ylabel("seconds")
    ax2.set_title(f"latency at concurrency {args.concurrency}")
    ax2.tick_params(axis="x", rotation=30)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(args.out / "replicas.png", dpi=110)
    print(f"wrote {args.out / 'replicas.json'} and {args.out / 'replicas.png'}")


if __name__ == "__main__":
    main()
