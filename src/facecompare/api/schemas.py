"""The HTTP edge: request parsing into the domain request, and the response models for OpenAPI."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field

from ..compare import CompareRequest
from ..errors import ErrorCode, FaceCompareError

FLAGS = ("verified_document", "image1_is_document", "image2_is_document", "blur_detection")


class CompareBody(BaseModel):
    """Request body of ``POST /aiface/face-compare/v1`` (documentation; parsing is strict)."""

    image1: str = Field(description="base64 of a JPEG or PNG file (a data: URL prefix is accepted)")
    image2: str = Field(description="base64 of a JPEG or PNG file")
    verified_document: bool = Field(False, description="one of the images must show an ID document")
    image1_is_document: bool = Field(False, description="image1 must show an ID document")
    image2_is_document: bool = Field(False, description="image2 must show an ID document")
    blur_detection: bool = Field(False, description="refuse faces too blurred to compare")


class Thresholds(BaseModel):
    err_01: float = Field(description="confidence at a false accept rate of 0.1 %")
    err_001: float = Field(description="confidence at a false accept rate of 0.01 %")
    err_0001: float = Field(description="confidence at a false accept rate of 0.001 %")


class FaceBox(BaseModel):
    x: int
    y: int
    width: int
    height: int
    score: float = Field(description="detector score in [0, 1]")


class CompareResponse(BaseModel):
    request_id: str
    time_used: float = Field(description="seconds spent on the request")
    confidence: float | None = Field(None, description="similarity in [0, 100], 2 decimals")
    thresholds: Thresholds | None = None
    face1: FaceBox | None = Field(None, description="face used in image1 (extra to the spec)")
    face2: FaceBox | None = Field(None, description="face used in image2 (extra to the spec)")
    error_message: str | None = Field(
        None, description="only on error, e.g. CAN_NOT_DETECT_FACE: image1"
    )


def parse_body(body: bytes) -> CompareRequest:
    """Strict parsing in field order; the first problem answers."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FaceCompareError(ErrorCode.BAD_ARGUMENTS, "body") from None
    if not isinstance(data, dict):
        raise FaceCompareError(ErrorCode.BAD_ARGUMENTS, "body")
    images: list[str] = []
    for name in ("image1", "image2"):
        value = data.get(name, "")
        if not isinstance(value, str):
            raise FaceCompareError(ErrorCode.BAD_ARGUMENTS, name)
        if not value.strip():
            raise FaceCompareError(ErrorCode.MISSING_ARGUMENTS, name)
        images.append(value)
    flags: dict[str, bool] = {}
    for name in FLAGS:
        value = data.get(name, False)
        if not isinstance(value, bool):
            raise FaceCompareError(ErrorCode.BAD_ARGUMENTS, name)
        flags[name] = value
    return CompareRequest(images[0], images[1], **flags)
