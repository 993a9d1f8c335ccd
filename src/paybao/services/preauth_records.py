"""Pre-authorisation records, requests and the ports PreauthService needs (services/preauth.py).

An order is the merchant's deposit (`auth_no`; its own `out_order_no`), an operation one thing
done to it (`operation_id`; the merchant's `out_request_no`): its freeze, each payment, each
unfreeze. Names are the domain's; the Alipay adapter translates.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from paybao.domain.coupons import CouponChoice, Quote
from paybao.domain.preauth import (
    ConfirmMode,
    EndedBy,
    OperationStatus,
    OperationType,
    OrderStatus,
    Totals,
)
from paybao.services.clock import datetime_from_us
from paybao.services.ports import Tx
from paybao.services.trades import NewTrade, Trade, TradeRef

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PreauthOrder:
    id: int
    auth_no: str
    app_id: str
    merchant_id: int
    out_order_no: str
    product_code: str
    title: str
    amount_fen: int  # what the order freezes (frozen once authorised)
    status: OrderStatus
    user_id: int | None  # whose money; None until the freeze
    paid_fen: int
    unfrozen_fen: int
    # The current hold is `preauth:<auth_no>:hold:<hold_seq>`; each operation that leaves
    # something frozen resolves it and holds the rest under the next number.
    hold_seq: int
    # The one live timer (confirmation deadline, then the order's end): its generation and due.
    timer_seq: int
    timer_due_at_us: int | None
    fingerprint: str
    confirm_token: str | None  # app orders: the secret in the confirmation page's URL
    confirm_expires_at_us: int | None
    expires_at_us: int
    notify_url: str | None
    return_url: str | None
    channel_context: str
    created_at_us: int
    authorized_at_us: int | None = None
    ended_at_us: int | None = None
    ended_by: EndedBy | None = None
    cancel_action: str | None = None

    @property
    def totals(self) -> Totals:
        frozen_fen = self.amount_fen if self.authorized_at_us is not None else 0
        return Totals(frozen_fen, self.paid_fen, self.unfrozen_fen)

    @property
    def rest_fen(self) -> int:
        return self.totals.rest_fen

    @property
    def hold_id(self) -> str:
        return hold_id(self.auth_no, self.hold_seq)


@dataclass(frozen=True, slots=True)
class Operation:
    id: int
    operation_id: str
    order_id: int
    kind: OperationType
    out_request_no: str | None  # the merchant's; a PAY's is its out_trade_no
    amount_fen: int
    status: OperationStatus
    remark: str | None
    trade_no: str | None  # PAY only
    actor: str  # merchant | timer | cancel
    created_at_us: int
    done_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class NewFreeze:
    """A merchant's freeze request. `fingerprint` digests its business parameters (the adapter
    decides which): the same out_order_no must come back with the same fingerprint."""

    app_id: str
    out_order_no: str
    out_request_no: str
    title: str
    amount_fen: int
    product_code: str
    fingerprint: str
    timeout_s: int | None = None  # the order's life (timeout_express); None: the default
    confirm_s: int | None = None  # app orders: time to confirm (pay_timeout); None: default
    notify_url: str | None = None
    return_url: str | None = None
    channel_context: str = "{}"


@dataclass(frozen=True, slots=True)
class PayRequest:
    """alipay.trade.pay with auth_no: `new` is the trade (its fingerprint covers the auth_no
    and the confirm mode); `buyer_user_id`, if the merchant named one, must be the payer."""

    new: NewTrade
    auth_no: str
    mode: ConfirmMode
    buyer_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class OrderRef:
    """An order named by the merchant: by our auth_no (first) or by its own out_order_no."""

    auth_no: str | None = None
    out_order_no: str | None = None


@dataclass(frozen=True, slots=True)
class OperationRef:
    """An operation of the order: by our operation_id, or by the merchant's out_request_no
    (and type; none named: the freeze)."""

    operation_id: str | None = None
    out_request_no: str | None = None
    kind: OperationType | None = None


@dataclass(frozen=True, slots=True)
class PreauthPolicy:
    freeze_timeout_s: int  # an order's life when the request names none (timeout_express)
    confirm_timeout_s: int  # an app order's time to be confirmed (pay_timeout)


class PreauthStore(Protocol):
    def insert_order(self, tx: Tx, order: PreauthOrder) -> int:
        """Insert; a taken (app_id, out_order_no) fails the transaction (a unique race)."""
        ...

    def order_by_auth_no(
        self, tx: Tx, auth_no: str, *, for_update: bool = False
    ) -> PreauthOrder | None: ...

    def order_by_out_no(
        self, tx: Tx, app_id: str, out_order_no: str, *, for_update: bool = False
    ) -> PreauthOrder | None: ...

    def order_by_token(
        self, tx: Tx, token: str, *, for_update: bool = False
    ) -> PreauthOrder | None: ...

    def update_order(
        self, tx: Tx, order_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: True if the row still held `expect` and now holds `changes`."""
        ...

    def orders_of(self, tx: Tx, user_id: int, limit: int) -> list[PreauthOrder]:
        """The user's orders, open ones first, newest first within each."""
        ...

    def insert_operation(self, tx: Tx, operation: Operation) -> int: ...

    def update_operation(
        self, tx: Tx, operation_id: int, expect_status: str, changes: Mapping[str, Any]
    ) -> bool: ...

    def operation(self, tx: Tx, order_id: int, ref: OperationRef) -> Operation | None:
        """By operation_id, or by out_request_no (of `ref.kind` if named, any kind else)."""
        ...

    def freeze_operation(self, tx: Tx, order_id: int) -> Operation | None: ...

    def operations_of(self, tx: Tx, order_id: int, limit: int) -> list[Operation]: ...


