"""The operators' cash partners page (`/admin/cash-partners`, Chinese and English like the
other console pages): every partner with its kind, status and prefund balance; register one
(its API key is shown once, on the answer page), disable or enable it (`cash_partner.manage`:
admins), and record a prefund wire (`cash_partner.deposit`: finance and admins). Each
partner's page (`/admin/cash-partners/<id>`) lists its deposits, newest first, a page at a
time. The service audits each change."""

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
from paybao.web.i18n import lang_of
from paybao.web.pages_user import form_of

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(pages_admin.require_operator)]
)
pages_admin.add_nav("nav_cash_partners", "/admin/cash-partners")
FIELD_LENGTH_MAX = 64
DEPOSITS_PAGE_SIZE = 20
NOTICES = ("deposited", "disabled", "enabled")
pages_admin.ADMIN_TEXTS.update(
    {
        "nav_cash_partners": {"zh": "现金充值合作方", "en": "Cash partners"},
        "cp_hint": {
            "zh": "为用户的现金充值码收取现金的网点(银行网点、拉卡拉终端、邮政网点、超市),"
            "通过合作方接口(/api/v1/cash-partner,Bearer 密钥)为用户入账。每笔入账从该合作方的"
            "备付金中扣减:合作方每次汇款到 paybao 的银行账户,请在此登记。"
            "超过备付金的入账会被拒绝。",
            "en": "Counters that take cash for users' top-up codes (bank branches, Lakala "
            "terminals, post offices, supermarkets) and credit them through the partner API "
            "(/api/v1/cash-partner, bearer key). Each draws on its prefund: record every wire "
            "the partner sends to paybao's bank account. A redemption larger than the prefund "
            "is refused.",
        },
        "cp_new_key": {
            "zh": "合作方 {name}(编号 {id})已登记。API 密钥只显示这一次:",
            "en": "Partner {name} (id {id}) registered. Its API key, shown this once:",
        },
        "cp_id": {"zh": "编号", "en": "ID"},
        "cp_name": {"zh": "名称", "en": "Name"},
        "cp_kind": {"zh": "类型", "en": "Kind"},
        "cp_kind_bank_branch": {"zh": "银行网点", "en": "Bank branch"},
        "cp_kind_lakala": {"zh": "拉卡拉终端", "en": "Lakala terminal"},
        "cp_kind_post_office": {"zh": "邮政网点", "en": "Post office"},
        "cp_kind_supermarket": {"zh": "超市", "en": "Supermarket"},
        "cp_status": {"zh": "状态", "en": "Status"},
        "cp_status_active": {"zh": "启用", "en": "active"},
        "cp_status_disabled": {"zh": "停用", "en": "disabled"},
        "cp_prefund": {"zh": "备付金(元)", "en": "Prefund (CNY)"},
        "cp_record_wire": {"zh": "登记来款", "en": "Record a wire"},
        "cp_amount": {"zh": "金额", "en": "amount"},
        "cp_reference": {"zh": "汇款流水号", "en": "wire reference"},
        "cp_record": {"zh": "登记", "en": "Record"},
        "cp_disable": {"zh": "停用", "en": "Disable"},
        "cp_enable": {"zh": "启用", "en": "Enable"},
        "cp_none": {"zh": "还没有合作方。", "en": "No partners yet."},
        "cp_register_title": {"zh": "登记合作方", "en": "Register a partner"},
        "cp_register": {"zh": "登记", "en": "Register"},
        "cp_deposited": {"zh": "来款已登记", "en": "Prefund deposit recorded"},
        "cp_disabled": {"zh": "合作方已停用", "en": "Partner disabled"},
        "cp_enabled": {"zh": "合作方已启用", "en": "Partner enabled"},
        "cp_deposits": {"zh": "来款记录", "en": "Deposits"},
        "cp_deposits_link": {"zh": "来款记录", "en": "Deposits"},
        "cp_operator": {"zh": "登记人", "en": "Recorded by"},
        "cp_no_deposits": {"zh": "还没有来款记录。", "en": "No deposits yet."},
        "cp_older": {"zh": "更早的记录", "en": "Older deposits"},
        "cp_newest": {"zh": "最新记录", "en": "Newest deposits"},
        "cp_all": {"zh": "全部合作方", "en": "All partners"},
    }
)


def _partners(request: Request) -> CashPartnerService:
    service: CashPartnerService = pages_admin.services(request)["cash_partners"]
    return service


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done", "")
    return pages_admin.admin_text(lang_of(request), f"cp_{done}") if done in NOTICES else None


def _page(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return pages_admin.render(
        request,
        "topup_channels/admin_partners.html",
        status_code,
        title=pages_admin.admin_text(lang_of(request), "nav_cash_partners"),
        rows=_partners(request).balances(),
        kinds=list(PartnerKind),
        notice=_notice(request),
        form=extra.pop("form", {}),
        **extra,
    )


def _partner_page(
    request: Request, partner_id: int, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    """One partner: its prefund and its deposits, newest first, DEPOSITS_PAGE_SIZE a page."""
    service = _partners(request)
    before = _before(request.query_params.get("before", ""))
    balance = service.balance(partner_id)
    page = service.deposits_page(partner_id, DEPOSITS_PAGE_SIZE, before)
    deposits = page.deposits
    return pages_admin.render(
        request,
        "topup_channels/admin_partner.html",
        status_code,
        title=balance.partner.name,
        b=balance,
        deposits=deposits,
        paged=before is not None,
        next_before=page.next_before_id,
        notice=_notice(request),
        **extra,
    )


def _before(text: str) -> int | None:
    """The `before` cursor; anything else is the first page."""
    if not text.isdigit() or len(text) > 18:
        return None
    value = int(text)
    return value if 0 < value <= ROW_ID_MAX else None


@router.get("/cash-partners")
def admin_partners(request: Request) -> HTMLResponse:
    return _page(request)


@router.get("/cash-partners/{partner_id}")
def admin_partner(partner_id: int, request: Request) -> HTMLResponse:
    return _partner_page(request, _row_id(partner_id))


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
        if form.get("back") == "partner" and error.code != "cash_partner_not_found":
            return _partner_page(request, partner_id, status_for(error), **context)
        return _page(request, status_for(error), **context)
    if form.get("back") == "partner":  # recorded from the partner's own page
        return RedirectResponse(f"/admin/cash-partners/{partner_id}?done=deposited", 303)
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
