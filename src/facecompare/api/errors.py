"""Domain error codes → HTTP statuses, exactly as in the spec's error table."""

from __future__ import annotations

from ..errors import ErrorCode

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNSUPPORTED_FORMAT: 400,
    ErrorCode.INVALID_IMAGE_SIZE: 400,
    ErrorCode.MISSING_ARGUMENTS: 400,
    ErrorCode.BAD_ARGUMENTS: 400,
    ErrorCode.AUTHENTICATION_ERROR: 401,
    ErrorCode.REQUEST_ENTITY_TOO_LARGE: 413,
    ErrorCode.CONCURRENCY_LIMIT_EXCEEDED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.CAN_NOT_DETECT_FACE: 200,
    ErrorCode.IMAGE_BLURED: 200,
    ErrorCode.CAN_NOT_DETECT_IDCARD: 200,
}
