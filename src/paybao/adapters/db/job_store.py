"""SQL for the jobs table. PostgreSQL claims with SKIP LOCKED so several workers cooperate.

The worker's statements (claim, finish, retry) go to the driver's cursor as SQL text built
once, and work in a SQLAlchemy transaction or a `DriverTx` alike: building and compiling a
Core statement cost more CPU than PostgreSQL spends running it. Finishing and re-scheduling
take many jobs per statement (the runner writes a group of deliveries at once).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.database import driver_rows
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


_JOB_COLUMNS = "id, kind, key, payload, due_at_us, attempts"


class _JobSql:
    """The worker's statements in the dialect's named-parameter style."""

    def __init__(self, dialect: str) -> None:
        postgres = dialect == "postgresql"

        def mark(name: str) -> str:
            return f"%({name})s" if postgres else f":{name}"

        # One statement: choose the oldest due, unleased jobs and lease them. PostgreSQL skips
        # rows another worker holds locked, and re-checks each row it locks against its latest
        # version, so two workers never lease the same job; SQLite has one writer at a time.
        self.claim = (
            f"UPDATE jobs SET locked_until_us = {mark('lease')} WHERE id IN ("
            f"SELECT id FROM jobs WHERE status = 'pending' AND due_at_us <= {mark('now')}"
            f" AND (locked_until_us IS NULL OR locked_until_us < {mark('now')})"
            f" ORDER BY due_at_us, id LIMIT {mark('limit')}"
            + (" FOR UPDATE SKIP LOCKED" if postgres else "")
            + f") RETURNING {_JOB_COLUMNS}"
        )
        done = (
            f"UPDATE jobs SET status = 'done', done_at_us = {mark('now')}, locked_until_us = NULL"
        )
        retry = (
            f"UPDATE jobs SET status = {mark('status')}, attempts = jobs.attempts + 1,"
            f" last_error = {mark('error')}, locked_until_us = NULL"
        )
        if postgres:  # arrays: one statement for the whole group, whatever its size
            self.finish = f"{done} WHERE id = ANY(%(ids)s::bigint[]) AND status = 'pending'"
            self.retry = (
                f"{retry}, due_at_us = v.due FROM unnest(%(ids)s::bigint[], %(dues)s::bigint[])"
                " AS v(id, due) WHERE jobs.id = v.id"
            )
        else:  # executemany: one call into sqlite3, no round trips to save
            self.finish = f"{done} WHERE id = :id AND status = 'pending'"
            self.retry = f"{retry}, due_at_us = :due WHERE id = :id"


class SqlJobStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._sql = _JobSql(dialect)
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

    def claim_due(self, tx: Any, now_us: int, limit: int, lease_until_us: int) -> list[Job]:
        """One statement: lease the oldest due jobs and return them (any transaction: a
        SQLAlchemy Connection or a DriverTx, as both have `.connection`)."""
        params = {"now": now_us, "limit": limit, "lease": lease_until_us}
        rows = driver_rows(tx, self._sql.claim, params)
        # RETURNING keeps no order: oldest first, as the subquery chose them.
        rows.sort(key=lambda row: (row[4], row[0]))
        return [
            Job(
                id=row[0],
                kind=row[1],
                key=row[2],
                payload=json.loads(row[3]),
                due_at_us=row[4],
                attempts=row[5],
            )
            for row in rows
        ]

    def finish(self, tx: Any, job_id: int, now_us: int) -> None:
        # Another worker finished it first after our lease ran out: roll this run back.
        if self.finish_many(tx, [job_id], now_us) != 1:
            raise RuntimeError(f"job {job_id} was finished elsewhere")

    def finish_many(self, tx: Any, job_ids: Sequence[int], now_us: int) -> int:
        """Mark pending jobs done; how many were still pending (the others were finished
        elsewhere after our lease ran out)."""
        if not job_ids:
            return 0
        cursor = tx.connection.cursor()
        try:
            if self.dialect == "postgresql":
                cursor.execute(self._sql.finish, {"now": now_us, "ids": list(job_ids)})
            else:
                cursor.executemany(self._sql.finish, [{"now": now_us, "id": i} for i in job_ids])
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def retry_later(self, tx: Any, job_id: int, error: str, due_at_us: int, dead: bool) -> None:
        self.retry_many(tx, [(job_id, due_at_us)], error, dead=dead)

    def retry_many(
        self, tx: Any, retries: Sequence[tuple[int, int]], error: str, *, dead: bool = False
    ) -> None:
        """Each (job id, due time): another try then (or none: `dead`), one attempt more."""
        if not retries:
            return
        status = "dead" if dead else "pending"
        cursor = tx.connection.cursor()
        try:
            if self.dialect == "postgresql":
                ids, dues = [job_id for job_id, _ in retries], [due for _, due in retries]
                params = {"status": status, "error": error, "ids": ids, "dues": dues}
                cursor.execute(self._sql.retry, params)
            else:
                rows = [
                    {"status": status, "error": error, "id": job_id, "due": due}
                    for job_id, due in retries
                ]
                cursor.executemany(self._sql.retry, rows)
        finally:
            cursor.close()

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
