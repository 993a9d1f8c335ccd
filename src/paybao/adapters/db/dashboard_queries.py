"""Reads for the operators' dashboard (services/dashboard.py): sums per Beijing day of a window.

Every read is bounded by the window on an indexed time column: trades by (status, paid_at_us),
risk decisions by created_at_us, the others by the indexes of migrations 0042 and 0044. A row's
day is its index in the window, `(at_us - start_us) // US_PER_DAY` (Beijing has no daylight
saving). The window bounds are written into the SQL as integer literals, not bound parameters,
so that the same day expression in SELECT and GROUP BY is textually the same on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    literal_column,
    select,
    union,
)

from paybao.adapters.db.tables.billpay import billers, billpay_payments
from paybao.adapters.db.tables.escrow import escrow_trades
from paybao.adapters.db.tables.parking import parking_orders
from paybao.adapters.db.tables.preauth import preauth_operations
from paybao.adapters.db.tables.red_packets import red_packets
from paybao.adapters.db.tables.risk import risk_decisions
from paybao.adapters.db.tables.trade import trade_refunds, trades
from paybao.adapters.db.tables.transit import transit_operators
from paybao.adapters.db.tables.wallet import topups, wallet_transfers, withdrawals
from paybao.domain.billpay import PaymentStatus
from paybao.domain.dashboard import US_PER_DAY
from paybao.services.dashboard import DashboardRows, DayRow

# A trade counts as paid when it was paid: refunded ones included (a full refund closes it).
PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED", "TRADE_CLOSED")
# Escrow disputes an operator ruled with money back to the buyer (domain/escrow.py EscrowEvent).
RULED_FOR_BUYER = ("rule_refund_all", "rule_refund_part")
# Money flows that were not undone: a failed top-up, a cancelled transfer or withdrawal is none.
FLOW_STATUSES = {
    "topups": ("succeeded",),
    "transfers": ("succeeded", "pending"),
    "withdrawals": ("held", "sent", "succeeded"),
}
_FLOW_TABLES = {"topups": topups, "transfers": wallet_transfers, "withdrawals": withdrawals}
# A bill or mobile top-up counts once its biller confirmed it (not while its money is held).
BILLPAY_PAID = PaymentStatus.PAID.value


def _int(value: int) -> ColumnElement[Any]:
    return literal_column(str(int(value)), BigInteger)


class _Window:
    def __init__(self, start_us: int, end_us: int) -> None:
        self.start_us = start_us
        self.end_us = end_us

    def _day(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return ((column - _int(self.start_us)) // _int(US_PER_DAY)).label("day")

    def _within(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        return and_(column >= _int(self.start_us), column < _int(self.end_us))

    def _paid_trades(self) -> ColumnElement[bool]:
        return and_(trades.c.status.in_(PAID_STATUSES), self._within(trades.c.paid_at_us))

    def _paid_escrow(self) -> ColumnElement[bool]:
        return self._within(escrow_trades.c.paid_at_us)

    def _paid_bills(self) -> ColumnElement[bool]:
        b = billpay_payments
        return and_(b.c.status == BILLPAY_PAID, self._within(b.c.finished_at_us))

    def billpay_payments(self, tx: Connection) -> list[DayRow]:
        """(day, count, amount fen) of bills and mobile top-ups their billers confirmed."""
        b = billpay_payments
        day = self._day(b.c.finished_at_us)
        query = (
            select(day, func.count(), func.sum(b.c.amount_fen))
            .where(self._paid_bills())
            .group_by(day)
        )
        return [(int(d), int(n), int(fen)) for d, n, fen in tx.execute(query).all()]

    def trade_payments(
        self, tx: Connection
    ) -> list[tuple[int, str, bool, bool, bool, int, int, int]]:
        """(day, product, transit, parking, preauth, count, total fen, platform discount fen)."""
        day = self._day(trades.c.paid_at_us)
        transit = (transit_operators.c.app_id.is_not(None)).label("transit")
        parking = (parking_orders.c.id.is_not(None)).label("parking")
        preauth = (preauth_operations.c.id.is_not(None)).label("preauth")
        joined = (
            trades.outerjoin(transit_operators, transit_operators.c.app_id == trades.c.app_id)
            .outerjoin(parking_orders, parking_orders.c.trade_no == trades.c.trade_no)
            .outerjoin(
                preauth_operations,
                and_(
                    preauth_operations.c.trade_no == trades.c.trade_no,
                    preauth_operations.c.kind == "PAY",
                ),
            )
        )
        query = (
            select(
                day,
                trades.c.product,
                transit,
                parking,
                preauth,
                func.count(),
                func.sum(trades.c.total_fen),
                func.sum(trades.c.discount_fen),
            )
            .select_from(joined)
            .where(self._paid_trades())
            .group_by(day, trades.c.product, transit, parking, preauth)
        )
        return [
            (int(d), str(p), bool(t), bool(k), bool(a), int(n), int(fen), int(off))
            for d, p, t, k, a, n, fen, off in tx.execute(query).all()
        ]

    def escrow_payments(self, tx: Connection) -> list[tuple[int, int, int, int]]:
        """(day, count, total fen, platform discount fen) of escrow trades paid."""
        day = self._day(escrow_trades.c.paid_at_us)
        query = (
            select(
                day,
                func.count(),
                func.sum(escrow_trades.c.total_fen),
                func.sum(escrow_trades.c.discount_fen),
            )
            .where(self._paid_escrow())
            .group_by(day)
        )
        return [(int(d), int(n), int(fen), int(off)) for d, n, fen, off in tx.execute(query).all()]

    def active_payers(self, tx: Connection) -> tuple[dict[int, int], int]:
        """Distinct buyers who paid, per day and over the window (acquiring, escrow, bills)."""
        bills = billpay_payments
        by_day = union(
            select(self._day(trades.c.paid_at_us), trades.c.buyer_user_id.label("who")).where(
                self._paid_trades()
            ),
            select(
                self._day(escrow_trades.c.paid_at_us), escrow_trades.c.buyer_user_id.label("who")
            ).where(self._paid_escrow()),
            select(self._day(bills.c.finished_at_us), bills.c.user_id.label("who")).where(
                self._paid_bills()
            ),
        ).subquery()
        overall = union(
            select(trades.c.buyer_user_id.label("who")).where(self._paid_trades()),
            select(escrow_trades.c.buyer_user_id.label("who")).where(self._paid_escrow()),
            select(bills.c.user_id.label("who")).where(self._paid_bills()),
        ).subquery()
        return self._distinct(tx, by_day, overall)

    def active_merchants(self, tx: Connection) -> tuple[dict[int, int], int]:
        """Distinct merchants paid, per day and over the window: acquiring trades, merchants'
        escrow orders (a marketplace seller is a wallet user, no merchant), billers' merchants."""
        merchant_escrow = and_(self._paid_escrow(), escrow_trades.c.merchant_id.is_not(None))
        bills = billpay_payments.join(billers, billers.c.id == billpay_payments.c.biller_id)
        by_day = union(
            select(self._day(trades.c.paid_at_us), trades.c.merchant_id.label("who")).where(
                self._paid_trades()
            ),
            select(
                self._day(escrow_trades.c.paid_at_us), escrow_trades.c.merchant_id.label("who")
            ).where(merchant_escrow),
            select(self._day(billpay_payments.c.finished_at_us), billers.c.merchant_id.label("who"))
            .select_from(bills)
            .where(self._paid_bills()),
        ).subquery()
        overall = union(
            select(trades.c.merchant_id.label("who")).where(self._paid_trades()),
            select(escrow_trades.c.merchant_id.label("who")).where(merchant_escrow),
            select(billers.c.merchant_id.label("who")).select_from(bills).where(self._paid_bills()),
        ).subquery()
        return self._distinct(tx, by_day, overall)

    @staticmethod
    def _distinct(tx: Connection, by_day: Any, overall: Any) -> tuple[dict[int, int], int]:
        days = tx.execute(
            select(by_day.c.day, func.count())
            .where(by_day.c.who.is_not(None))
            .group_by(by_day.c.day)
        ).all()
        total = tx.execute(
            select(func.count()).select_from(overall).where(overall.c.who.is_not(None))
        ).scalar_one()
        return {int(d): int(n) for d, n in days}, int(total)

    def refunds(self, tx: Connection) -> list[tuple[int, int, int, int]]:
        """(day, count, amount fen, platform discount reclaimed fen) of trade refunds."""
        day = self._day(trade_refunds.c.created_at_us)
        query = (
            select(
                day,
                func.count(),
                func.sum(trade_refunds.c.amount_fen),
                func.sum(trade_refunds.c.discount_back_fen),
            )
            .where(self._within(trade_refunds.c.created_at_us))
            .group_by(day)
        )
        return [(int(d), int(n), int(fen), int(b)) for d, n, fen, b in tx.execute(query).all()]

    def flows(self, tx: Connection, flow: str) -> list[DayRow]:
        """A wallet flow (topups | transfers | withdrawals) by the day it was asked for."""
        table = _FLOW_TABLES[flow]
        day = self._day(table.c.created_at_us)
        query = (
            select(day, func.count(), func.sum(table.c.amount_fen))
            .where(self._within(table.c.created_at_us), table.c.status.in_(FLOW_STATUSES[flow]))
            .group_by(day)
        )
        return [(int(d), int(n), int(fen)) for d, n, fen in tx.execute(query).all()]

    def red_packets_sent(self, tx: Connection) -> list[DayRow]:
        day = self._day(red_packets.c.created_at_us)
        query = (
            select(day, func.count(), func.sum(red_packets.c.total_fen))
            .where(self._within(red_packets.c.created_at_us))
            .group_by(day)
        )
        return [(int(d), int(n), int(fen)) for d, n, fen in tx.execute(query).all()]

    def risk_decisions(self, tx: Connection) -> list[tuple[int, str, str | None, int, int]]:
        """(day, decision, review, count, amount fen): every recorded decision (passes are not
        recorded) with how an operator reviewed it."""
        day = self._day(risk_decisions.c.created_at_us)
        query = (
            select(
                day,
                risk_decisions.c.decision,
                risk_decisions.c.review,
                func.count(),
                func.sum(risk_decisions.c.amount_fen),
            )
            .where(self._within(risk_decisions.c.created_at_us))
            .group_by(day, risk_decisions.c.decision, risk_decisions.c.review)
        )
        return [
            (int(d), str(k), None if r is None else str(r), int(n), int(fen))
            for d, k, r, n, fen in tx.execute(query).all()
        ]

    def escrow_endings(self, tx: Connection) -> list[tuple[int, int, int, int, int, int]]:
        """(day, ended with money back, fen back, disputes ruled for the buyer, fen they gave
        back, platform discount reclaimed fen) of escrow trades that ended that day."""
        day = self._day(escrow_trades.c.ended_at_us)
        back = escrow_trades.c.refund_fen > 0
        ruled = escrow_trades.c.resolution.in_(RULED_FOR_BUYER)
        query = (
            select(
                day,
                func.sum(case((back, 1), else_=0)),
                func.sum(escrow_trades.c.refund_fen),
                func.sum(case((ruled, 1), else_=0)),
                func.sum(case((ruled, escrow_trades.c.refund_fen), else_=0)),
                func.sum(escrow_trades.c.discount_back_fen),
            )
            .where(self._within(escrow_trades.c.ended_at_us))
            .group_by(day)
        )
        return [
            (int(d), int(n), int(fen), int(rn), int(rfen), int(b))
            for d, n, fen, rn, rfen, b in tx.execute(query).all()
        ]


class SqlDashboardQueries:
    def rows(self, tx: Connection, start_us: int, end_us: int) -> DashboardRows:
        window = _Window(start_us, end_us)
        return DashboardRows(
            trade_payments=window.trade_payments(tx),
            escrow_payments=window.escrow_payments(tx),
            payers=window.active_payers(tx),
            merchants=window.active_merchants(tx),
            refunds=window.refunds(tx),
            flows={flow: window.flows(tx, flow) for flow in _FLOW_TABLES},
            red_packets=window.red_packets_sent(tx),
            risk=window.risk_decisions(tx),
            escrow_endings=window.escrow_endings(tx),
            billpay_payments=window.billpay_payments(tx),
        )
