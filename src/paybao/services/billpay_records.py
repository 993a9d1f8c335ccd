"""City services: the records the billpay services keep, their policy, and the two ports they
need: the store (adapters/db/billpay_store.py) and the billers' channel (adapters/billers/).

The channel is how paybao talks to a biller: `inquire` (what an account number owes now) and
`pay` (tell the biller a bill was paid, or a carrier to top a number up). Every call has a
timeout; a `pay` carries the platform's request id, and a biller answers a repeat from its
record, so asking again after a lost answer never pays twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from paybao.domain.billpay import (
    PREPAY_OVER_FEN_MAX_DEFAULT,
    BillerStatus,
    Category,
    PaymentKind,
    PaymentStatus,
)
from paybao.services.ports import Tx


@dataclass(frozen=True, slots=True)
class Biller:
    id: int
    code: str
    name: str
    category: Category
    city: str
    merchant_id: int
    status: BillerStatus
    created_at_us: int
    updated_at_us: int

    @property
    def active(self) -> bool:
        return self.status is BillerStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Statement:
    """A biller's answer to an inquiry: the account holder's name and the current bill."""

    holder_name: str
    outstanding_fen: int
    period: str  # the bill's month, yyyy-mm


@dataclass(frozen=True, slots=True)
class Inquiry:
    """What the user sees before paying: the holder's name masked, never in full."""

    biller: Biller
    account_no: str
    holder_masked: str
    outstanding_fen: int
    period: str
    min_fen: int
    max_fen: int
    exact: bool


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    user_id: int
    kind: PaymentKind
    biller_id: int
    account_no: str  # the bill's account number, or the phone number topped up
    period: str
    bill_key: str | None  # set while in progress or paid; None for top-ups and prepayments
    amount_fen: int
    outstanding_fen: int | None  # what the bill asked when it was paid (None: top-up)
    holder_masked: str
    status: PaymentStatus
    failure_code: str | None
    created_at_us: int
    finished_at_us: int | None = None

    @property
    def transfer_id(self) -> str:
        return f"billpay:{self.id}"


@dataclass(frozen=True, slots=True)
class Receipt:
    payment: Payment
    biller: Biller


@dataclass(frozen=True, slots=True)
class SavedAccount:
    """An account number a user keeps (户号), with what its biller said at the last look."""

    id: int
    user_id: int
    biller_id: int
    account_no: str
    nickname: str
    holder_masked: str
    outstanding_fen: int
    period: str
    checked_at_us: int
    created_at_us: int


@dataclass(frozen=True, slots=True)
class SavedLine:
    saved: SavedAccount
    biller: Biller


@dataclass(frozen=True, slots=True)
class BillpayPolicy:
    # Electricity is prepaid: at most this much above what is owed.
    prepay_over_fen_max: int = PREPAY_OVER_FEN_MAX_DEFAULT
    saved_accounts_max: int = 20
    # Saved accounts are asked again (for the reminders) once their last look is this old.
    refresh_s: int = 86_400
    refresh_batch_max: int = 10
    # An unanswered confirmation is asked again after this, then with doubling waits (<= 1 h).
    retry_delay_s: int = 30
    # After this long without an answer the platform stops asking: the hold goes back.
    answer_wait_s: int = 3 * 86_400


class BillerOutcome(StrEnum):
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    UNKNOWN = "unknown"  # timed out: ask again with the same request id


@dataclass(frozen=True, slots=True)
class BillerAnswer:
    outcome: BillerOutcome
    failure_code: str | None = None


class BillerChannel(Protocol):
    def inquire(self, biller_code: str, category: Category, account_no: str) -> Statement:
        """The current bill; raises BillAccountNotFound, or BillerUnavailable on a timeout."""
        ...

    def pay(
        self,
        request_id: str,
        biller_code: str,
        category: Category,
        account_no: str,
        period: str,
        amount_fen: int,
    ) -> BillerAnswer:
        """Mark a bill paid (a carrier: top the number up). A repeated request id answers
        from the biller's record; UNKNOWN when the answer did not come in time."""
        ...


class BillpayStore(Protocol):
    # Billers.
    def insert_biller(self, tx: Tx, biller: Biller) -> int: ...

    def biller(self, tx: Tx, biller_id: int) -> Biller | None: ...

    def biller_by_code(self, tx: Tx, code: str) -> Biller | None: ...

    def billers(
        self,
        tx: Tx,
        *,
        city: str | None,
        category: Category | None,
        active_only: bool,
        limit: int,
    ) -> list[Biller]: ...

    def billers_by_ids(self, tx: Tx, biller_ids: list[int]) -> dict[int, Biller]: ...

    def set_biller_status(
        self, tx: Tx, biller_id: int, status: BillerStatus, now_us: int
    ) -> bool: ...

    def served(self, tx: Tx, limit: int) -> list[tuple[str, Category]]:
        """(city, category) pairs that have an active biller."""
        ...

    # Payments.
    def insert_payment(self, tx: Tx, payment: Payment) -> int: ...

    def payment(self, tx: Tx, payment_id: int, *, for_update: bool = False) -> Payment | None: ...

    def payment_by_bill_key(self, tx: Tx, bill_key: str) -> Payment | None: ...

    def finish_payment(
        self, tx: Tx, payment_id: int, status: PaymentStatus, failure_code: str | None, now_us: int
    ) -> bool:
        """Move a processing payment to paid or failed (a failed one frees its bill key);
        False if it was not processing."""
        ...

    def payments_of(
        self, tx: Tx, user_id: int, limit: int, before_id: int | None
    ) -> list[Payment]: ...

    # Saved accounts.
    def saved(
        self, tx: Tx, user_id: int, biller_id: int, account_no: str
    ) -> SavedAccount | None: ...

    def saved_by_id(self, tx: Tx, saved_id: int) -> SavedAccount | None: ...

    def insert_saved(self, tx: Tx, saved: SavedAccount) -> int: ...

    def update_saved(self, tx: Tx, saved_id: int, **values: object) -> None: ...

    def note_statement(
        self, tx: Tx, biller_id: int, account_no: str, inquiry: Inquiry, now_us: int
    ) -> int:
        """What the biller just said, on every saved copy of this account; how many."""
        ...

    def note_paid(
        self, tx: Tx, biller_id: int, account_no: str, period: str, amount_fen: int
    ) -> None:
        """A bill of the account was paid: its saved copies owe that much less (not below 0)."""
        ...

    def delete_saved(self, tx: Tx, user_id: int, saved_id: int) -> bool: ...

    def saved_of(
        self, tx: Tx, user_id: int, limit: int, *, owing_only: bool
    ) -> list[SavedAccount]: ...

    def count_saved(self, tx: Tx, user_id: int) -> int: ...

    def saved_due(self, tx: Tx, checked_before_us: int, limit: int) -> list[SavedAccount]:
        """Saved accounts whose last look is older than `checked_before_us`, oldest first."""
        ...
