"""REST: wallets (`/api/v1/wallet/...`), for apps and the pages' scripts.

Auth: `Authorization: Bearer <token>` (from POST /sessions or /register) or the session cookie.
Every mutating call needs an `Idempotency-Key` header: a replay returns the first answer; the
same key with another body is 409 `idempotency_key_reused`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.devices import (
    DeviceConfirmation,
    decode_signature,
    parse_timestamp_s,
    request_digest,
)
from paybao.domain.errors import DomainError, InvalidInput, Unauthenticated
from paybao.domain.money import format_yuan
from paybao.domain.withdrawal import TransferArrival, WithdrawalArrival
from paybao.services.clock import datetime_from_us, us_from_datetime
from paybao.services.devices import PaymentProof
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.services.wallet_statement import (
    ENTRY_KIND_NAMES,
    ENTRY_KINDS,
    HOLD_KIND_NAMES,
    HOLDS_LIMIT_MAX,
    Entry,
    Hold,
    StatementQuery,
)
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES, error_body, status_for
from paybao.web.session import current_user_id

router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"], responses=ERROR_RESPONSES)
CSV_ROWS_MAX = 1000
CODES_BY_KIND = {kind: code for code, kind in ENTRY_KINDS.items()}
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]
# Before registration is complete there is no wallet to read.
NO_WALLET: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "Registration is not complete: there is no wallet yet.",
        "content": {
            "application/json": {
                "example": error_body("registration_incomplete", "registration is not complete")
            }
        },
    }
}


def api_user(request: Request, authorization: str = Header(default="")) -> int:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        user_id = platform_of(request).services["operators"].user_of_token(token.strip())
        if user_id is None:
            raise Unauthenticated("bad or expired token", code="bad_token")
        return int(user_id)
    user_id = current_user_id(request)
    if user_id is None:
        raise Unauthenticated("bearer token or session required")
    return user_id


User = Annotated[int, Depends(api_user)]


async def idempotent(request: Request, scope: str, work: Callable[[], Any]) -> JSONResponse:
    """Run `work` once per (scope, Idempotency-Key); errors with a 4xx are stored too."""
    key = request.headers.get("idempotency-key", "")
    if not key:
        raise InvalidInput("Idempotency-Key header required", code="idempotency_key_missing")
    body = await request.body()
    request_sha256 = fingerprint(request.method, request.url.path, _public_body(body))

    def run() -> tuple[int, str]:
        try:
            result = work()
        except DomainError as error:
            return status_for(error), json.dumps(error_body(error.code, error.message))
        return 200, json.dumps(_plain(result), ensure_ascii=False)

    service = platform_of(request).services["idempotency"]
    # The work blocks (database, argon2): run it off the event loop.
    status_code, text = await run_in_threadpool(service.run, scope, key, request_sha256, run)
    headers = {"Retry-After": "1"} if status_code == 503 else None
    return JSONResponse(json.loads(text), status_code=status_code, headers=headers)


def _public_body(body: bytes) -> str:
    """The body as fingerprinted: canonical JSON without passwords (see `without_secrets`)."""
    try:
        fields = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
    if not isinstance(fields, dict):
        return json.dumps(fields, sort_keys=True)
    return json.dumps(without_secrets(fields), sort_keys=True, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


# Registration -------------------------------------------------------------------------------


class RegisterIn(BaseModel):
    phone: str = Field(max_length=32)
    login_password: str = Field(max_length=64)


class CodeIn(BaseModel):
    code: str = Field(max_length=16)


class PaymentPasswordIn(BaseModel):
    payment_password: str = Field(max_length=16)


class IdentityIn(BaseModel):
    real_name: str = Field(max_length=64)
    id_number: str = Field(max_length=64)


class CardIn(BaseModel):
    card_number: str = Field(max_length=64)
    holder_name: str = Field(max_length=64)
    reserved_phone: str = Field(max_length=32)


@router.post("/register")
async def register(body: RegisterIn, request: Request) -> JSONResponse:
    """Step 1: phone + login password; a code is texted. Returns a token for the next steps."""
    services = platform_of(request).services

    def work() -> dict[str, Any]:
        user_id = services["registration"].start(body.phone, body.login_password)
        return {"user_id": user_id, "token": services["operators"].issue_token(user_id)}

    # The phone is hashed into the scope: raw client text (a NUL byte) must not reach SQL.
    return await idempotent(request, f"register:{fingerprint(body.phone)[:32]}", work)


def _step(request: Request, user_id: int, name: str, *args: Any) -> JSONResponse:
    getattr(platform_of(request).services["registration"], name)(user_id, *args)
    return JSONResponse({"user": _plain(platform_of(request).services["users"].get(user_id))})


@router.post("/register/verify-phone")
async def verify_phone(body: CodeIn, request: Request, user_id: User) -> JSONResponse:
    return _step(request, user_id, "verify_phone", body.code)


@router.post("/register/payment-password")
async def payment_password(
    body: PaymentPasswordIn, request: Request, user_id: User
) -> JSONResponse:
    return _step(request, user_id, "set_payment_password", body.payment_password)


@router.post("/register/identity")
async def identity(body: IdentityIn, request: Request, user_id: User) -> JSONResponse:
    return _step(request, user_id, "verify_identity", body.real_name, body.id_number)


@router.post("/cards")
async def add_card(body: CardIn, request: Request, user_id: User) -> JSONResponse:
    """Step 5 (or a later card): a code goes to the bank-reserved phone."""
    registration = platform_of(request).services["registration"]
    return await idempotent(
        request,
        f"user:{user_id}",
        lambda: {
            "card_id": registration.add_card(
                user_id, body.card_number, body.holder_name, body.reserved_phone
            )
        },
    )


@router.post("/cards/{card_id}/confirm")
async def confirm_card(
    card_id: RowId, body: CodeIn, request: Request, user_id: User
) -> JSONResponse:
    return _step(request, user_id, "confirm_card", card_id, body.code)


# Sessions and reading -------------------------------------------------------------------------


@router.post("/sessions")
def create_session(body: RegisterIn, request: Request) -> dict[str, Any]:
    services = platform_of(request).services
    user = services["users"].authenticate(body.phone, body.login_password)
    return {"token": services["operators"].issue_token(user.id), "user": _plain(user)}


@router.get("/me")
def me(request: Request, user_id: User) -> dict[str, Any]:
    services = platform_of(request).services
    user = services["users"].get(user_id)
    limits = services["users"].limits(user_id)
    out: dict[str, Any] = {"user": _plain(user), "limits": _plain(limits) if limits else None}
    if user.wallet_account_id is not None:
        balance_fen, available_fen = services["wallet"].balance(user_id)
        out.update(
            balance_fen=balance_fen,
            available_fen=available_fen,
            held_fen=balance_fen - available_fen,
        )
    return out


class BalanceOut(BaseModel):
    """The wallet's balance: what is available to spend plus what is held (reserved by a
    pending movement: an escrow purchase, a withdrawal in flight, a delayed transfer)."""

    balance_fen: int = Field(description="available_fen + held_fen")
    available_fen: int
    held_fen: int = Field(description="The sum of the open holds (GET /holds).")
    balance: str = Field(description='balance_fen in yuan, e.g. "12.34"')
    available: str
    held: str
    currency: str = "CNY"


@router.get("/balance", response_model=BalanceOut, responses=NO_WALLET)
def balance(request: Request, user_id: User) -> BalanceOut:
    balance_fen, available_fen = platform_of(request).services["wallet"].balance(user_id)
    held_fen = balance_fen - available_fen
    return BalanceOut(
        balance_fen=balance_fen,
        available_fen=available_fen,
        held_fen=held_fen,
        balance=format_yuan(balance_fen),
        available=format_yuan(available_fen),
        held=format_yuan(held_fen),
    )


class HoldOut(BaseModel):
    id: str = Field(description="The hold's ledger transfer id, stable across pages and calls.")
    seq: int = Field(description="Order of the hold; pass the last one as `before` to page on.")
    kind: str = Field(
        description="What the money is held for (stable codes).",
        json_schema_extra={"enum": list(HOLD_KIND_NAMES)},
    )
    amount_fen: int = Field(ge=1)
    amount: str = Field(description='amount_fen in yuan, e.g. "12.34"')
    reference: str = Field(
        description="The business object: the escrow number for `escrow`, "
        "`withdraw:<id>` or `p2p:<id>` for a withdrawal, its fee or a delayed transfer, "
        "`cardpayout:<id>` for a transfer to a bank card or a credit-card repayment, the "
        "trade number for `card_refund` (a refund on its way back to the card)."
    )
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    expires_at: str | None = Field(
        json_schema_extra={"format": "date-time"},
        description="When the hold lapses by itself (the money returns); null: never.",
    )


class HoldsOut(BaseModel):
    holds: list[HoldOut] = Field(description="Open holds, newest first.")
    next_before: int | None = Field(description="Cursor of the next page; null on the last.")


def hold_out(hold: Hold) -> HoldOut:
    expires = hold.expires_at_us
    return HoldOut(
        id=hold.transfer_id,
        seq=hold.seq,
        kind=hold.kind,
        amount_fen=hold.amount_fen,
        amount=format_yuan(hold.amount_fen),
        reference=hold.reference,
        created_at=datetime_from_us(hold.at_us).isoformat(),
        expires_at=None if expires is None else datetime_from_us(expires).isoformat(),
    )


@router.get("/holds", response_model=HoldsOut, responses=NO_WALLET)
def holds(
    request: Request,
    user_id: User,
    before: Annotated[int | None, Query(description="`seq` of the last hold seen")] = None,
    limit: Annotated[
        int, Query(description=f"Page size, 1..{HOLDS_LIMIT_MAX}; else 400 page_size_invalid")
    ] = 20,
) -> HoldsOut:
    """The wallet's open holds: money still in the balance but not available."""
    before_seq = None if before is None else min(max(before, 0), ROW_ID_MAX)
    page = platform_of(request).services["wallet"].holds(user_id, limit, before_seq)
    next_before = page[-1].seq if len(page) == limit else None
    return HoldsOut(holds=[hold_out(h) for h in page], next_before=next_before)


