"""One bench run: the same inputs through us (in-process and HTTP) and the peers; table + plot."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...compare import CompareRequest, Engine
from ...config import ImageLimits, Settings
from ...errors import FaceCompareError
from ...models.backend import BackendError, choose, openvino_available
from ..data.phones import BenchPair, build_pairs
from ..load import LoadResult, bodies, run_load
from ..server import LocalServer
from . import peers

Log = Callable[[str], None]
PAUSE_S = 0.05  # idle time before each timed compare (lets spinning worker threads park)


@dataclass
class Timing:
    system: str
    inputs: str  # "phone 1280×960" or "raw LFW 250×250"
    ms: list[float] = field(default_factory=list)  # per compare
    no_face: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.ms)


# the simple pipeline on the same models: full decode, detector 640, SCRFD's own 5 points, no
# flip, the two images one after the other, original graphs on onnxruntime fp32
PLAIN: dict[str, object] = {
    "reduced_decode": False,
    "det_first_size": 0,
    "det_size": 640,
    "image_threads": 1,
    "refine_landmarks": False,
    "flip_tta": "off",
    "fast_prelu": False,
    "backend": "onnxruntime",
}
PLAIN_2T = "facecompare, plain pipeline, 2 onnxruntime threads"
# our pipeline with the speed levers forced off (docs/performance.md): onnxruntime fp32 on the
# original graphs, the detector at det_size without the first small pass, alignment from the
# reduced decode only for faces of at least 112 px there; the accuracy levers stay on
FAST_OFF: dict[str, object] = {
    "backend": "onnxruntime",
    "precision": "auto",
    "fast_prelu": False,
    "det_first_size": 0,
    "align_min_face": 112,
}
FAST_OFF_ENV = {f"FACECOMPARE_{k.upper()}": str(v) for k, v in FAST_OFF.items()}
# our pipeline on OpenVINO (bf16 where the CPU computes it natively, else f32)
OPENVINO: dict[str, object] = {"backend": "openvino", "precision": "auto"}


def backend_label(settings: Settings) -> str:
    """``backend precision`` that these settings resolve to on this CPU."""
    try:
        c = choose(settings.backend, settings.precision)
    except BackendError as err:
        return f"{settings.backend} (not served here: {err})"
    return f"{c.backend} {c.precision}"


def openvino_or_reason(
    make: Callable[[str], peers.Compare],
) -> Callable[[str], peers.Compare | str]:
    """``make``, or the reason OpenVINO cannot run here (the bench then skips the row)."""

    def made(inputs: str) -> peers.Compare | str:
        if not openvino_available():
            return "the openvino package is not installed"
        return make(inputs)

    return made


def ours(settings: Settings) -> peers.Compare:
    engine = Engine.load(settings)

    def compare(a: bytes, b: bytes) -> float | None:
        try:
            return engine.compare(CompareRequest(a, b)).cosine
        except FaceCompareError:
            return None

    return compare


def time_pair(fn: peers.Compare, p: BenchPair, into: Timing, warm: bool = True) -> None:
    """One timed compare, after an untimed one of the same system on the same pair: each system
    is timed warm (its weights in the CPU caches, its buffers allocated), as it would run in a
    process that does nothing else, while the interleaving still spreads the host's noise."""
    if warm:
        fn(p.a, p.b)  # first-run allocations and lazy set-up are not counted
    time.sleep(PAUSE_S)
    t = time.perf_counter()
    cos = fn(p.a, p.b)
    into.ms.append((time.perf_counter() - t) * 1000)
    into.no_face += cos is None


