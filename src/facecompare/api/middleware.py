"""Every response: a request id, security headers, and 500 INTERNAL_ERROR instead of a traceback.

A plain ASGI middleware (no BaseHTTPMiddleware): it does not buffer bodies and it leaves the
``receive`` channel alone, so handlers can watch for a client that disconnects."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ErrorCode
from .logs import request_scope

log = logging.getLogger("facecompare.api")

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-resource-policy": "same-origin",
}
# For JSON and other non-HTML answers only, so HTML pages (/docs, a demo page) keep working.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def envelope(request_id: str, started: float, message: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "time_used": round(time.perf_counter() - started, 4),
        "error_message": message,
    }


class RequestContext:
    """Gives each request ``state.request_id`` and ``state.started``; stamps the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["started"] = started
        response_started = False

        async def stamped_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = {"x-request-id": request_id, **SECURITY_HEADERS}
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if not ctype.startswith(b"text/html"):
                    extra["content-security-policy"] = API_CSP
                headers += [
                    (k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        try:
            with request_scope(request_id):
                await self.app(scope, receive, stamped_send)
        except Exception:
            log.exception("unhandled error, request_id=%s", request_id)
            if response_started:  # too late for a clean answer; the connection is closed
                return
            body = orjson.dumps(envelope(request_id, started, ErrorCode.INTERNAL_ERROR.value))
            await stamped_send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