# Money ----------------------------------------------------------------------------------------


class TopUpIn(BaseModel):
    card_id: int = Field(ge=1, le=ROW_ID_MAX)
    amount_fen: int = Field(ge=1)
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


class WithdrawIn(TopUpIn):
    arrival: WithdrawalArrival = WithdrawalArrival.INSTANT


class TransferIn(BaseModel):
    payee_phone: str = Field(max_length=32)
    amount_fen: int = Field(ge=1)
    payment_password: str | None = Field(default=None, max_length=16)
    arrival: TransferArrival = TransferArrival.INSTANT
    memo: str = Field(default="", max_length=64)


class DeviceHeaders(BaseModel):
    device_id: str
    timestamp: str
    signature: str


def device_headers(
    x_paybao_device_id: str = Header(default="", max_length=32),
    x_paybao_device_timestamp: str = Header(default="", max_length=12),
    x_paybao_device_signature: str = Header(default="", max_length=120),
) -> DeviceHeaders:
    """A device's confirmation (see /api/v1/devices): the Ed25519 signature, base64, of
    `paybao-device-confirm-v1\\n<device id>\\n<timestamp>\\n<digest>`, where digest is the hex
    SHA-256 of `<METHOD>\\n<path>\\n<Idempotency-Key>\\n` followed by the exact body bytes."""
    return DeviceHeaders(
        device_id=x_paybao_device_id,
        timestamp=x_paybao_device_timestamp,
        signature=x_paybao_device_signature,
    )


