"""Operator access beyond roles: disabling an operator, and personal admin API tokens.

Pure rules (no I/O). The services (services/operators.py, services/operator_tokens.py) apply
them under row locks; the web layer only names actions (domain/operator_roles.ACTIONS).

Disabling: a disabled operator cannot sign in, its console session is refused at the next
request and its API tokens stop working; the last enabled admin cannot be disabled (the same
`operator_last_admin` refusal as a demotion), and an operator cannot disable itself.

Personal tokens: `pbo_` + 32 random bytes (URL-safe base64, 43 characters). Only the SHA-256
of a token is stored. A token carries 256 bits of entropy, so no one can guess a preimage of
its hash, and a fast hash lets the API find the row by an indexed equality look-up on every
request. argon2 exists to slow down guessing of low-entropy passwords; for a random token it
would add nothing but tens of milliseconds of CPU and memory per API call (an easy way to
overload the server), and its per-hash salt would rule out the indexed look-up.
"""

from __future__ import annotations

from enum import StrEnum

from paybao.domain.errors import Conflict, InvalidInput, LimitExceeded, NotFound, Unauthenticated
from paybao.domain.operator_roles import Role, leaves_an_admin

TOKEN_PREFIX = "pbo_"  # noqa: S105 - the public prefix of every token, not a secret
TOKEN_BYTES = 32
# `pbo_` + the URL-safe base64 of 32 bytes (43 characters, no padding).
TOKEN_LENGTH = len(TOKEN_PREFIX) + 43
TOKEN_NAME_LENGTH_MAX = 64
# Live (not revoked, not expired) tokens one operator may hold at once.
TOKENS_LIVE_PER_OPERATOR_MAX = 20
# Rows a token list shows, newest first (revoked and expired ones included).
TOKENS_LISTED_MAX = 100
TOKEN_EXPIRY_DAYS_MAX = 366
# "Last used" is written at most once a minute per token: a busy script must not turn every
# read into a write.
TOKEN_LAST_USED_RESOLUTION_S = 60
US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S


class TokenState(StrEnum):
    LIVE = "live"
    EXPIRED = "expired"
    REVOKED = "revoked"


class OperatorDisabled(Unauthenticated):
    """The operator was disabled: no sign-in, no session, no token (401)."""

    code = "operator_disabled"


class OperatorSelfDisable(Conflict):
    """An operator may not disable itself; another admin must (409)."""

    code = "operator_self_disable"


class TokenNameTaken(Conflict):
    """The operator already has an unrevoked token of this name (409)."""

    code = "operator_token_exists"


class TokenLimitReached(LimitExceeded):
    """The operator holds TOKENS_LIVE_PER_OPERATOR_MAX live tokens already."""

    code = "operator_token_limit"


class TokenNotFound(NotFound):
    code = "operator_token_not_found"


class TokenRefused(Unauthenticated):
    """Unknown, revoked or expired token, or its operator is disabled (one answer for all:
    the caller learns nothing about which)."""

    code = "admin_token_invalid"


def disabling_leaves_an_admin(role: str, admins: int) -> bool:
    """Whether disabling one enabled operator with `role` keeps an enabled admin, given
    `admins` enabled admins now (counted under lock): the same rule as a demotion."""
    return leaves_an_admin(role, Role.VIEWER, admins)


def parse_token_name(value: str) -> str:
    name = " ".join(value.split())
    if not 1 <= len(name) <= TOKEN_NAME_LENGTH_MAX or not name.isprintable():
        raise InvalidInput(
            f"a token name is 1-{TOKEN_NAME_LENGTH_MAX} printable characters",
            code="invalid_token_name",
        )
    return name


def parse_expiry_days(value: str | int | None) -> int | None:
    """Days until the token expires; None or "" means it never expires."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= TOKEN_EXPIRY_DAYS_MAX:
        raise InvalidInput(
            f"a token expires in 1-{TOKEN_EXPIRY_DAYS_MAX} days, or never",
            code="invalid_token_expiry",
        )
    return int(text)


def expiry_us(now_us: int, days: int | None) -> int | None:
    assert now_us > 0
    if days is None:
        return None
    assert 1 <= days <= TOKEN_EXPIRY_DAYS_MAX
    return now_us + days * US_PER_DAY


def token_state(revoked_at_us: int | None, expires_at_us: int | None, now_us: int) -> TokenState:
    if revoked_at_us is not None:
        return TokenState.REVOKED
    if expires_at_us is not None and expires_at_us <= now_us:
        return TokenState.EXPIRED
    return TokenState.LIVE


def looks_like_token(value: str) -> bool:
    """Shape only (a cheap filter before hashing and looking the token up)."""
    return len(value) == TOKEN_LENGTH and value.startswith(TOKEN_PREFIX)


def last_used_due(last_used_at_us: int | None, now_us: int) -> bool:
    """Whether to write "last used" now (once per TOKEN_LAST_USED_RESOLUTION_S)."""
    if last_used_at_us is None:
        return True
    return now_us - last_used_at_us >= TOKEN_LAST_USED_RESOLUTION_S * US_PER_S
