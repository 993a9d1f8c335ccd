"""Monthly and annual statements (月账单 / 年度账单) and transaction search: pure rules.

A statement summarises the wallet statement's entries (services/wallet_statement.py `Entry`,
named by their `kind`) of a China-time month or year: money in (+) and out (-), totals and
counts, by user-facing category, the top payees, the balance before and after. Everything is
computed from the entries themselves, so a summary always agrees with the statement to the fen.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import InvalidInput

US_PER_S = 1_000_000
TOP_PAYEES = 5
SEARCH_TEXT_MAX = 32
# Years a statement may be asked for (a typo such as 0226 is refused, not scanned).
YEAR_MIN = 2000
YEAR_MAX = 2999


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    zh: str
    en: str


# User-facing categories, in the order pages show them.
CATEGORIES: tuple[Category, ...] = (
    Category("transfer", "转账", "Transfers"),
    Category("purchase", "消费", "Purchases"),
    Category("topup", "充值", "Top-ups"),
    Category("withdrawal", "提现", "Withdrawals"),
    Category("credit", "花呗还款", "Huabei repayments"),
    Category("fund", "余额宝", "Yu'e Bao"),
    Category("bills", "生活缴费", "Bills"),
    Category("refund", "退款", "Refunds"),
    Category("other", "其他", "Other"),
)
CATEGORY_BY_KEY = {c.key: c for c in CATEGORIES}

# Every statement kind (services/wallet_statement.py ENTRY_KIND_NAMES) in one category. A unit
# test fails when a kind is added to the statement without a line here.
CATEGORY_OF_KIND: dict[str, str] = {
    "transfer": "transfer",
    "card_transfer": "transfer",  # to a bank card (转账到银行卡)
    "merchant_transfer": "transfer",  # a merchant's transfer to the user (商家转账)
    "payment": "purchase",
    "card_payment": "purchase",  # a bound card's money arriving to pay a trade
    "escrow_payment": "purchase",
    "preauth_payment": "purchase",
    "topup": "topup",
    "bank_pay_topup": "topup",
    "cash_topup": "topup",
    "cash_topup_reversal": "topup",
    "withdrawal": "withdrawal",
    "fee": "withdrawal",  # fees of withdrawals and card payouts
    "credit_repayment": "credit",
    "fund_in": "fund",
    "fund_out": "fund",
    "bill_payment": "bills",
    "mobile_topup": "bills",
    "refund": "refund",
    "card_refund": "refund",  # the refund going on back to the card that paid
    "credit_refund": "refund",  # the refund going on to the Huabei line
    "escrow_release": "other",  # a seller's takings of an escrow sale
    "escrow_fee": "other",
    "card_repayment": "other",  # a credit card repaid (信用卡还款)
    "profit_share": "other",  # a share of a merchant's trade (分账)
    "profit_share_back": "other",  # a share given back in a refund of that trade (分账退回)
    "red_packet_sent": "transfer",  # 发红包
    "red_packet_received": "transfer",  # 收红包
    "red_packet_returned": "refund",  # 红包退回: the unclaimed rest after expiry
}
# Categories whose money out goes to someone a user would call a payee.
PAYEE_CATEGORIES = frozenset({"transfer", "purchase", "bills"})


def category_of(kind: str) -> str:
    """The category of a statement kind; an unknown kind (a newer server) is "other"."""
    return CATEGORY_OF_KIND.get(kind, "other")


# Months and years ------------------------------------------------------------------------------

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only; fullmatch


def _us(at: datetime) -> int:
    return int(at.timestamp()) * US_PER_S


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @staticmethod
    def parse(text: str) -> Month:
        match = _MONTH.fullmatch(text)
        if match is None:
            raise InvalidInput("month must be YYYY-MM", code="statement_month_invalid")
        month = Month(int(match[1]), int(match[2]))
        if not (YEAR_MIN <= month.year <= YEAR_MAX and 1 <= month.month <= 12):
            raise InvalidInput("no such month", code="statement_month_invalid")
        return month

    @staticmethod
    def of_us(at_us: int) -> Month:
        at = datetime.fromtimestamp(at_us // US_PER_S, CHINA_TZ)
        return Month(at.year, at.month)

    @property
    def start_us(self) -> int:
        return _us(datetime(self.year, self.month, 1, tzinfo=CHINA_TZ))

    @property
    def end_us(self) -> int:
        return self.next().start_us

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def check_month_started(month: Month, now_us: int) -> None:
    if month.start_us > now_us:
        raise InvalidInput(f"{month} has not started", code="statement_month_not_started")


def check_year(year: int, now_us: int) -> None:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput("no such year", code="statement_year_invalid")
    if Month(year, 1).start_us > now_us:
        raise InvalidInput(f"{year} has not started", code="statement_year_not_started")


def year_start_us(year: int) -> int:
    return Month(year, 1).start_us


# Lines and summaries ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One statement entry with who was on the other side (empty when nobody: a top-up)."""

    seq: int
    kind: str
    amount_fen: int  # signed: + into the wallet, - out of it
    at_us: int
    reference: str
    counterparty: str = ""
    memo: str = ""
    # A trade's payment with coupons: the order's total and the discount (total - what was
    # paid). Summaries count amount_fen, what left the wallet, never these.
    order_total_fen: int | None = None
    discount_fen: int | None = None

    @property
    def category(self) -> str:
        return category_of(self.kind)


