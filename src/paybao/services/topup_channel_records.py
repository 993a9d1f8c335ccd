"""What the top-up channels keep and show: views, the store port, the bank channel port, and the
user checks both channels make (services/bank_pay_topups.py, services/cash_topups.py,
services/cash_topup_partners.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

from paybao.domain.account_class import AccountClass
from paybao.domain.errors import Forbidden
from paybao.domain.identity import mask_real_name
from paybao.domain.money import format_yuan
from paybao.domain.topup_channels import ChannelPolicy, check_class_room, group_digits
from paybao.services.ledger import LedgerService
from paybao.services.ports import Tx
from paybao.services.users import UserService, usage_period

BANK_PAY_PREFIX = "bankpay"  # ledger transfer ids and the bank's order numbers
CASH_TOPUP_PREFIX = "cashtopup"
CASH_REVERSAL_PREFIX = "cashreverse"
CASH_DEPOSIT_PREFIX = "cashprefund"
PAGE_SIZE_MAX = 50
# Idempotency references (services/idempotency.py): what a create request made, so that a retry
# after a crash between the commit and the stored answer renders the answer from the row.
BANK_PAY_IDEMPOTENCY_PREFIX = "bankpay"
CASH_CODE_IDEMPOTENCY_PREFIX = "cashcode"
CASH_CODE_QR_PATH = "/api/v1/wallet/cash-codes/{id}/qr.png"


# The bank's online-banking channel ------------------------------------------------------------


class BankPayState(StrEnum):
    PAID = "paid"  # the bank debited the customer: credit the wallet
    UNPAID = "unpaid"  # not paid (yet): the customer may still pay until it is closed
    CLOSED = "closed"  # closed unpaid (by paybao, or failed at the bank): never payable again
    UNKNOWN = "unknown"  # no answer in time: ask again later


@dataclass(frozen=True, slots=True)
class BankPayAnswer:
    state: BankPayState
    amount_fen: int | None = None


@dataclass(frozen=True, slots=True)
class BankPayNotice:
    """A notice whose signature the channel verified."""

    order_no: str
    amount_fen: int
    paid: bool
    notify_id: str
    notify_time_us: int


@dataclass(frozen=True, slots=True)
class BankPayOrder:
    order_no: str
    bank_code: str
    amount_fen: int
    ordered_at_us: int
    expires_at_us: int
    return_url: str
    notify_url: str


@dataclass(frozen=True, slots=True)
class BankPaidLine:
    """One line of the bank's daily file of paid online-banking orders."""

    order_no: str
    amount_fen: int
    ordered_at_us: int


class BankPayChannel(Protocol):
    """What paybao asks of a bank's online-banking gateway. Every call is bounded in time: a
    call that runs out of time answers UNKNOWN, never hangs."""

    def payment_url(self, order: BankPayOrder) -> str:
        """The signed URL of the bank's page where the customer pays the order."""
        ...

    def query(self, order_no: str) -> BankPayAnswer: ...

    def close(self, order_no: str) -> BankPayAnswer:
        """Close an unpaid order so it can never be paid: CLOSED, or PAID if it was paid
        first (then it cannot be closed), or UNKNOWN."""
        ...

    def verify_notice(self, form: Mapping[str, str]) -> BankPayNotice:
        """The notice if the bank signed it; InvalidInput `bank_pay_notice_forged` if not."""
        ...

    def paid_lines(self, start_us: int, end_us: int) -> list[BankPaidLine]:
        """The bank's file of orders ordered in [start, end) and paid."""
        ...


# Views ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankPayTopup:
    id: int
    bank_code: str
    amount_fen: int
    amount: str
    status: str  # BankPayStatus
    confirmed_by: str | None
    failure_code: str | None
    created_at_us: int
    expires_at_us: int
    finished_at_us: int | None


