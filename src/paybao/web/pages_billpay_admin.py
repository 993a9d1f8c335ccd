"""The operators' billers page (`/admin/billers`): the list with what each biller's merchant
received and has not settled; create, disable and enable (the `biller.manage` action: admins),
each audited by the service (`biller.create|disable|enable`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.billpay import CITY_NAMES, Category
from paybao.domain.errors import DomainError, InvalidInput
from paybao.services.billpay_billers import BillerService, NewBiller
from paybao.web import pages_admin
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.pages_user import form_of

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(pages_admin.require_operator)]
)
pages_admin.add_nav("Billers", "/admin/billers")
FIELD_LENGTH_MAX = 64


def _billers(request: Request) -> BillerService:
    service: BillerService = platform_of(request).services["billers"]
    return service


def _row_id(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) <= ROW_ID_MAX else None


@router.get("/billers")
def admin_billers(request: Request) -> HTMLResponse:
    return _admin_page(request)


def _admin_page(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    billers = _billers(request)
    rows = [(b, billers.settlement_balance_fen(b)) for b in billers.all()]
    done = request.query_params.get("done", "")
    return pages_admin.render(
        request,
        "billpay/admin.html",
        status_code,
        title="Billers",
        rows=rows,
        cities=list(CITY_NAMES),
        categories=list(Category),
        notice=f"Biller {done}" if done in ("created", "disabled", "enabled") else None,
        form=extra.pop("form", {}),
        **extra,
    )


@router.post("/billers", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("biller.manage")
async def admin_create(
    request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = {k: v[:FIELD_LENGTH_MAX] for k, v in (await form_of(request)).items()}
    try:
        merchant_text = form.get("merchant_id", "").strip()
        merchant_id = _row_id(merchant_text)
        if merchant_text and merchant_id is None:
            raise InvalidInput("a merchant id is a number", code="merchant_not_found")
        new = NewBiller(
            code=form.get("code", ""),
            name=form.get("name", ""),
            category=form.get("category", ""),
            city=form.get("city", ""),
            merchant_id=merchant_id,
        )
        _billers(request).create(new, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _admin_page(request, status_for(error), form=form, **context)
    return RedirectResponse("/admin/billers?done=created", status_code=303)


@router.post("/billers/{biller_id}/status", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("biller.manage")
async def admin_status(
    biller_id: int, request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await form_of(request)
    active = form.get("status") == "active"
    try:
        if not 0 < biller_id <= ROW_ID_MAX:
            raise InvalidInput("no such biller", code="biller_not_found")
        _billers(request).set_active(biller_id, active, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _admin_page(request, status_for(error), **context)
    done = "enabled" if active else "disabled"
    return RedirectResponse(f"/admin/billers?done={done}", status_code=303)
