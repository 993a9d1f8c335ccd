"""SQL for the jobs table. PostgreSQL claims with SKIP LOCKED so several workers cooperate."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.platform import jobs
from paybao.services.jobs import Job, JobRow

_SCHEDULED = ("kind", "key", "payload", "due_at_us", "status", "attempts", "created_at_us")
# Built once (a finished top-up, withdrawal or transfer cancels its follow-up job; building it
# afresh cost about 0.1 ms of CPU); its parameters' names are no column's, as SQLAlchemy keeps
# those for an UPDATE's SET clause.
_CANCEL = (
    update(jobs)
    .where(
        jobs.c.kind == bindparam("job_kind"),
        jobs.c.key == bindparam("job_key"),
        jobs.c.status == "pending",
    )
    .values(status="cancelled")
)


class SqlJobStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        maker = pg_insert if dialect == "postgresql" else sqlite_insert
        # Built once (each payment schedules jobs): RETURNING, not rowcount, because drivers
        # disagree on rowcount for ON CONFLICT DO NOTHING.
        self._schedule = (
            maker(jobs)
            .values({column: bindparam(column) for column in _SCHEDULED})
            .on_conflict_do_nothing(index_elements=["kind", "key"])
            .returning(jobs.c.id)
        )

    def schedule(
        self, tx: Connection, kind: str, key: str, due_at_us: int, payload: str, now_us: int
    ) -> bool:
        values = {
            "kind": kind,
            "key": key,
            "payload": payload,
            "due_at_us": due_at_us,
            "status": "pending",
            "attempts": 0,
            "created_at_us": now_us,
        }
        return tx.execute(self._schedule, values).scalar() is not None

    def claim_due(self, tx: Connection, now_us: int, limit: int, lease_until_us: int) -> list[Job]:
        claimable = and_(
            jobs.c.status == "pending",
            jobs.c.due_at_us <= now_us,
            or_(jobs.c.locked_until_us.is_(None), jobs.c.locked_until_us < now_us),
        )
        query = select(jobs).where(claimable).order_by(jobs.c.due_at_us, jobs.c.id).limit(limit)
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = tx.execute(query).mappings().all()
        if rows:
            tx.execute(
                update(jobs)
                .where(jobs.c.id.in_([row["id"] for row in rows]))
                .values(locked_until_us=lease_until_us)
            )
        return [
            Job(
                id=row["id"],
                kind=row["kind"],
                key=row["key"],
                payload=json.loads(row["payload"]),
                due_at_us=row["due_at_us"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def finish(self, tx: Connection, job_id: int, now_us: int) -> None:
        result = tx.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "pending")
            .values(status="done", done_at_us=now_us, locked_until_us=None)
        )
        # Another worker finished it first after our lease ran out: roll this run back.
        if result.rowcount != 1:
            raise RuntimeError(f"job {job_id} was finished elsewhere")

    def retry_later(
        self, tx: Connection, job_id: int, error: str, due_at_us: int, dead: bool
    ) -> None:
        tx.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(
                status="dead" if dead else "pending",
                attempts=jobs.c.attempts + 1,
                last_error=error,
                due_at_us=due_at_us,
                locked_until_us=None,
            )
        )

    def next_due_at_us(self, tx: Connection) -> int | None:
        value = tx.execute(
            select(func.min(jobs.c.due_at_us)).where(jobs.c.status == "pending")
        ).scalar()
        return int(value) if value is not None else None

    def reschedule(self, tx: Connection, kind: str, key: str, due_at_us: int) -> bool:
        result = tx.execute(
            update(jobs)
            .where(jobs.c.kind == kind, jobs.c.key == key, jobs.c.status == "pending")
            .values(due_at_us=due_at_us)
        )
        return result.rowcount == 1

    def rearm(self, tx: Connection, kind: str, key: str, due_at_us: int) -> bool:
        """Run a pending or dead job at `due_at_us`, with a fresh allowance of attempts (its
        last error is kept until the next run replaces it)."""
        result = tx.execute(
            update(jobs)
            .where(jobs.c.kind == kind, jobs.c.key == key, jobs.c.status.in_(("pending", "dead")))
            .values(status="pending", attempts=0, due_at_us=due_at_us)
        )
        return result.rowcount == 1

    def cancel(self, tx: Connection, kind: str, key: str) -> bool:
        result = tx.execute(_CANCEL, {"job_kind": kind, "job_key": key})
        return result.rowcount == 1

    # For operators: dead jobs, and running one again -----------------------------------------

    def job(self, tx: Connection, job_id: int) -> JobRow | None:
        row = tx.execute(select(*_ROW_COLUMNS).where(jobs.c.id == job_id)).first()
        return _job_row(row) if row is not None else None

    def dead_page(
        self, tx: Connection, kind: str | None, before_id: int | None, limit: int
    ) -> list[JobRow]:
        """Newest first (by id); `before_id` is the last id of the page before."""
        query = select(*_ROW_COLUMNS).where(jobs.c.status == "dead")
        if kind:
            query = query.where(jobs.c.kind == kind)
        if before_id is not None:
            query = query.where(jobs.c.id < before_id)
        rows = tx.execute(query.order_by(jobs.c.id.desc()).limit(limit))
        return [_job_row(row) for row in rows]

    def dead_kinds(self, tx: Connection, limit: int) -> list[tuple[str, int]]:
        """The kinds that have dead jobs, with how many each, by kind."""
        query = (
            select(jobs.c.kind, func.count())
            .where(jobs.c.status == "dead")
            .group_by(jobs.c.kind)
            .order_by(jobs.c.kind)
            .limit(limit)
        )
        return [(str(kind), int(count)) for kind, count in tx.execute(query)]

    def revive(self, tx: Connection, job_id: int, due_at_us: int) -> bool:
        """A dead job (only) runs again at `due_at_us` with a fresh allowance of attempts. One
        conditional UPDATE: of two operators retrying at once, one revives it."""
        result = tx.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "dead")
            .values(status="pending", attempts=0, due_at_us=due_at_us, locked_until_us=None)
        )
        return result.rowcount == 1


_ROW_COLUMNS = (
    jobs.c.id,
    jobs.c.kind,
    jobs.c.key,
    jobs.c.status,
    jobs.c.attempts,
    jobs.c.last_error,
    jobs.c.due_at_us,
    jobs.c.created_at_us,
)


def _job_row(row: Any) -> JobRow:
    return JobRow(
        id=int(row.id),
        kind=str(row.kind),
        key=str(row.key),
        status=str(row.status),
        attempts=int(row.attempts),
        last_error=row.last_error,
        due_at_us=int(row.due_at_us),
        created_at_us=int(row.created_at_us),
    )


__all__ = ["SqlJobStore"]