def bank_pay_view(row: Any) -> BankPayTopup:
    return BankPayTopup(
        id=int(row.id),
        bank_code=row.bank_code,
        amount_fen=int(row.amount_fen),
        amount=format_yuan(int(row.amount_fen)),
        status=row.status,
        confirmed_by=row.confirmed_by,
        failure_code=row.failure_code,
        created_at_us=int(row.created_at_us),
        expires_at_us=int(row.expires_at_us),
        finished_at_us=None if row.finished_at_us is None else int(row.finished_at_us),
    )


@dataclass(frozen=True, slots=True)
class CashCode:
    id: int
    code: str
    code_grouped: str
    amount_fen: int
    amount: str
    status: str  # CashCodeStatus, with an open code past its time shown as expired
    created_at_us: int
    expires_at_us: int
    redeemed_at_us: int | None
    partner_name: str | None


def cash_code_view(row: Any, now_us: int, partner_name: str | None = None) -> CashCode:
    status = row.status
    if status == "open" and int(row.expires_at_us) <= now_us:
        status = "expired"  # the sweep has not marked it yet; it can no longer be redeemed
    return CashCode(
        id=int(row.id),
        code=row.code,
        code_grouped=group_digits(row.code),
        amount_fen=int(row.amount_fen),
        amount=format_yuan(int(row.amount_fen)),
        status=status,
        created_at_us=int(row.created_at_us),
        expires_at_us=int(row.expires_at_us),
        redeemed_at_us=None if row.redeemed_at_us is None else int(row.redeemed_at_us),
        partner_name=partner_name,
    )


def bank_pay_answer(topup: BankPayTopup, payment_url: str | None) -> dict[str, Any]:
    """The REST answer of an online-banking top-up (web/api_topup_channels.py): the view and
    the bank's page while it can still be paid there."""
    return {**asdict(topup), "payment_url": payment_url}


def cash_code_answer(code: CashCode) -> dict[str, Any]:
    """The REST answer of a cash code: the view and where its QR image is."""
    return {**asdict(code), "qr_url": CASH_CODE_QR_PATH.format(id=code.id)}


@dataclass(frozen=True, slots=True)
class Partner:
    id: int
    name: str
    kind: str
    status: str
    prefund_account_id: int
    created_at_us: int


def partner_of(row: Any) -> Partner:
    return Partner(
        int(row.id),
        row.name,
        row.kind,
        row.status,
        int(row.prefund_account_id),
        int(row.created_at_us),
    )


@dataclass(frozen=True, slots=True)
class Redemption:
    """What the partner's counter gets back (the answer to a retry is the same)."""

    request_no: str
    code_id: int
    amount_fen: int
    status: str  # redeemed | reversed
    payee_name_masked: str
    redeemed_at_us: int
    reversed_at_us: int | None


def redemption_of(row: Any, real_name: str | None) -> Redemption:
    return Redemption(
        request_no=row.partner_request_no,
        code_id=int(row.id),
        amount_fen=int(row.amount_fen),
        status=row.status,
        payee_name_masked=mask_real_name(real_name) if real_name else "",
        redeemed_at_us=int(row.redeemed_at_us),
        reversed_at_us=None if row.reversed_at_us is None else int(row.reversed_at_us),
    )


# The store ------------------------------------------------------------------------------------


