"""The one table from error codes to HTTP statuses, and the JSON error body.

Every error leaves as `{"error": {"code": "...", "message": "..."}}`. Codes are stable; a code
not listed here falls back by its exception class.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paybao.domain import errors

_STATUS_BY_CLASS: list[tuple[type[errors.DomainError], int]] = [
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.IdempotencyMismatch, 409),
    (errors.Conflict, 409),
    (errors.InvalidState, 409),
    (errors.InsufficientFunds, 402),
    (errors.LimitExceeded, 403),
    (errors.RateLimited, 429),
    (errors.SandboxOnly, 403),
    (errors.Retryable, 503),
    (errors.InvalidInput, 400),
]

# Codes whose status differs from their class's.
_STATUS_BY_CODE: dict[str, int] = {
    "exceeds_credits": 402,
    "insufficient_funds": 402,
    "request_too_large": 413,
    # Admin console and admin REST API (domain/operator_roles.py).
    "operator_role_forbidden": 403,
    "operator_last_admin": 409,
    # Huabei: too little credit is like too little money.
    "credit_limit_exceeded": 402,
    # Cash top-up partners: too small a prefund is like too little money.
    "cash_prefund_insufficient": 402,
    # Red packets (domain/red_packets.py).
    "red_packet_not_found": 404,
    "red_packet_empty": 409,
    "red_packet_claimed": 409,
    "red_packet_expired": 410,
    "red_packet_not_for_you": 403,
    "red_packet_share_too_large": 400,
    "red_packet_count_invalid": 400,
}


def status_for(error: errors.DomainError) -> int:
    if error.code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[error.code]
    for cls, status in _STATUS_BY_CLASS:
        if isinstance(error, cls):
            return status
    return 400


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def on_domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.DomainError)
    return error_response(status_for(error), error.code, error.message)


async def on_validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")


async def on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if isinstance(error.__cause__, errors.DomainError):
        # FastAPI wraps what stopped its body read (web/body_limit.py: too large) in a 400.
        return await on_domain_error(request, error.__cause__)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
    code = codes.get(error.status_code, "http_error")
    return error_response(error.status_code, code, str(error.detail))


async def on_unexpected(_request: Request, _error: Exception) -> JSONResponse:
    return error_response(500, "internal_error", "internal error; it has been logged")


# The admin REST API's refusal by role, for OpenAPI (added to ERROR_RESPONSES there).
ROLE_FORBIDDEN_RESPONSE: dict[int | str, dict[str, object]] = {
    403: {
        "description": "The admin token's operator role may not do this.",
        "content": {
            "application/json": {
                "example": error_body("operator_role_forbidden", "role may not do this"),
            }
        },
    }
}

# Documented error body, for OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {
        "description": description,
        "content": {
            "application/json": {
                "example": error_body(code, description),
            }
        },
    }
    for status, code, description in [
        (400, "invalid_input", "The request broke a rule; see the code."),
        (401, "unauthenticated", "Missing or bad credentials."),
        (404, "not_found", "No such object."),
        (409, "conflict", "Conflicts with the current state or an earlier request."),
        (422, "invalid_request", "The request does not match the schema."),
        (503, "temporarily_unavailable", "Transient failure; retry with the same key."),
    ]
}
