"""SQL for Huabei bill installments: plans and their periods. Core, one statement per call except
where a plan's few periods (at most 36) are written with it.

Every write happens under the user's credit line lock (services/credit_installments.py,
services/checkout_installments.py), and the unique bill id (or trade number) of a plan makes a
second conversion of one bill (or payment of one trade) insert nothing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.credit_installments import (
    credit_installment_periods,
    credit_installment_plans,
)
from paybao.domain.credit_installments import (
    PERIOD_COUNT_MAX,
    Period,
    PeriodStatus,
    Plan,
    PlanStatus,
)

_PLANS = credit_installment_plans
_PERIODS = credit_installment_periods


class SqlInstallmentStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    def insert_plan(self, tx: Connection, plan: Plan) -> int | None:
        """Insert unless the bill (or the trade) has a plan; the new id, or None."""
        values = {
            "user_id": plan.user_id,
            "bill_id": plan.bill_id,
            "principal_fen": plan.principal_fen,
            "fee_fen": plan.fee_fen,
            "periods_count": plan.count,
            "fee_rate_bp": plan.fee_rate_bp,
            "status": plan.status.value,
            "created_at_us": plan.created_at_us,
            "ended_at_us": plan.ended_at_us,
            "trade_no": plan.trade_no,
            "seller_fee_fen": plan.seller_fee_fen,
        }
        statement = self._insert(_PLANS).values(**values).on_conflict_do_nothing()
        found = tx.execute(statement.returning(_PLANS.c.id)).scalar()
        if found is None:
            return None
        plan_id = int(found)
        rows = [_period_values(plan_id, plan.user_id, period) for period in plan.periods]
        tx.execute(insert(_PERIODS), rows)
        return plan_id

    def plan(self, tx: Connection, plan_id: int) -> Plan | None:
        found = self._plans(tx, select(_PLANS).where(_PLANS.c.id == plan_id))
        return found[0] if found else None

    def plan_of_bill(self, tx: Connection, bill_id: int) -> Plan | None:
        found = self._plans(tx, select(_PLANS).where(_PLANS.c.bill_id == bill_id))
        return found[0] if found else None

    def plan_of_trade(self, tx: Connection, trade_no: str) -> Plan | None:
        found = self._plans(tx, select(_PLANS).where(_PLANS.c.trade_no == trade_no))
        return found[0] if found else None

    def plans(self, tx: Connection, user_id: int, limit: int) -> list[Plan]:
        query = (
            select(_PLANS)
            .where(_PLANS.c.user_id == user_id)
            .order_by(_PLANS.c.id.desc())
            .limit(limit)
        )
        return self._plans(tx, query)

    def due_plans(self, tx: Connection, user_id: int, period: str, limit: int) -> list[Plan]:
        """The user's active plans with a period scheduled in `period` or before."""
        due = (
            select(_PERIODS.c.plan_id)
            .where(
                _PERIODS.c.user_id == user_id,
                _PERIODS.c.status == PeriodStatus.SCHEDULED.value,
                _PERIODS.c.period <= period,
            )
            .distinct()
        )
        query = (
            select(_PLANS)
            .where(_PLANS.c.id.in_(due), _PLANS.c.status == PlanStatus.ACTIVE.value)
            .order_by(_PLANS.c.id)
            .limit(limit)
        )
        return self._plans(tx, query)

    def save_plan(self, tx: Connection, before: Plan, after: Plan, now_us: int) -> None:
        """Write what changed from `before` to `after`: the plan's status and refund figures,
        and its periods' status, bill and (after a refund) amounts."""
        assert before.id == after.id and before.count == after.count
        if _plan_changes(before) != _plan_changes(after):
            statement = (
                update(_PLANS)
                .where(
                    _PLANS.c.id == after.id,
                    _PLANS.c.status == before.status.value,
                    _PLANS.c.refunded_fen == before.refunded_fen,
                )
                .values(**_plan_changes(after))
            )
            assert tx.execute(statement).rowcount == 1
        for old, new in zip(before.periods, after.periods, strict=True):
            if old == new:
                continue
            billed_at_us = now_us if new.status is PeriodStatus.BILLED else None
            statement = (
                update(_PERIODS)
                .where(
                    _PERIODS.c.plan_id == after.id,
                    _PERIODS.c.number == new.number,
                    _PERIODS.c.status == old.status.value,
                )
                .values(
                    status=new.status.value,
                    bill_id=new.bill_id,
                    billed_at_us=billed_at_us,
                    principal_fen=new.principal_fen,
                    fee_fen=new.fee_fen,
                )
            )
            assert tx.execute(statement).rowcount == 1

    def _plans(self, tx: Connection, query: Any) -> list[Plan]:
        rows = list(tx.execute(query).mappings())
        if not rows:
            return []
        ids = [int(row["id"]) for row in rows]
        periods_query = (
            select(_PERIODS)
            .where(_PERIODS.c.plan_id.in_(ids))
            .order_by(_PERIODS.c.plan_id, _PERIODS.c.number)
            .limit(len(ids) * PERIOD_COUNT_MAX)
        )
        periods: dict[int, list[Period]] = defaultdict(list)
        for row in tx.execute(periods_query).mappings():
            periods[int(row["plan_id"])].append(_period(row))
        return [_plan(row, periods[int(row["id"])]) for row in rows]


def _plan_changes(plan: Plan) -> dict[str, Any]:
    """The columns of a plan that change after it is made."""
    return {
        "status": plan.status.value,
        "ended_at_us": plan.ended_at_us,
        "refunded_fen": plan.refunded_fen,
        "cancelled_fen": plan.cancelled_fen,
        "cancelled_fee_fen": plan.cancelled_fee_fen,
        "seller_fee_refunded_fen": plan.seller_fee_refunded_fen,
    }


def _period_values(plan_id: int, user_id: int, period: Period) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "number": period.number,
        "user_id": user_id,
        "period": period.period,
        "principal_fen": period.principal_fen,
        "fee_fen": period.fee_fen,
        "status": period.status.value,
        "bill_id": period.bill_id,
    }


def _period(row: Any) -> Period:
    return Period(
        number=int(row["number"]),
        period=str(row["period"]),
        principal_fen=int(row["principal_fen"]),
        fee_fen=int(row["fee_fen"]),
        status=PeriodStatus(row["status"]),
        bill_id=None if row["bill_id"] is None else int(row["bill_id"]),
    )


def _plan(row: Any, periods: list[Period]) -> Plan:
    return Plan(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        bill_id=None if row["bill_id"] is None else int(row["bill_id"]),
        principal_fen=int(row["principal_fen"]),
        fee_fen=int(row["fee_fen"]),
        count=int(row["periods_count"]),
        fee_rate_bp=int(row["fee_rate_bp"]),
        status=PlanStatus(row["status"]),
        created_at_us=int(row["created_at_us"]),
        periods=tuple(periods),
        ended_at_us=None if row["ended_at_us"] is None else int(row["ended_at_us"]),
        trade_no=row["trade_no"],
        seller_fee_fen=int(row["seller_fee_fen"]),
        seller_fee_refunded_fen=int(row["seller_fee_refunded_fen"]),
        refunded_fen=int(row["refunded_fen"]),
        cancelled_fen=int(row["cancelled_fen"]),
        cancelled_fee_fen=int(row["cancelled_fee_fen"]),
    )