Device = Annotated[DeviceHeaders, Depends(device_headers)]


async def confirmation_of(
    request: Request, device: DeviceHeaders, payment_password: str | None
) -> PaymentProof:
    """The payment password, or the device's signature over this very request."""
    if not device.device_id:
        if payment_password is None:
            raise InvalidInput(
                "payment_password or a device confirmation is required",
                code="confirmation_required",
            )
        return payment_password
    return DeviceConfirmation(
        device_id=device.device_id,
        timestamp_s=parse_timestamp_s(device.timestamp),
        signature=decode_signature(device.signature),
        request_digest=request_digest(
            request.method,
            request.url.path,
            request.headers.get("idempotency-key", ""),
            await request.body(),
        ),
    )


async def confirmed(
    request: Request,
    user_id: int,
    device: DeviceHeaders,
    payment_password: str | None,
    work: Callable[[PaymentProof], Any],
) -> JSONResponse:
    """A money operation of the user's: its proof (password or device), then `work` once per
    Idempotency-Key."""
    proof = await confirmation_of(request, device, payment_password)
    return await idempotent(request, f"user:{user_id}", lambda: work(proof))


@router.post("/topups")
async def top_up(body: TopUpIn, request: Request, user_id: User, device: Device) -> JSONResponse:
    wallet = platform_of(request).services["wallet"]
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: wallet.top_up(user_id, body.card_id, body.amount_fen, proof),
    )


