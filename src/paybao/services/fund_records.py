"""Yu'e Bao's records as services see them (holdings, orders, income, published figures, what
the fund page shows), the policy, and the store port (adapters/db/fund_store.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from paybao.domain.fund import (
    PER_10K_E4_DEFAULT,
    OrderKind,
    OrderStatus,
    TradingCalendar,
    format_per_10k,
)
from paybao.services.ports import Tx


@dataclass(frozen=True, slots=True)
class Holding:
    user_id: int
    account_id: int
    confirmed_fen: int
    pending_fen: int
    redeeming_fen: int
    income_total_fen: int
    fast_day: date | None
    fast_used_fen: int
    created_at_us: int
    updated_at_us: int
    settled_day: date | None = None  # the last day the daily pass settled


@dataclass(frozen=True, slots=True)
class FundOrder:
    id: int
    user_id: int
    kind: OrderKind
    status: OrderStatus
    amount_fen: int
    trade_date: date
    settle_date: date | None  # IN: the confirmation day; OUT_NORMAL: the arrival day
    created_at_us: int
    finished_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class FundIncome:
    user_id: int
    income_date: date
    base_fen: int
    per_10k_e4: int
    income_fen: int
    created_at_us: int


@dataclass(frozen=True, slots=True)
class FundRate:
    rate_date: date
    per_10k_e4: int
    published_at_us: int
    published_by: str


@dataclass(frozen=True, slots=True)
class FundSummary:
    """What the fund page shows a user."""

    confirmed_fen: int
    pending_fen: int  # waiting for confirmation
    redeeming_fen: int  # NORMAL transfers out on their way to the balance
    income_total_fen: int
    yesterday: date
    income_yesterday_fen: int
    # The 7-day annualised yield (percent, four decimals) and yesterday's income per 10,000.
    yield_7d_percent: Decimal
    per_10k_e4: int
    fast_quota_fen: int
    fast_left_fen: int
    pending: list[FundOrder] = field(default_factory=list)  # IN and OUT_NORMAL still pending

    @property
    def total_fen(self) -> int:
        """The fund's worth to the user: confirmed shares plus what waits for confirmation."""
        return self.confirmed_fen + self.pending_fen

    @property
    def per_10k(self) -> str:
        return format_per_10k(self.per_10k_e4)


@dataclass(frozen=True, slots=True)
class FundPolicy:
    calendar: TradingCalendar = field(default_factory=TradingCalendar)
    fast_redeem_daily_fen: int = 10_000_00
    per_10k_default_e4: int = PER_10K_E4_DEFAULT
    settle_batch_size: int = 100


class FundStore(Protocol):
    def holding(self, tx: Tx, user_id: int, *, for_update: bool = False) -> Holding | None: ...

    def insert_holding(self, tx: Tx, user_id: int, account_id: int, now_us: int) -> None:
        """Create the row unless it exists (a concurrent first transfer in made it)."""
        ...

    def update_holding(self, tx: Tx, user_id: int, values: dict[str, Any]) -> None: ...

    def insert_order(self, tx: Tx, order: FundOrder) -> int: ...

    def order(self, tx: Tx, order_id: int) -> FundOrder | None: ...

    def orders_of(
        self, tx: Tx, user_id: int, limit: int, before_id: int | None
    ) -> list[FundOrder]: ...

    def pending_orders(self, tx: Tx, user_id: int, limit: int) -> list[FundOrder]: ...

    def due_orders(self, tx: Tx, user_id: int, day: date, limit: int) -> list[FundOrder]:
        """Pending IN and OUT_NORMAL orders of the user whose settle date is `day` or before."""
        ...

    def finish_order(
        self, tx: Tx, order_id: int, from_status: str, to_status: str, now_us: int
    ) -> bool:
        """Compare-and-set on the status; False if the order was not in `from_status`."""
        ...

    def redeemed_since(self, tx: Tx, user_id: int, since_us: int) -> int:
        """Fen the user transferred out (either speed) at or after `since_us`."""
        ...

    def insert_income(self, tx: Tx, income: FundIncome) -> bool:
        """Insert unless the (user, day) income exists; True if inserted."""
        ...

    def income(self, tx: Tx, user_id: int, day: date) -> FundIncome | None: ...

    def incomes_of(
        self, tx: Tx, user_id: int, limit: int, before: date | None
    ) -> list[FundIncome]: ...

    def rates_between(self, tx: Tx, first: date, last: date) -> dict[date, int]: ...

    def upsert_rate(self, tx: Tx, rate: FundRate) -> None: ...

    def rates(self, tx: Tx, limit: int) -> list[FundRate]: ...

    def totals(self, tx: Tx) -> dict[str, int]:
        """holders, confirmed_fen, pending_fen, redeeming_fen, income_total_fen."""
        ...
