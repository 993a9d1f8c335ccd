"""Monthly and annual statements and transaction search over a wallet's statement entries.

Read-only: every method reads in one read transaction and writes nothing. The summaries come
from the same ledger transfers the wallet statement lists (posted and post-of-hold transfers;
holds and voids never changed a balance), so they agree with it to the fen.

Bounds: a month reads at most MONTH_ENTRIES_MAX entries and a year YEAR_ENTRIES_MAX (beyond:
`statement_too_large`, nothing half-counted); a search page reads at most SEARCH_SCAN_MAX
entries and, when it stopped there, says so (`scan_limited`) with the cursor to go on from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import InvalidInput
from paybao.domain.escrow import LEDGER_CODE_ESCROW_POST
from paybao.domain.statement_summaries import (
    Line,
    Month,
    MonthSummary,
    SearchFilter,
    YearSummary,
    check_month_started,
    check_search,
    check_year,
    matches_text,
    summarize_month,
    summarize_year,
    totals_of,
    year_start_us,
)
from paybao.services.ports import Clock, Database, Tx
from paybao.services.wallet_statement import ENTRY_KIND_OTHER, ENTRY_KINDS, trade_discount

MONTH_ENTRIES_MAX = 10_000
YEAR_ENTRIES_MAX = 60_000
SEARCH_SCAN_MAX = 500
SEARCH_PAGE_MAX = 50
# The entries that pay for an order: a trade's payment, an escrow purchase paid out of its hold.
_PAYMENT_KINDS = frozenset({ENTRY_KIND_OTHER, ENTRY_KINDS[LEDGER_CODE_ESCROW_POST]})


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    memo: str = ""
    # A trade (an escrow: what its seller kept): its total and what its buyer paid (the
    # discounts are the difference).
    total_fen: int | None = None
    buyer_pay_fen: int | None = None


class StatementSummaryStore(Protocol):
    def lines_between(
        self, tx: Tx, account_id: int, from_us: int, to_us: int, limit: int
    ) -> list[Line]:
        """The account's entries with from_us <= time < to_us, oldest first, at most `limit`;
        without counterparties."""
        ...

    def balance_at(self, tx: Tx, account_id: int, at_us: int) -> int:
        """The account's posted balance just before `at_us`."""
        ...

    def scan(
        self, tx: Tx, account_id: int, search: SearchFilter, before_seq: int | None, limit: int
    ) -> list[Line]:
        """Entries matching the filter's kinds, amounts and times (not its text), newest first,
        older than `before_seq`, at most `limit`; without counterparties."""
        ...

    def parties(self, tx: Tx, user_id: int, references: Iterable[str]) -> dict[str, Party]:
        """Who was on the other side of the entries with these references, for this user: the
        merchant of a trade, the other person of a transfer (with its memo). Others absent."""
        ...


class WalletAccounts(Protocol):
    def wallet_account_id_in(self, tx: Tx, user_id: int) -> int: ...


@dataclass(frozen=True, slots=True)
class SearchPage:
    lines: list[Line]
    next_before: int | None  # cursor of the next page; None: nothing older matches
    scanned: int  # entries read for this page
    scan_limited: bool  # the page stopped at SEARCH_SCAN_MAX: older entries remain unread