@router.get("/withdrawals/fee")
def withdrawal_fee(
    request: Request, user_id: User, amount_fen: int = Query(ge=1)
) -> dict[str, Any]:
    fee = platform_of(request).services["wallet"].withdrawal_fee(user_id, amount_fen)
    return dict(_plain(fee))


@router.post("/withdrawals")
async def withdraw(
    body: WithdrawIn, request: Request, user_id: User, device: Device
) -> JSONResponse:
    wallet = platform_of(request).services["wallet"]
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: wallet.withdraw(user_id, body.card_id, body.amount_fen, proof, body.arrival),
    )


@router.get("/transfers/payee")
def preview_payee(
    request: Request, user_id: User, phone: str = Query(max_length=32)
) -> dict[str, Any]:
    _payee_id, name_masked = platform_of(request).services["wallet"].preview_payee(user_id, phone)
    return {"payee_name_masked": name_masked}


@router.post("/transfers")
async def transfer(
    body: TransferIn, request: Request, user_id: User, device: Device
) -> JSONResponse:
    wallet = platform_of(request).services["wallet"]
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: wallet.transfer(
            user_id, body.payee_phone, body.amount_fen, proof, arrival=body.arrival, memo=body.memo
        ),
    )


@router.post("/transfers/{transfer_id}/cancel")
async def cancel_transfer(transfer_id: RowId, request: Request, user_id: User) -> JSONResponse:
    wallet = platform_of(request).services["wallet"]
    return await idempotent(
        request, f"user:{user_id}", lambda: wallet.cancel_transfer(user_id, transfer_id)
    )


# Statements -----------------------------------------------------------------------------------


def statement_query(
    kind: Annotated[
        str,
        Query(
            description="Comma-separated kinds to keep (empty: all): "
            + ", ".join(ENTRY_KINDS.values())
        ),
    ] = "",
    date_from: date | None = None,
    date_to: date | None = None,
    before: int | None = None,
    limit: int = 20,
) -> StatementQuery:
    kinds = frozenset(CODES_BY_KIND[k] for k in kind.split(",") if k in CODES_BY_KIND)

    def start_us(day: date) -> int:
        return us_from_datetime(datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ))

    return StatementQuery(
        kinds=kinds,
        from_us=start_us(date_from) if date_from else None,
        to_us=start_us(date_to + timedelta(days=1)) if date_to and date_to < date.max else None,
        before_seq=None if before is None else min(max(before, 0), ROW_ID_MAX),
        limit=limit,
    )


def entry_out(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "amount_fen": entry.amount_fen,
        "amount": format_yuan(entry.amount_fen),
        "balance_after_fen": entry.balance_after_fen,
        "at": datetime_from_us(entry.at_us).isoformat(),
        "reference": entry.reference,
        "order_total_fen": entry.order_total_fen,
        "discount_fen": entry.discount_fen,
    }


