"""What the admin REST modules share: their router (bearer token, role checked per route by
web/admin_access.py, every error documented), the caller, and the page cursor.

Each admin REST module calls the same service methods as the console page it mirrors and names
the same action with `@operator_action(...)`, so a role refused in the console is refused here,
audited the same way. Every change passes the caller's operator and actor to the service, so
its audit row names the operator and the token (`token:<name>`) of a personal token, and
`admin_token` for the shared `PAYBAO_ADMIN_TOKEN`, which has no operator row.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from paybao.bootstrap import Platform
from paybao.web.admin_access import AdminCaller, authorize_admin_token
from paybao.web.deps import ROW_ID_MAX
from paybao.web.errors import ERROR_RESPONSES, ROLE_FORBIDDEN_RESPONSE

PREFIX = "/api/v1/admin"

Admin = Annotated[Platform, Depends(authorize_admin_token)]
# The cursor of a newest-first page: the last id of the page before.
Before = Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)]


def admin_router(prefix: str, tag: str) -> APIRouter:
    return APIRouter(
        prefix=PREFIX + prefix,
        tags=[tag],
        responses={**ERROR_RESPONSES, **ROLE_FORBIDDEN_RESPONSE},
        dependencies=[Depends(authorize_admin_token)],
    )


def caller_of(request: Request) -> AdminCaller:
    """Who called (set by `authorize_admin_token`, which every route here depends on)."""
    caller: AdminCaller = request.state.admin_caller
    return caller
