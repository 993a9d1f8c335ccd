"""Admin console: risk control — the review queue of held transfers, every recent decision with
its reasons, and the blacklist of accounts that may not be paid (`services/risk.py`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.services.risk import RiskService
from paybao.web import pages_admin
from paybao.web.deps import platform_of

router = APIRouter(
    prefix="/admin/risk",
    include_in_schema=False,
    dependencies=[Depends(pages_admin.require_operator)],
)
pages_admin.add_nav("Risk", "/admin/risk")
pages_admin.ADMIN_TEXTS.setdefault("Risk", {"zh": "风控", "en": "Risk"})
DECISIONS_SHOWN = 50


def _risk(request: Request) -> RiskService:
    service: RiskService = platform_of(request).services["risk"]
    return service


@router.get("")
def queue(request: Request) -> HTMLResponse:
    return _page(request)


def _page(request: Request, **extra: Any) -> HTMLResponse:
    service = _risk(request)
    before = request.query_params.get("before", "")
    decisions = service.decisions(
        limit=DECISIONS_SHOWN, before_id=int(before) if before.isdigit() else None
    )
    return pages_admin.render(
        request,
        "admin/risk.html",
        status_code=400 if "error" in extra else 200,
        title="Risk",
        waiting=service.decisions(unreviewed=True, limit=DECISIONS_SHOWN),
        decisions=decisions,
        older=decisions[-1].id if len(decisions) == DECISIONS_SHOWN else None,
        blacklist=service.blacklist(),
        **extra,
    )


@router.post("/decisions/{decision_id}/review", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("risk.review")
async def review(
    request: Request, decision_id: int, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await request.form()
    try:
        _risk(request).review(decision_id, str(form.get("review", "")), operator_id)
    except DomainError as error:
        return _page(request, **pages_admin.admin_error(request, error))
    return RedirectResponse("/admin/risk", status_code=303)


@router.post("/blacklist", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("risk.blacklist")
async def blacklist_add(
    request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await request.form()
    try:
        _risk(request).blacklist_add(
            str(form.get("phone", "")), str(form.get("reason", "")), operator_id
        )
    except DomainError as error:
        return _page(request, **pages_admin.admin_error(request, error))
    return RedirectResponse("/admin/risk#blacklist", status_code=303)


@router.post("/blacklist/{user_id}/remove", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("risk.blacklist")
async def blacklist_remove(
    request: Request, user_id: int, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    try:
        _risk(request).blacklist_remove(user_id, operator_id)
    except DomainError as error:
        return _page(request, **pages_admin.admin_error(request, error))
    return RedirectResponse("/admin/risk#blacklist", status_code=303)


def install(app: Any) -> None:
    app.include_router(router)