@dataclass
class StatementSummaries:
    db: Database
    store: StatementSummaryStore
    users: WalletAccounts
    clock: Clock
    known_kinds: frozenset[str] = frozenset()  # the statement's kind names, for search

    def monthly(self, user_id: int, month: Month) -> MonthSummary:
        check_month_started(month, self.clock.now_us())
        with self.db.read() as tx:
            account_id = self.users.wallet_account_id_in(tx, user_id)
            lines = self._with_parties(tx, user_id, self._month_lines(tx, account_id, month))
            previous = self._month_lines(tx, account_id, month.previous())
            opening_fen = self.store.balance_at(tx, account_id, month.start_us)
        return summarize_month(month, lines, opening_fen, totals_of(x.amount_fen for x in previous))

    def month_lines(self, user_id: int, month: Month) -> list[Line]:
        """The month's entries with their counterparties, oldest first (the CSV export)."""
        check_month_started(month, self.clock.now_us())
        with self.db.read() as tx:
            account_id = self.users.wallet_account_id_in(tx, user_id)
            return self._with_parties(tx, user_id, self._month_lines(tx, account_id, month))

    def annual(self, user_id: int, year: int) -> YearSummary:
        check_year(year, self.clock.now_us())
        start_us, end_us = year_start_us(year), year_start_us(year + 1)
        with self.db.read() as tx:
            account_id = self.users.wallet_account_id_in(tx, user_id)
            lines = self._bounded(tx, account_id, start_us, end_us, YEAR_ENTRIES_MAX)
            # Only purchases need a name (the merchant paid most often).
            lines = self._with_parties(tx, user_id, lines, only_out_purchases=True)
            opening_fen = self.store.balance_at(tx, account_id, start_us)
        return summarize_year(year, lines, opening_fen)

    def search(
        self, user_id: int, search: SearchFilter, before_seq: int | None = None, limit: int = 20
    ) -> SearchPage:
        if not 1 <= limit <= SEARCH_PAGE_MAX:
            raise InvalidInput(f"page size must be 1..{SEARCH_PAGE_MAX}", code="page_size_invalid")
        search = check_search(search, self.known_kinds)
        # Without text the database filters everything: read exactly one page.
        scan_max = SEARCH_SCAN_MAX if search.text else limit
        with self.db.read() as tx:
            account_id = self.users.wallet_account_id_in(tx, user_id)
            scanned = self.store.scan(tx, account_id, search, before_seq, scan_max)
            lines = self._with_parties(tx, user_id, scanned)
        matched = [x for x in lines if matches_text(x, search.text)]
        if len(matched) >= limit:
            page = matched[:limit]
            return SearchPage(page, page[-1].seq, len(scanned), scan_limited=False)
        if len(scanned) == scan_max:
            # Fewer matches than a page, but unread entries remain: go on after the last read.
            return SearchPage(
                matched, scanned[-1].seq, len(scanned), scan_limited=bool(search.text)
            )
        return SearchPage(matched, None, len(scanned), scan_limited=False)

    # Helpers -----------------------------------------------------------------------------

    def _month_lines(self, tx: Tx, account_id: int, month: Month) -> list[Line]:
        return self._bounded(tx, account_id, month.start_us, month.end_us, MONTH_ENTRIES_MAX)

    def _bounded(self, tx: Tx, account_id: int, from_us: int, to_us: int, cap: int) -> list[Line]:
        lines = self.store.lines_between(tx, account_id, from_us, to_us, cap + 1)
        if len(lines) > cap:
            raise InvalidInput(
                f"more than {cap} entries: use the statement's pages or search",
                code="statement_too_large",
            )
        return lines

    def _with_parties(
        self, tx: Tx, user_id: int, lines: Sequence[Line], *, only_out_purchases: bool = False
    ) -> list[Line]:
        wanted = [
            x.reference
            for x in lines
            if not only_out_purchases or (x.category == "purchase" and x.amount_fen < 0)
        ]
        found = self.store.parties(tx, user_id, wanted) if wanted else {}
        return [_named(x, found.get(x.reference)) for x in lines]


def _named(line: Line, party: Party | None) -> Line:
    if party is None:
        return line
    order_total_fen = discount_fen = None
    # Only the payment itself (what its buyer paid leaving the wallet) shows the discount; its
    # refunds and a card's money coming in to pay it carry the same reference.
    is_payment = line.kind in _PAYMENT_KINDS and line.amount_fen == -(party.buyer_pay_fen or 0)
    if is_payment and party.total_fen is not None:
        order_total_fen, discount_fen = trade_discount(party.total_fen, -line.amount_fen)
    return Line(
        line.seq,
        line.kind,
        line.amount_fen,
        line.at_us,
        line.reference,
        party.name,
        party.memo,
        order_total_fen,
        discount_fen,
    )
