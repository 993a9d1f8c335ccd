"""The operators' dashboard (经营看板): how the platform did over the last N Beijing days.

Per day and in total: payments by scene (domain/dashboard.py), active payers and merchants,
wallet flows, refunds, risk decisions and the fraud-loss rate, and the platform's coupon
subsidy. One read transaction; nothing here writes.

What counts:
- a payment: an acquiring trade by the time it was paid (refunded ones too: a full refund
  closes a paid trade) at its order total, an escrow trade by the time it was paid, and a bill
  payment or mobile top-up (生活缴费) by the time its biller confirmed it;
- refunds: trade refunds by their time, and escrow trades that ended with money back to the
  buyer, by the time they ended; refund rate = refunded fen / paid fen of the window;
- fraud loss: the money escrow disputes gave back to the buyer by an operator's ruling (the
  seller loses it), by the day of the ruling. paybao records no other loss: it keeps no
  chargebacks and no confirmed-fraud mark on a payment, and a held transfer an operator
  returned to its payer is a loss prevented (shown beside it), not one suffered;
- coupon subsidy: the platform-funded discount of payments less what refunds took back to the
  marketing account in the window;
- risk: the decisions risk control recorded (delay, challenge, reject); a pass is not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from paybao.domain.dashboard import DAYS_DEFAULT, SCENES, Scene, Window, rate, scene_of, window_of
from paybao.services.ports import Clock, Database, Tx

RISK_DECISIONS = ("delay", "challenge", "reject")
FLOWS = ("topups", "transfers", "withdrawals")

DayRow = tuple[int, int, int]  # (day index, count, fen)


@dataclass(frozen=True, slots=True)
class DashboardRows:
    """What the queries answer, keyed by the day's index in the window (see the adapter)."""

    # (day, product, transit, parking, preauth, count, total fen, platform discount fen)
    trade_payments: list[tuple[int, str, bool, bool, bool, int, int, int]]
    escrow_payments: list[tuple[int, int, int, int]]  # (day, count, fen, discount fen)
    payers: tuple[dict[int, int], int]  # distinct per day, distinct over the window
    merchants: tuple[dict[int, int], int]
    refunds: list[tuple[int, int, int, int]]  # (day, count, fen, discount back fen)
    flows: dict[str, list[DayRow]]
    red_packets: list[DayRow]
    risk: list[tuple[int, str, str | None, int, int]]  # (day, decision, review, count, fen)
    # (day, refunded count, refunded fen, ruled count, ruled fen, discount back fen)
    escrow_endings: list[tuple[int, int, int, int, int, int]]
    billpay_payments: list[DayRow] = field(default_factory=list)


class DashboardQueries(Protocol):
    def rows(self, tx: Tx, start_us: int, end_us: int) -> DashboardRows: ...


@dataclass(slots=True)
class Sum:
    count: int = 0
    fen: int = 0

    def add(self, count: int, fen: int) -> None:
        self.count += count
        self.fen += fen


@dataclass(slots=True)
class Figures:
    """One day's figures, or the window's (`day` None)."""

    day: date | None
    scenes: dict[Scene, Sum] = field(default_factory=lambda: {s: Sum() for s in SCENES})
    payers: int = 0
    merchants: int = 0
    flows: dict[str, Sum] = field(default_factory=lambda: {f: Sum() for f in FLOWS})
    red_packets: Sum = field(default_factory=Sum)
    refunds: Sum = field(default_factory=Sum)
    risk: dict[str, Sum] = field(default_factory=lambda: {d: Sum() for d in RISK_DECISIONS})
    held_returned: Sum = field(default_factory=Sum)  # delayed transfers an operator returned
    fraud_loss: Sum = field(default_factory=Sum)  # escrow disputes ruled for the buyer
    subsidy_fen: int = 0

    @property
    def payments(self) -> Sum:
        return Sum(
            sum(s.count for s in self.scenes.values()), sum(s.fen for s in self.scenes.values())
        )

    @property
    def refund_rate(self) -> Decimal:
        return rate(self.refunds.fen, self.payments.fen)

    @property
    def fraud_loss_rate(self) -> Decimal:
        return rate(self.fraud_loss.fen, self.payments.fen)


@dataclass(frozen=True, slots=True)
class Dashboard:
    window: Window
    days: list[Figures]  # oldest first, one per day of the window
    total: Figures


class DashboardService:
    def __init__(self, db: Database, queries: DashboardQueries, clock: Clock) -> None:
        self.db = db
        self.queries = queries
        self.clock = clock

    def overview(self, days: int = DAYS_DEFAULT) -> Dashboard:
        window = window_of(self.clock.now_us(), days)
        with self.db.read() as tx:
            rows = self.queries.rows(tx, window.start_us, window.end_us)
        return build(window, rows)


def build(window: Window, rows: DashboardRows) -> Dashboard:
    """The figures of each day and of the window from the queries' rows."""
    days = [Figures(window.day(i)) for i in range(window.days)]
    total = Figures(None)

    def both(index: int) -> tuple[Figures, Figures]:
        return days[index], total

    for d, product, transit, parking, preauth, n, fen, discount_fen in rows.trade_payments:
        scene = scene_of(product, transit=transit, parking=parking, preauth=preauth)
        for f in both(d):
            f.scenes[scene].add(n, fen)
            f.subsidy_fen += discount_fen
    for d, n, fen, discount_fen in rows.escrow_payments:
        for f in both(d):
            f.scenes[Scene.ESCROW].add(n, fen)
            f.subsidy_fen += discount_fen
    for d, n, fen in rows.billpay_payments:
        for f in both(d):
            f.scenes[Scene.BILLPAY].add(n, fen)
    for d, n, fen, back_fen in rows.refunds:
        for f in both(d):
            f.refunds.add(n, fen)
            f.subsidy_fen -= back_fen
    for d, n, fen, ruled_n, ruled_fen, back_fen in rows.escrow_endings:
        for f in both(d):
            f.refunds.add(n, fen)
            f.fraud_loss.add(ruled_n, ruled_fen)
            f.subsidy_fen -= back_fen
    for flow, flow_rows in rows.flows.items():
        for d, n, fen in flow_rows:
            for f in both(d):
                f.flows[flow].add(n, fen)
    for d, n, fen in rows.red_packets:
        for f in both(d):
            f.red_packets.add(n, fen)
    _add_risk(days, total, rows.risk)
    payers_by_day, total.payers = rows.payers
    merchants_by_day, total.merchants = rows.merchants
    for index, figures in enumerate(days):
        figures.payers = payers_by_day.get(index, 0)
        figures.merchants = merchants_by_day.get(index, 0)
    return Dashboard(window=window, days=days, total=total)


def _add_risk(
    days: list[Figures], total: Figures, rows: list[tuple[int, str, str | None, int, int]]
) -> None:
    for d, decision, review, n, fen in rows:
        for f in (days[d], total):
            if decision in f.risk:
                f.risk[decision].add(n, fen)
            if decision == "delay" and review == "cancelled":
                f.held_returned.add(n, fen)
