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

from paybao.domain.credit import REPAYMENT_DAYS, Bill, CreditLine, minimum_fen, minimum_left_fen
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
    installment_fen: int = Field(description="Installment principal not billed yet.")
    outstanding_fen: int = Field(
        description="Everything owed: open + installments + bills' unpaid amounts."
    )
    limit: str = Field(description='limit_fen in yuan, e.g. "5000.00"')
    available: str
    repayment_day: int = Field(description="Bills fall due on this day of the month (8, 9, 10).")
    frozen: bool = Field(description="True while a bill is overdue: no new credit payments.")
    granted_at: str = Field(json_schema_extra={"format": "date-time"})


class BillOut(BaseModel):
    id: int
    period: str = Field(description='The month of the purchases, "YYYY-MM" (China time).')
    status: str = Field(
        description="min_paid: repaid down to its minimum by the due date, revolving (interest "
        "daily, carried into the next bill on the 1st, then rolled); overdue: below it.",
        json_schema_extra={"enum": ["billed", "overdue", "min_paid", "rolled", "paid"]},
    )
    principal_fen: int = Field(
        description="Billed principal: purchases + installment periods + carried rest."
    )
    periods_principal_fen: int = Field(description="Of the principal: installment periods'.")
    carried_fen: int = Field(description="Of the principal: carried from a revolving bill.")
    converted_fen: int = Field(description="Principal turned into an installment plan.")
    refunded_fen: int = Field(description="Refunds that lowered the principal.")
    fee_fen: int = Field(description="Installment periods' fees.")
    interest_fen: int = Field(description="Revolving interest charged so far (0.05 %/day).")
    penalty_fen: int = Field(description="Overdue penalties charged so far (0.05 %/day).")
    repaid_fen: int
    unpaid_fen: int = Field(description="What is left to repay (principal + charges).")
    minimum_fen: int = Field(
        description="10 % of (principal - refunded - converted), rounded up, + all charges."
    )
    minimum_left_fen: int = Field(description="What is left to repay of the minimum.")
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
    minimum_due_fen: int = Field(
        description="Overdue bills in full + the minimum left of bills not yet due: repaid by "
        "the due date, it keeps the line from freezing (the rest revolves)."
    )
    next_due_date: date | None = Field(description="Earliest due date of a bill still owing.")
    bills: list[BillOut] = Field(description="Newest first (the last 24).")
    open_purchases: list[DrawOut] = Field(description="Not billed yet, newest first.")


def line_out(line: CreditLine) -> LineOut:
    return LineOut(
        limit_fen=line.limit_fen,
        available_fen=line.available_fen,
        open_fen=line.open_fen,
        installment_fen=line.installment_fen,
        outstanding_fen=line.outstanding_fen,
        limit=format_yuan(line.limit_fen),
        available=format_yuan(line.available_fen),
        repayment_day=line.repayment_day,
        frozen=line.overdue,
        granted_at=datetime_from_us(line.granted_at_us).isoformat(),
    )


def bill_out(bill: Bill, minimum_rate_ppm: int) -> BillOut:
    return BillOut(
        id=bill.id,
        period=bill.period,
        status=bill.status.value,
        principal_fen=bill.principal_fen,
        periods_principal_fen=bill.periods_principal_fen,
        carried_fen=bill.carried_fen,
        converted_fen=bill.converted_fen,
        refunded_fen=bill.refunded_fen,
        fee_fen=bill.fee_fen,
        interest_fen=bill.interest_fen,
        penalty_fen=bill.penalty_fen,
        repaid_fen=bill.repaid_fen,
        unpaid_fen=bill.unpaid_fen,
        minimum_fen=minimum_fen(bill, minimum_rate_ppm),
        minimum_left_fen=minimum_left_fen(bill, minimum_rate_ppm) if bill.owing else 0,
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


def credit_out(summary: CreditSummary, minimum_rate_ppm: int) -> CreditOut:
    return CreditOut(
        line=line_out(summary.line),
        due_fen=summary.due_fen,
        minimum_due_fen=summary.minimum_due_fen,
        next_due_date=summary.next_due_date,
        bills=[bill_out(bill, minimum_rate_ppm) for bill in summary.bills],
        open_purchases=[draw_out(draw) for draw in summary.open_draws],
    )


@router.get("", response_model=CreditOut, responses=NOT_OPENED)
def credit(request: Request, user_id: User) -> CreditOut:
    """The user's credit line, its bills and this month's purchases."""
    credit = platform_of(request).services["credit"]
    return credit_out(credit.summary(user_id), credit.policy.minimum_rate_ppm)


class RepaymentIn(BaseModel):
    amount_fen: int = Field(ge=1, description="At most `due_fen`: only billed amounts are repaid.")
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


@router.post("/repayments", responses=NOT_OPENED)
async def repay(body: RepaymentIn, request: Request, user_id: User, device: Device) -> JSONResponse:
    """Repay bills from the wallet balance, in full, in part, or just the minimum
    (`minimum_due_fen`): the oldest bill first, its penalty, interest and fees before its
    principal. Answers the repayment: `{id, user_id, amount_fen, penalty_fen, principal_fen,
    outstanding_after_fen, created_at_us, interest_fen, fee_fen}`. Errors: credit_nothing_due (409),
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