class TopupChannelStore(Protocol):
    # online banking
    def insert_bank_pay(self, tx: Tx, values: dict[str, Any]) -> int: ...

    def bank_pay(self, tx: Tx, topup_id: int, *, for_update: bool = False) -> Any: ...

    def finish_bank_pay(self, tx: Tx, topup_id: int, **values: Any) -> bool:
        """Move a `pending` top-up on (compare-and-set); False if it was no longer pending."""
        ...

    def bank_pays(
        self, tx: Tx, user_id: int, limit: int, before_id: int | None = None
    ) -> list[Any]:
        """Newest first; with `before_id`, those older than that top-up (the next page)."""
        ...

    def add_notice(self, tx: Tx, notify_id: str, topup_id: int, now_us: int) -> bool:
        """Record an accepted notice; False if its id was seen before (a replay)."""
        ...

    def succeeded_bank_pays(self, tx: Tx, start_us: int, end_us: int, limit: int) -> list[Any]:
        """Top-ups created in [start, end) that are not failed or expired (pending ones too)."""
        ...

    # partners
    def insert_partner(self, tx: Tx, values: dict[str, Any]) -> int: ...

    def partner(self, tx: Tx, partner_id: int, *, for_update: bool = False) -> Any: ...

    def partner_by_name(self, tx: Tx, name: str) -> Any: ...

    def partner_by_key(self, tx: Tx, key_sha256: str) -> Any: ...

    def partners(self, tx: Tx, limit: int) -> list[Any]:
        """The oldest first."""
        ...

    def partners_page(self, tx: Tx, limit: int, before_id: int | None) -> list[Any]:
        """Newest (highest id) first; with `before_id`, those below that id."""
        ...

    def set_partner_status(self, tx: Tx, partner_id: int, status: str) -> None: ...

    def set_partner_account(self, tx: Tx, partner_id: int, account_id: int) -> None: ...

    def insert_deposit(self, tx: Tx, values: dict[str, Any]) -> int | None:
        """None if the partner recorded that reference already."""
        ...

    def deposit_by_reference(self, tx: Tx, partner_id: int, reference: str) -> Any: ...

    def deposits(
        self, tx: Tx, partner_id: int, limit: int, before_id: int | None = None
    ) -> list[Any]:
        """Newest first; with `before_id`, those older than that deposit."""
        ...

    # cash codes
    def insert_code(self, tx: Tx, values: dict[str, Any]) -> int | None:
        """None if the code's digits are taken (draw again)."""
        ...

    def code(self, tx: Tx, code_id: int, *, for_update: bool = False) -> Any: ...

    def code_by_digits(self, tx: Tx, digits: str) -> Any: ...

    def code_by_request(self, tx: Tx, partner_id: int, request_no: str) -> Any: ...

    def codes(
        self,
        tx: Tx,
        user_id: int,
        limit: int,
        *,
        open_at_us: int | None = None,
        before_id: int | None = None,
    ) -> list[Any]:
        """Newest first; with `open_at_us`, only codes open and unexpired at that time."""
        ...

    def open_code_count(self, tx: Tx, user_id: int, now_us: int) -> int: ...

    def redeem_code(
        self, tx: Tx, code_id: int, partner_id: int, request_no: str, now_us: int
    ) -> bool:
        """open and unexpired -> redeemed (compare-and-set); False if another got there."""
        ...

    def reverse_code(self, tx: Tx, code_id: int, now_us: int) -> bool: ...

    def end_code(self, tx: Tx, code_id: int, status: str, now_us: int) -> bool:
        """open -> expired | cancelled; False if it was not open."""
        ...

    def expire_codes(self, tx: Tx, now_us: int, limit: int) -> int: ...


# Checks both channels make --------------------------------------------------------------------


def check_room_in(
    tx: Tx,
    users: UserService,
    ledger: LedgerService,
    policy: ChannelPolicy,
    user_id: int,
    amount_fen: int,
    now: Any,
) -> None:
    """The user may receive a top-up of `amount_fen`: active, registered, and within the
    account class's room (domain/topup_channels.py). Locks the user row, so two top-ups of
    one user are checked one after the other."""
    user = users.record_in(tx, user_id, for_update=True)
    if user.status == "frozen":
        raise Forbidden("this account is frozen", code="account_frozen")
    wallet_id = users.wallet_account_id_in(tx, user_id)
    used_fen = 0
    if user.account_class is not None:
        period = usage_period(AccountClass(user.account_class), now)
        used_fen = users.store.usage_fen(tx, user_id, period)
    balance_fen = ledger.account_in(tx, wallet_id).balance_fen
    check_class_room(user.account_class, used_fen, balance_fen, amount_fen, policy.classes)
