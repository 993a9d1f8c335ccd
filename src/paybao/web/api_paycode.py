"""REST: payment-code payments waiting for the buyer (`/api/v1/paycode/confirmations`).

A till's `alipay.trade.pay` above the password-free amount answers 10003 and waits: the buyer's
app lists what waits, then confirms (payment password in the body, or a registered device's
signature in the X-Paybao-Device-* headers, as for wallet operations) or declines. Mutations
need an `Idempotency-Key`; a replay gets the first answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.services.trades import Trade
from paybao.web.api_wallet import Device, RowId, User, confirmed, idempotent
from paybao.web.deps import platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1/paycode/confirmations", tags=["paycode"], responses=ERROR_RESPONSES
)


class WaitingOut(BaseModel):
    confirmation_id: int
    trade_no: str
    merchant_name: str
    subject: str
    amount_fen: int
    amount: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})


class WaitingListOut(BaseModel):
    confirmations: list[WaitingOut]


class ConfirmIn(BaseModel):
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


def trade_answer(trade: Trade) -> dict[str, Any]:
    return {
        "trade_no": trade.trade_no,
        "trade_status": trade.status.value,
        "total_fen": trade.total_fen,
        "total_amount": format_yuan(trade.total_fen),
    }


@router.get("")
def waiting(request: Request, user_id: User) -> WaitingListOut:
    pairs = platform_of(request).services["paycodes"].pending(user_id)
    return WaitingListOut(
        confirmations=[
            WaitingOut(
                confirmation_id=row.id,
                trade_no=row.trade_no,
                merchant_name=row.merchant_name,
                subject=row.subject,
                amount_fen=row.amount_fen,
                amount=format_yuan(row.amount_fen),
                created_at=datetime_from_us(row.created_at_us).isoformat(),
            )
            for row, _trade in pairs
        ]
    )


@router.post("/{confirmation_id}/confirm")
async def confirm(
    confirmation_id: RowId, body: ConfirmIn, request: Request, user_id: User, device: Device
) -> JSONResponse:
    paycodes = platform_of(request).services["paycodes"]
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: trade_answer(paycodes.confirm(user_id, confirmation_id, proof)),
    )


@router.post("/{confirmation_id}/decline")
async def decline(confirmation_id: RowId, request: Request, user_id: User) -> JSONResponse:
    paycodes = platform_of(request).services["paycodes"]
    return await idempotent(
        request,
        f"user:{user_id}",
        lambda: trade_answer(paycodes.decline(user_id, confirmation_id)),
    )
