"""REST: city services (`/api/v1/billpay/...`): billers by city and category, bill inquiries,
bill payments and mobile top-ups from the balance, receipts, saved accounts and reminders.

Auth as the wallet's API (bearer token or session). Payments and top-ups move money: they need
an `Idempotency-Key` (a replay gets the first answer) and a proof, the payment password in the
body or a registered device's signature in the X-Paybao-Device-* headers, as the wallet's
top-ups and transfers do. A payment answers its receipt: `status` is `paid`, `failed` (the
biller refused: the money is back in the balance, `failure_code` says why) or `processing`
(the biller's answer is late: the money is held until it comes; GET the payment again).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.billpay import (
    ACCOUNT_NO_LENGTH_MAX,
    CITY_NAMES,
    NICKNAME_LENGTH_MAX,
    TOPUP_DENOMINATIONS_FEN,
    Category,
    carrier_of,
    display_name,
)
from paybao.domain.identity import normalize_phone
from paybao.domain.money import format_yuan
from paybao.services.billpay import LIST_LIMIT_MAX, BillpayService
from paybao.services.billpay_accounts import SavedAccountService
from paybao.services.billpay_billers import BillerService
from paybao.services.billpay_records import Inquiry, SavedLine
from paybao.services.clock import datetime_from_us
from paybao.web.api_wallet import Device, User, confirmed
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES
from paybao.wiring.billpay import biller_answer, receipt_answer

router = APIRouter(prefix="/api/v1/billpay", tags=["billpay"], responses=ERROR_RESPONSES)
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]
AccountNo = Annotated[str, Query(max_length=2 * ACCOUNT_NO_LENGTH_MAX, description="户号")]


def _billers(request: Request) -> BillerService:
    service: BillerService = platform_of(request).services["billers"]
    return service


def _payments(request: Request) -> BillpayService:
    service: BillpayService = platform_of(request).services["billpay"]
    return service


def _accounts(request: Request) -> SavedAccountService:
    service: SavedAccountService = platform_of(request).services["bill_accounts"]
    return service


# Catalogue and inquiry ------------------------------------------------------------------------


@router.get("/cities")
def cities(request: Request, user_id: User) -> dict[str, Any]:
    """Cities with at least one active biller, and their categories (`national`: carriers)."""
    served = _billers(request).served()
    return {
        "cities": [
            {
                "code": city,
                "name": display_name(CITY_NAMES[city], "zh"),
                "categories": [str(category) for category in categories],
            }
            for city, categories in served.items()
        ]
    }


@router.get("/billers")
def billers(
    request: Request,
    user_id: User,
    city: Annotated[str, Query(max_length=16)],
    category: Annotated[str, Query(max_length=16, json_schema_extra={"enum": list(Category)})],
) -> dict[str, Any]:
    """The active billers of a city in a category."""
    found = _billers(request).of_city(city, category)
    return {"billers": [biller_answer(biller) for biller in found]}


def inquiry_answer(inquiry: Inquiry) -> dict[str, Any]:
    return {
        "biller": biller_answer(inquiry.biller),
        "account_no": inquiry.account_no,
        "holder_masked": inquiry.holder_masked,
        "period": inquiry.period,
        "outstanding_fen": inquiry.outstanding_fen,
        "outstanding": format_yuan(inquiry.outstanding_fen),
        "amount_rule": {
            "exact": inquiry.exact,
            "min_fen": inquiry.min_fen,
            "max_fen": inquiry.max_fen,
        },
    }


@router.get("/inquiry")
def inquiry(
    request: Request,
    user_id: User,
    biller_id: Annotated[int, Query(ge=1, le=ROW_ID_MAX)],
    account_no: AccountNo,
) -> dict[str, Any]:
    """Ask the biller what the account owes now: the holder (masked) and the current bill.
    `amount_rule` says what may be paid: exactly `min_fen`, or (electricity, prepaid) any
    amount from `min_fen` to `max_fen`."""
    return inquiry_answer(_payments(request).inquire(biller_id, account_no))


# Paying ---------------------------------------------------------------------------------------


class PaymentIn(BaseModel):
    biller_id: int = Field(ge=1, le=ROW_ID_MAX)
    account_no: str = Field(max_length=2 * ACCOUNT_NO_LENGTH_MAX)
    amount_fen: int = Field(ge=1)
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


class TopUpIn(BaseModel):
    phone: str = Field(max_length=32)
    amount_fen: int = Field(
        description="One of " + ", ".join(str(fen) for fen in TOPUP_DENOMINATIONS_FEN)
    )
    payment_password: str | None = Field(default=None, max_length=16)


@router.post("/payments")
async def pay(body: PaymentIn, request: Request, user_id: User, device: Device) -> JSONResponse:
    """Pay a bill from the balance. The amount must be what the biller's bill asks now (see
    `/inquiry`); the same bill cannot be paid twice (`bill_already_paid`)."""
    payments = _payments(request)
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: receipt_answer(
            payments.pay_bill(user_id, body.biller_id, body.account_no, body.amount_fen, proof)
        ),
    )


@router.get("/topups/carrier")
def topup_carrier(
    request: Request, user_id: User, phone: Annotated[str, Query(max_length=32)]
) -> dict[str, Any]:
    """The carrier of a mainland mobile number and the denominations it can be topped up by."""
    number = normalize_phone(phone)
    biller = _billers(request).carrier(carrier_of(number))
    return {
        "phone": number,
        "carrier": biller.code,
        "biller": biller_answer(biller),
        "denominations_fen": list(TOPUP_DENOMINATIONS_FEN),
    }


@router.post("/topups")
async def top_up(body: TopUpIn, request: Request, user_id: User, device: Device) -> JSONResponse:
    """Top a mainland mobile number up (话费充值) from the balance; a failed top-up is refunded."""
    payments = _payments(request)
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: receipt_answer(payments.top_up(user_id, body.phone, body.amount_fen, proof)),
    )


@router.get("/payments")
def payments_list(
    request: Request,
    user_id: User,
    before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX, description="last id seen")] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 20,
) -> dict[str, Any]:
    """Bill payments and top-ups, newest first."""
    found = _payments(request).payments(user_id, limit, before)
    next_before = found[-1].payment.id if len(found) == limit else None
    return {"payments": [receipt_answer(r) for r in found], "next_before": next_before}


@router.get("/payments/{payment_id}")
def payment(payment_id: RowId, request: Request, user_id: User) -> dict[str, Any]:
    """One payment's receipt (another user's is 404 `billpay_payment_not_found`)."""
    return receipt_answer(_payments(request).receipt(user_id, payment_id))


# Saved accounts and reminders -----------------------------------------------------------------


def saved_answer(line: SavedLine) -> dict[str, Any]:
    saved = line.saved
    return {
        "id": saved.id,
        "biller": biller_answer(line.biller),
        "account_no": saved.account_no,
        "nickname": saved.nickname,
        "holder_masked": saved.holder_masked,
        "period": saved.period,
        "outstanding_fen": saved.outstanding_fen,
        "outstanding": format_yuan(saved.outstanding_fen),
        "checked_at": datetime_from_us(saved.checked_at_us).isoformat(),
    }


class SaveIn(BaseModel):
    biller_id: int = Field(ge=1, le=ROW_ID_MAX)
    account_no: str = Field(max_length=2 * ACCOUNT_NO_LENGTH_MAX)
    nickname: str = Field(default="", max_length=NICKNAME_LENGTH_MAX * 2)


@router.get("/accounts")
def accounts(request: Request, user_id: User) -> dict[str, Any]:
    """Saved accounts, with what their billers said at the last look (`checked_at`)."""
    return {"accounts": [saved_answer(line) for line in _accounts(request).accounts(user_id)]}


@router.post("/accounts")
def save_account(body: SaveIn, request: Request, user_id: User) -> dict[str, Any]:
    """Save an account number (the biller must know it); saving it again renames it."""
    line = _accounts(request).save(user_id, body.biller_id, body.account_no, body.nickname)
    return saved_answer(line)


@router.delete("/accounts/{saved_id}")
def delete_account(saved_id: RowId, request: Request, user_id: User) -> dict[str, Any]:
    _accounts(request).delete(user_id, saved_id)
    return {"deleted": saved_id}


@router.get("/reminders")
def reminders(request: Request, user_id: User) -> dict[str, Any]:
    """Saved accounts that owe something, as their billers last said (refreshed daily)."""
    lines = _accounts(request).reminders(user_id)
    return {"reminders": [saved_answer(line) for line in lines]}
