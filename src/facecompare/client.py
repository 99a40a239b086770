"""Python client of the Face Compare API (ours or AIGEN's): sync and async, typed results.

    from facecompare.client import Client
    with Client("http://127.0.0.1:8000", key="fc_...") as fc:
        r = fc.compare("selfie.jpg", "id-card.jpg", image2_is_document=True)
        print(r.confidence, r.thresholds.err_01, r.same_person())

Images may be file paths, raw bytes (JPEG/PNG file content) or numpy arrays (BGR, as OpenCV
reads them; encoded to PNG). Documented failures raise :class:`FaceCompareAPIError` carrying the
spec's error code, parameter, HTTP status and ``request_id``. ``CONCURRENCY_LIMIT_EXCEEDED``
(HTTP 429) and ``SERVICE_UNAVAILABLE`` (HTTP 503, the server's key store cannot be reached)
are retried (``Retry-After`` when sent, else exponential backoff) before they are raised.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from .errors import ErrorCode

COMPARE_PATH = "/aiface/face-compare/v1"
ImageInput = str | os.PathLike[str] | bytes | bytearray | memoryview | Any  # Any: numpy array
Level = Literal["err_01", "err_001", "err_0001"]
RETRIED = (429, 503)  # CONCURRENCY_LIMIT_EXCEEDED, SERVICE_UNAVAILABLE: "try again shortly"


class FaceCompareAPIError(Exception):
    """A documented error answer: ``code`` (an :class:`ErrorCode`), ``param``, ``status``."""

    def __init__(
        self, message: str, status: int, request_id: str | None, time_used: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.time_used = time_used
        head, _, param = message.partition(": ")
        try:
            self.code: ErrorCode | None = ErrorCode(head)
        except ValueError:
            self.code = None
        self.param: str | None = param or None


@dataclass(frozen=True)
class Thresholds:
    err_01: float
    err_001: float
    err_0001: float


@dataclass(frozen=True)
class Face:
    x: int
    y: int
    width: int
    height: int
    score: float


@dataclass(frozen=True)
class CompareResult:
    request_id: str
    confidence: float
    thresholds: Thresholds
    time_used: float
    face1: Face | None = None
    face2: Face | None = None

    def same_person(self, level: Level = "err_01") -> bool:
        """The confidence reaches the threshold of that false accept rate (default 0.1 %)."""
        return self.confidence >= getattr(self.thresholds, level)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompareResult:
        faces = [Face(**data[k]) if data.get(k) else None for k in ("face1", "face2")]
        return cls(
            request_id=str(data["request_id"]),
            confidence=float(data["confidence"]),
            thresholds=Thresholds(**{k: float(v) for k, v in data["thresholds"].items()}),
            time_used=float(data.get("time_used", 0.0)),
            face1=faces[0],
            face2=faces[1],
        )


def encode_image(image: ImageInput) -> str:
    """Base64 of a file path, of file bytes, or of a numpy image (encoded to PNG)."""
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif isinstance(image, str | os.PathLike):
        data = Path(image).read_bytes()
    elif hasattr(image, "shape") and hasattr(image, "dtype"):
        import cv2

        ok, buf = cv2.imencode(".png", image)
        if not ok:
            raise ValueError("cannot encode this array as an image")
        data = buf.tobytes()
    else:
        raise TypeError(f"an image is a path, bytes or a numpy array, not {type(image).__name__}")
    return base64.b64encode(data).decode("ascii")


def build_body(image1: ImageInput, image2: ImageInput, **flags: bool) -> dict[str, Any]:
    return {"image1": encode_image(image1), "image2": encode_image(image2), **flags}


def parse_response(response: httpx.Response) -> CompareResult:
    try:
        data = response.json()
    except ValueError:
        raise FaceCompareAPIError(
            f"INTERNAL_ERROR: not a JSON answer (HTTP {response.status_code})",
            response.status_code,
            response.headers.get("x-request-id"),
        ) from None
    if not isinstance(data, dict) or data.get("error_message") or "confidence" not in data:
        data = data if isinstance(data, dict) else {}
        raise FaceCompareAPIError(
            str(data.get("error_message") or f"HTTP {response.status_code}"),
            response.status_code,
            data.get("request_id") or response.headers.get("x-request-id"),
            data.get("time_used"),
        )
    return CompareResult.from_json(data)


class _Base:
    def __init__(
        self,
        base_url: str,
        key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"content-type": "application/json"}
        if key:
            self.headers["x-aigen-key"] = key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def _delay(self, attempt: int, response: httpx.Response) -> float:
        """Retry-After if the server sent one, else exponential backoff with jitter."""
        after = response.headers.get("retry-after", "")
        if after.replace(".", "", 1).isdigit():
            return min(float(after), self.max_backoff)
        return min(self.backoff * 2**attempt, self.max_backoff) * (0.5 + random.random() / 2)

    def _url(self) -> str:
        url = self.base_url
        return url if url.endswith(COMPARE_PATH) else url + COMPARE_PATH


class Client(_Base):
    """Blocking client. Use as a context manager, or call :meth:`close`."""

    def __init__(self, base_url: str, key: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, key, **kwargs)
        self._http = httpx.Client(timeout=self.timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def compare(self, image1: ImageInput, image2: ImageInput, **flags: bool) -> CompareResult:
        """Compare the faces of two images; flags as in the spec (``blur_detection`` etc.)."""
        body = build_body(image1, image2, **flags)
        for attempt in range(self.retries + 1):
            r = self._http.post(self._url(), json=body, headers=self.headers)
            if r.status_code not in RETRIED or attempt == self.retries:
                return parse_response(r)
            time.sleep(self._delay(attempt, r))
        raise AssertionError("unreachable")


class AsyncClient(_Base):
    """``asyncio`` client with the same interface as :class:`Client`."""

    def __init__(self, base_url: str, key: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, key, **kwargs)
        self._http = httpx.AsyncClient(timeout=self.timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def compare(self, image1: ImageInput, image2: ImageInput, **flags: bool) -> CompareResult:
        body = build_body(image1, image2, **flags)
        for attempt in range(self.retries + 1):
            r = await self._http.post(self._url(), json=body, headers=self.headers)
            if r.status_code not in RETRIED or attempt == self.retries:
                return parse_response(r)
            await asyncio.sleep(self._delay(attempt, r))
        raise AssertionError("unreachable")
