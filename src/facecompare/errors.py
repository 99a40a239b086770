"""Domain errors. Each carries the exact error code of the spec; only ``api/`` maps them to HTTP."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNSUPPORTED_FORMAT = "IMAGE_ERROR_UNSUPPORTED_FORMAT"
    INVALID_IMAGE_SIZE = "INVALID_IMAGE_SIZE"
    MISSING_ARGUMENTS = "MISSING_ARGUMENTS"
    BAD_ARGUMENTS = "BAD_ARGUMENTS"
    AUTHENTICATION_ERROR = "AUTHENTICATION_ERROR"
    REQUEST_ENTITY_TOO_LARGE = "REQUEST_ENTITY_TOO_LARGE"
    CONCURRENCY_LIMIT_EXCEEDED = "CONCURRENCY_LIMIT_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # a dependency (the key store) is unreachable
    CAN_NOT_DETECT_FACE = "CAN_NOT_DETECT_FACE"
    IMAGE_BLURED = "IMAGE_BLURED"  # sic: the published spelling
    CAN_NOT_DETECT_IDCARD = "CAN_NOT_DETECT_IDCARD"


class FaceCompareError(Exception):
    """A documented failure of a request: ``code`` plus the parameter it concerns, if any."""

    def __init__(self, code: ErrorCode, param: str | None = None) -> None:
        self.code = code
        self.param = param
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.code.value}: {self.param}" if self.param else self.code.value


class ModelIntegrityError(RuntimeError):
    """A model file is missing or its SHA-256 does not match the pack manifest."""