class Wallets(Protocol):
    """What a freeze needs from the wallet (UserService)."""

    def run_paying(self, work: Callable[[Tx], T]) -> T: ...

    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None: ...

    def check_can_pay_in(self, tx: Tx, user_id: int, amount_fen: int, *, funding: str) -> None: ...

    def wallet_account_id_in(self, tx: Tx, user_id: int) -> int: ...


class TradePayer(Protocol):
    """TradeService's public hooks a payment from a freeze uses."""

    def find_in(self, tx: Tx, app_id: str, ref: TradeRef) -> Trade: ...

    def create_in(self, tx: Tx, new: NewTrade, merchant: Any) -> Trade: ...

    def quote_in(self, tx: Tx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote: ...

    def pay_in(
        self,
        tx: Tx,
        trade: Trade,
        buyer_user_id: int,
        *,
        funding: str = ...,
        reserved_in: int | None = ...,
        quoted: Quote | None = ...,
    ) -> Trade: ...

    def resolve_code_in(self, tx: Tx, auth_code: str) -> int: ...


class Merchants(Protocol):
    def app(self, app_id: str) -> Any: ...

    def merchant_in(self, tx: Tx, merchant_id: int) -> Any: ...


class PreauthEvents(Protocol):
    """Where changes are announced: the merchant's fund_auth_* notification (outbox)."""

    def preauth_changed_in(
        self,
        tx: Tx,
        order: PreauthOrder,
        operation: Operation,
        notify_type: str,
        notify_url: str | None,
    ) -> None: ...


class NoEvents:
    def preauth_changed_in(
        self,
        tx: Tx,
        order: PreauthOrder,
        operation: Operation,
        notify_type: str,
        notify_url: str | None,
    ) -> None:
        return None


# Notification types (notify_type), as Alipay names them.
NOTIFY_FREEZE = "fund_auth_freeze"
NOTIFY_UNFREEZE = "fund_auth_unfreeze"


def draft_order(
    app_id: str,
    merchant_id: int,
    out_order_no: str,
    now_us: int,
    expires_at_us: int,
    **values: Any,
) -> PreauthOrder:
    """A new order: INIT, nothing frozen, no timer yet; `values` set the other fields."""
    defaults: dict[str, Any] = {
        "id": 0,
        "auth_no": new_auth_no(now_us),
        "product_code": "",
        "title": "",
        "amount_fen": 0,
        "status": OrderStatus.INIT,
        "user_id": None,
        "paid_fen": 0,
        "unfrozen_fen": 0,
        "hold_seq": 0,
        "timer_seq": 0,
        "timer_due_at_us": None,
        "fingerprint": "",
        "confirm_token": None,
        "confirm_expires_at_us": None,
        "notify_url": None,
        "return_url": None,
        "channel_context": "{}",
    }
    order = PreauthOrder(
        app_id=app_id,
        merchant_id=merchant_id,
        out_order_no=out_order_no,
        created_at_us=now_us,
        expires_at_us=expires_at_us,
        **{**defaults, **values},
    )
    assert order.paid_fen == order.unfrozen_fen == 0 and order.expires_at_us >= now_us
    return order


def hold_id(auth_no: str, seq: int) -> str:
    return f"preauth:{auth_no}:hold:{seq}"


def new_auth_no(now_us: int) -> str:
    """28 digits as Alipay's (2014070800002001550000014417): the day, 2001, 16 random."""
    day = datetime_from_us(now_us).strftime("%Y%m%d")
    number = f"{day}2001{secrets.randbelow(10**16):016d}"
    assert len(number) == 28
    return number


def new_operation_id(now_us: int) -> str:
    """20 digits as Alipay's (20140216010020006400): the day and 12 random."""
    day = datetime_from_us(now_us).strftime("%Y%m%d")
    number = f"{day}{secrets.randbelow(10**12):012d}"
    assert len(number) == 20
    return number


def new_confirm_token() -> str:
    return secrets.token_urlsafe(24)
