"""SQL for Yu'e Bao (services/fund.py, services/fund_days.py). Core, one statement per call.

The holding row is read `FOR UPDATE` on PostgreSQL when a service changes it (SQLite serialises
writers anyway): it is the lock that orders a user's fund operations and the daily pass.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.fund import (
    fund_days,
    fund_holdings,
    fund_incomes,
    fund_orders,
    fund_rates,
)
from paybao.domain.fund import OrderKind, OrderStatus
from paybao.services.fund_days import DayState
from paybao.services.fund_records import FundIncome, FundOrder, FundRate, Holding

_OUT_KINDS = (str(OrderKind.OUT_FAST), str(OrderKind.OUT_NORMAL))
_SETTLED_KINDS = (str(OrderKind.IN), str(OrderKind.OUT_NORMAL))


class SqlFundStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Holdings ---------------------------------------------------------------------------------

    def holding(self, tx: Connection, user_id: int, *, for_update: bool = False) -> Holding | None:
        query = select(fund_holdings).where(fund_holdings.c.user_id == user_id)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return Holding(**row) if row is not None else None

    def insert_holding(self, tx: Connection, user_id: int, account_id: int, now_us: int) -> None:
        statement = self._insert(fund_holdings).values(
            user_id=user_id, account_id=account_id, created_at_us=now_us, updated_at_us=now_us
        )
        tx.execute(statement.on_conflict_do_nothing(index_elements=["user_id"]))

    def update_holding(self, tx: Connection, user_id: int, values: dict[str, Any]) -> None:
        result = tx.execute(
            update(fund_holdings).where(fund_holdings.c.user_id == user_id).values(**values)
        )
        assert result.rowcount == 1, f"no fund holding of user {user_id}"

    def holders_to_settle(
        self, tx: Connection, after_user_id: int, active_since_us: int, limit: int
    ) -> list[int]:
        h = fund_holdings
        active = or_(
            h.c.confirmed_fen > 0,
            h.c.pending_fen > 0,
            h.c.redeeming_fen > 0,
            h.c.updated_at_us >= active_since_us,
        )
        query = (
            select(h.c.user_id)
            .where(h.c.user_id > after_user_id, active)
            .order_by(h.c.user_id)
            .limit(limit)
        )
        return [int(user_id) for user_id in tx.execute(query).scalars()]

    def totals(self, tx: Connection) -> dict[str, int]:
        h = fund_holdings
        row = tx.execute(
            select(
                func.count().filter(or_(h.c.confirmed_fen > 0, h.c.pending_fen > 0)),
                func.coalesce(func.sum(h.c.confirmed_fen), 0),
                func.coalesce(func.sum(h.c.pending_fen), 0),
                func.coalesce(func.sum(h.c.redeeming_fen), 0),
                func.coalesce(func.sum(h.c.income_total_fen), 0),
            )
        ).one()
        names = ("holders", "confirmed_fen", "pending_fen", "redeeming_fen", "income_total_fen")
        return {name: int(value) for name, value in zip(names, row, strict=True)}

    # Orders -----------------------------------------------------------------------------------

    def insert_order(self, tx: Connection, order: FundOrder) -> int:
        values = {
            "user_id": order.user_id,
            "kind": str(order.kind),
            "status": str(order.status),
            "amount_fen": order.amount_fen,
            "trade_date": order.trade_date,
            "settle_date": order.settle_date,
            "created_at_us": order.created_at_us,
            "finished_at_us": order.finished_at_us,
        }
        statement = insert(fund_orders).values(**values).returning(fund_orders.c.id)
        return int(tx.execute(statement).scalar_one())

    def order(self, tx: Connection, order_id: int) -> FundOrder | None:
        query = select(fund_orders).where(fund_orders.c.id == order_id)
        row = tx.execute(query).mappings().first()
        return _order(row) if row is not None else None

    def orders_of(
        self, tx: Connection, user_id: int, limit: int, before_id: int | None
    ) -> list[FundOrder]:
        query = select(fund_orders).where(fund_orders.c.user_id == user_id)
        if before_id is not None:
            query = query.where(fund_orders.c.id < before_id)
        query = query.order_by(fund_orders.c.id.desc()).limit(limit)
        return [_order(row) for row in tx.execute(query).mappings()]

    def pending_orders(self, tx: Connection, user_id: int, limit: int) -> list[FundOrder]:
        query = (
            select(fund_orders)
            .where(
                fund_orders.c.user_id == user_id,
                fund_orders.c.status == str(OrderStatus.PENDING),
            )
            .order_by(fund_orders.c.id)
            .limit(limit)
        )
        return [_order(row) for row in tx.execute(query).mappings()]

    def due_orders(self, tx: Connection, user_id: int, day: date, limit: int) -> list[FundOrder]:
        o = fund_orders
        query = (
            select(o)
            .where(
                o.c.user_id == user_id,
                o.c.status == str(OrderStatus.PENDING),
                o.c.kind.in_(_SETTLED_KINDS),
                o.c.settle_date <= day,
            )
            .order_by(o.c.id)
            .limit(limit)
        )
        return [_order(row) for row in tx.execute(query).mappings()]

    def finish_order(
        self, tx: Connection, order_id: int, from_status: str, to_status: str, now_us: int
    ) -> bool:
        result = tx.execute(
            update(fund_orders)
            .where(fund_orders.c.id == order_id, fund_orders.c.status == str(from_status))
            .values(status=str(to_status), finished_at_us=now_us)
        )
        return bool(result.rowcount == 1)

    def redeemed_since(self, tx: Connection, user_id: int, since_us: int) -> int:
        o = fund_orders
        query = select(func.coalesce(func.sum(o.c.amount_fen), 0)).where(
            o.c.user_id == user_id, o.c.kind.in_(_OUT_KINDS), o.c.created_at_us >= since_us
        )
        return int(tx.execute(query).scalar_one())

    # Income -----------------------------------------------------------------------------------

    def insert_income(self, tx: Connection, income: FundIncome) -> bool:
        values = {
            "user_id": income.user_id,
            "income_date": income.income_date,
            "base_fen": income.base_fen,
            "per_10k_e4": income.per_10k_e4,
            "income_fen": income.income_fen,
            "created_at_us": income.created_at_us,
        }
        statement = self._insert(fund_incomes).values(**values).on_conflict_do_nothing()
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
        returned = tx.execute(statement.returning(fund_incomes.c.user_id)).scalar()
        return returned is not None

    def income(self, tx: Connection, user_id: int, day: date) -> FundIncome | None:
        query = select(fund_incomes).where(
            fund_incomes.c.user_id == user_id, fund_incomes.c.income_date == day
        )
        row = tx.execute(query).mappings().first()
        return FundIncome(**row) if row is not None else None

    def incomes_of(
        self, tx: Connection, user_id: int, limit: int, before: date | None
    ) -> list[FundIncome]:
        query = select(fund_incomes).where(fund_incomes.c.user_id == user_id)
        if before is not None:
            query = query.where(fund_incomes.c.income_date < before)
        query = query.order_by(fund_incomes.c.income_date.desc()).limit(limit)
        return [FundIncome(**row) for row in tx.execute(query).mappings()]

    # Published figures ------------------------------------------------------------------------

    def rates_between(self, tx: Connection, first: date, last: date) -> dict[date, int]:
        r = fund_rates
        query = select(r.c.rate_date, r.c.per_10k_e4).where(
            and_(r.c.rate_date >= first, r.c.rate_date <= last)
        )
        return {row.rate_date: int(row.per_10k_e4) for row in tx.execute(query)}

    def upsert_rate(self, tx: Connection, rate: FundRate) -> None:
        values = {
            "rate_date": rate.rate_date,
            "per_10k_e4": rate.per_10k_e4,
            "published_at_us": rate.published_at_us,
            "published_by": rate.published_by,
        }
        statement = self._insert(fund_rates).values(**values)
        changed = {name: value for name, value in values.items() if name != "rate_date"}
        tx.execute(statement.on_conflict_do_update(index_elements=["rate_date"], set_=changed))

    def rates(self, tx: Connection, limit: int) -> list[FundRate]:
        query = select(fund_rates).order_by(fund_rates.c.rate_date.desc()).limit(limit)
        return [FundRate(**row) for row in tx.execute(query).mappings()]

    # The daily pass ---------------------------------------------------------------------------

    def day_state(self, tx: Connection, *, for_update: bool = False) -> DayState | None:
        query = select(fund_days).order_by(fund_days.c.day.desc()).limit(1)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return DayState(**row) if row is not None else None

    def save_day(self, tx: Connection, state: DayState) -> None:
        values = {
            "day": state.day,
            "status": state.status,
            "cursor_user_id": state.cursor_user_id,
            "users_settled": state.users_settled,
            "started_at_us": state.started_at_us,
            "finished_at_us": state.finished_at_us,
        }
        changed = {name: value for name, value in values.items() if name != "day"}
        statement = self._insert(fund_days).values(**values)
        tx.execute(statement.on_conflict_do_update(index_elements=["day"], set_=changed))


def _order(row: RowMapping) -> FundOrder:
    values = dict(row)
    values["kind"] = OrderKind(values["kind"])
    values["status"] = OrderStatus(values["status"])
    return FundOrder(**values)