@dataclass(frozen=True, slots=True)
class Totals:
    in_fen: int = 0
    in_count: int = 0
    out_fen: int = 0  # positive: the money that left
    out_count: int = 0

    @property
    def net_fen(self) -> int:
        return self.in_fen - self.out_fen

    def plus(self, amount_fen: int) -> Totals:
        if amount_fen >= 0:
            return Totals(self.in_fen + amount_fen, self.in_count + 1, self.out_fen, self.out_count)
        return Totals(self.in_fen, self.in_count, self.out_fen - amount_fen, self.out_count + 1)


def totals_of(amounts: Iterable[int]) -> Totals:
    totals = Totals()
    for amount_fen in amounts:
        totals = totals.plus(amount_fen)
    return totals


@dataclass(frozen=True, slots=True)
class CategoryTotals:
    category: Category
    totals: Totals


@dataclass(frozen=True, slots=True)
class Payee:
    name: str
    amount_fen: int  # paid to them in the period, positive
    count: int


@dataclass(frozen=True, slots=True)
class MonthSummary:
    month: Month
    opening_fen: int  # balance at the first instant of the month
    closing_fen: int  # opening + every entry of the month
    totals: Totals
    categories: tuple[CategoryTotals, ...]  # only categories with an entry, in CATEGORIES order
    top_payees: tuple[Payee, ...]
    previous: Totals  # the month before, for the comparison

    @property
    def out_change_fen(self) -> int:
        """Spent this month minus the month before (+: more)."""
        return self.totals.out_fen - self.previous.out_fen

    @property
    def in_change_fen(self) -> int:
        return self.totals.in_fen - self.previous.in_fen


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: Month
    totals: Totals


@dataclass(frozen=True, slots=True)
class YearSummary:
    year: int
    opening_fen: int
    closing_fen: int
    totals: Totals
    months: tuple[MonthRow, ...]  # always 12, January first
    categories: tuple[CategoryTotals, ...]
    biggest_payment: Line | None  # the largest single purchase
    top_merchant: Payee | None  # the merchant paid most often (then most)


def by_category(lines: Iterable[Line]) -> tuple[CategoryTotals, ...]:
    totals: dict[str, Totals] = defaultdict(Totals)
    for line in lines:
        totals[line.category] = totals[line.category].plus(line.amount_fen)
    return tuple(CategoryTotals(c, totals[c.key]) for c in CATEGORIES if c.key in totals)


