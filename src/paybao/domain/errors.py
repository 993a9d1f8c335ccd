"""Domain errors: each carries a stable, machine-readable code.

Entry points translate codes to HTTP statuses and Alipay sub_codes in one table each
(`web/errors.py`, `adapters/alipay/errors.py`); nothing else inspects messages.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. `code` is stable and documented; `message` is for humans."""

    code: str = "domain_error"

    def __init__(self, message: str = "", *, code: str | None = None, **data: object) -> None:
        super().__init__(message or self.code)
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.data = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(DomainError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class IdempotencyMismatch(Conflict):
    """The same idempotency key came back with different parameters."""

    code = "idempotency_key_reused"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class RateLimited(DomainError):
    code = "rate_limited"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"


class LimitExceeded(DomainError):
    code = "limit_exceeded"


class InvalidState(DomainError):
    """The object is not in a state that allows this operation."""

    code = "invalid_state"


class Retryable(DomainError):
    """A transient failure (database connection lost, serialization failure): retry."""

    code = "temporarily_unavailable"


class SandboxOnly(DomainError):
    code = "sandbox_only"


class InvariantViolation(AssertionError):
    """A money invariant failed. Never caught on money paths: it means a bug, stop."""
