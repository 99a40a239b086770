"""The ``facecompare`` command: serve, keys, compare, calibrate, eval, bench."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from .config import Settings, default_keys_db

# click's plain help layout: `--flag / --no-flag` without a type after it, and help texts
# printed as written (Rich markup mode shows `<bool>` after every flag, `--help` included, and
# takes the `[env …; default …]` hints for markup tags and drops them)
HELP_MARKUP = None

app = typer.Typer(
    help="Self-hosted face verification (AIGEN Face Compare API).",
    no_args_is_help=True,
    rich_markup_mode=HELP_MARKUP,
)
keys_app = typer.Typer(
    rich_markup_mode=HELP_MARKUP,
    help="Create, list and revoke API keys (stored as hashes in SQLite, or in PostgreSQL when "
    "FACECOMPARE_DATABASE_URL is set).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

KeysDb = Annotated[
    Path | None,
    typer.Option(
        "--keys-db",
        help="SQLite key store [env FACECOMPARE_KEYS_DB; default ~/.facecompare/keys.db]",
    ),
]


PackOpt = Annotated[
    str | None,
    typer.Option(
        "--pack",
        help="model pack: vectron-mbf (InsightFace, non-commercial) or open (YuNet + SFace, "
        "MIT / Apache-2.0) [env FACECOMPARE_PACK; default vectron-mbf]",
    ),
]


def _use_pack(pack: str | None) -> None:
    """Select the model pack for every engine this process loads (FACECOMPARE_PACK)."""
    if pack is not None:
        from .models.pack import pack_names

        if pack not in pack_names():
            raise typer.BadParameter(f"one of {pack_names()}", param_hint="--pack")
        os.environ["FACECOMPARE_PACK"] = pack


def _store(keys_db: Path | None):  # noqa: ANN202 - imported lazily to keep --help fast
    from .api.keystores import open_key_store

    # FACECOMPARE_DATABASE_URL=postgresql://... selects the shared PostgreSQL store
    return open_key_store(keys_db or default_keys_db())


@contextlib.contextmanager
def _key_errors() -> Iterator[None]:
    """A key operation that cannot be done (store unreachable, unknown name): its message on
    stderr and exit 1, never a traceback."""
    from .api.auth import KeyError_

    try:
        yield
    except KeyError_ as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@keys_app.command("create")
def keys_create(name: str, keys_db: KeysDb = None) -> None:
    """Make a key; it is printed once, alone on the last line."""
    with _key_errors():
        key = _store(keys_db).create(name)
    typer.echo(f"created key {name!r}; store it now, it cannot be shown again:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(keys_db: KeysDb = None) -> None:
    """Names, prefixes and state of the keys (never the keys)."""
    with _key_errors():
        keys = _store(keys_db).list()
    for k in keys:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(k.created_at))
        state = "active" if k.active else "revoked"
        typer.echo(f"{k.name}\t{k.prefix}…\t{created}\t{state}")


@keys_app.command("revoke")
def keys_revoke(name: str, keys_db: KeysDb = None) -> None:
    """Revoke a key; the running server refuses it from the next request on."""
    with _key_errors():
        _store(keys_db).revoke(name)
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
    log_format: Annotated[
        str, typer.Option(help="json: one JSON object per line with request_id; or text")
    ] = "json",
    pack: PackOpt = None,
) -> None:
    """Run the HTTP service (models load at start-up; /readyz turns 200 when loaded)."""
    import uvicorn

    _use_pack(pack)

    from .api.app import create_app
    from .api.logs import configure_logging

    configure_logging(log_format, log_level)

    settings = Settings.from_env(
        keys_db=keys_db, workers=workers, max_queue=max_queue, calibration=calibration
    )
    from .api.keystores import database_url

    url = database_url()
    if url is None or url.startswith("sqlite:///"):  # a key file that cannot be opened will
        with _key_errors():  # not mend itself (a PostgreSQL store that is down is waited for)
            _store(settings.keys_db).close()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # configure_logging above (access lines come from api/metrics.py)
        access_log=False,
        timeout_graceful_shutdown=30,
        # idle keep-alive longer than clients' own (httpx 5 s, proxies ~60 s): the client closes
        # first, so a request is never sent on a connection the server is closing (a reset)
        timeout_keep_alive=75,
    )


@app.command()
def compare(
    image1: Annotated[Path, typer.Argument(help="first image (JPEG or PNG)", exists=True)],
    image2: Annotated[Path, typer.Argument(help="second image (JPEG or PNG)", exists=True)],
    url: Annotated[
        str | None,
        typer.Option(help="compare on this server (e.g. http://host:8000) instead of locally"),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(help="API key for --url", envvar="FACECOMPARE_KEY"),
    ] = None,
    min_face: Annotated[
        int | None, typer.Option(help="minimum face size, pixels (local only)")
    ] = None,
    blur_detection: Annotated[bool, typer.Option(help="refuse blurred faces")] = False,
    image1_is_document: Annotated[bool, typer.Option(help="image1 is an ID document")] = False,
    image2_is_document: Annotated[bool, typer.Option(help="image2 is an ID document")] = False,
    pack: PackOpt = None,
) -> None:
    """Compare the faces of two image files; print confidence, thresholds and verdict.

    Runs the models in this process (no server) unless --url is given. Exit status 0 when a comparison was made, 2 with the spec's error message otherwise."""  # noqa: E501
    flags = {
        "blur_detection": blur_detection,
        "image1_is_document": image1_is_document,
        "image2_is_document": image2_is_document,
    }
    _use_pack(pack)
    if url:
        from .client import Client, FaceCompareAPIError

        try:
            with Client(url, key) as fc:
                res = fc.compare(image1, image2, **flags)
        except FaceCompareAPIError as err:
            typer.echo(err.message)
            raise typer.Exit(2) from None
        confidence, thresholds = res.confidence, vars(res.thresholds)
    else:
        from rich.console import Console

        from .compare import CompareRequest, Engine
        from .errors import FaceCompareError

        with Console(stderr=True).status("loading the models"):
            engine = Engine.load(Settings.from_env(min_face=min_face))
        req = CompareRequest(image1.read_bytes(), image2.read_bytes(), **flags)
        try:
            r = engine.compare(req)
        except FaceCompareError as err:
            typer.echo(err.message)
            raise typer.Exit(2) from None
        confidence, thresholds = r.confidence, r.thresholds
    verdict = "same person" if confidence >= thresholds["err_01"] else "different people"
    typer.echo(f"confidence {confidence:.2f}")
    typer.echo("thresholds " + " ".join(f"{k}={v:.2f}" for k, v in thresholds.items()))
    typer.echo(f"verdict {verdict} (at err_01)")


