"""The cash partners' API (`/api/v1/cash-partner`): what a counter calls.

Auth: `Authorization: Bearer pbc_...`, the partner's API key (minted when an operator
registers the partner, shown once; services/cash_topup_partners.py). Every call acts for that
partner only.

- `GET /codes/{code}`: the scanned code's amount, status, expiry and the payee's masked name,
  before the counter takes the cash.
- `POST /redemptions` `{"code", "amount_fen", "request_no"}`: credit the user from the
  partner's prefund. Idempotent by `request_no` (a retry answers the first redemption).
- `POST /reversals` `{"request_no"}`: void a redemption the same China day, while the user
  still holds the money. Idempotent.
- `GET /balance`: the partner's prefund balance.
Errors: the JSON error body of web/errors.py (e.g. 409 `cash_code_used`, 402
`cash_prefund_insufficient`, 403 `topup_over_class_room`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from paybao.domain.errors import Unauthenticated
from paybao.services.cash_topup_partners import CashPartnerService
from paybao.services.cash_topups import CashTopupService
from paybao.services.topup_channel_records import Partner
from paybao.web.deps import platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1/cash-partner", tags=["cash top-up partners"], responses=ERROR_RESPONSES
)


class RedeemBody(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    amount_fen: int = Field(ge=1, le=100_000_000_00)
    request_no: str = Field(min_length=1, max_length=64)


class ReverseBody(BaseModel):
    request_no: str = Field(min_length=1, max_length=64)


def _partner(request: Request) -> Partner:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthenticated("partner API key required", code="cash_partner_key_invalid")
    partners: CashPartnerService = platform_of(request).services["cash_partners"]
    return partners.authenticate(key.strip())


def _cash(request: Request) -> CashTopupService:
    service: CashTopupService = platform_of(request).services["cash_topups"]
    return service


@router.get("/codes/{code}")
def look_up(code: str, request: Request) -> dict[str, Any]:
    partner = _partner(request)
    return asdict(_cash(request).at_counter(partner, code))


@router.post("/redemptions")
def redeem(body: RedeemBody, request: Request) -> dict[str, Any]:
    partner = _partner(request)
    return asdict(_cash(request).redeem(partner, body.code, body.amount_fen, body.request_no))


@router.post("/reversals")
def reverse(body: ReverseBody, request: Request) -> dict[str, Any]:
    partner = _partner(request)
    return asdict(_cash(request).reverse(partner, body.request_no))


@router.get("/balance")
def balance(request: Request) -> dict[str, Any]:
    partner = _partner(request)
    partners: CashPartnerService = platform_of(request).services["cash_partners"]
    found = partners.balance(partner.id)
    return {"partner_id": partner.id, "name": partner.name, "prefund_fen": found.prefund_fen}
