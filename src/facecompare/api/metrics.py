"""Prometheus metrics (``GET /metrics``) and one structured access-log line per request.

Installed on the app by :func:`install_metrics` (a pure ASGI middleware plus a router), so it
needs nothing from the endpoints: the status and the error code are read from the response the
app sends. Nothing about a request's content (images, keys) is recorded.

Series:
- ``facecompare_requests_total{path,status,error_code}``
- ``facecompare_request_duration_seconds{path}`` (whole request, histogram)
- ``facecompare_stage_duration_seconds{stage}`` (``wait``: arrival to the start of the engine,
  ``detect``, ``embed``, ``engine``: the whole comparison; histograms)
- ``facecompare_queue_depth`` and ``facecompare_queue_capacity`` (admission queue)
- ``facecompare_model_pack_info{name,version,digest,calibration}`` (1 once models are loaded)
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import wraps
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import generate_latest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("facecompare.access")
_started = contextvars.ContextVar[float | None]("facecompare_request_started", default=None)
KNOWN_PATHS = (
    "/aiface/face-compare/v1",
    "/healthz",
    "/readyz",
    "/v1/info",
    "/metrics",
    "/demo",
    "/openapi.json",
    "/docs",
)
PROBES = ("/healthz", "/readyz", "/metrics")
QUIET_CODES = ("SERVICE_UNAVAILABLE",)
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)


def path_label(path: str) -> str:
    """A bounded label: known routes by name, the demo's assets as one, everything else 'other'."""
    if path in KNOWN_PATHS:
        return path
    if path.startswith("/demo/"):
        return "/demo/*"
    if path.startswith("/docs/"):
        return "/docs/*"
    return "other"


class Metrics:
    """One registry per app (tests run several apps in one process)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "facecompare_requests",
            "HTTP requests by route, status and spec error code ('' when none)",
            ["path", "status", "error_code"],
            registry=self.registry,
        )
        self.latency = self._histogram(
            "facecompare_request_duration_seconds", "Whole request latency by route", "path"
        )
        self.stages = self._histogram(
            "facecompare_stage_duration_seconds", "Latency of the stages of a comparison", "stage"
        )
        self.registry.register(_StateCollector(app))
        self._instrumented: int | None = None

    def _histogram(self, name: str, doc: str, label: str) -> Histogram:
        """A latency histogram by one label, on the latency buckets."""
        return Histogram(
            name,
            doc,
            [label],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def instrument(self, engine: Any) -> None:
        """Time the engine's stages, once per engine: its detector and embedder are replaced,
        on this engine object only, by proxies that time ``detect`` and ``embed``."""
        if engine is None or self._instrumented == id(engine):
            return
        self._instrumented = id(engine)
        engine.pipeline.detector = _Timed(
            engine.pipeline.detector, "detect", self._timed("detect", None)
        )
        engine.pipeline.embedder = _Timed(
            engine.pipeline.embedder, "embed", self._timed("embed", None)
        )
        engine.compare = self._timed("engine", engine.compare, wait=True)

    def _timed(
        self, stage: str, fn: Callable[..., Any] | None, wait: bool = False
    ) -> Callable[..., Any]:
        """``fn`` timed into the stage histogram; with ``fn=None`` a decorator for later."""
        if fn is None:
            return lambda f: self._timed(stage, f, wait)
        hist = self.stages.labels(stage)
        wait_hist = self.stages.labels("wait")

        @wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            started = _started.get()
            if wait and started is not None:
                wait_hist.observe(t0 - started)
            try:
                return fn(*args, **kwargs)
            finally:
                hist.observe(time.perf_counter() - t0)

        return timed

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Timed:
    """Delegates everything to ``inner``; its method ``name`` is timed by ``wrap``."""

    def __init__(self, inner: Any, name: str, wrap: Callable[..., Any]) -> None:
        self._inner = inner
        setattr(self, name, wrap(getattr(inner, name)))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)


class _StateCollector:
    """Values read from the app at scrape time: queue depth, key store, model pack in use."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        state = self.app.state
        admission = getattr(state, "admission", None)
        depth = GaugeMetricFamily(
            "facecompare_queue_depth", "Requests admitted (waiting or running) right now"
        )
        capacity = GaugeMetricFamily(
            "facecompare_queue_capacity", "Requests admitted before answering 429"
        )
        if admission is not None:
            depth.add_metric([], float(getattr(admission, "depth", 0)))
            capacity.add_metric([], float(getattr(admission, "max_queue", 0)))
        yield depth
        yield capacity
        keys = getattr(state, "keys", None)  # api/keyguard.py; as last seen, never asked here
        up = GaugeMetricFamily(
            "facecompare_key_store_up", "1 while the key store answers, 0 during an outage"
        )
        if keys is not None:
            up.add_metric([], 1.0 if keys.reachable else 0.0)
        yield up
        engine = getattr(state, "engine", None)
        info = InfoMetricFamily("facecompare_model_pack", "Model pack and calibration in use")
        if engine is not None:
            cal = getattr(engine, "calibration", None)
            cal_path = getattr(cal, "path", None)
            info.add_metric(
                [],
                {
                    "name": engine.pack.name,
                    "version": engine.pack.version,
                    "digest": engine.pack.digest,
                    "calibration": cal_path.name if cal_path else "",
                },
            )
        yield info


class MetricsMiddleware:
    """Pure ASGI: counts, times and logs every HTTP request without buffering responses."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.metrics.instrument(getattr(self.metrics.app.state, "engine", None))
        start = time.perf_counter()
        token = _started.set(start)
        path = path_label(scope.get("path", ""))
        status = 500
        request_id = ""
        body = bytearray()
        is_json = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, request_id, is_json
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for k, v in message.get("headers", []):
                    if k == b"x-request-id":
                        request_id = v.decode("latin-1")
                    elif k == b"content-type":
                        is_json = v.startswith(b"application/json")
            elif message["type"] == "http.response.body" and is_json and len(body) < 4096:
                body.extend(message.get("body", b"")[:4096])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            _started.reset(token)
            code = error_code(bytes(body)) if is_json else ""
            self.metrics.requests.labels(path, str(status), code).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            access_log.log(
                # probes come every few seconds; the 503s of a key-store outage are counted in
                # the two lines that log the outage (api/keyguard.py), not one line each
                logging.DEBUG if path in PROBES or code in QUIET_CODES else logging.INFO,
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method", ""),
                    "path": path,
                    "status": status,
                    "error_code": code,
                    "duration_s": round(elapsed, 4),
                },
            )


def error_code(body: bytes) -> str:
    """The spec error code of a JSON answer (``CAN_NOT_DETECT_FACE``), or ''."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    message = data.get("error_message") if isinstance(data, dict) else None
    return str(message).split(":", 1)[0] if message else ""


router = APIRouter()


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text exposition"}},
)
async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI) -> Metrics:
    """Add ``/metrics`` and the counting middleware (outermost, so it sees every answer)."""
    metrics = Metrics(app)
    app.state.metrics = metrics
    app.include_router(router)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return metrics