def _progress_bar(description: str, total: int | None):  # noqa: ANN202 - rich is lazy
    """A rich progress bar on stderr; returns (progress, advance-to callback)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
        console=Console(stderr=True),
    )
    task = progress.add_task(description, total=total)
    return progress, lambda done: progress.update(task, completed=done)


@app.command()
def calibrate(
    lfw: Annotated[Path, typer.Option(help="LFW folder")] = Path("../shared/datasets/lfw"),
    population: Annotated[
        Path | None,
        typer.Option(
            help="operator calibration on your own faces: a folder (see --rule); without it, "
            "the pack's calibration from the shared data sets"
        ),
    ] = None,
    rule: Annotated[
        str,
        typer.Option(
            help="who is who in --population: folder (a person per sub-folder), korean (the "
            "family set's names), distinct (every image a different person: one enrolment "
            "photo per customer)"
        ),
    ] = "folder",
    upscale: Annotated[
        int | None, typer.Option(help="scale images up so their shorter side is this (px)")
    ] = None,
    scoring: Annotated[
        str | None,
        typer.Option(
            help="cosine (default) or as-norm (cohort normalisation: measured, not shipped, "
            "docs/accuracy.md)"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="file to write [default: $FACECOMPARE_HOME/calibration/<pack>.json]; serve it "
            "with FACECOMPARE_CALIBRATION. The file shipped in the package is written only "
            "when its path is given here"
        ),
    ] = None,
    accept_unvalidated: Annotated[
        bool,
        typer.Option(
            "--accept-unvalidated",
            help="also write FAR levels fitted on your data that could not be validated on "
            "people the fit did not see (too few people); marked so in the file",
        ),
    ] = False,
    documents: Annotated[
        Path | None,
        typer.Option(
            help="with --population: your photographed ID documents, a person per sub-folder "
            "named as in --population, for the document-photo scenario; without it, documents "
            "are made from the population's photos (every synthetic layout)"
        ),
    ] = None,
    scenarios: Annotated[
        str,
        typer.Option(help="with --population: both, photo-photo or document-photo"),
    ] = "both",
    pack: PackOpt = None,
) -> None:
    """Fit a calibration file: thresholds that hold inside each population.

    With --population: your faces, for both scenarios (photo against photo; ID document against
    photo, the documents photographed by you or made from your photos). Thresholds fitted on
    half of your people are validated on the other half; each FAR level is then fitted on all
    of them and written only when it was validated (else the level in force is kept; with
    nothing validated nothing is written, exit status 1). Prints every threshold and the
    confidence scale before and after. Without --population: the pack's photo-photo
    calibration, fitted on half of the people of LFW and of the Korean family set (the
    strictest of the two at each FAR), validated on the other halves; its document-photo
    scenario: python -m facecompare.lab.fit.document_populations (see docs/accuracy.md)."""
    _use_pack(pack)
    from .lab.fit.command import run_calibrate

    if scenarios not in ("both", "photo-photo", "document-photo"):
        raise typer.BadParameter("both, photo-photo or document-photo", param_hint="--scenarios")
    lines = run_calibrate(
        lfw, population, rule, upscale, scoring, out, accept_unvalidated, documents, scenarios
    )
    for line in lines:
        typer.echo(line)


@app.command("eval-populations")
def evaluate_populations(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="lfw korean-family kpop faces94 faces94-grey orl (default: all of them when "
            "no --folder is given)"
        ),
    ] = None,
    folder: Annotated[
        list[Path] | None,
        typer.Option(help="an identity-labelled folder of your own (see --rule); repeatable"),
    ] = None,
    builtin: Annotated[
        bool,
        typer.Option(
            "--builtin",
            help="with --folder: also measure every built-in population (all of LFW: long)",
        ),
    ] = False,
    rule: Annotated[str, typer.Option(help="folder | korean | distinct")] = "folder",
    upscale: Annotated[int | None, typer.Option(help="scale --folder images up to (px)")] = None,
    out: Annotated[Path, typer.Option(help="folder for populations.json")] = Path("reports"),
    pack: PackOpt = None,
) -> None:
    """The served photo-photo thresholds on each population: realised FAR (false accepts, 95 %
    interval) and TAR at err_01/err_001/err_0001. With --folder, that folder alone (the
    built-in populations too only when named or with --builtin). Populations the calibration
    was fitted on are measured on their held-out half."""
    _use_pack(pack)
    from .lab.fit.command import populations_to_measure, run_eval_populations

    wanted = populations_to_measure(names or [], bool(folder), builtin)
    for line in run_eval_populations(wanted, folder or [], rule, upscale, out):
        typer.echo(line)


@app.command("eval")
def evaluate(
    lfw: Annotated[Path, typer.Option(help="LFW folder")] = Path("../shared/datasets/lfw"),
    out: Annotated[Path, typer.Option(help="folder for the JSON of the figures")] = Path("reports"),
    face_choice: Annotated[
        str, typer.Option(help="central: LFW's labelled person; largest: the server's rule")
    ] = "central",
    pack: PackOpt = None,
) -> None:
    """LFW through the server's pipeline (size rule bypassed): 10-fold, all-pairs TAR at FAR with
    intervals, held-out people; writes a JSON and ROC/DET/histogram plots."""
    from .lab.measure.evaluate import FACE_CHOICES
    from .lab.measure.reports import lfw_report

    if face_choice not in FACE_CHOICES:
        raise typer.BadParameter(f"one of {FACE_CHOICES}")
    _use_pack(pack)
    from .lab.data.datasets import lfw_images

    bar, advance = _progress_bar("embedding LFW", len(lfw_images(lfw)))
    with bar:
        report = lfw_report(lfw, out, choice=face_choice, progress=advance)
        advance(len(lfw_images(lfw)))  # complete also when the embeddings came from the cache
    typer.echo(report["table"])


@app.command("eval-http")
def evaluate_http(
    url: Annotated[
        str, typer.Option(help="base URL of a running server")
    ] = "http://127.0.0.1:8000",
    key: Annotated[str, typer.Option(envvar="FACECOMPARE_KEY", help="API key")] = "",
    lfw: Annotated[Path, typer.Option(help="LFW folder")] = Path("../shared/datasets/lfw"),
    fold: Annotated[int, typer.Option(help="LFW View 2 fold, 1 to 10")] = 1,
) -> None:
    """One LFW fold over HTTP against a running server (images upscaled to 500×500)."""
    from .lab.measure.httpeval import run_fold

    result = run_fold(url.rstrip("/"), key, lfw, fold - 1)
    typer.echo(result.table())
    for line in result.lost:
        typer.echo(f"  lost: {line}")


@app.command("load")
def load_test(
    image1: Annotated[Path, typer.Argument(help="first image (JPEG or PNG)", exists=True)],
    image2: Annotated[Path, typer.Argument(help="second image", exists=True)],
    url: Annotated[str, typer.Option(help="server (or load balancer) base URL")] = (
        "http://127.0.0.1:8000"
    ),
    key: Annotated[str | None, typer.Option(help="API key", envvar="FACECOMPARE_KEY")] = None,
    requests: Annotated[int, typer.Option(help="comparisons to send")] = 100,
    concurrency: Annotated[int, typer.Option(help="requests in flight at once")] = 4,
    out: Annotated[Path | None, typer.Option(help="also write the figures as JSON here")] = None,
) -> None:
    """Load a running server with one comparison repeated; print throughput and latency."""
    from .client import build_body
    from .lab.load import run_load

    body = build_body(image1, image2)
    bar, advance = _progress_bar(f"{requests} comparisons", requests)
    with bar:
        res = run_load(
            url, [body], count=requests, concurrency=concurrency, key=key, progress=advance
        )
    typer.echo(res.table(url))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res.as_dict(), indent=2) + "\n")
    if res.ok == 0:
        raise typer.Exit(1)


# -- calibrate-blur -----------------------------------------------------------------------
@app.command("calibrate-blur")
def calibrate_blur(
    datasets: Annotated[Path, typer.Option(help="shared data sets folder")] = Path(
        "../shared/datasets"
    ),
    per_population: Annotated[int, typer.Option(help="photos per population")] = 150,
    out: Annotated[
        Path | None,
        typer.Option(
            help="calibration file to update [default: $FACECOMPARE_HOME/calibration/<pack>.json,"
            " made from the file in force]; the shipped file only when its path is given here"
        ),
    ] = None,
    pictures: Annotated[Path, typer.Option(help="folder for the ladder PNGs")] = Path("docs/img"),
    verification: Annotated[
        bool, typer.Option(help="also re-fit the second rule (verification failure, ~20 min)")
    ] = False,
    threads: Annotated[int, typer.Option(help="worker threads")] = 2,
    pack: PackOpt = None,
) -> None:
    """Calibrate the blur flag on a ladder of known blur relative to the face, sent as a client
    sends it (writes only the calibration file's 'blur' section)."""
    _use_pack(pack)
    from .calibration import load_calibration
    from .compare import Engine
    from .lab.fit import blur as cb
    from .lab.fit import blur_ladder as bl
    from .lab.fit.target import in_force, output_path, seeded

    engine = Engine.load()
    target = output_path(out, engine.pack.name)
    source = target if target.exists() else in_force(engine.settings, engine.pack.name)
    old = load_calibration(source).section("blur") if source.exists() else None
    if verification:  # the verification-failure study (LFW, against err_01): docs/blur.md
        study = cb.run_study(engine, datasets / "lfw", progress=lambda m: typer.echo(m, err=True))
        rows = cb.candidate_rows(study)
        typer.echo(cb.candidate_table(rows))
        old = {"second": bl.second_rule(cb.build_section(study, "directional_min", rows))}
    lad = bl.measure_ladder(
        engine, datasets, per_population, threads, lambda m: typer.echo(m, err=True)
    )
    section = bl.build_section(lad, old)
    cb.write_section(seeded(target, source), section)
    for fam in bl.LADDER:
        bl.ladder_picture(engine, datasets, fam, pictures / f"blur-ladder-{fam}.png")
    typer.echo(f"kept {section['score']} < {section['threshold']:.6g} ({section['basis']})")
    if section["second"]:
        sec = section["second"]
        typer.echo(f"second rule: {sec['score']} < {sec['threshold']:.6g} ({sec['reason']})")
    rep = {k: v for k, v in section["report"].items() if k not in ("per_population", "curves")}
    typer.echo(json.dumps(rep, indent=2))
    typer.echo(bl.curve_table(section["report"]))
    typer.echo(f"wrote the 'blur' section of {target} and {pictures}/blur-ladder-*.png")
    typer.echo(f"serve it with FACECOMPARE_CALIBRATION={target}")


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
    pack: PackOpt = None,
) -> None:
    """Our pipeline in-process and over HTTP against InsightFace and face_recognition."""
    _use_pack(pack)
    from .lab.bench.run import bench as run_bench

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
