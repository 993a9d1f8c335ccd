"""The operators' cash partners page (`/admin/cash-partners`): every partner with its kind,
status and prefund balance; register one (its API key is shown once, on the answer page),
disable or enable it (`cash_partner.manage`: admins), and record a prefund wire
(`cash_partner.deposit`: finance and admins). The service audits each change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.money import parse_yuan
from paybao.domain.topup_channels import PartnerKind
from paybao.services.cash_topup_partners import CashPartnerService
from paybao.web import pages_admin
from paybao.web.deps import ROW_ID_MAX
from paybao.web.errors import status_for
from paybao.web.pages_user import form_of

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(pages_admin.require_operator)]
)
pages_admin.add_nav("Cash partners", "/admin/cash-partners")
FIELD_LENGTH_MAX = 64


def _partners(request: Request) -> CashPartnerService:
    service: CashPartnerService = pages_admin.services(request)["cash_partners"]
    return service


def _page(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    done = request.query_params.get("done", "")
    notices = {
        "deposited": "Prefund deposit recorded",
        "disabled": "Partner disabled",
        "enabled": "Partner enabled",
    }
    return pages_admin.render(
        request,
        "topup_channels/admin_partners.html",
        status_code,
        title="Cash partners",
        rows=_partners(request).balances(),
        kinds=list(PartnerKind),
        notice=notices.get(done),
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/cash-partners")
def admin_partners(request: Request) -> HTMLResponse:
    return _page(request)


@router.post("/cash-partners", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("cash_partner.manage")
async def admin_register(
    request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = {k: v[:FIELD_LENGTH_MAX] for k, v in (await form_of(request)).items()}
    try:
        new = _partners(request).register(
            form.get("name", ""), form.get("kind", ""), operator_id=operator_id
        )
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _page(request, status_for(error), form=form, **context)
    # The key is in this answer only: paybao keeps its SHA-256.
    return _page(request, 200, new_key=new.api_key, new_partner=new.partner)


@router.post("/cash-partners/{partner_id}/deposits", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("cash_partner.deposit")
async def admin_deposit(
    partner_id: int, request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = {k: v[:FIELD_LENGTH_MAX] for k, v in (await form_of(request)).items()}
    try:
        amount_fen = parse_yuan(form.get("amount", "").strip())
        _partners(request).deposit(
            _row_id(partner_id), amount_fen, form.get("reference", ""), operator_id=operator_id
        )
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _page(request, status_for(error), **context)
    return RedirectResponse("/admin/cash-partners?done=deposited", status_code=303)


@router.post("/cash-partners/{partner_id}/status", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("cash_partner.manage")
async def admin_status(
    partner_id: int, request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await form_of(request)
    active = form.get("status") == "active"
    try:
        _partners(request).set_active(_row_id(partner_id), active, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _page(request, status_for(error), **context)
    return RedirectResponse(
        f"/admin/cash-partners?done={'enabled' if active else 'disabled'}", status_code=303
    )


def _row_id(value: int) -> int:
    from paybao.domain.errors import NotFound

    if not 0 < value <= ROW_ID_MAX:
        raise NotFound("no such partner", code="cash_partner_not_found")
    return value


def install(app: Any) -> None:
    app.include_router(router)
