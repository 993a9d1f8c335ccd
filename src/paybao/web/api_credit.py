"""REST: Huabei credit (`/api/v1/credit`): the line and its bills, repayments, the repayment day.

Auth as the wallet's API (bearer token or session). A repayment moves money: it needs an
`Idempotency-Key` and the payment password in the body or a registered device's signature
(`X-Paybao-Device-*`, see /api/v1/devices), exactly as the wallet's top-ups and transfers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.credit import REPAYMENT_DAYS, Bill, CreditLine
from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.services.credit import CreditSummary, Draw
from paybao.web.api_wallet import Device, User, confirmed
from paybao.web.deps import platform_of
from paybao.web.errors import ERROR_RESPONSES, error_body

router = APIRouter(prefix="/api/v1/credit", tags=["credit"], responses=ERROR_RESPONSES)
NOT_OPENED: dict[int | str, dict[str, object]] = {
    404: {
        "description": "The user has no credit line (an operator grants one).",
        "content": {
            "application/json": {"example": error_body("credit_not_opened", "no credit line")}
        },
    }
}


class LineOut(BaseModel):
    limit_fen: int
    available_fen: int = Field(description="max(limit - outstanding, 0)")
    open_fen: int = Field(description="This month's purchases, not billed yet (net of refunds).")
    outstanding_fen: int = Field(description="Everything owed: open + bills' unpaid amounts.")
    limit: str = Field(description='limit_fen in yuan, e.g. "5000.00"')
    available: str
    repayment_day: int = Field(description="Bills fall due on this day of the month (8, 9, 10).")
    frozen: bool = Field(description="True while a bill is overdue: no new credit payments.")
    granted_at: str = Field(json_schema_extra={"format": "date-time"})


class BillOut(BaseModel):
    id: int
    period: str = Field(description='The month of the purchases, "YYYY-MM" (China time).')
    status: str = Field(json_schema_extra={"enum": ["billed", "overdue", "paid"]})
    principal_fen: int
    refunded_fen: int = Field(description="Refunds that lowered the principal.")
    penalty_fen: int = Field(description="Overdue penalties charged so far (0.05 %/day).")
    repaid_fen: int
    unpaid_fen: int = Field(description="What is left to repay (principal + penalty).")
    due_date: date = Field(description="Last day to repay (China time).")


class DrawOut(BaseModel):
    trade_no: str
    subject: str
    amount_fen: int
    refunded_fen: int
    created_at: str = Field(json_schema_extra={"format": "date-time"})


class CreditOut(BaseModel):
    line: LineOut
    due_fen: int = Field(description="What the bills owe now: the most a repayment may be.")
    next_due_date: date | None = Field(description="Earliest due date of a bill still owing.")
    bills: list[BillOut] = Field(description="Newest first (the last 24).")
    open_purchases: list[DrawOut] = Field(description="Not billed yet, newest first.")


def line_out(line: CreditLine) -> LineOut:
    return LineOut(
        limit_fen=line.limit_fen,
        available_fen=line.available_fen,
        open_fen=line.open_fen,
        outstanding_fen=line.outstanding_fen,
        limit=format_yuan(line.limit_fen),
        available=format_yuan(line.available_fen),
        repayment_day=line.repayment_day,
        frozen=line.overdue,
        granted_at=datetime_from_us(line.granted_at_us).isoformat(),
    )


def bill_out(bill: Bill) -> BillOut:
    return BillOut(
        id=bill.id,
        period=bill.period,
        status=bill.status.value,
        principal_fen=bill.principal_fen,
        refunded_fen=bill.refunded_fen,
        penalty_fen=bill.penalty_fen,
        repaid_fen=bill.repaid_principal_fen + bill.repaid_penalty_fen,
        unpaid_fen=bill.unpaid_fen,
        due_date=bill.due_date,
    )


def draw_out(draw: Draw) -> DrawOut:
    return DrawOut(
        trade_no=draw.trade_no,
        subject=draw.subject,
        amount_fen=draw.amount_fen,
        refunded_fen=draw.refunded_fen,
        created_at=datetime_from_us(draw.created_at_us).isoformat(),
    )


def credit_out(summary: CreditSummary) -> CreditOut:
    return CreditOut(
        line=line_out(summary.line),
        due_fen=summary.due_fen,
        next_due_date=summary.next_due_date,
        bills=[bill_out(bill) for bill in summary.bills],
        open_purchases=[draw_out(draw) for draw in summary.open_draws],
    )


@router.get("", response_model=CreditOut, responses=NOT_OPENED)
def credit(request: Request, user_id: User) -> CreditOut:
    """The user's credit line, its bills and this month's purchases."""
    return credit_out(platform_of(request).services["credit"].summary(user_id))


class RepaymentIn(BaseModel):
    amount_fen: int = Field(ge=1, description="At most `due_fen`: only billed amounts are repaid.")
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


@router.post("/repayments", responses=NOT_OPENED)
async def repay(body: RepaymentIn, request: Request, user_id: User, device: Device) -> JSONResponse:
    """Repay bills from the wallet balance, in full or in part: the oldest bill first, its
    penalty before its principal. Answers the repayment: `{id, user_id, amount_fen, penalty_fen,
    principal_fen, outstanding_after_fen, created_at_us}`. Errors: credit_nothing_due (409),
    credit_repayment_exceeds_due (400), insufficient_funds (402), and the proof's."""
    service = platform_of(request).services["credit"]
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: service.repay(user_id, body.amount_fen, proof),
    )


class RepaymentDayIn(BaseModel):
    day: Annotated[int, Field(description=f"One of {', '.join(map(str, REPAYMENT_DAYS))}.")]


@router.post("/repayment-day", response_model=LineOut, responses=NOT_OPENED)
def repayment_day(body: RepaymentDayIn, request: Request, user_id: User) -> LineOut:
    """Choose the repayment day (8, 9 or 10): bills closed from now on fall due on it.
    Idempotent by nature (setting the same day twice changes nothing)."""
    return line_out(platform_of(request).services["credit"].set_repayment_day(user_id, body.day))
