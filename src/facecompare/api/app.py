"""FastAPI application: the Face Compare endpoint, health, info. Turns domain errors into HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import orjson
from fastapi import FastAPI, Request, Response

from .. import __version__, imaging
from ..compare import PARAMS, CompareRequest, CompareResult, Engine
from ..config import Settings
from ..errors import ErrorCode, FaceCompareError
from ..pipeline import ContextPool
from .auth import KeyStoreUnavailable
from .errors import HTTP_STATUS
from .keyguard import RETRY_AFTER_S, KeyStoreGuard
from .keystores import open_key_store
from .limits import (
    Admission,
    ClientGone,
    DeadlineExceeded,
    RateLimiter,
    lower_other_threads_priority,
    read_body,
    return_big_buffers_to_os,
    run_in_worker,
)
from .middleware import SECURITY_HEADERS, RequestContext, envelope
from .schemas import CompareBody, CompareResponse, parse_body

log = logging.getLogger("facecompare.api")
debug_log = logging.getLogger("facecompare.requests")  # only with FACECOMPARE_DEBUG_REQUESTS
COMPARE_PATH = "/aiface/face-compare/v1"
PARSE_IN_THREAD_BYTES = 32 * 1024  # bigger bodies are parsed off the event loop
PARSE_THREADS = 2
__all__ = ["COMPARE_PATH", "SECURITY_HEADERS", "Admission", "create_app"]


def json_response(payload: dict[str, Any], status: int, request_id: str) -> Response:
    headers = {"x-request-id": request_id, **SECURITY_HEADERS}
    return Response(orjson.dumps(payload), status, headers, media_type="application/json")


def result_payload(result: CompareResult) -> dict[str, Any]:
    return {
        "confidence": result.confidence,
        "thresholds": result.thresholds,
        "face1": result.face1.as_dict(),
        "face2": result.face2.as_dict(),
    }


async def parse_request(body: bytes, settings: Settings, pool: Executor) -> CompareRequest:
    """Arguments, then the cheap image checks (base64, format, size from the header), off the
    inference workers: bad input and bombs never wait in the queue."""

    def work() -> CompareRequest:
        req = parse_body(body)
        datas = imaging.precheck((req.image1, req.image2), settings.limits, PARAMS)
        return dataclasses.replace(req, image1=datas[0], image2=datas[1])

    if len(body) <= PARSE_IN_THREAD_BYTES:
        return work()  # small: microseconds, not worth a thread hop
    return await asyncio.get_running_loop().run_in_executor(pool, work)


def log_to_stderr() -> None:
    """Our log lines (no request content, see docs/security.md) to stderr, unless the host
    application configured logging itself."""
    root, ours = logging.getLogger(), logging.getLogger("facecompare")
    if root.handlers or ours.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    engine_factory: Callable[[Settings], Engine] = Engine.load,
) -> FastAPI:
    """The app. Models load in the lifespan (at start-up), never at import."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_to_stderr()
        return_big_buffers_to_os(arenas=settings.malloc_arenas)
        # SQLite or PostgreSQL; an unreachable store is answered 503, not 500 (api/keyguard.py)
        app.state.keys = KeyStoreGuard(open_key_store(settings.keys_db))
        if settings.auth:
            await app.state.keys.ping_async()  # an outage at start-up is logged, not fatal
        loaded = engine or await anyio.to_thread.run_sync(engine_factory, settings)
        # the document path's text models too, and every model run once: /readyz says ready
        # only once nothing is left to load (Engine.warm)
        await anyio.to_thread.run_sync(loaded.warm)
        app.state.engine = loaded
        choice = app.state.engine.pipeline.backend
        if choice.backend == "openvino":  # its compute threads yield to the event loop too
            lower_other_threads_priority()
        log.info(
            "ready: model pack %s, backend %s %s (%s)",
            app.state.engine.pack.digest,
            choice.backend,
            choice.precision,
            choice.reason,
        )
        pack = app.state.engine.pack
        log.info("ready: model pack %s (digest %s): %s", pack.name, pack.digest, pack.licence)
        for role, f in pack.files.items():
            log.info("model %s: %s sha256 %s licence %s", role, f.path.name, f.sha256, f.licence)
        yield
        app.state.keys.store.close()

    app = FastAPI(
        title="facecompare",
        version=__version__,
        description="Self-hosted face verification, compatible with the AIGEN Face Compare API.",
        lifespan=lifespan,
    )
    app.state.engine = None
    app.state.settings = settings
    admission = Admission(settings.workers, settings.max_queue)
    app.state.admission = admission

    # -- reliability & security (api/limits.py, api/middleware.py) ---------------------------
    rate = RateLimiter(settings.rate_limit)
    # parsing has its own few threads: bounded CPU and memory, and never the lower CPU
    # priority of the inference threads (api/limits.py lower_thread_priority)
    parse_pool = ContextPool(PARSE_THREADS, thread_name_prefix="facecompare-parse")
    app.state.rate = rate
    if settings.cors_origins:  # CORS is off unless origins are configured
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
            allow_methods=["POST", "GET"],
            allow_headers=["content-type", "x-aigen-key"],
            expose_headers=["x-request-id", "retry-after"],
        )
    app.add_middleware(RequestContext)

    def error_response(
        request: Request, err: FaceCompareError, headers: dict[str, str] | None = None
    ) -> Response:
        rid = request.state.request_id
        payload = envelope(rid, request.state.started, err.message)
        response = json_response(payload, HTTP_STATUS[err.code], rid)
        response.headers.update(headers or {})
        return response

    @app.post(
        COMPARE_PATH,
        response_model=CompareResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CompareBody.model_json_schema()}},
            }
        },
        responses={
            400: {
                "model": CompareResponse,
                "description": "IMAGE_ERROR_UNSUPPORTED_FORMAT, "
                "INVALID_IMAGE_SIZE, MISSING_ARGUMENTS or BAD_ARGUMENTS: <param>",
            },
            401: {"model": CompareResponse, "description": "AUTHENTICATION_ERROR"},
            413: {"model": CompareResponse, "description": "REQUEST_ENTITY_TOO_LARGE"},
            429: {"model": CompareResponse, "description": "CONCURRENCY_LIMIT_EXCEEDED"},
            500: {"model": CompareResponse, "description": "INTERNAL_ERROR"},
            503: {
                "model": CompareResponse,
                "description": "SERVICE_UNAVAILABLE: the key store cannot be reached; "
                "retry after the `Retry-After` seconds",
            },
        },
        summary="Compare the faces of two images",
        description="200 answers carry either `confidence` and `thresholds` or an "
        "`error_message`: CAN_NOT_DETECT_FACE, IMAGE_BLURED or CAN_NOT_DETECT_IDCARD: <param>.",
    )
    async def face_compare(request: Request) -> Response:
        rid = request.state.request_id
        entered = False
        extra_headers: dict[str, str] = {}
        try:
            name = None
            if settings.auth:
                name = await request.app.state.keys.verify_async(request.headers.get("x-aigen-key"))
                if name is None:
                    raise FaceCompareError(ErrorCode.AUTHENTICATION_ERROR)
                if not rate.allow(name):
                    extra_headers["retry-after"] = str(rate.retry_after(name))
                    raise FaceCompareError(ErrorCode.CONCURRENCY_LIMIT_EXCEEDED)
            if not admission.try_enter():  # before the body: a full queue answers at once
                extra_headers["retry-after"] = "1"
                raise FaceCompareError(ErrorCode.CONCURRENCY_LIMIT_EXCEEDED)
            entered = True
            with anyio.fail_after(settings.body_timeout):
                body = await read_body(request, settings.max_body_bytes)
            req = await parse_request(body, settings, parse_pool)
            if settings.debug_requests:
                debug_log.info(
                    "request_id=%s key=%s body_bytes=%d flags=%s",
                    rid,
                    name,
                    len(body),
                    {k: v for k, v in dataclasses.asdict(req).items() if isinstance(v, bool)},
                )
            del body
            engine: Engine = request.app.state.engine
            result = await run_in_worker(
                # both cores for this compare only when it is the only one admitted
                lambda: engine.compare(req, side_by_side=admission.depth <= 1),
                admission.limiter,
                settings.request_timeout,
                request,
            )
        except FaceCompareError as err:
            log.info("request_id=%s error=%s", rid, err.code.value)
            return error_response(request, err, extra_headers)
        except KeyStoreUnavailable:  # logged once per outage by the guard, not per request
            err = FaceCompareError(ErrorCode.SERVICE_UNAVAILABLE)
            return error_response(request, err, {"retry-after": str(RETRY_AFTER_S)})
        except TimeoutError:  # the body did not arrive in time
            log.info("request_id=%s body timeout", rid)
            return error_response(request, FaceCompareError(ErrorCode.BAD_ARGUMENTS, "body"))
        except DeadlineExceeded:
            log.info("request_id=%s waited too long for a worker", rid)
            err = FaceCompareError(ErrorCode.CONCURRENCY_LIMIT_EXCEEDED)
            return error_response(request, err, {"retry-after": "1"})
        except ClientGone:
            log.info("request_id=%s client gone, work dropped", rid)
            return error_response(request, FaceCompareError(ErrorCode.BAD_ARGUMENTS, "body"))
        except Exception:
            log.exception("request_id=%s failed", rid)
            return error_response(request, FaceCompareError(ErrorCode.INTERNAL_ERROR))
        finally:
            if entered:
                admission.leave()
        payload = {
            "request_id": rid,
            **result_payload(result),
            "time_used": round(time.perf_counter() - request.state.started, 4),
        }
        return json_response(payload, 200, rid)

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Models are loaded and the key store answers: the service can answer",
        description='200 `{"status": "ready", "key_store": "ok"}`; 503 while the '
        "models load (`loading`) or while the key store cannot be reached (`unavailable`, "
        "`key_store: unreachable`).",
    )
    async def readyz(request: Request) -> Response:
        keys: KeyStoreGuard | None = getattr(request.app.state, "keys", None)
        payload: dict[str, object] = {"status": "ready"}
        if request.app.state.engine is None or keys is None:
            payload["status"] = "loading"
        elif settings.auth:
            reachable = await keys.ping_async()
            payload.update(keys.state())
            if not reachable:
                payload["status"] = "unavailable"
        return json_response(
            payload, 200 if payload["status"] == "ready" else 503, request.state.request_id
        )

    @app.get("/v1/info", summary="Model pack, licences, calibration and limits in use")
    async def info(request: Request) -> dict[str, Any]:
        eng: Engine | None = request.app.state.engine
        if eng is None:
            return {"version": __version__, "status": "loading"}
        cal = eng.calibrated
        return {
            "version": __version__,
            "model_pack": eng.pack.info(),
            "inference": eng.pipeline.backend.info(),  # backend, precision, why (models/backend.py)
            "document_text_detector": eng.documents.ocr_backend.info(),  # models/ppocr.py
            "calibration": {
                "file": cal.path.name if cal.path else None,
                "scenarios": {s: cal.thresholds(s) for s in cal.scenarios},
                "mapping": cal.data["mapping"],
            },
            "limits": {
                "min_image_area": settings.limits.min_area,
                "max_image_side": settings.limits.max_side,
                "max_image_bytes": settings.limits.max_bytes,
                "max_body_bytes": settings.max_body_bytes,
                "min_face": settings.min_face,
                "min_document_face": settings.min_document_face,
            },
        }

    # --- ecosystem: /metrics + access log middleware, /demo page ---------------------------
    from .demo import router as demo_router
    from .docs import install_offline_docs
    from .metrics import install_metrics

    install_metrics(app)
    app.include_router(demo_router)
    install_offline_docs(app)  # /docs with local Swagger UI files (no CDN)
    # --- end ecosystem ------------------------------------------------------------------------
    return app
