"""Operators' view of the jobs that gave up, and running one again.

A job that failed `ATTEMPTS_MAX` times is `dead` (services/jobs.py) and nothing runs it again by
itself: an asynchronous profit-sharing settle whose `royalty_settle` job died stays
`processing`. Operators list the dead jobs (newest first, by kind, paged) with why each last
failed, and retry one once its cause is fixed: it becomes pending, due now, with a fresh
allowance of attempts, and the worker claims it as any other job. Handlers are idempotent (a
job may always run twice), so a retry cannot do twice what the job did once.

Only a dead job is retried: a second retry while the first is still waiting to run changes
nothing and is refused with `job_not_dead`, so a double click runs the job once. Each retry is
audited (`job.retry`, subject `job:<id>`) in the transaction that revives the job; a refused
one is audited alone with the refusal's code as its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybao.domain.errors import Conflict, DomainError, NotFound
from paybao.services.audit import AuditTrail
from paybao.services.jobs import JobRow, JobRunner, JobStore
from paybao.services.ports import Clock, Database, Tx

PAGE_SIZE_MAX = 50
KIND_LENGTH_MAX = 64  # the jobs table's
KINDS_MAX = 100  # kinds of job with dead ones, shown as filters
AUDIT_ACTION = "job.retry"
ERROR_SHOWN_MAX = 200  # characters of the last error in the audit row


class JobNotFound(NotFound):
    code = "job_not_found"


class JobNotDead(Conflict):
    """Only a dead job is retried: a pending one will run anyway (or already waits for a
    retry), a done or cancelled one must not run again."""

    code = "job_not_dead"


@dataclass(frozen=True, slots=True)
class DeadJobPage:
    jobs: list[JobRow]
    next_before_id: int | None  # None on the last page, even a full one


class JobAdmin:
    def __init__(self, db: Database, store: JobStore, clock: Clock, audit: AuditTrail) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.audit = audit

    @classmethod
    def of(cls, runner: JobRunner, audit: AuditTrail) -> JobAdmin:
        """Over the platform's job runner (its database, store and clock)."""
        return cls(runner.db, runner.store, runner.clock, audit)

    def dead_page(
        self, kind: str = "", *, before_id: int | None = None, limit: int = PAGE_SIZE_MAX
    ) -> DeadJobPage:
        """Dead jobs, newest first, of one kind or ("") of every kind."""
        assert 0 < limit <= PAGE_SIZE_MAX
        with self.db.read() as tx:
            rows = self.store.dead_page(tx, kind[:KIND_LENGTH_MAX] or None, before_id, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return DeadJobPage(rows, rows[-1].id if more else None)

    def dead_kinds(self) -> list[tuple[str, int]]:
        """(kind, how many dead) of each kind that has dead jobs, by kind."""
        with self.db.read() as tx:
            return self.store.dead_kinds(tx, KINDS_MAX)

    def retry(self, job_id: int, operator_id: int | None, *, actor: str | None = None) -> JobRow:
        """Run a dead job again now with fresh attempts; the worker claims it. Audited under
        the operator and `actor` (the API token or `cli`). Returns the job, now pending.
        `job_not_found`; `job_not_dead` (pending, done or cancelled: nothing changes)."""

        def work(tx: Tx) -> JobRow:
            dead = self.store.job(tx, job_id)
            if not self.store.revive(tx, job_id, self.clock.now_us()):
                raise _refusal(job_id, self.store.job(tx, job_id))
            assert dead is not None
            detail = f"{dead.kind} {dead.key}, dead after {dead.attempts} attempts"
            if dead.last_error:
                detail += f": {dead.last_error[:ERROR_SHOWN_MAX]}"
            subject = f"job:{job_id}"
            self.audit.record_in(
                tx, AUDIT_ACTION, subject, operator_id=operator_id, actor=actor, detail=detail
            )
            revived = self.store.job(tx, job_id)
            assert revived is not None
            return revived

        try:
            return self.db.run(work)
        except (JobNotFound, JobNotDead) as error:
            self._refused(job_id, error, operator_id, actor)
            raise

    def _refused(
        self, job_id: int, error: DomainError, operator_id: int | None, actor: str | None
    ) -> None:
        self.audit.record(
            AUDIT_ACTION,
            f"job:{job_id}",
            operator_id=operator_id,
            actor=actor,
            detail=error.message,
            outcome=error.code,
        )


def _refusal(job_id: int, job: JobRow | None) -> DomainError:
    if job is None:
        return JobNotFound(f"no job {job_id}")
    waiting = " (it waits to run: a retry is already scheduled)" if job.status == "pending" else ""
    return JobNotDead(f"job {job_id} is {job.status}, not dead{waiting}", status=job.status)
