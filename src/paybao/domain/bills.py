"""Bills: the merchant's daily and monthly statements, in Alipay's layout. Pure.

A bill covers one period of platform time in China (Asia/Shanghai, a fixed +08:00: China has no
daylight saving): a day `yyyy-MM-dd` or a month `yyyy-MM`. Amounts are fen; the writers in
adapters/bills print them as yuan.

Signs follow Alipay's trade bill: a payment row is positive and its fee (服务费) negative (the
merchant pays it); a refund row is negative and the fee it gives back positive. The footer
totals are the sums of the rows, so a merchant's tool can check the file against itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidInput

CHINA_TZ: Final = timezone(timedelta(hours=8))
US_PER_DAY: Final = 86_400 * 1_000_000
ROWS_PER_BILL_MAX: Final = 200_000
# Bills are kept (and served) for about 30 months, as Alipay does.
HISTORY_DAYS_MAX: Final = 30 * 31
DOWNLOAD_URL_TTL_S: Final = 30

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


class BillType(StrEnum):
    TRADE = "trade"
    SIGNCUSTOMER = "signcustomer"


class BillNotFound(InvalidInput):
    code = "bill_not_exist"


class BillPeriodInvalid(InvalidInput):
    code = "invalid_bill_date"


@dataclass(frozen=True, slots=True)
class Period:
    """A day or a month of China time, as [start_us, end_us)."""

    text: str  # "2026-11-25" or "2026-11"
    start_us: int
    end_us: int

    @property
    def is_month(self) -> bool:
        return len(self.text) == 7

    @property
    def compact(self) -> str:
        """The form file names use: 20261125 or 202611."""
        return self.text.replace("-", "")


def parse_period(text: str) -> Period:
    """`yyyy-MM-dd` (a day) or `yyyy-MM` (a month); anything else is refused."""
    try:
        if _DAY.match(text):
            return day_period(date.fromisoformat(text))
        if _MONTH.match(text):
            return month_period(int(text[:4]), int(text[5:7]))
    except ValueError:
        pass
    raise BillPeriodInvalid("bill_date must be yyyy-MM-dd or yyyy-MM")


def day_period(day: date) -> Period:
    start_us = _china_midnight_us(day)
    return Period(day.isoformat(), start_us, start_us + US_PER_DAY)


def month_period(year: int, month: int) -> Period:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(
        f"{year:04d}-{month:02d}", _china_midnight_us(first), _china_midnight_us(following)
    )


def china_day_of(at_us: int) -> date:
    return datetime.fromtimestamp(at_us / 1_000_000, CHINA_TZ).date()


def last_closed_day(now_us: int) -> date:
    """The latest China day that has fully ended at `now_us`."""
    return china_day_of(now_us) - timedelta(days=1)


def china_time_text(at_us: int) -> str:
    """`2026-11-25 13:04:05` in China time, as bills print times."""
    moment = datetime.fromtimestamp(at_us // 1_000_000, UTC).astimezone(CHINA_TZ)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _china_midnight_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ).timestamp()) * 1_000_000


def check_period_closed(period: Period, now_us: int) -> None:
    """A bill exists only once its period has ended, and only for the kept history."""
    if period.end_us > now_us:
        raise BillNotFound("the bill for this period is not ready yet")
    if now_us - period.start_us > HISTORY_DAYS_MAX * US_PER_DAY:
        raise BillNotFound("bills are kept for about 30 months")


# Trade bill ---------------------------------------------------------------------------------


class RowKind(StrEnum):
    TRADE = "交易"
    REFUND = "退款"


@dataclass(frozen=True, slots=True)
class TradeBillRow:
    """One line of 业务明细: a payment (positive) or a refund (negative)."""

    trade_no: str
    out_trade_no: str
    kind: RowKind
    subject: str
    created_at_us: int
    finished_at_us: int
    store_id: str
    operator_id: str
    terminal_id: str
    buyer_account: str
    order_fen: int
    received_fen: int
    fee_fen: int
    refund_request_no: str
    remark: str
    # Coupons (domain/coupons.py): the platform's and the merchant's discount (支付宝优惠 /
    # 商家优惠), signed as the row. received_fen is what the merchant got: the order less its own
    # discount.
    platform_discount_fen: int = 0
    merchant_discount_fen: int = 0

    def __post_init__(self) -> None:
        # Signs are the file's contract: refunds negative, their fee back positive.
        if self.kind is RowKind.TRADE:
            assert self.order_fen > 0 and self.received_fen > 0 and self.fee_fen <= 0
        else:
            # A refund that is all the merchant's own discount receives back nothing.
            assert self.order_fen < 0 and self.received_fen <= 0 and self.fee_fen >= 0
            assert self.refund_request_no


@dataclass(frozen=True, slots=True)
class KindTotal:
    count: int
    order_fen: int
    received_fen: int
    fee_fen: int


@dataclass(frozen=True, slots=True)
class StoreSummary:
    """One line of 业务明细(汇总): a store's day (store "" = no store given)."""

    store_id: str
    trade_count: int
    refund_count: int
    order_fen: int
    received_fen: int
    fee_fen: int

    @property
    def net_fen(self) -> int:
        """What the store's business leaves the merchant: received less fees (fees are <= 0)."""
        return self.received_fen + self.fee_fen


def total_of(rows: list[TradeBillRow], kind: RowKind) -> KindTotal:
    chosen = [row for row in rows if row.kind is kind]
    return KindTotal(
        count=len(chosen),
        order_fen=sum(row.order_fen for row in chosen),
        received_fen=sum(row.received_fen for row in chosen),
        fee_fen=sum(row.fee_fen for row in chosen),
    )


def summarize_by_store(rows: list[TradeBillRow]) -> list[StoreSummary]:
    """Per-store sums, stores in name order; together they equal the detail file's sums."""
    stores = sorted({row.store_id for row in rows})
    summaries = []
    for store_id in stores:
        mine = [row for row in rows if row.store_id == store_id]
        summaries.append(
            StoreSummary(
                store_id=store_id,
                trade_count=sum(1 for row in mine if row.kind is RowKind.TRADE),
                refund_count=sum(1 for row in mine if row.kind is RowKind.REFUND),
                order_fen=sum(row.order_fen for row in mine),
                received_fen=sum(row.received_fen for row in mine),
                fee_fen=sum(row.fee_fen for row in mine),
            )
        )
    assert sum(s.received_fen for s in summaries) == sum(r.received_fen for r in rows)
    return summaries


# Signcustomer bill (account movements) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MovementRow:
    """One posting on the merchant's account, with the balance after it."""

    entry_id: str  # 账务流水号: the ledger transfer id
    business_no: str  # 业务流水号: the trade, refund or settlement number
    out_trade_no: str
    subject: str
    at_us: int
    counterparty: str
    income_fen: int
    expense_fen: int
    balance_after_fen: int
    channel: str
    business_kind: str
    remark: str

    def __post_init__(self) -> None:
        assert self.income_fen >= 0 and self.expense_fen >= 0
        assert (self.income_fen == 0) != (self.expense_fen == 0), "exactly one side moves"


def running_balances(opening_fen: int, deltas: list[int]) -> list[int]:
    """The balance after each movement, starting from the opening balance."""
    balances = []
    balance_fen = opening_fen
    for delta_fen in deltas:
        balance_fen += delta_fen
        balances.append(balance_fen)
    assert len(balances) == len(deltas)
    return balances
