"""REST for operators: cash top-up partners, as the console's /admin/cash-partners does
(services/cash_topup_partners.py; web/pages_cash_topup_admin.py). The service audits each change.

- `GET /api/v1/admin/cash-partners?before=&limit=`: the partners, newest (highest id) first,
  with kind, status and prefund balance; `next_before` is the cursor of the next page (null:
  the last page).
- `GET /api/v1/admin/cash-partners/{partner_id}?before=&limit=`: one partner, its prefund and
  its deposits, newest first; `next_before` pages on (null on the last page).
- `POST /api/v1/admin/cash-partners` `{"name", "kind"}` (`cash_partner.manage`: admins):
  register one; its API key is in this answer only (paybao keeps its SHA-256). A retry of a
  register whose answer was lost is 409 `cash_partner_name_taken` and the key is gone: register
  the counter again under another name and disable the first.
- `POST /api/v1/admin/cash-partners/{partner_id}/deposits` `{"amount_fen", "reference"}` with
  an `Idempotency-Key` (`cash_partner.deposit`: finance and admins): record the partner's wire
  as prefund. A replay of the key answers the first result; the same wire reference again
  records nothing (the service's rule), with another amount it is 409
  `cash_prefund_reference_reused`.
- `POST /api/v1/admin/cash-partners/{partner_id}/status` `{"status": "active"|"disabled"}`
  (`cash_partner.manage`): a disabled partner's API key is refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.topup_channels import PARTNER_NAME_LENGTH_MAX
from paybao.services.cash_topup_partners import (
    DEPOSIT_FEN_MAX,
    REFERENCE_LENGTH_MAX,
    CashPartnerService,
    Deposit,
    PartnerBalance,
)
from paybao.services.topup_channel_records import PAGE_SIZE_MAX, Partner
from paybao.web.admin_access import AdminCaller, operator_action
from paybao.web.api_admin_support import Admin, Before, admin_router, caller_of
from paybao.web.api_wallet import idempotent
from paybao.web.deps import ROW_ID_MAX

DEPOSITS_PAGE_SIZE = 20  # the console's
PARTNERS_PAGE_SIZE = PAGE_SIZE_MAX
KIND_LENGTH_MAX = 64  # as the console's form reads it; the service names the kinds

router = admin_router("/cash-partners", "admin: cash partners")
PartnerId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]


class PartnerOut(BaseModel):
    partner_id: int
    name: str
    kind: str  # bank_branch | lakala | post_office | supermarket
    status: str  # active | disabled
    prefund_account_id: int
    created_at_us: int


class PartnerBalanceOut(PartnerOut):
    prefund_fen: int


class PartnersOut(BaseModel):
    partners: list[PartnerBalanceOut]
    next_before: int | None = Field(
        description="Pass as `before` for the next page; null on the last page."
    )


class DepositOut(BaseModel):
    deposit_id: int
    amount_fen: int
    reference: str
    operator_id: int | None  # who recorded it; None: the shared admin token or the CLI
    created_at_us: int


class PartnerPageOut(BaseModel):
    partner: PartnerBalanceOut
    deposits: list[DepositOut]
    next_before: int | None


class NewPartnerOut(BaseModel):
    partner: PartnerOut
    api_key: str  # shown this once


class RegisterIn(BaseModel):
    name: str = Field(min_length=1, max_length=PARTNER_NAME_LENGTH_MAX)
    kind: str = Field(min_length=1, max_length=KIND_LENGTH_MAX)


class DepositIn(BaseModel):
    amount_fen: int = Field(ge=1, le=DEPOSIT_FEN_MAX)
    reference: str = Field(min_length=1, max_length=REFERENCE_LENGTH_MAX)


class StatusIn(BaseModel):
    status: Literal["active", "disabled"]


def _partners(platform: Any) -> CashPartnerService:
    service: CashPartnerService = platform.services["cash_partners"]
    return service


def _partner(partner: Partner) -> PartnerOut:
    return PartnerOut(
        partner_id=partner.id,
        name=partner.name,
        kind=partner.kind,
        status=partner.status,
        prefund_account_id=partner.prefund_account_id,
        created_at_us=partner.created_at_us,
    )


def _balance(balance: PartnerBalance) -> PartnerBalanceOut:
    return PartnerBalanceOut(
        **_partner(balance.partner).model_dump(), prefund_fen=balance.prefund_fen
    )


def _deposit(deposit: Deposit) -> DepositOut:
    return DepositOut(
        deposit_id=deposit.id,
        amount_fen=deposit.amount_fen,
        reference=deposit.reference,
        operator_id=deposit.operator_id,
        created_at_us=deposit.created_at_us,
    )


@router.get("", response_model=PartnersOut)
def list_partners(
    platform: Admin,
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = PARTNERS_PAGE_SIZE,
) -> PartnersOut:
    """Newest first; `before` (a partner id: the `next_before` of the page before) pages on."""
    page = _partners(platform).balances_page(before_id=before, limit=limit)
    return PartnersOut(
        partners=[_balance(b) for b in page.balances], next_before=page.next_before_id
    )


@router.get("/{partner_id}", response_model=PartnerPageOut)
def get_partner(
    partner_id: PartnerId,
    platform: Admin,
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = DEPOSITS_PAGE_SIZE,
) -> PartnerPageOut:
    """404 `cash_partner_not_found`."""
    service = _partners(platform)
    balance = service.balance(partner_id)
    page = service.deposits_page(partner_id, limit, before)
    return PartnerPageOut(
        partner=_balance(balance),
        deposits=[_deposit(d) for d in page.deposits],
        next_before=page.next_before_id,
    )


@router.post("", response_model=NewPartnerOut)
@operator_action("cash_partner.manage")
def register(body: RegisterIn, request: Request, platform: Admin) -> NewPartnerOut:
    """400 for a bad name or kind (the service's codes), 409 `cash_partner_name_taken`."""
    caller = caller_of(request)
    new = _partners(platform).register(
        body.name, body.kind, operator_id=caller.operator_id, actor=caller.actor
    )
    return NewPartnerOut(partner=_partner(new.partner), api_key=new.api_key)


@router.post("/{partner_id}/deposits", response_model=PartnerBalanceOut)
@operator_action("cash_partner.deposit")
async def deposit(
    partner_id: PartnerId, body: DepositIn, request: Request, platform: Admin
) -> JSONResponse:
    """Needs an `Idempotency-Key` (400 `idempotency_key_missing`; the same key with another
    body: 409 `idempotency_key_reused`). Answers the partner's prefund after the wire."""
    caller = caller_of(request)
    service = _partners(platform)

    def work() -> PartnerBalanceOut:
        balance = service.deposit(
            partner_id,
            body.amount_fen,
            body.reference,
            operator_id=caller.operator_id,
            actor=caller.actor,
        )
        return _balance(balance)

    return await idempotent(request, _scope(caller), work)


@router.post("/{partner_id}/status", response_model=PartnerOut)
@operator_action("cash_partner.manage")
def set_status(
    partner_id: PartnerId, body: StatusIn, request: Request, platform: Admin
) -> PartnerOut:
    caller = caller_of(request)
    active = body.status == "active"
    changed = _partners(platform).set_active(
        partner_id, active, operator_id=caller.operator_id, actor=caller.actor
    )
    return _partner(changed)


def _scope(caller: AdminCaller) -> str:
    """Idempotency keys are the caller's own: one operator's key never answers another's."""
    who = f"operator:{caller.operator_id}" if caller.operator_id is not None else caller.actor
    return f"admin:{who}"


def install(app: Any) -> None:
    app.include_router(router)
