"""Admin console: the escrow disputes queue, a case page (both sides' messages and evidence,
the trade's history) with the three rulings, and the sandbox clock control."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.errors import DomainError
from paybao.domain.money import parse_yuan
from paybao.services.escrow import EscrowService, Party
from paybao.web import pages_admin
from paybao.web.deps import platform_of

router = APIRouter(
    prefix="/admin",
    include_in_schema=False,
    dependencies=[Depends(pages_admin.require_operator)],
)
pages_admin.add_nav("Disputes", "/admin/disputes")
pages_admin.add_nav("Clock", "/admin/clock")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _escrow(request: Request) -> EscrowService:
    service: EscrowService = platform_of(request).services["escrow"]
    return service


@router.get("/disputes")
def disputes(request: Request) -> HTMLResponse:
    rows = _escrow(request).disputes()
    return pages_admin.render(request, "escrow/admin_disputes.html", title="Disputes", rows=rows)


@router.get("/disputes/{escrow_no}")
def case(request: Request, escrow_no: str) -> HTMLResponse:
    return _case_page(request, escrow_no)


def _case_page(request: Request, escrow_no: str, **extra: Any) -> HTMLResponse:
    service = _escrow(request)
    operator = Party.operator()
    escrow = service.get_for(escrow_no, operator)
    messages = service.messages(escrow_no, operator)
    return pages_admin.render(
        request,
        "escrow/admin_case.html",
        status_code=400 if "error" in extra else 200,
        title=f"Case {escrow_no}",
        e=escrow,
        messages=messages,
        **extra,
    )


@router.get("/disputes/{escrow_no}/image/{message_id}")
def image(request: Request, escrow_no: str, message_id: int) -> Response:
    data, content_type = _escrow(request).image(escrow_no, message_id, Party.operator())
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    return Response(data, media_type=content_type, headers=headers)


@router.post("/disputes/{escrow_no}/rule", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("dispute.rule")
async def rule(
    request: Request, escrow_no: str, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await request.form()
    decision = str(form.get("decision", ""))
    service = _escrow(request)
    try:
        escrow = service.get(escrow_no)
        refund_fen = {
            "refund_all": escrow.total_fen,
            "release": 0,
        }.get(decision)
        if refund_fen is None:
            refund_fen = parse_yuan(str(form.get("amount", "")))
        service.rule(escrow_no, Party.operator(operator_id), refund_fen, str(form.get("note", "")))
    except DomainError as error:
        return _case_page(request, escrow_no, **pages_admin.admin_error(request, error))
    return RedirectResponse(f"/admin/disputes/{escrow_no}", status_code=303)


@router.get("/clock")
def clock(request: Request) -> HTMLResponse:
    return _clock_page(request)


def _clock_page(request: Request, **extra: Any) -> HTMLResponse:
    platform = platform_of(request)
    return pages_admin.render(
        request,
        "escrow/admin_clock.html",
        status_code=400 if "error" in extra else 200,
        title="Clock",
        now_us=platform.clock.now_us(),
        sandbox=platform.settings.sandbox,
        **extra,
    )


@router.post("/clock/advance", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("clock.advance")
async def advance(request: Request) -> Response:
    form = await request.form()
    text = str(form.get("duration", "")).strip()
    unit_s = _UNITS_S.get(text[-1:], 0)
    digits = text[:-1] if unit_s else text
    try:
        if not digits.isdigit() or int(digits) <= 0:
            raise DomainError("durations look like 90s, 15m, 3h or 10d", code="invalid_duration")
        report = platform_of(request).sandbox_clock.advance(int(digits) * (unit_s or 1))
    except DomainError as error:
        return _clock_page(request, **pages_admin.admin_error(request, error))
    return _clock_page(request, notice=f"advanced; {report.jobs_run} timers ran")


def install(app: Any) -> None:
    app.include_router(router)
