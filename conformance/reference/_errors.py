"""The errors a handler raises; the app turns each into an ErrorResponse (CONTRACT.md §1)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """An answer other than success: its status, stable ``code``, message and extras."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.details = details
        self.headers = headers or {}
        #: more members of the body (a 429's ``retryable`` and ``retryAfter``)
        self.extra = extra or {}

    def body(self, *, path: str, request_id: str, timestamp: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": HTTPStatus(self.status).phrase,
            "code": self.code,
            "message": self.message,
            "statusCode": self.status,
            "timestamp": timestamp,
            "path": path,
            "requestId": request_id,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        if self.details is not None:
            body["details"] = self.details
        body.update(self.extra)
        return body


def validation_failed(message: str, errors: list[dict[str, Any]] | None = None) -> ApiError:
    return ApiError(400, "VALIDATION_FAILED", message, errors=errors or [])


def forbidden(message: str) -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def version_conflict(current: int) -> ApiError:
    return ApiError(
        409,
        "VERSION_CONFLICT",
        f"the resource is at version {current}; refetch it and apply the change again",
        details={"currentVersion": current},
    )


def duplicate(field: str) -> ApiError:
    return ApiError(409, "DUPLICATE", f"another resource already has this {field}")


def invalid_transition(message: str) -> ApiError:
    return ApiError(409, "INVALID_TRANSITION", message)


def method_not_allowed(allowed: list[str]) -> ApiError:
    return ApiError(
        405,
        "METHOD_NOT_ALLOWED",
        f"this path answers {', '.join(allowed)} only",
        headers={"Allow": ", ".join(allowed)},
    )


def rate_limited(retry_after: int, headers: dict[str, str]) -> ApiError:
    return ApiError(
        429,
        "RATE_LIMITED",
        f"over the rate limit; retry after {retry_after} s",
        headers={**headers, "Retry-After": str(retry_after)},
        extra={"retryable": True, "retryAfter": retry_after},
    )


def internal() -> ApiError:
    return ApiError(500, "INTERNAL", "the server failed to answer this request")
