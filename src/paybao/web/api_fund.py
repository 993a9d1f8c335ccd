"""REST: Yu'e Bao, the money-market balance (`/api/v1/fund...`), for apps and the pages.

Auth as the wallet's API (bearer token or session). Transfers in and out move money: they need
an `Idempotency-Key` (a replay gets the first answer) and a proof, the payment password in the
body or a registered device's signature in the X-Paybao-Device-* headers, as the wallet's
top-ups and transfers do.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.fund import format_per_10k, redeem_speed_of
from paybao.domain.money import format_yuan
from paybao.services.fund import LIST_LIMIT_MAX, FundService
from paybao.services.fund_records import FundIncome, FundSummary
from paybao.web.api_wallet import Device, User, confirmed
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES
from paybao.wiring.fund import order_answer

router = APIRouter(prefix="/api/v1/fund", tags=["fund"], responses=ERROR_RESPONSES)
PageSize = Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX, description="Page size")]


def _fund(request: Request) -> FundService:
    service: FundService = platform_of(request).services["fund"]
    return service


class PendingOut(BaseModel):
    id: int
    kind: str = Field(description="in (waiting for confirmation) or out_normal (on its way)")
    amount_fen: int
    amount: str
    settle_date: str | None = Field(
        description="in: the day the shares are confirmed (income starts that day); "
        "out_normal: the day the money arrives in the balance."
    )


class FundOut(BaseModel):
    total_fen: int = Field(description="confirmed_fen + pending_fen")
    total: str
    confirmed_fen: int = Field(description="Confirmed shares: earning, may be transferred out.")
    pending_fen: int = Field(description="Transferred in, waiting for confirmation (T+1).")
    redeeming_fen: int = Field(description="NORMAL transfers out on their way to the balance.")
    income_yesterday_fen: int
    income_yesterday: str
    yesterday: str = Field(description="The China day `income_yesterday` is for.")
    income_total_fen: int
    income_total: str
    yield_7d_percent: str = Field(description='7-day annualised yield in percent, e.g. "2.4008"')
    income_per_10k: str = Field(description="Yesterday's income per 10,000 CNY, e.g. 0.6500")
    fast_quota_fen: int = Field(description="Instant transfer-out limit per China day.")
    fast_left_fen: int = Field(description="What is left of it today.")
    pending: list[PendingOut]


def fund_out(summary: FundSummary) -> FundOut:
    return FundOut(
        total_fen=summary.total_fen,
        total=format_yuan(summary.total_fen),
        confirmed_fen=summary.confirmed_fen,
        pending_fen=summary.pending_fen,
        redeeming_fen=summary.redeeming_fen,
        income_yesterday_fen=summary.income_yesterday_fen,
        income_yesterday=format_yuan(summary.income_yesterday_fen),
        yesterday=summary.yesterday.isoformat(),
        income_total_fen=summary.income_total_fen,
        income_total=format_yuan(summary.income_total_fen),
        yield_7d_percent=str(summary.yield_7d_percent),
        income_per_10k=format_per_10k(summary.per_10k_e4),
        fast_quota_fen=summary.fast_quota_fen,
        fast_left_fen=summary.fast_left_fen,
        pending=[
            PendingOut(
                id=order.id,
                kind=str(order.kind),
                amount_fen=order.amount_fen,
                amount=format_yuan(order.amount_fen),
                settle_date=order.settle_date.isoformat() if order.settle_date else None,
            )
            for order in summary.pending
        ],
    )


@router.get("", response_model=FundOut)
def holdings(request: Request, user_id: User) -> FundOut:
    """What the user holds, yesterday's and all income, the yield, and what is pending."""
    return fund_out(_fund(request).summary(user_id))


class TransferInIn(BaseModel):
    amount_fen: int = Field(ge=1)
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


class TransferOutIn(TransferInIn):
    speed: str = Field(
        default="fast",
        description="fast: to the balance at once, within the daily limit; "
        "normal: to the balance on the next trading day, unlimited.",
        json_schema_extra={"enum": ["fast", "normal"]},
    )


@router.post("/transfer-in")
async def transfer_in(
    body: TransferInIn, request: Request, user_id: User, device: Device
) -> JSONResponse:
    """From the wallet balance. Before 15:00 on a trading day T the shares are confirmed on
    the next trading day (later, or on a non-trading day: one trading day later)."""
    fund = _fund(request)
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: order_answer(fund.transfer_in(user_id, body.amount_fen, proof)),
    )


@router.post("/transfer-out")
async def transfer_out(
    body: TransferOutIn, request: Request, user_id: User, device: Device
) -> JSONResponse:
    """Confirmed shares back to the wallet balance (free of charge)."""
    fund = _fund(request)

    def work(proof: Any) -> dict[str, Any]:
        speed = redeem_speed_of(body.speed)
        return order_answer(fund.transfer_out(user_id, body.amount_fen, speed, proof))

    return await confirmed(request, user_id, device, body.payment_password, work)


@router.get("/records")
def records(
    request: Request,
    user_id: User,
    before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX, description="last id seen")] = None,
    limit: PageSize = 20,
) -> dict[str, Any]:
    """Transfers in and out, newest first."""
    orders = _fund(request).orders(user_id, limit, before)
    next_before = orders[-1].id if len(orders) == limit else None
    return {"records": [order_answer(o) for o in orders], "next_before": next_before}


def income_answer(income: FundIncome) -> dict[str, Any]:
    return {
        "date": income.income_date.isoformat(),
        "income_fen": income.income_fen,
        "income": format_yuan(income.income_fen),
        "base_fen": income.base_fen,
        "income_per_10k": format_per_10k(income.per_10k_e4),
    }


@router.get("/income")
def income(
    request: Request,
    user_id: User,
    before: Annotated[date | None, Query(description="last date seen")] = None,
    limit: PageSize = 20,
) -> dict[str, Any]:
    """Daily income, newest day first: what was earned on which amount at which figure."""
    incomes = _fund(request).incomes(user_id, limit, before)
    next_before = incomes[-1].income_date.isoformat() if len(incomes) == limit else None
    return {"income": [income_answer(i) for i in incomes], "next_before": next_before}
