"""REST: the admin API's caller and merchant notifications (operator tokens or the shared
admin token; each route's action checked against the caller's role in web/admin_access.py).

- `GET /api/v1/admin/me`: who the bearer token speaks for (operator, role, token).
- `POST /api/v1/admin/notifications/{notify_id}/resend`: one more delivery of a merchant's
  trade notification now (`notify.resend`: finance or admin), audited under the operator.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from paybao.bootstrap import Platform
from paybao.web.admin_access import AdminCaller, authorize_admin_token, operator_action
from paybao.web.errors import ERROR_RESPONSES, ROLE_FORBIDDEN_RESPONSE

NOTIFY_ID_LENGTH_MAX = 64

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    responses={**ERROR_RESPONSES, **ROLE_FORBIDDEN_RESPONSE},
    dependencies=[Depends(authorize_admin_token)],
)
Admin = Annotated[Platform, Depends(authorize_admin_token)]


class CallerOut(BaseModel):
    operator_id: int | None  # None: the shared PAYBAO_ADMIN_TOKEN
    name: str
    role: str
    token_id: int | None
    actor: str  # how the audit log names the token


class ResendOut(BaseModel):
    notify_id: str
    # False: a resend was already waiting to run (none added).
    scheduled: bool


def _caller(request: Request) -> AdminCaller:
    caller: AdminCaller = request.state.admin_caller
    return caller


@router.get("/me", response_model=CallerOut)
def me(request: Request, _platform: Admin) -> CallerOut:
    caller = _caller(request)
    return CallerOut(
        operator_id=caller.operator_id,
        name=caller.name,
        role=caller.role,
        token_id=caller.token_id,
        actor=caller.actor,
    )


@router.post("/notifications/{notify_id}/resend", response_model=ResendOut)
@operator_action("notify.resend")
def resend_notification(
    request: Request,
    notify_id: Annotated[str, Path(min_length=1, max_length=NOTIFY_ID_LENGTH_MAX)],
    platform: Admin,
) -> ResendOut:
    caller = _caller(request)
    scheduled = platform.services["notify"].resend_by_operator(
        caller.operator_id, notify_id, actor=caller.actor
    )
    return ResendOut(notify_id=notify_id, scheduled=scheduled)


def install(app: Any) -> None:
    app.include_router(router)
