"""REST: the wallet's top-up channels for apps (`/api/v1/wallet/bank-pay-topups`,
`/api/v1/wallet/cash-codes`), beside the pages of web/pages_topup_channels.py.

Auth as the wallet's API (bearer token or session). Creating and cancelling need an
`Idempotency-Key`: a replay answers the first result, the same key with another body is
`idempotency_key_reused` (409), and the create itself marks the key with what it made in its
own transaction, so a retry after a crash answers that top-up or code instead of making
another (services/idempotency.py). No payment password: nothing leaves the wallet here.

An online-banking top-up answers `payment_url` (the bank's page the app opens) while it can
still be paid. Reading a pending one asks the bank, server to server, as the return page does;
the app's word is never taken for a payment.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from paybao.adapters.qr import qr_png
from paybao.domain.bins import BANKS
from paybao.domain.topup_channels import BankPayStatus, CashCodeStatus
from paybao.services.bank_pay_topups import BankPayService
from paybao.services.cash_topups import CashTopupService
from paybao.services.topup_channel_records import (
    PAGE_SIZE_MAX,
    bank_pay_answer,
    cash_code_answer,
)
from paybao.web.api_wallet import RowId, User, idempotent
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES, error_body

router = APIRouter(prefix="/api/v1/wallet", tags=["top-up channels"], responses=ERROR_RESPONSES)
NO_STORE = {"Cache-Control": "no-store"}
Before = Annotated[
    int | None, Query(ge=1, le=ROW_ID_MAX, description="`id` of the last item seen: the next page")
]
Limit = Annotated[
    int, Query(description=f"Page size, 1..{PAGE_SIZE_MAX}; else 400 page_size_invalid")
]


def _refusal(status: int, description: str, codes: list[str]) -> dict[int | str, Any]:
    return {
        status: {
            "description": f"{description} Codes: {', '.join(codes)}.",
            "content": {"application/json": {"example": error_body(codes[0], description)}},
        }
    }


# 403s of a create: the user may not receive the money (the others are in ERROR_RESPONSES).
CREATE_REFUSED = _refusal(
    403,
    "The wallet may not take this top-up.",
    ["topup_over_class_room", "account_frozen", "registration_incomplete", "cash_codes_open_max"],
)


class BankPayIn(BaseModel):
    bank_code: str = Field(
        max_length=16,
        description="The bank whose online banking pays: " + ", ".join(BANKS) + ".",
        json_schema_extra={"examples": ["ICBC"]},
    )
    amount_fen: int = Field(
        ge=1, le=10**12, description="1.00-50,000.00 CNY by default (PAYBAO_BANK_PAY_*)."
    )


class BankPayOut(BaseModel):
    id: int
    bank_code: str
    amount_fen: int
    amount: str = Field(description='amount_fen in yuan, e.g. "12.34"')
    status: str = Field(
        description="pending (waiting for the bank), succeeded (the wallet was credited, once), "
        "failed (see failure_code), expired (not paid in time; the bank's order was closed).",
        json_schema_extra={"enum": [s.value for s in BankPayStatus]},
    )
    confirmed_by: str | None = Field(
        description="What told paybao it was paid: notice (the bank's signed call), return "
        "(paybao asked the bank when the user came back or the app read it), query (the job)."
    )
    failure_code: str | None = Field(description="bank_declined, bank_closed, expired.")
    created_at_us: int
    expires_at_us: int = Field(description="After this it can no longer be paid.")
    finished_at_us: int | None
    payment_url: str | None = Field(
        description="The bank's online-banking page to open (signed order); null once the "
        "top-up can no longer be paid."
    )


class BankPaysOut(BaseModel):
    topups: list[BankPayOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Cursor of the next page; null on the last.")


class CashCodeIn(BaseModel):
    amount_fen: int = Field(
        ge=1,
        le=10**12,
        description="The cash the counter takes, exactly: 10.00-5,000.00 CNY by default.",
    )


class CashCodeOut(BaseModel):
    id: int
    code: str = Field(description="18 digits: 66, 15 random, a Luhn check digit. Single use.")
    code_grouped: str = Field(description='For display, e.g. "6612 3456 7890 1234 56".')
    amount_fen: int
    amount: str
    status: str = Field(
        description="open (the counter may redeem it), redeemed (the wallet was credited), "
        "reversed (the counter voided it the same day), expired, cancelled.",
        json_schema_extra={"enum": [s.value for s in CashCodeStatus]},
    )
    created_at_us: int
    expires_at_us: int
    redeemed_at_us: int | None
    partner_name: str | None = Field(description="The counter that redeemed it.")
    qr_url: str = Field(description="A PNG of the QR holding the 18 digits (same auth).")


class CashCodesOut(BaseModel):
    codes: list[CashCodeOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Cursor of the next page; null on the last.")


def _bank_pay(request: Request) -> BankPayService:
    service: BankPayService = platform_of(request).services["bank_pay_topups"]
    return service


def _cash(request: Request) -> CashTopupService:
    service: CashTopupService = platform_of(request).services["cash_topups"]
    return service


# Online banking ---------------------------------------------------------------------------------


@router.post("/bank-pay-topups", responses={200: {"model": BankPayOut}, **CREATE_REFUSED})
async def start_bank_pay(body: BankPayIn, request: Request, user_id: User) -> JSONResponse:
    """Start an online-banking top-up (网银充值): the pending top-up and `payment_url`, the
    bank's page where the user pays with a debit card of that bank. The wallet is credited
    when the bank confirms (its notice, or paybao asking it); read the top-up to follow it.
    Errors: bank_pay_bank_unknown, topup_channel_amount_invalid, identity_not_verified (400),
    topup_over_class_room, account_frozen (403)."""
    service = _bank_pay(request)

    def work() -> dict[str, Any]:
        topup, url = service.start(user_id, body.bank_code, body.amount_fen)
        return bank_pay_answer(topup, url)

    return await idempotent(request, f"user:{user_id}", work)


@router.get("/bank-pay-topups", response_model=BankPaysOut)
def bank_pays(request: Request, user_id: User, before: Before = None, limit: Limit = 20) -> Any:
    service = _bank_pay(request)
    page = service.topups(user_id, limit, before)
    next_before = page[-1].id if len(page) == limit else None
    return {
        "topups": [bank_pay_answer(t, service.payable_url(t)) for t in page],
        "next_before": next_before,
    }


@router.get("/bank-pay-topups/{topup_id}", response_model=BankPayOut)
def bank_pay(topup_id: RowId, request: Request, user_id: User) -> Any:
    """The top-up as it stands. While it is pending paybao asks the bank first (server to
    server, bounded in time); a bank that cannot say leaves it pending."""
    service = _bank_pay(request)
    topup = service.check(user_id, topup_id)
    return JSONResponse(bank_pay_answer(topup, service.payable_url(topup)), headers=NO_STORE)


# Cash codes -------------------------------------------------------------------------------------


@router.post("/cash-codes", responses={200: {"model": CashCodeOut}, **CREATE_REFUSED})
async def create_cash_code(body: CashCodeIn, request: Request, user_id: User) -> JSONResponse:
    """A cash top-up code (现金充值码) for a fixed amount, valid 30 minutes: show its QR or
    digits at a partner's counter and pay that amount in cash. At most 3 open at a time.
    Errors: topup_channel_amount_invalid, identity_not_verified (400), topup_over_class_room,
    cash_codes_open_max, account_frozen (403), cash_code_draw_failed (503)."""
    service = _cash(request)
    return await idempotent(
        request,
        f"user:{user_id}",
        lambda: cash_code_answer(service.create(user_id, body.amount_fen)),
    )


@router.get("/cash-codes", response_model=CashCodesOut)
def cash_codes(
    request: Request,
    user_id: User,
    status: Annotated[
        Literal["open", "all"],
        Query(description="open: the codes a counter may still redeem now; all: every code."),
    ] = "open",
    before: Before = None,
    limit: Limit = 20,
) -> Any:
    page = _cash(request).codes(user_id, limit, open_only=status == "open", before_id=before)
    next_before = page[-1].id if len(page) == limit else None
    return {"codes": [cash_code_answer(c) for c in page], "next_before": next_before}


@router.get("/cash-codes/{code_id}", response_model=CashCodeOut)
def cash_code(code_id: RowId, request: Request, user_id: User) -> Any:
    answer = cash_code_answer(_cash(request).code(user_id, code_id))
    return JSONResponse(answer, headers=NO_STORE)


@router.get(
    "/cash-codes/{code_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The QR of the 18 digits."}},
)
def cash_code_qr(code_id: RowId, request: Request, user_id: User) -> Response:
    code = _cash(request).code(user_id, code_id)
    return Response(qr_png(code.code, scale=8), media_type="image/png", headers=NO_STORE)


@router.post("/cash-codes/{code_id}/cancel", responses={200: {"model": CashCodeOut}})
async def cancel_cash_code(code_id: RowId, request: Request, user_id: User) -> JSONResponse:
    """Cancel an open code (no counter can redeem it after this). cash_code_not_open (409)
    once it was redeemed, expired or cancelled."""
    service = _cash(request)
    return await idempotent(
        request,
        f"user:{user_id}",
        lambda: cash_code_answer(service.cancel(user_id, code_id)),
    )