def in_process(
    sets: dict[str, list[BenchPair]], rounds: int, slow_pairs: int, threads: int, log: Log
) -> list[Timing]:
    """Each system on each input set, rounds interleaved so drift hits everyone alike."""
    raw = {"limits": ImageLimits(min_area=0), "min_face": 0}  # 250×250 is under the API rule
    plain = PLAIN

    def ours_on(extra: dict[str, object]) -> Callable[[str], peers.Compare | str]:
        def make(inputs: str) -> peers.Compare:
            kw = {"intra_op_threads": threads, **extra, **(raw if inputs.startswith("raw") else {})}
            return ours(Settings.from_env(**kw))

        return make

    # ours with the defaults, on OpenVINO (the other backend), and with the speed levers off
    default = backend_label(Settings.from_env())
    systems: list[tuple[str, Callable[[str], peers.Compare | str], int | None]] = [
        (f"facecompare (in-process, defaults: {default})", ours_on({}), None),
        (
            f"facecompare, {backend_label(Settings.from_env(**OPENVINO))}",
            openvino_or_reason(ours_on(OPENVINO)),
            None,
        ),
        ("facecompare, speed levers off (onnxruntime fp32)", ours_on(FAST_OFF), None),
        ("facecompare, plain pipeline (same models)", ours_on(plain), None),
        (
            PLAIN_2T,
            ours_on({**plain, "intra_op_threads": 2}),
            None,
        ),
        (
            "InsightFace FaceAnalysis (default modules)",
            lambda _: peers.insightface_peer(None),
            None,
        ),
        (
            "InsightFace FaceAnalysis (detection+recognition)",
            lambda _: peers.insightface_peer(("detection", "recognition")),
            None,
        ),
        ("face_recognition (dlib HOG)", lambda _: peers.face_recognition_peer(), slow_pairs),
    ]
    timings: dict[tuple[str, str], Timing] = {}
    loaded: dict[tuple[str, str], peers.Compare] = {}
    for name, make, _ in systems:
        for inputs in sets:
            fn = make(inputs)
            if isinstance(fn, str):
                log(f"skipping {name}: {fn}")
                break
            loaded[name, inputs] = fn
            timings[name, inputs] = Timing(name, inputs)
    # pair by pair, every system in turn, so the load of this shared machine hits all alike;
    # the order is shuffled per pair and each timed call starts after a warm-up call and a
    # pause, so no system pays for the previous one's evicted caches or spinning threads
    rng = random.Random(0)
    for r in range(rounds):
        log(f"round {r + 1}/{rounds}")
        for inputs, pairs in sets.items():
            for i, p in enumerate(pairs):
                for name, _, limit in rng.sample(systems, len(systems)):
                    if (name, inputs) in loaded and (limit is None or i < limit):
                        time_pair(loaded[name, inputs], p, timings[name, inputs])
    return list(timings.values())


@dataclass
class HttpReport:
    label: str  # the server's backend and precision
    startup_s: float
    rss_mb: float
    peak_rss_mb: float
    loads: list[LoadResult]


def over_http(
    pairs: list[BenchPair],
    levels: list[int],
    per_level: int,
    log: Log,
    env: dict[str, str] | None = None,
) -> HttpReport:
    label = backend_label(Settings.from_env())
    if env == FAST_OFF_ENV:
        label = "speed levers off, onnxruntime fp32"
    elif env:
        label = backend_label(Settings.from_env(backend=env["FACECOMPARE_BACKEND"]))
    log(f"starting the server ({label})")
    with LocalServer(env=env) as server:
        key = server.new_key("bench")
        payloads = bodies(pairs)
        loads = []
        for c in levels:
            log(f"HTTP load at concurrency {c}")
            n = max(per_level, 4 * c)  # after one untimed request per connection (warmup)
            load = run_load(server.url, payloads, count=n, concurrency=c, key=key, warmup=c)
            loads.append(load)
        rss, peak = server.rss_mb()
    return HttpReport(label, server.startup_s, rss, peak, loads)


def ms(load: LoadResult, q: float) -> float:
    """A latency percentile of a load, in ms."""
    return load.percentile(q) * 1000


def plain_on_phone(timings: list[Timing]) -> Timing | None:
    """The faster of the plain pipeline's rows (1 or 2 onnxruntime threads) on phone pairs."""
    rows = [
        t
        for t in timings
        if t.system.startswith("facecompare, plain pipeline") and t.inputs.startswith("phone")
    ]
    return min(rows, key=lambda t: t.median) if rows else None


def table(timings: list[Timing], https: list[HttpReport]) -> str:
    lines = ["In-process, one compare after another (median of per-compare wall time)"]
    lines.append(f"  {'system':58} {'inputs':18} {'n':>4} {'ms':>8} {'/s':>7} {'no face':>8}")
    for t in timings:
        lines.append(
            f"  {t.system:58} {t.inputs:18} {len(t.ms):4d} {t.median:8.1f} "
            f"{1000 / t.median:7.1f} {t.no_face:8d}"
        )
    lines.append("Ratios (peer time / our time, same run, same inputs)")
    for inputs in dict.fromkeys(t.inputs for t in timings):
        base = next(
            (t for t in timings if t.inputs == inputs and t.system.startswith("facecompare")), None
        )
        for t in timings:
            if base and t.inputs == inputs and t is not base:
                lines.append(f"  {inputs:18} {t.system:58} {t.median / base.median:6.1f}×")
    plain = plain_on_phone(timings)
    for http in https:
        lines.append(
            f"Our server over HTTP ({http.label}, phone pairs): start-up to ready "
            f"{http.startup_s:.2f} s, RSS {http.rss_mb:.0f} MB (peak {http.peak_rss_mb:.0f} MB)"
        )
        lines.append(
            f"  {'concurrency':>11} {'requests':>8} {'errors':>6} {'compares/s':>10} "
            f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'vs plain':>9}"
        )
        for lr in http.loads:
            # throughput against the plain pipeline's in-process rate; at concurrency 1 the
            # p50 as a fraction of one plain compare
            vs = ""
            if plain is not None:
                vs = (
                    f"{ms(lr, 50) / plain.median:8.2f}t"
                    if lr.concurrency == 1
                    else f"{lr.throughput * plain.median / 1000:8.1f}×"
                )
            lines.append(
                f"  {lr.concurrency:11d} {lr.requests:8d} {lr.errors:6d} {lr.throughput:10.1f} "
                f"{ms(lr, 50):7.1f} {ms(lr, 95):7.1f} {ms(lr, 99):7.1f} {vs:>9}"
            )
    if https and plain is not None:
        lines.append(
            f"  vs plain: compares/s over HTTP ÷ the plain pipeline's in-process rate "
            f"({plain.system}, {1000 / plain.median:.1f}/s); 't' at concurrency 1: p50 ÷ one "
            f"plain compare ({plain.median:.1f} ms)"
        )
    return "\n".join(lines)


