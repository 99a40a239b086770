"""FastAPI application: the Face Compare endpoint, health, info. Turns domain errors into HTTP."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import orjson
from fastapi import FastAPI, Request, Response

from .. import __version__
from ..compare import CompareResult, Engine
from ..config import Settings
from ..errors import ErrorCode, FaceCompareError
from .errors import HTTP_STATUS
from .keystores import open_key_store
from .schemas import CompareBody, CompareResponse, parse_body

log = logging.getLogger("facecompare.api")
COMPARE_PATH = "/aiface/face-compare/v1"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class Admission:
    """Bounded queue: at most ``max_queue`` requests waiting or running, ``workers`` running."""

    def __init__(self, workers: int, max_queue: int) -> None:
        self.limiter = anyio.CapacityLimiter(workers)
        self.max_queue = max_queue
        self.depth = 0

    def try_enter(self) -> bool:
        if self.depth >= self.max_queue:
            return False
        self.depth += 1
        return True

    def leave(self) -> None:
        self.depth -= 1


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


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit``."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise FaceCompareError(ErrorCode.REQUEST_ENTITY_TOO_LARGE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FaceCompareError(ErrorCode.REQUEST_ENTITY_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    engine_factory: Callable[[Settings], Engine] = Engine.load,
) -> FastAPI:
    """The app. Models load in the lifespan (at start-up), never at import."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.keys = open_key_store(settings.keys_db)  # ecosystem: SQLite or PostgreSQL
        app.state.engine = engine or await anyio.to_thread.run_sync(engine_factory, settings)
        log.info("ready: model pack %s", app.state.engine.pack.digest)
        yield
        app.state.keys.close()

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

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = uuid.uuid4().hex
        request.state.started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error, request_id=%s", request.state.request_id)
            return error_response(request, FaceCompareError(ErrorCode.INTERNAL_ERROR))
        response.headers.setdefault("x-request-id", request.state.request_id)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def error_response(request: Request, err: FaceCompareError) -> Response:
        rid = request.state.request_id
        payload = {
            "request_id": rid,
            "time_used": round(time.perf_counter() - request.state.started, 4),
            "error_message": err.message,
        }
        return json_response(payload, HTTP_STATUS[err.code], rid)

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
        },
        summary="Compare the faces of two images",
        description="200 answers carry either `confidence` and `thresholds` or an "
        "`error_message`: CAN_NOT_DETECT_FACE, IMAGE_BLURED or CAN_NOT_DETECT_IDCARD: <param>.",
    )
    async def face_compare(request: Request) -> Response:
        rid = request.state.request_id
        entered = False
        try:
            if (
                settings.auth
                and request.app.state.keys.verify(request.headers.get("x-aigen-key")) is None
            ):
                raise FaceCompareError(ErrorCode.AUTHENTICATION_ERROR)
            body = await read_body(request, settings.max_body_bytes)
            req = parse_body(body)
            del body
            if not admission.try_enter():
                raise FaceCompareError(ErrorCode.CONCURRENCY_LIMIT_EXCEEDED)
            entered = True
            engine: Engine = request.app.state.engine
            result = await anyio.to_thread.run_sync(engine.compare, req, limiter=admission.limiter)
        except FaceCompareError as err:
            log.info("request_id=%s error=%s", rid, err.code.value)
            return error_response(request, err)
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

    @app.get("/readyz", summary="Models are loaded and the service can answer")
    async def readyz(request: Request) -> Response:
        ready = request.app.state.engine is not None
        return json_response(
            {"status": "ready" if ready else "loading"},
            200 if ready else 503,
            request.state.request_id,
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

    # --- ecosystem (issue 9): /metrics + access log middleware, /demo page -----------------
    from .demo import router as demo_router
    from .docs import install_offline_docs
    from .metrics import install_metrics

    install_metrics(app)
    app.include_router(demo_router)
    install_offline_docs(app)  # /docs with local Swagger UI files (no CDN)
    # --- end ecosystem ------------------------------------------------------------------------
    return app