def payees(lines: Iterable[Line]) -> list[Payee]:
    """Who the money went to (transfers, purchases, bills), biggest amount first."""
    amounts: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for line in lines:
        if line.amount_fen < 0 and line.counterparty and line.category in PAYEE_CATEGORIES:
            amounts[line.counterparty] -= line.amount_fen
            counts[line.counterparty] += 1
    found = [Payee(name, amounts[name], counts[name]) for name in amounts]
    return sorted(found, key=lambda p: (-p.amount_fen, -p.count, p.name))


def summarize_month(
    month: Month, lines: Sequence[Line], opening_fen: int, previous: Totals
) -> MonthSummary:
    assert all(month.start_us <= line.at_us < month.end_us for line in lines), month
    totals = totals_of(line.amount_fen for line in lines)
    return MonthSummary(
        month=month,
        opening_fen=opening_fen,
        closing_fen=opening_fen + totals.net_fen,
        totals=totals,
        categories=by_category(lines),
        top_payees=tuple(payees(lines)[:TOP_PAYEES]),
        previous=previous,
    )


def summarize_year(year: int, lines: Sequence[Line], opening_fen: int) -> YearSummary:
    start_us, end_us = year_start_us(year), year_start_us(year + 1)
    assert all(start_us <= line.at_us < end_us for line in lines), year
    monthly: dict[Month, Totals] = defaultdict(Totals)
    for line in lines:
        month = Month.of_us(line.at_us)
        monthly[month] = monthly[month].plus(line.amount_fen)
    totals = totals_of(line.amount_fen for line in lines)
    purchases = [x for x in lines if x.category == "purchase" and x.amount_fen < 0]
    # The largest purchase; of equal ones the first.
    biggest = min(purchases, key=lambda x: (x.amount_fen, x.seq), default=None)
    merchants = payees(purchases)
    top = min(merchants, key=lambda p: (-p.count, -p.amount_fen, p.name), default=None)
    months = tuple(MonthRow(Month(year, m), monthly[Month(year, m)]) for m in range(1, 13))
    assert sum(row.totals.net_fen for row in months) == totals.net_fen
    return YearSummary(
        year=year,
        opening_fen=opening_fen,
        closing_fen=opening_fen + totals.net_fen,
        totals=totals,
        months=months,
        categories=by_category(lines),
        biggest_payment=biggest,
        top_merchant=top,
    )


# Search ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What a search keeps: entries whose counterparty or memo contains `text` (ignoring case),
    whose size (ignoring sign) is within the amounts, of the kinds, within the times."""

    text: str = ""
    min_fen: int | None = None
    max_fen: int | None = None
    kinds: frozenset[str] = frozenset()  # empty: all
    from_us: int | None = None
    to_us: int | None = None


def check_search(search: SearchFilter, known_kinds: Iterable[str]) -> SearchFilter:
    """The filter with its text normalised; a bad one is refused before anything is read."""
    text = search.text.strip()
    if len(text) > SEARCH_TEXT_MAX:
        raise InvalidInput(
            f"search text is at most {SEARCH_TEXT_MAX} characters", code="search_text_too_long"
        )
    for bound in (search.min_fen, search.max_fen):
        if bound is not None and bound < 0:
            raise InvalidInput("amounts are not negative", code="search_amount_invalid")
    if search.min_fen is not None and search.max_fen is not None:
        if search.min_fen > search.max_fen:
            raise InvalidInput("the minimum exceeds the maximum", code="search_amount_invalid")
    unknown = search.kinds - frozenset(known_kinds)
    if unknown:
        raise InvalidInput(f"unknown kind {sorted(unknown)[0]}", code="search_kind_invalid")
    if search.from_us is not None and search.to_us is not None and search.from_us >= search.to_us:
        raise InvalidInput("the dates are reversed", code="search_dates_invalid")
    return SearchFilter(
        text.casefold(),
        search.min_fen,
        search.max_fen,
        search.kinds,
        search.from_us,
        search.to_us,
    )


def matches_text(line: Line, folded_text: str) -> bool:
    """Case-insensitive substring of the counterparty or the memo (empty text: every line)."""
    if not folded_text:
        return True
    return folded_text in line.counterparty.casefold() or folded_text in line.memo.casefold()
