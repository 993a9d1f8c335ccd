"""Request-scoped access to the platform and to the caller's credentials."""

from __future__ import annotations

import hmac

from fastapi import Header, Request

from paybao.bootstrap import Platform
from paybao.domain.errors import Unauthenticated

# Row ids are BIGINT: a larger id names nothing, and SQLite cannot even bind it.
ROW_ID_MAX = 2**63 - 1


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def require_admin(request: Request, authorization: str = Header(default="")) -> Platform:
    platform = platform_of(request)
    expected = platform.settings.admin_token
    scheme, _, token = authorization.partition(" ")
    if not expected or scheme.lower() != "bearer":
        raise Unauthenticated("admin bearer token required")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthenticated("admin bearer token required")
    return platform
