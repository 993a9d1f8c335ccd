"""One ledger account's past, for operators: its posted balance at an instant, and its
transfers newest first (REST, the `paybao ledger` CLI and the console's ledger explorer).

Read-only: every call reads in one read transaction of its own and writes nothing.

The posted balance follows domain/ledger.py: credits_posted - debits_posted whatever the
account's side (as `Account.balance_fen` and `LedgerService.balance`). A hold (a pending
transfer) never changes it; its post adds the posted amount (possibly less than the hold) when
the post is created; a void or an expiry adds nothing. The balance at `at_us` is the one just
before that instant: transfers created at or after `at_us` do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import InvalidInput, NotFound
from paybao.domain.ledger import TransferFlags
from paybao.services.clock import us_from_datetime
from paybao.services.ports import Clock, Database, Tx

TRANSFERS_PAGE_MAX: Final = 100
# Far beyond any real instant (some 146,000 years), well inside a signed 64-bit column.
TIME_US_MAX: Final = 2**62
# Neither a hold nor a void moves the posted balance; a plain transfer and a post do.
NOT_POSTING: Final = int(TransferFlags.PENDING | TransferFlags.VOID_PENDING)
TIME_TEXT_MAX: Final = 40
_FLAG_NAMES: Final = tuple(
    (str(flag.name).lower(), int(flag))
    for flag in (
        TransferFlags.LINKED,
        TransferFlags.PENDING,
        TransferFlags.POST_PENDING,
        TransferFlags.VOID_PENDING,
    )
)
DEBIT: Final = "debit"
CREDIT: Final = "credit"


@dataclass(frozen=True, slots=True)
class AccountTransfer:
    """A transfer as seen from one account."""

    seq: int
    id: str
    direction: str  # DEBIT: money left this account; CREDIT: it came in
    other_account_id: int
    amount_fen: int
    code: int
    flags: int
    pending_id: str | None  # a post or void: the hold it resolves
    pending_status: str | None  # a hold: pending, posted, voided or expired
    reference: str
    created_at_us: int

    @property
    def flag_names(self) -> list[str]:
        return [name for name, flag in _FLAG_NAMES if self.flags & flag]

    @property
    def posted_change_fen(self) -> int:
        """What this transfer did to the account's posted balance (0 for a hold or a void)."""
        if self.flags & NOT_POSTING:
            return 0
        return self.amount_fen if self.direction == CREDIT else -self.amount_fen


@dataclass(frozen=True, slots=True)
class BalanceAt:
    account_id: int
    at_us: int
    balance_fen: int  # posted, just before at_us
    balance_now_fen: int  # posted, now (the same snapshot)


@dataclass(frozen=True, slots=True)
class TransferRange:
    """Which transfers: created in [from_us, to_us), older than `before_seq` (the cursor)."""

    from_us: int | None = None
    to_us: int | None = None
    before_seq: int | None = None
    limit: int = TRANSFERS_PAGE_MAX


@dataclass(frozen=True, slots=True)
class TransfersPage:
    account_id: int
    transfers: list[AccountTransfer]
    next_before_seq: int | None  # the cursor of the next (older) page; None: no more


class LedgerHistoryStore(Protocol):
    def posted_balances(self, tx: Tx, account_id: int, at_us: int) -> tuple[int, int] | None:
        """(posted balance just before at_us, posted balance now) in one statement; None if
        there is no such account."""
        ...

    def account_exists(self, tx: Tx, account_id: int) -> bool: ...

    def transfers(
        self, tx: Tx, account_id: int, wanted: TransferRange, limit: int
    ) -> list[AccountTransfer]:
        """The account's transfers matching `wanted`, newest (highest seq) first, at most
        `limit`."""
        ...


class LedgerHistory:
    def __init__(self, db: Database, store: LedgerHistoryStore, clock: Clock) -> None:
        self.db = db
        self.store = store
        self.clock = clock

    def balance_at(self, account_id: int, at_us: int | None = None) -> BalanceAt:
        """The posted balance just before `at_us` (default: now): transfers created at or
        after `at_us` do not count. Holds count only through their post, when it was made.

        Raises InvalidInput `balance_at_negative` / `balance_at_in_future`, NotFound
        `account_not_found`."""
        now_us = self.clock.now_us()
        at_us = now_us if at_us is None else at_us
        if at_us < 0:
            raise InvalidInput("at_us must not be negative", code="balance_at_negative")
        if at_us > now_us:
            raise InvalidInput("at_us is in the future", code="balance_at_in_future")
        with self.db.read() as tx:
            found = self.store.posted_balances(tx, account_id, at_us)
        if found is None:
            raise NotFound(f"account {account_id} not found", code="account_not_found")
        return BalanceAt(account_id, at_us, balance_fen=found[0], balance_now_fen=found[1])

    def transfers(self, account_id: int, wanted: TransferRange) -> TransfersPage:
        """The account's transfers created in [from_us, to_us), newest first, a page of at
        most `limit` (<= TRANSFERS_PAGE_MAX) older than `before_seq`.

        Raises InvalidInput `transfer_range_invalid` / `page_size_invalid` /
        `page_cursor_invalid`, NotFound `account_not_found`."""
        _check_range(wanted)
        with self.db.read() as tx:
            if not self.store.account_exists(tx, account_id):
                raise NotFound(f"account {account_id} not found", code="account_not_found")
            # One more than the page: whether an older page exists, without an empty last one.
            rows = self.store.transfers(tx, account_id, wanted, wanted.limit + 1)
        page = rows[: wanted.limit]
        more = len(rows) > wanted.limit
        return TransfersPage(account_id, page, page[-1].seq if more else None)


def _check_range(wanted: TransferRange) -> None:
    if not 0 < wanted.limit <= TRANSFERS_PAGE_MAX:
        raise InvalidInput(f"limit must be 1..{TRANSFERS_PAGE_MAX}", code="page_size_invalid")
    if wanted.before_seq is not None and wanted.before_seq <= 0:
        raise InvalidInput("before_seq must be positive", code="page_cursor_invalid")
    bounds = [b for b in (wanted.from_us, wanted.to_us) if b is not None]
    if any(not 0 <= b <= TIME_US_MAX for b in bounds):
        raise InvalidInput("times must be 0..2**62 us", code="transfer_range_invalid")
    if wanted.from_us is not None and wanted.to_us is not None and wanted.from_us >= wanted.to_us:
        raise InvalidInput("from_us must be before to_us", code="transfer_range_invalid")


def parse_time_us(text: str) -> int:
    """ISO 8601 (2026-11-01T00:00:00+08:00, or a console's 2026-11-01T00:00) to us since the
    epoch; a time without a zone is China time, as everywhere in the console. Raises
    InvalidInput `time_invalid`."""
    try:
        at = datetime.fromisoformat(text.strip()[:TIME_TEXT_MAX])
    except ValueError:
        raise InvalidInput(
            f"{text[:TIME_TEXT_MAX]!r} is not an ISO 8601 time", code="time_invalid"
        ) from None
    return us_from_datetime(at if at.tzinfo else at.replace(tzinfo=CHINA_TZ))
