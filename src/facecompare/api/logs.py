"""Structured logs: one JSON object per line, with the ``request_id`` of the line's request.

The id lives in a context variable set by the request middleware (``request_scope``) in the
request's own task. Worker threads see it: anyio's ``to_thread`` runs the job in a copy of the
context, and the app's own executors submit with ``copy_context().run``. The variable holds a
small mutable holder that is emptied when the request ends, so a context that asyncio copied
out of a request's task (an I/O callback scheduled while it ran, a known CPython behaviour) cannot
lend that id to a later line of another request."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import orjson


class _Current:
    __slots__ = ("request_id",)

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id


_current = contextvars.ContextVar[_Current | None]("facecompare_request", default=None)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}
_RID_IN_TEXT = re.compile(r"request_id=([0-9a-f]{32})")


@contextmanager
def request_scope(request_id: str) -> Iterator[None]:
    """Lines logged inside (this task, and threads given a copy of its context) carry the id."""
    holder = _Current(request_id)
    token = _current.set(holder)
    try:
        yield
    finally:
        holder.request_id = ""  # copies of this context made meanwhile forget it too
        _current.reset(token)


def current_request_id() -> str:
    holder = _current.get()
    return holder.request_id if holder else ""


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...extra fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # an ``extra`` field, else the request whose context logged the line, else (outside
        # any request) a "request_id=<hex>" the message names
        rid = getattr(record, "request_id", None) or current_request_id()
        if not rid:
            found = _RID_IN_TEXT.search(entry["message"])  # type: ignore[arg-type]
            rid = found.group(1) if found else ""
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    """Root handler on stderr in ``json`` or ``text``; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