# A statement entry of a trade paid partly with coupons (the wallet statement and its search).
OrderTotalFen = Annotated[
    int | None,
    Field(
        description="A trade or an escrow purchase paid partly with coupons: the order's total "
        "(amount_fen is what was paid; for an escrow purchase, less any refund); null without "
        "a discount."
    ),
]
DiscountFen = Annotated[
    int | None,
    Field(
        description="order_total_fen - what was paid (platform- and merchant-funded "
        "discounts); null without a discount."
    ),
]
# The CSV exports' last two columns: empty without a discount.
DISCOUNT_COLUMNS = ("order_total", "discount")


def discount_cells(order_total_fen: int | None, discount_fen: int | None) -> list[str]:
    if order_total_fen is None or discount_fen is None:
        return ["", ""]
    return [format_yuan(order_total_fen), format_yuan(discount_fen)]


class EntryOut(BaseModel):
    seq: int
    kind: str = Field(
        description="Why the money moved (stable codes): topup, withdrawal, fee (of a "
        "withdrawal), transfer; escrow_payment (an escrow purchase paid out of the buyer's hold "
        "to the seller), escrow_release (that money arriving at the seller), escrow_fee (the "
        "seller's fee); refund (a merchant's refund of a trade), card_refund (that refund going "
        "on back to the bank card that paid the trade); card_payment (a bound card's money "
        "coming in to pay a trade, just before that payment); fund_in (the balance "
        "transferred into Yu'e Bao), fund_out (Yu'e Bao transferred out to the balance); "
        "credit_repayment (a Huabei bill repaid from the balance), credit_refund (a refund of "
        "a Huabei purchase going on to the credit line, after its refund entry); "
        "card_transfer (paid to a bank card), card_repayment (paid to a credit card; their "
        "fees are fee entries); "
        "bill_payment (a utility bill paid, once its biller confirmed), mobile_topup (a mobile "
        "number topped up); "
        "payment (anything else).",
        json_schema_extra={"enum": list(ENTRY_KIND_NAMES)},
    )
    amount_fen: int = Field(description="Signed: + into the wallet, - out of it.")
    amount: str
    balance_after_fen: int
    at: str = Field(json_schema_extra={"format": "date-time"})
    reference: str
    order_total_fen: OrderTotalFen = None
    discount_fen: DiscountFen = None


class StatementOut(BaseModel):
    entries: list[EntryOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Cursor of the next page; null on the last.")


@router.get("/statement", response_model=StatementOut, responses=NO_WALLET)
def statement(
    request: Request, user_id: User, query: Annotated[StatementQuery, Depends(statement_query)]
) -> dict[str, Any]:
    entries = platform_of(request).services["wallet"].statement(user_id, query)
    next_before = entries[-1].seq if len(entries) == query.limit else None
    return {"entries": [entry_out(e) for e in entries], "next_before": next_before}


@router.get("/statement.csv")
def statement_csv(
    request: Request, user_id: User, query: Annotated[StatementQuery, Depends(statement_query)]
) -> Response:
    return Response(
        statement_csv_text(request, user_id, query),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="statement.csv"'},
    )


def statement_csv_text(request: Request, user_id: int, query: StatementQuery) -> str:
    """Pages through the statement up to CSV_ROWS_MAX rows (a hard cap, said in the file)."""
    wallet = platform_of(request).services["wallet"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "kind", "amount", "balance_after", "reference", *DISCOUNT_COLUMNS])
    page = StatementQuery(
        query.kinds, query.from_us, query.to_us, query.before_seq, wallet.statement_page_size_max
    )
    written = 0
    while written < CSV_ROWS_MAX:
        entries = wallet.statement(user_id, page)
        for entry in entries:
            writer.writerow(
                [
                    datetime_from_us(entry.at_us).isoformat(),
                    entry.kind,
                    format_yuan(entry.amount_fen),
                    format_yuan(entry.balance_after_fen),
                    entry.reference,
                    *discount_cells(entry.order_total_fen, entry.discount_fen),
                ]
            )
        written += len(entries)
        if len(entries) < page.limit:
            break
        page = StatementQuery(page.kinds, page.from_us, page.to_us, entries[-1].seq, page.limit)
    return out.getvalue()
