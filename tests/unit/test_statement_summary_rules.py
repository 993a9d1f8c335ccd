"""Statements: the pure rules (categories, China-time months, summaries, search filters) and
the service on an in-memory store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.support.fakes import FakeDatabase

from paybao.domain.errors import InvalidInput
from paybao.domain.statement_summaries import (
    CATEGORIES,
    CATEGORY_OF_KIND,
    Line,
    Month,
    SearchFilter,
    Totals,
    check_search,
    matches_text,
    summarize_month,
    summarize_year,
)
from paybao.services.clock import ManualClock
from paybao.services.statement_summaries import (
    SEARCH_SCAN_MAX,
    Party,
    StatementSummaries,
)
from paybao.services.wallet_statement import ENTRY_KIND_NAMES


def us(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000  # type: ignore[misc]


# Domain ------------------------------------------------------------------------------------


def test_every_statement_kind_has_a_category() -> None:
    # A kind added to the statement without a category fails here, by name.
    missing = sorted(set(ENTRY_KIND_NAMES) - set(CATEGORY_OF_KIND))
    assert missing == []
    assert set(CATEGORY_OF_KIND.values()) <= {c.key for c in CATEGORIES}
    # No stale kinds either.
    assert set(CATEGORY_OF_KIND) == set(ENTRY_KIND_NAMES)


def test_month_bounds_are_china_time() -> None:
    january = Month(2027, 1)
    # 2027-01-01 00:00 in China is 2026-12-31 16:00 UTC.
    assert january.start_us == us(2026, 12, 31, 16)
    assert Month.of_us(us(2026, 12, 31, 23, 30)) == january
    assert Month.of_us(us(2026, 12, 31, 15, 59, 59)) == Month(2026, 12)
    assert january.previous() == Month(2026, 12)
    assert Month(2026, 12).next() == january
    assert Month(2026, 3).previous() == Month(2026, 2)
    assert str(Month(2026, 3)) == "2026-03"


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "26-11", "2026-1", "0999-01", "２０２６-11"]
)
def test_bad_months_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        Month.parse(text)
    assert error.value.code == "statement_month_invalid"


def line(seq: int, kind: str, amount_fen: int, at_us: int, who: str = "", memo: str = "") -> Line:
    return Line(seq, kind, amount_fen, at_us, f"ref{seq}", who, memo)


def test_month_summary_adds_up_by_category_and_payee() -> None:
    month = Month(2026, 11)
    at = month.start_us
    lines = [
        line(1, "topup", 500_00, at),
        line(2, "payment", -30_00, at + 1, "咖啡店"),
        line(3, "payment", -20_00, at + 2, "咖啡店"),
        line(4, "transfer", -100_00, at + 3, "*四 139****0002", "房租"),
        line(5, "refund", 10_00, at + 4, "咖啡店"),
        line(6, "fund_in", -50_00, at + 5),
        line(7, "payment", -1_00, at + 6, "便利店"),
    ]
    summary = summarize_month(month, lines, 7_00, Totals(0, 0, 80_00, 2))
    assert summary.totals == Totals(510_00, 2, 201_00, 5)
    assert summary.closing_fen == 7_00 + 510_00 - 201_00
    by_key = {c.category.key: c.totals for c in summary.categories}
    assert by_key["purchase"] == Totals(0, 0, 51_00, 3)
    assert by_key["refund"] == Totals(10_00, 1, 0, 0)
    assert by_key["fund"].out_fen == 50_00
    # Categories in the table's order; payees biggest first, Yu'e Bao is nobody.
    keys = [c.category.key for c in summary.categories]
    assert keys == [c.key for c in CATEGORIES if c.key in by_key]
    assert [(p.name, p.amount_fen, p.count) for p in summary.top_payees] == [
        ("*四 139****0002", 100_00, 1),
        ("咖啡店", 50_00, 2),
        ("便利店", 1_00, 1),
    ]
    assert summary.out_change_fen == 201_00 - 80_00


def test_top_payees_are_five() -> None:
    month = Month(2026, 11)
    lines = [line(i, "payment", -(i + 1), month.start_us + i, f"shop{i}") for i in range(8)]
    summary = summarize_month(month, lines, 100, Totals())
    assert [p.name for p in summary.top_payees] == ["shop7", "shop6", "shop5", "shop4", "shop3"]


def test_year_summary_months_biggest_and_most_frequent() -> None:
    lines = [
        line(1, "payment", -5_00, Month(2026, 1).start_us, "面包房"),
        line(2, "payment", -6_00, Month(2026, 2).start_us, "面包房"),
        line(3, "payment", -900_00, Month(2026, 2).start_us + 5, "家电城"),
        line(4, "topup", 1000_00, Month(2026, 12).start_us),
        line(5, "transfer", -950_00, Month(2026, 12).start_us + 1, "*三"),
    ]
    summary = summarize_year(2026, lines, 0)
    assert len(summary.months) == 12
    assert summary.months[1].totals == Totals(0, 0, 906_00, 2)
    assert summary.months[11].totals.in_fen == 1000_00
    assert summary.biggest_payment is not None and summary.biggest_payment.seq == 3
    # The transfer is bigger, but it is not a purchase.
    assert summary.top_merchant is not None and summary.top_merchant.name == "面包房"
    assert summary.closing_fen == sum(x.amount_fen for x in lines)


def test_search_filter_checks() -> None:
    kinds = ENTRY_KIND_NAMES
    assert check_search(SearchFilter(text="  Coffee "), kinds).text == "coffee"
    cases: list[tuple[SearchFilter, str]] = [
        (SearchFilter(text="x" * 33), "search_text_too_long"),
        (SearchFilter(min_fen=5, max_fen=4), "search_amount_invalid"),
        (SearchFilter(min_fen=-1), "search_amount_invalid"),
        (SearchFilter(kinds=frozenset({"nope"})), "search_kind_invalid"),
        (SearchFilter(from_us=10, to_us=10), "search_dates_invalid"),
    ]
    for search, code in cases:
        with pytest.raises(InvalidInput) as error:
            check_search(search, kinds)
        assert error.value.code == code
    found = line(1, "payment", -1, 0, "Star Coffee", "Latte")
    assert matches_text(found, "coffee") and matches_text(found, "latte")
    assert not matches_text(found, "tea")


# Service on fakes ----------------------------------------------------------------------------


class FakeStatementStore:
    def __init__(self, lines: Iterable[Line], balance_now_fen: int, parties: dict[str, Party]):
        self.lines = sorted(lines, key=lambda x: x.seq)
        self.balance_now_fen = balance_now_fen
        self.party_by_ref = parties
        self.scans: list[int] = []

    def lines_between(
        self, tx: Any, account_id: int, from_us: int, to_us: int, limit: int
    ) -> list[Line]:
        return [x for x in self.lines if from_us <= x.at_us < to_us][:limit]

    def balance_at(self, tx: Any, account_id: int, at_us: int) -> int:
        return self.balance_now_fen - sum(x.amount_fen for x in self.lines if x.at_us >= at_us)

    def scan(
        self, tx: Any, account_id: int, search: SearchFilter, before_seq: int | None, limit: int
    ) -> list[Line]:
        self.scans.append(limit)
        found = [
            x
            for x in reversed(self.lines)
            if (before_seq is None or x.seq < before_seq)
            and (not search.kinds or x.kind in search.kinds)
            and (search.min_fen is None or abs(x.amount_fen) >= search.min_fen)
            and (search.max_fen is None or abs(x.amount_fen) <= search.max_fen)
        ]
        return found[:limit]

    def parties(self, tx: Any, user_id: int, references: Iterable[str]) -> dict[str, Party]:
        return {r: self.party_by_ref[r] for r in references if r in self.party_by_ref}


class FakeUsers:
    def wallet_account_id_in(self, tx: Any, user_id: int) -> int:
        return 100 + user_id


def service(lines: list[Line], balance_fen: int, parties: dict[str, Party], now_us: int) -> Any:
    store = FakeStatementStore(lines, balance_fen, parties)
    summaries = StatementSummaries(
        db=FakeDatabase(),
        store=store,
        users=FakeUsers(),
        clock=ManualClock(now_us),
        known_kinds=frozenset(ENTRY_KIND_NAMES),
    )
    return summaries, store


def test_monthly_on_fakes_names_payees_and_compares() -> None:
    nov, dec = Month(2026, 11), Month(2026, 12)
    lines = [
        Line(1, "topup", 300_00, nov.start_us + 5, "topup:1"),
        Line(2, "payment", -40_00, nov.start_us + 9, "T1"),
        Line(3, "payment", -25_00, dec.start_us + 1, "T2"),
        Line(4, "transfer", -5_00, dec.start_us + 2, "p2p:1"),
    ]
    parties = {
        "T1": Party("书店", "买书"),
        "T2": Party("书店", "买笔"),
        "p2p:1": Party("*四", "午饭"),
    }
    summaries, _ = service(lines, 230_00, parties, dec.start_us + 100)
    summary = summaries.monthly(1, dec)
    assert summary.opening_fen == 260_00 and summary.closing_fen == 230_00
    assert summary.previous == Totals(300_00, 1, 40_00, 1)
    assert [p.name for p in summary.top_payees] == ["书店", "*四"]
    with pytest.raises(InvalidInput) as error:
        summaries.monthly(1, dec.next())
    assert error.value.code == "statement_month_not_started"
    csv_lines = summaries.month_lines(1, nov)
    assert [(x.counterparty, x.memo) for x in csv_lines] == [("", ""), ("书店", "买书")]


def test_search_scans_a_bounded_window_and_says_so() -> None:
    at = Month(2026, 11).start_us
    lines = [Line(i, "payment", -100, at + i, f"T{i}") for i in range(1, 1201)]
    parties = {f"T{i}": Party("奶茶店" if i % 400 == 0 else "面馆") for i in range(1, 1201)}
    summaries, store = service(lines, 0, parties, at + 10_000)
    page = summaries.search(1, SearchFilter(text="奶茶"), limit=5)
    # Only seq 1200 and 800 lie in the newest 500: the page stops there and says so.
    assert [x.seq for x in page.lines] == [1200, 800]
    assert page.scan_limited and page.scanned == SEARCH_SCAN_MAX and page.next_before == 701
    page = summaries.search(1, SearchFilter(text="奶茶"), before_seq=page.next_before, limit=5)
    assert [x.seq for x in page.lines] == [400]
    page = summaries.search(1, SearchFilter(text="奶茶"), before_seq=page.next_before, limit=5)
    assert page.lines == [] and page.next_before is None and not page.scan_limited
    # Without text the store filters: exactly one page read, a full page gives the cursor.
    store.scans.clear()
    page = summaries.search(1, SearchFilter(min_fen=100), limit=3)
    assert store.scans == [3] and page.next_before == 1198 and not page.scan_limited
    with pytest.raises(InvalidInput):
        summaries.search(1, SearchFilter(), limit=51)


def test_annual_refuses_a_year_not_started() -> None:
    summaries, _ = service([], 0, {}, us(2026, 12, 31, 15))
    with pytest.raises(InvalidInput) as error:
        summaries.annual(1, 2027)  # not yet 2027 in China (23:00 on Dec 31)
    assert error.value.code == "statement_year_not_started"
    assert summaries.annual(1, 2026).months[0].month == Month(2026, 1)
    later, _ = service([], 0, {}, us(2026, 12, 31, 16) + 1)
    assert later.annual(1, 2027).totals == Totals()
    assert Month.of_us(us(2026, 12, 31, 16)) == Month(2027, 1)
    assert timedelta(hours=8)  # China is UTC+8 all year (no daylight saving)
