"""REST: Huabei bill installments (`/api/v1/credit/installments`): quote a schedule, convert a
bill, list and read plans, prepay a plan.

Auth as the wallet's API (bearer token or session). Converting and prepaying need an
`Idempotency-Key` and the payment password in the body or a registered device's signature
(`X-Paybao-Device-*`), exactly as repayments: a replay answers the first result, the same key with
another body is `idempotency_key_reused`.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.credit_installments import PERIOD_COUNTS
from paybao.services.credit_installments import InstallmentService, Quote, plan_answer
from paybao.web.api_wallet import Device, User, confirmed
from paybao.web.deps import platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/credit/installments", tags=["credit"], responses=ERROR_RESPONSES)
COUNTS_TEXT = ", ".join(map(str, PERIOD_COUNTS))
ID_MAX = 2**63 - 1  # a row id: anything larger is 422, never a database overflow


def _service(request: Request) -> InstallmentService:
    service: InstallmentService = platform_of(request).services["credit_installments"]
    return service


class PeriodOut(BaseModel):
    number: int
    period: str = Field(
        description='The month whose bill holds it, "YYYY-MM" (closed the 1st after).'
    )
    principal_fen: int
    fee_fen: int
    status: str = Field(json_schema_extra={"enum": ["scheduled", "billed", "prepaid", "refunded"]})
    bill_id: int | None = Field(description="The bill it went into, once billed.")


class PlanOut(BaseModel):
    id: int
    user_id: int
    bill_id: int | None = Field(
        description="The bill it was converted from (null: a checkout plan, see trade_no)."
    )
    principal_fen: int
    fee_fen: int = Field(description="The whole fee as scheduled (prepaid periods' fees waived).")
    count: int = Field(description=f"Number of periods: {COUNTS_TEXT}.")
    fee_rate_bp: int = Field(
        description="Total fee in basis points of the principal (880 = 8.8 %)."
    )
    status: str = Field(json_schema_extra={"enum": ["active", "completed", "prepaid", "refunded"]})
    created_at_us: int
    ended_at_us: int | None
    periods: list[PeriodOut]
    billed_count: int
    unbilled_principal_fen: int = Field(description="What prepaying costs now.")
    unbilled_fee_fen: int = Field(description="The fees prepaying waives.")
    prepaid_fen: int
    waived_fee_fen: int
    trade_no: str | None = Field(
        default=None, description="Checkout installments (花呗分期): the trade paid in them."
    )
    seller_fee_fen: int = Field(default=0, description="The fee the merchant paid for it.")
    seller_fee_refunded_fen: int = 0
    refunded_fen: int = Field(default=0, description="Refunds of the trade to the buyer.")
    cancelled_fen: int = Field(
        default=0, description="What those refunds took off the periods not billed yet."
    )
    cancelled_fee_fen: int = Field(default=0, description="The buyer's fee they waived.")


class PlansOut(BaseModel):
    plans: list[PlanOut] = Field(description="Newest first (the last 24).")


class QuotedPeriodOut(BaseModel):
    number: int
    period: str
    principal_fen: int
    fee_fen: int
    amount_fen: int = Field(description="principal + fee: what the period adds to its bill.")
    due_date: str = Field(description="When its bill falls due, at today's repayment day.")


class QuoteOut(BaseModel):
    bill_id: int
    amount_fen: int
    count: int
    fee_rate_bp: int
    fee_fen: int
    total_fen: int
    periods: list[QuotedPeriodOut]


def quote_out(quote: Quote) -> QuoteOut:
    periods = [
        QuotedPeriodOut(
            number=p.number,
            period=p.period,
            principal_fen=p.principal_fen,
            fee_fen=p.fee_fen,
            amount_fen=p.amount_fen,
            due_date=due.isoformat(),
        )
        for p, due in zip(quote.periods, quote.due_dates, strict=True)
    ]
    return QuoteOut(
        bill_id=quote.bill.id,
        amount_fen=quote.amount_fen,
        count=quote.count,
        fee_rate_bp=quote.fee_rate_bp,
        fee_fen=quote.fee_fen,
        total_fen=quote.total_fen,
        periods=periods,
    )


@router.get("", response_model=PlansOut)
def plans(request: Request, user_id: User) -> PlansOut:
    """The user's installment plans, newest first."""
    found = _service(request).plans_of(user_id)
    return PlansOut(plans=[PlanOut(**plan_answer(plan)) for plan in found])


@router.get("/quote", response_model=QuoteOut)
def quote(
    request: Request,
    user_id: User,
    bill_id: int = Query(ge=1, le=ID_MAX),
    amount_fen: int = Query(ge=1),
    periods: int = Query(description=f"One of {COUNTS_TEXT}."),
) -> QuoteOut:
    """The schedule converting `amount_fen` of the bill into `periods` periods would make, with
    the same refusals as the conversion. Moves nothing."""
    return quote_out(_service(request).quote(user_id, bill_id, amount_fen, periods))


class ConversionIn(BaseModel):
    bill_id: int = Field(ge=1, le=ID_MAX)
    amount_fen: int = Field(
        ge=1, description="At least 10000 (100 CNY), at most the bill's own unpaid principal."
    )
    periods: int = Field(description=f"One of {COUNTS_TEXT}.")
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


@router.post("")
async def convert(
    body: ConversionIn, request: Request, user_id: User, device: Device
) -> JSONResponse:
    """Turn a bill (billed, not yet due, not repaid; once) or part of it into monthly periods.
    Answers the plan (as GET /installments/{id}). Errors: credit_bill_not_found (404),
    credit_bill_not_convertible (409), credit_bill_already_converted (409),
    credit_installment_amount_invalid (400), credit_installment_count_invalid (400), and the
    proof's."""
    service = _service(request)
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: plan_answer(
            service.convert(user_id, body.bill_id, body.amount_fen, body.periods, proof)
        ),
    )


@router.get("/{plan_id}", response_model=PlanOut)
def plan(request: Request, user_id: User, plan_id: int = Path(ge=1, le=ID_MAX)) -> PlanOut:
    """One plan and its periods (credit_installment_not_found: 404)."""
    return PlanOut(**plan_answer(_service(request).plan(user_id, plan_id)))


class PrepaymentIn(BaseModel):
    payment_password: str | None = Field(default=None, max_length=16)


@router.post("/{plan_id}/prepayment")
async def prepay(
    body: PrepaymentIn,
    request: Request,
    user_id: User,
    device: Device,
    plan_id: int = Path(ge=1, le=ID_MAX),
) -> JSONResponse:
    """Repay every period not billed yet from the balance now; their fees are waived. Answers the
    plan (status prepaid). Errors: credit_installment_not_found (404),
    credit_installment_not_active (409), insufficient_funds (402), and the proof's."""
    service = _service(request)
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: plan_answer(service.prepay(user_id, plan_id, proof)),
    )
