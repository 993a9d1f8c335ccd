"""Reads for the operators' payout page (services/payout_watch.py): any payout table by status,
newest first, the money in flight per status, and the bank-query job of each payout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, func, select

from paybao.adapters.db.tables import metadata
from paybao.adapters.db.tables.platform import jobs
from paybao.services.payout_watch import QueryJob


def _table(name: str) -> Table:
    return metadata.tables[name]


class SqlPayoutWatchStore:
    def page(
        self,
        tx: Connection,
        table: str,
        statuses: Sequence[str],
        before_id: int | None,
        limit: int,
    ) -> list[Any]:
        target = _table(table)
        query = select(target).where(target.c.status.in_(statuses))
        if before_id is not None:
            query = query.where(target.c.id < before_id)
        return list(tx.execute(query.order_by(target.c.id.desc()).limit(limit)).all())

    def totals(
        self, tx: Connection, table: str, statuses: Sequence[str]
    ) -> dict[str, tuple[int, int]]:
        target = _table(table)
        query = (
            select(
                target.c.status,
                func.count(),
                func.coalesce(func.sum(target.c.amount_fen + target.c.fee_fen), 0),
            )
            .where(target.c.status.in_(statuses))
            .group_by(target.c.status)
        )
        return {str(s): (int(n), int(fen)) for s, n, fen in tx.execute(query).all()}

    def query_jobs(self, tx: Connection, kind: str, keys: Sequence[str]) -> dict[str, QueryJob]:
        if not keys:
            return {}
        query = select(
            jobs.c.key, jobs.c.status, jobs.c.attempts, jobs.c.due_at_us, jobs.c.last_error
        ).where(jobs.c.kind == kind, jobs.c.key.in_(keys))
        return {
            str(key): QueryJob(str(status), int(attempts), int(due_at_us), last_error)
            for key, status, attempts, due_at_us, last_error in tx.execute(query).all()
        }
