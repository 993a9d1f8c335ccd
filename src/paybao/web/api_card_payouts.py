"""REST: card payouts (`/api/v1/wallet/card-transfers`, `/api/v1/wallet/card-repayments`).

Auth as the wallet's API (bearer token or session). Sending money needs an `Idempotency-Key`
and the payment password in the body or a registered device's signature (`X-Paybao-Device-*`,
see /api/v1/devices), exactly as the wallet's withdrawals; a replay answers the first result.

A payout answers with its state: `held` (waiting for its arrival time, cancellable), `sent`
(the bank has not answered yet: read it again), `succeeded`, `failed` (with the bank's
`failure_code`: `holder_name_mismatch`, `card_not_found`, `bank_declined`,
`bank_not_received`; the money and the free quota are back in the wallet) or `cancelled`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.card_payouts import MEMO_LENGTH_MAX, CardPayout, PayoutArrival, PayoutKind
from paybao.domain.errors import InvalidInput
from paybao.services.card_payout_records import (
    CARDS_PER_USER_MAX,
    PAGE_SIZE_MAX,
    Preview,
    RepaymentCard,
)
from paybao.services.card_payouts import CardPayoutService
from paybao.services.repayment_cards import RepaymentCardService
from paybao.web.api_wallet import Device, RowId, User, confirmed, idempotent
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/wallet", tags=["card payouts"], responses=ERROR_RESPONSES)
CardNumber = Annotated[
    str, Field(max_length=64, description="15-19 digits (spaces and dashes are ignored).")
]


class PayoutOut(BaseModel):
    """A transfer to a card or a credit-card repayment."""

    id: int
    kind: str = Field(json_schema_extra={"enum": [k.value for k in PayoutKind]})
    status: str = Field(
        description="held (waiting for its arrival time; cancellable), sent (at the bank), "
        "succeeded, failed (see failure_code; money and free quota are back), cancelled.",
        json_schema_extra={"enum": ["held", "sent", "succeeded", "failed", "cancelled"]},
    )
    amount_fen: int = Field(description="What the card receives.")
    fee_fen: int = Field(description="Charged on top, to the balance.")
    amount: str = Field(description='amount_fen in yuan, e.g. "12.34"')
    fee: str
    bank_code: str = Field(description="The issuing bank, from the card's BIN (ICBC, CMB, ...).")
    bank_name: str
    card_masked: str = Field(description='"**** **** **** 1234"')
    card_tail: str
    holder_name_masked: str = Field(description="The payee (the user, for a repayment).")
    arrival: str = Field(json_schema_extra={"enum": [a.value for a in PayoutArrival]})
    risk_held: bool = Field(
        description="Risk control moved an instant transfer to 2 hours: it can be cancelled "
        "until it is sent."
    )
    memo: str
    due_at_us: int = Field(description="When it goes (went) to the bank, microseconds.")
    created_at_us: int
    finished_at_us: int | None
    failure_code: str | None = Field(
        description="holder_name_mismatch, card_not_found, bank_declined, bank_not_received."
    )


class PayoutsOut(BaseModel):
    payouts: list[PayoutOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Cursor of the next page; null on the last.")


class PreviewIn(BaseModel):
    card_number: CardNumber
    amount_fen: int = Field(ge=1)


class PreviewOut(BaseModel):
    kind: str
    bank_code: str
    bank_name: str
    card_type: str = Field(description="DC (debit) or CC (credit).")
    card_masked: str
    card_tail: str
    amount_fen: int
    fee_fen: int
    total_fen: int = Field(description="What leaves the balance: amount + fee.")
    amount: str
    fee: str
    total: str
    free_quota_fen: int = Field(
        description="Transfers: the lifetime free quota shared with withdrawals; repayments: "
        "this month's (China time)."
    )
    quota_left_fen: int = Field(description="What is left of it before this payout.")
    quota_month: str | None = Field(description='Repayments: the month it counts in, "YYYY-MM".')


class TransferIn(BaseModel):
    card_number: CardNumber
    holder_name: str = Field(max_length=64, description="The payee's name, checked by the bank.")
    amount_fen: int = Field(ge=1)
    arrival: PayoutArrival = PayoutArrival.INSTANT
    memo: str = Field(default="", max_length=MEMO_LENGTH_MAX)
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


class RepaymentIn(BaseModel):
    card_number: CardNumber | None = Field(default=None, description="Or `card_id`.")
    card_id: int | None = Field(
        default=None, ge=1, le=ROW_ID_MAX, description="A saved card (GET .../cards)."
    )
    amount_fen: int = Field(ge=1)
    arrival: PayoutArrival = PayoutArrival.INSTANT
    payment_password: str | None = Field(default=None, max_length=16)


class CardIn(BaseModel):
    card_number: CardNumber
    remind_day: int | None = Field(
        default=None, ge=1, le=28, description="Day of the month for a reminder text; null: none."
    )


class CardOut(BaseModel):
    id: int
    bank_code: str
    bank_name: str
    card_masked: str
    card_tail: str
    remind_day: int | None
    created_at_us: int


class CardsOut(BaseModel):
    cards: list[CardOut] = Field(description=f"At most {CARDS_PER_USER_MAX}, oldest first.")


PAYOUT_ANSWER: dict[int | str, dict[str, Any]] = {200: {"model": PayoutOut}}


def _service(request: Request) -> CardPayoutService:
    service: CardPayoutService = platform_of(request).services["card_payouts"]
    return service


def _cards(request: Request) -> RepaymentCardService:
    service: RepaymentCardService = platform_of(request).services["repayment_cards"]
    return service


def payout_out(payout: CardPayout) -> PayoutOut:
    return PayoutOut.model_validate(payout, from_attributes=True)


def preview_out(preview: Preview) -> PreviewOut:
    return PreviewOut.model_validate(preview, from_attributes=True)


def card_out(card: RepaymentCard) -> CardOut:
    return CardOut.model_validate(card, from_attributes=True)


# Transfers to a bank card -----------------------------------------------------------------------


@router.post("/card-transfers/preview", response_model=PreviewOut)
def transfer_preview(body: PreviewIn, request: Request, user_id: User) -> PreviewOut:
    """The card's bank (from its BIN) and the fee, before confirming. Errors:
    card_number_invalid, card_bin_unknown, card_not_debit (400). Moves nothing."""
    return preview_out(
        _service(request).preview(user_id, PayoutKind.TRANSFER, body.card_number, body.amount_fen)
    )


@router.post("/card-transfers", responses=PAYOUT_ANSWER)
async def transfer(
    body: TransferIn, request: Request, user_id: User, device: Device
) -> JSONResponse:
    """Send money from the balance to anyone's debit card (转账到银行卡). The fee follows the
    withdrawal rule on the lifetime free quota shared with withdrawals. Errors (besides the
    proof's and risk control's): card_number_invalid, card_bin_unknown, card_not_debit,
    holder_name_invalid, memo_too_long, card_payout_amount_over_max (400),
    insufficient_funds (402), balance_payment_limit_exceeded, account_frozen (403)."""
    service = _service(request)
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: service.transfer(
            user_id,
            body.card_number,
            body.holder_name,
            body.amount_fen,
            proof,
            arrival=body.arrival,
            memo=body.memo,
        ),
    )


# Credit-card repayments ---------------------------------------------------------------------------


@router.get("/card-repayments/cards", response_model=CardsOut)
def repayment_cards(request: Request, user_id: User) -> CardsOut:
    return CardsOut(cards=[card_out(card) for card in _cards(request).cards(user_id)])


@router.post("/card-repayments/cards", response_model=CardOut)
def save_repayment_card(body: CardIn, request: Request, user_id: User) -> CardOut:
    """Save a credit card to repay (saving it again changes its reminder day). Idempotent by
    nature: the card number is the key. Errors: card_number_invalid, card_bin_unknown,
    card_not_credit (400), repayment_cards_limit_reached (403)."""
    return card_out(_cards(request).save_card(user_id, body.card_number, body.remind_day))


@router.delete("/card-repayments/cards/{card_id}", status_code=204)
def remove_repayment_card(card_id: RowId, request: Request, user_id: User) -> None:
    _cards(request).remove_card(user_id, card_id)


@router.post("/card-repayments/preview", response_model=PreviewOut)
def repayment_preview(body: PreviewIn, request: Request, user_id: User) -> PreviewOut:
    """The card's bank and the fee: free up to 2,000 CNY per natural month (China time), then
    0.1%, at least 0.10. Errors: card_number_invalid, card_bin_unknown, card_not_credit."""
    return preview_out(
        _service(request).preview(user_id, PayoutKind.REPAYMENT, body.card_number, body.amount_fen)
    )


@router.post("/card-repayments", responses=PAYOUT_ANSWER)
async def repay(body: RepaymentIn, request: Request, user_id: User, device: Device) -> JSONResponse:
    """Repay the user's own credit card (信用卡还款) from the balance: the bank checks that the
    card is held in the user's real name (else the repayment fails holder_name_mismatch and
    everything comes back). Give `card_number` or a saved `card_id`."""
    service = _service(request)
    if (body.card_number is None) == (body.card_id is None):
        raise InvalidInput("give card_number or card_id", code="card_number_invalid")
    card_number = body.card_number or _cards(request).card_number_of(user_id, body.card_id or 0)
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: service.repay(
            user_id, card_number, body.amount_fen, proof, arrival=body.arrival
        ),
    )


# Both: reading and cancelling -------------------------------------------------------------------


@router.get("/card-transfers", response_model=PayoutsOut)
def transfers(
    request: Request,
    user_id: User,
    before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
    limit: Annotated[int, Query(description=f"1..{PAGE_SIZE_MAX}")] = 20,
) -> PayoutsOut:
    return _page(request, user_id, PayoutKind.TRANSFER, before, limit)


@router.get("/card-repayments", response_model=PayoutsOut)
def repayments(
    request: Request,
    user_id: User,
    before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
    limit: Annotated[int, Query(description=f"1..{PAGE_SIZE_MAX}")] = 20,
) -> PayoutsOut:
    return _page(request, user_id, PayoutKind.REPAYMENT, before, limit)


def _page(
    request: Request, user_id: int, kind: PayoutKind, before: int | None, limit: int
) -> PayoutsOut:
    page = _service(request).payouts(user_id, kind, limit, before)
    next_before = page[-1].id if len(page) == limit else None
    return PayoutsOut(payouts=[payout_out(p) for p in page], next_before=next_before)


@router.get("/card-transfers/{payout_id}", response_model=PayoutOut)
def transfer_of(payout_id: RowId, request: Request, user_id: User) -> PayoutOut:
    return payout_out(_service(request).payout(user_id, payout_id, PayoutKind.TRANSFER))


@router.get("/card-repayments/{payout_id}", response_model=PayoutOut)
def repayment_of(payout_id: RowId, request: Request, user_id: User) -> PayoutOut:
    return payout_out(_service(request).payout(user_id, payout_id, PayoutKind.REPAYMENT))


@router.post("/card-transfers/{payout_id}/cancel", responses=PAYOUT_ANSWER)
async def cancel_transfer(payout_id: RowId, request: Request, user_id: User) -> JSONResponse:
    """Cancel a transfer not sent yet (2 hours / next day, or held by risk control): the money
    and the free quota come back. card_payout_not_cancellable (409) once it went."""
    return await _cancel(request, user_id, payout_id, PayoutKind.TRANSFER)


@router.post("/card-repayments/{payout_id}/cancel", responses=PAYOUT_ANSWER)
async def cancel_repayment(payout_id: RowId, request: Request, user_id: User) -> JSONResponse:
    return await _cancel(request, user_id, payout_id, PayoutKind.REPAYMENT)


async def _cancel(request: Request, user_id: int, payout_id: int, kind: PayoutKind) -> JSONResponse:
    service = _service(request)

    def work() -> CardPayout:
        service.payout(user_id, payout_id, kind)  # 404 for another kind's id
        return service.cancel(user_id, payout_id)

    return await idempotent(request, f"user:{user_id}", work)
