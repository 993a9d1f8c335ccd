"""Due-dated jobs: timers and the outbox, on one table, run by the worker.

A service schedules a job inside its own transaction (so the job exists iff the business change
committed). The runner claims due jobs, runs each handler in a transaction that also marks the
job done, so a handler's database effects happen exactly once. Handlers that call out (HTTP
notifications) must be idempotent on the other side; they are retried with backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from paybao.services.ports import Clock, Database, Tx

log = logging.getLogger(__name__)

CLAIM_BATCH_SIZE_MAX = 100
LEASE_S = 60
ATTEMPTS_MAX = 25
BACKOFF_S_MAX = 3600


class JobGaveUp(Exception):
    """Raised by a handler when retrying cannot help (a refusal for good): the runner marks
    the job dead at once, with this message as its last error, for operators to see."""


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    due_at_us: int
    attempts: int


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job as operators see it (services/job_admin.py): its state and why it last failed."""

    id: int
    kind: str
    key: str
    status: str  # pending | done | dead | cancelled
    attempts: int
    last_error: str | None
    due_at_us: int
    created_at_us: int


class JobStore(Protocol):
    def schedule(
        self, tx: Tx, kind: str, key: str, due_at_us: int, payload: str, now_us: int
    ) -> bool: ...

    def claim_due(self, tx: Tx, now_us: int, limit: int, lease_until_us: int) -> list[Job]: ...

    def finish(self, tx: Tx, job_id: int, now_us: int) -> None: ...

    def retry_later(self, tx: Tx, job_id: int, error: str, due_at_us: int, dead: bool) -> None: ...

    def next_due_at_us(self, tx: Tx) -> int | None: ...

    def reschedule(self, tx: Tx, kind: str, key: str, due_at_us: int) -> bool: ...

    def rearm(self, tx: Tx, kind: str, key: str, due_at_us: int) -> bool: ...

    def cancel(self, tx: Tx, kind: str, key: str) -> bool: ...

    # For operators (services/job_admin.py).
    def job(self, tx: Tx, job_id: int) -> JobRow | None: ...

    def dead_page(
        self, tx: Tx, kind: str | None, before_id: int | None, limit: int
    ) -> list[JobRow]: ...

    def dead_kinds(self, tx: Tx, limit: int) -> list[tuple[str, int]]: ...

    def revive(self, tx: Tx, job_id: int, due_at_us: int) -> bool: ...


Handler = Callable[[Tx, Job], None]


@dataclass(frozen=True, slots=True)
class OutsideOutcome:
    """What an outside handler may return instead of a bare time: the next try (None: done)
    and `record_in`, the write that says what happened, made in the same transaction that
    finishes or re-schedules the job. One transaction instead of two per run, and the record
    and the job's state cannot disagree."""

    retry_at_us: int | None
    record_in: Callable[[Tx], None]


# A handler that calls out (HTTP) and must hold no transaction meanwhile. It returns None when
# the job is done, or the time (us) of its next try, having recorded its effects itself; or an
# OutsideOutcome whose record the runner writes with the job's own update.
OutsideHandler = Callable[[Job], int | OutsideOutcome | None]
OUTSIDE_THREADS_MAX = 16


class JobRunner:
    def __init__(self, db: Database, store: JobStore, clock: Clock) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self._handlers: dict[str, Handler] = {}
        self._outside: dict[str, OutsideHandler] = {}
        self._attempts_max: dict[str, int] = {}
        self._pool: ThreadPoolExecutor | None = None

    def register(self, kind: str, handler: Handler) -> None:
        assert kind not in self._handlers, f"handler for {kind} registered twice"
        self._handlers[kind] = handler

    def register_outside_tx(
        self, kind: str, handler: OutsideHandler, *, attempts_max: int | None = None
    ) -> None:
        """For handlers that wait on the network: run with no transaction open, several at a
        time, so one slow endpoint neither holds locks nor delays the other jobs.
        `attempts_max`: fewer tries than `ATTEMPTS_MAX` for work that goes stale (a text with
        a 5-minute code is worthless after a few minutes of backoff)."""
        assert kind not in self._handlers and kind not in self._outside, kind
        assert attempts_max is None or 1 <= attempts_max <= ATTEMPTS_MAX
        self._outside[kind] = handler
        if attempts_max is not None:
            self._attempts_max[kind] = attempts_max

    def schedule_in(
        self, tx: Tx, kind: str, key: str, due_at_us: int, payload: dict[str, Any] | None = None
    ) -> bool:
        """Schedule once: a second call with the same (kind, key) does nothing, returns False."""
        text = json.dumps(payload or {}, sort_keys=True, separators=(",", ":"))
        return self.store.schedule(tx, kind, key, due_at_us, text, self.clock.now_us())

    def next_due_at_us(self) -> int | None:
        with self.db.read() as tx:
            return self.store.next_due_at_us(tx)

    def run_due(self, limit: int = CLAIM_BATCH_SIZE_MAX) -> int:
        """Run jobs due now, oldest first. Returns how many ran (successfully or not)."""
        assert 0 < limit <= CLAIM_BATCH_SIZE_MAX
        now_us = self.clock.now_us()
        lease_until_us = now_us + LEASE_S * 1_000_000
        jobs = self.db.run(lambda tx: self.store.claim_due(tx, now_us, limit, lease_until_us))
        outside = [job for job in jobs if job.kind in self._outside]
        futures = [self._outside_pool().submit(self._run_outside, job) for job in outside]
        for job in jobs:
            if job.kind not in self._outside:
                self._run_one(job)
        for future in futures:
            future.result()
        return len(jobs)

    def _outside_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(OUTSIDE_THREADS_MAX, thread_name_prefix="jobs-out")
        return self._pool

    def _run_outside(self, job: Job) -> None:
        try:
            result = self._outside[job.kind](job)
        except Exception as error:  # a failing job must not stop the others
            self._failed(job, error)
            return
        record_in: Callable[[Tx], None] | None = None
        if isinstance(result, OutsideOutcome):
            retry_at_us, record_in = result.retry_at_us, result.record_in
        else:
            retry_at_us = result

        def work(tx: Tx) -> None:
            if record_in is not None:
                record_in(tx)
            if retry_at_us is None:
                self.store.finish(tx, job.id, self.clock.now_us())
            else:
                self.store.retry_later(tx, job.id, "retry", retry_at_us, False)

        self.db.run(work)

    def _run_one(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind}")

            def work(tx: Tx) -> None:
                handler(tx, job)
                self.store.finish(tx, job.id, self.clock.now_us())

            self.db.run(work)
        except Exception as error:  # a failing job must not stop the others
            self._failed(job, error)

    def _failed(self, job: Job, error: Exception) -> None:
        log.warning("job %s %s failed: %s", job.kind, job.key, error)
        attempts = job.attempts + 1
        delay_s = min(BACKOFF_S_MAX, 2**attempts)
        due_at_us = self.clock.now_us() + delay_s * 1_000_000
        message = f"{type(error).__name__}: {error}"[:500]
        attempts_max = self._attempts_max.get(job.kind, ATTEMPTS_MAX)
        dead = attempts >= attempts_max or isinstance(error, JobGaveUp)
        self.db.run(lambda tx: self.store.retry_later(tx, job.id, message, due_at_us, dead))
