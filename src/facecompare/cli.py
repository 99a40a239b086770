"""The ``facecompare`` command: serve, keys, compare, calibrate, eval, bench."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from .config import Settings, default_keys_db

app = typer.Typer(
    help="Self-hosted face verification (AIGEN Face Compare API).", no_args_is_help=True
)
keys_app = typer.Typer(
    help="Create, list and revoke API keys (stored as hashes in SQLite).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")

KeysDb = Annotated[
    Path | None,
    typer.Option(
        "--keys-db",
        help="SQLite key store [env FACECOMPARE_KEYS_DB; default ~/.facecompare/keys.db]",
    ),
]


def _store(keys_db: Path | None):  # noqa: ANN202 - imported lazily to keep --help fast
    from .api.auth import KeyStore

    return KeyStore(keys_db or default_keys_db())


@keys_app.command("create")
def keys_create(name: str, keys_db: KeysDb = None) -> None:
    """Make a key; it is printed once, alone on the last line."""
    from .api.auth import KeyError_

    try:
        key = _store(keys_db).create(name)
    except KeyError_ as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created key {name!r}; store it now, it cannot be shown again:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(keys_db: KeysDb = None) -> None:
    """Names, prefixes and state of the keys (never the keys)."""
    for k in _store(keys_db).list():
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(k.created_at))
        state = "active" if k.active else "revoked"
        typer.echo(f"{k.name}\t{k.prefix}…\t{created}\t{state}")


@keys_app.command("revoke")
def keys_revoke(name: str, keys_db: KeysDb = None) -> None:
    """Revoke a key; the running server refuses it from the next request on."""
    from .api.auth import KeyError_

    try:
        _store(keys_db).revoke(name)
    except KeyError_ as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked {name!r}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    keys_db: KeysDb = None,
    workers: Annotated[
        int | None, typer.Option(help="inference threads [env FACECOMPARE_WORKERS]")
    ] = None,
    max_queue: Annotated[int | None, typer.Option(help="requests in flight before 429")] = None,
    calibration: Annotated[
        Path | None, typer.Option(help="calibration file (default: the pack's)")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the HTTP service (models load at start-up; /readyz turns 200 when loaded)."""
    import uvicorn

    from .api.app import create_app

    settings = Settings.from_env(
        keys_db=keys_db, workers=workers, max_queue=max_queue, calibration=calibration
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


@app.command()
def compare(
    image1: Path,
    image2: Path,
    min_face: Annotated[int | None, typer.Option(help="minimum face size, pixels")] = None,
) -> None:
    """Compare two image files locally (no server) and print confidence, thresholds, verdict."""
    from .compare import CompareRequest, Engine
    from .errors import FaceCompareError

    engine = Engine.load(Settings.from_env(min_face=min_face))
    req = CompareRequest(image1.read_bytes(), image2.read_bytes())
    try:
        r = engine.compare(req)
    except FaceCompareError as err:
        typer.echo(err.message)
        raise typer.Exit(2) from None
    verdict = "same person" if r.confidence >= r.thresholds["err_01"] else "different people"
    typer.echo(f"confidence {r.confidence:.2f}")
    typer.echo("thresholds " + " ".join(f"{k}={v:.2f}" for k, v in r.thresholds.items()))
    typer.echo(f"verdict {verdict} (at err_01)")


@app.command()
def calibrate(
    lfw: Annotated[Path, typer.Option(help="LFW folder")] = Path("../shared/datasets/lfw"),
    out: Annotated[Path | None, typer.Option(help="output file (default: the pack's file)")] = None,
) -> None:
    """Fit the calibration file the server loads, from LFW all pairs."""
    from .calibration import default_path
    from .calibration.lfw import calibrate_lfw, write
    from .compare import Engine

    engine = Engine.load(with_calibration=False)
    start = time.time()

    def progress(i: int) -> None:
        if i % 1000 == 0:
            typer.echo(f"  {i} images embedded, {time.time() - start:.0f} s", err=True)

    data = calibrate_lfw(engine, lfw, progress)
    target = out or default_path(engine.pack.name)
    write(data, target)
    typer.echo(json.dumps({"mapping": data["mapping"], **data["scenarios"]}, indent=2))
    typer.echo(f"wrote {target}")


@app.command("eval")
def evaluate(
    lfw: Annotated[Path, typer.Option(help="LFW folder")] = Path("../shared/datasets/lfw"),
    out: Annotated[Path, typer.Option(help="folder for the JSON of the figures")] = Path("reports"),
    face_choice: Annotated[
        str, typer.Option(help="central: LFW's labelled person; largest: the server's rule")
    ] = "central",
) -> None:
    """LFW 10-fold accuracy through the server's pipeline (size rule bypassed)."""
    from .evaluate import FACE_CHOICES, lfw_report

    if face_choice not in FACE_CHOICES:
        raise typer.BadParameter(f"one of {FACE_CHOICES}")
    report = lfw_report(lfw, choice=face_choice)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"lfw-eval-{face_choice}.json").write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(report["table"])


# -- bench (speed against the peers; see docs/performance.md) ---------------------------------
@app.command()
def bench(
    lfw: Annotated[Path, typer.Option(help="LFW folder")] = Path("../shared/datasets/lfw"),
    out: Annotated[Path, typer.Option(help="folder for bench.json and bench.png")] = Path(
        "reports"
    ),
    pairs: Annotated[int, typer.Option(help="LFW pairs per input set")] = 40,
    rounds: Annotated[int, typer.Option(help="interleaved rounds in-process")] = 2,
    slow_pairs: Annotated[int, typer.Option(help="pairs for face_recognition (slow)")] = 6,
    per_level: Annotated[int, typer.Option(help="HTTP requests per concurrency level")] = 80,
    threads: Annotated[int, typer.Option(help="onnxruntime threads per run, ours")] = 1,
    http: Annotated[bool, typer.Option(help="also load our server over HTTP")] = True,
) -> None:
    """Our pipeline in-process and over HTTP against InsightFace and face_recognition."""
    from .bench.run import bench as run_bench

    data = run_bench(
        lfw,
        out,
        pairs=pairs,
        rounds=rounds,
        slow_pairs=slow_pairs,
        per_level=per_level,
        threads=threads,
        http=http,
        log=lambda m: typer.echo(m, err=True),
    )
    typer.echo(data["table"])
    typer.echo(f"wrote {out / 'bench.json'} and {out / 'bench.png'}")
