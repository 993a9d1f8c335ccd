"""SQL for worker heartbeats."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from paybao.adapters.db.tables.operations import worker_heartbeats
from paybao.services.heartbeats import WorkerBeat


class SqlHeartbeatStore:
    def save(self, tx: Connection, beat: WorkerBeat) -> None:
        values = asdict(beat)
        worker_id = values.pop("worker_id")
        changed = tx.execute(
            update(worker_heartbeats)
            .where(worker_heartbeats.c.worker_id == worker_id)
            .values(**values)
        ).rowcount
        if not changed:
            # Only this worker writes its row; a unique race (a pid reused on the same host
            # while the old row lingers) is retried by `Database.run` and then updates.
            tx.execute(insert(worker_heartbeats).values(worker_id=worker_id, **values))

    def prune(self, tx: Connection, before_us: int) -> int:
        result = tx.execute(
            delete(worker_heartbeats).where(worker_heartbeats.c.beat_at_us < before_us)
        )
        return int(result.rowcount or 0)

    def seen_since(
        self, tx: Connection, since_us: int, limit: int, *, running_only: bool = False
    ) -> list[WorkerBeat]:
        query = (
            select(worker_heartbeats)
            .where(worker_heartbeats.c.beat_at_us >= since_us)
            .order_by(worker_heartbeats.c.beat_at_us.desc(), worker_heartbeats.c.worker_id)
            .limit(limit)
        )
        if running_only:
            query = query.where(worker_heartbeats.c.stopped_at_us.is_(None))
        return [_beat(row) for row in tx.execute(query)]


def _beat(row: Any) -> WorkerBeat:
    def optional(value: Any) -> int | None:
        return None if value is None else int(value)

    return WorkerBeat(
        worker_id=str(row.worker_id),
        started_at_us=int(row.started_at_us),
        beat_at_us=int(row.beat_at_us),
        passes=int(row.passes),
        jobs_run=int(row.jobs_run),
        swept=int(row.swept),
        errors=int(row.errors),
        last_error=row.last_error,
        last_work_at_us=optional(row.last_work_at_us),
        stopped_at_us=optional(row.stopped_at_us),
    )