def plot(timings: list[Timing], https: list[HttpReport], path: Path) -> None:
    http = https[0] if https else None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if http else 1, figsize=(13 if http else 7, 4.8), squeeze=False)
    ax = axes[0][0]
    sets = list(dict.fromkeys(t.inputs for t in timings))
    systems = list(dict.fromkeys(t.system for t in timings))
    width = 0.8 / max(1, len(sets))
    for j, inputs in enumerate(sets):
        xs, ys = [], []
        for i, s in enumerate(systems):
            t = next((t for t in timings if t.system == s and t.inputs == inputs), None)
            if t:
                xs.append(i + j * width)
                ys.append(t.median)
        ax.bar(xs, ys, width, label=inputs)
    ax.set_yscale("log")
    ax.set_xticks([i + width * (len(sets) - 1) / 2 for i in range(len(systems))])
    labels = [s.replace(" (", "\n(").replace(", ", ",\n") for s in systems]
    ax.set_xticklabels(labels, fontsize=7, rotation=25, ha="right")
    ax.set_ylabel("ms per compare (median, log scale)")
    ax.set_title("In-process, same inputs, same run")
    ax.legend(fontsize=8)
    if http:
        ax = axes[0][1]
        cs = [lr.concurrency for lr in http.loads]
        for q in (50, 95, 99):
            ax.plot(cs, [ms(lr, q) for lr in http.loads], marker="o", label=f"p{q} latency")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("latency, ms")
        ax2 = ax.twinx()
        ax2.bar(
            cs,
            [lr.throughput for lr in http.loads],
            width=[c * 0.3 for c in cs],
            alpha=0.25,
            color="grey",
            label="compares/s",
        )
        ax2.set_ylabel("compares/s (bars)")
        ax.set_title(f"Our server over HTTP ({http.label}), phone pairs")
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def bench(
    lfw_root: Path,
    out: Path,
    pairs: int = 40,
    rounds: int = 2,
    slow_pairs: int = 6,
    levels: tuple[int, ...] = (1, 4, 16),
    per_level: int = 80,
    threads: int = 1,
    http: bool = True,
    log: Log = print,
) -> dict[str, object]:
    log(f"building {pairs} phone-style pairs and the raw LFW pairs")
    sets = {
        "phone 1280×960": build_pairs(lfw_root, pairs, phone=True),
        "raw LFW 250×250": build_pairs(lfw_root, pairs, phone=False),
    }
    timings = in_process(sets, rounds, slow_pairs, threads, log)
    reports = []
    if http:  # the default server, then on OpenVINO, then with the speed levers off
        envs: list[dict[str, str] | None] = [None]
        if openvino_available():
            envs.append({"FACECOMPARE_BACKEND": "openvino"})
        envs.append(FAST_OFF_ENV)
        for env in envs:
            reports.append(over_http(sets["phone 1280×960"], list(levels), per_level, log, env))
    text = table(timings, reports)
    out.mkdir(parents=True, exist_ok=True)
    plot(timings, reports, out / "bench.png")
    data = {
        "pairs": pairs,
        "rounds": rounds,
        "threads": threads,
        "in_process": [
            {
                "system": t.system,
                "inputs": t.inputs,
                "n": len(t.ms),
                "median_ms": t.median,
                "mean_ms": t.mean,
                "no_face": t.no_face,
            }
            for t in timings
        ],
        "http": [
            {
                "server": report.label,
                "startup_s": report.startup_s,
                "rss_mb": report.rss_mb,
                "peak_rss_mb": report.peak_rss_mb,
                "loads": [
                    {
                        "concurrency": lr.concurrency,
                        "requests": lr.requests,
                        "errors": lr.errors,
                        "throughput": lr.throughput,
                        "p50_ms": ms(lr, 50),
                        "p95_ms": ms(lr, 95),
                        "p99_ms": ms(lr, 99),
                    }
                    for lr in report.loads
                ],
            }
            for report in reports
        ],
        "table": text,
    }
    (out / "bench.json").write_text(json.dumps(data, indent=2) + "\n")
    return data
