"""Due-dated jobs: timers and the outbox, on one table, run by the worker.

A service schedules a job inside its own transaction (so the job exists iff the business change
committed). The runner claims due jobs, runs each handler in a transaction that also marks the
job done, so a handler's database effects happen exactly once. Handlers that call out (HTTP
notifications) must be idempotent on the other side; they are retried with backoff.

A kind with many small outside jobs (merchant notifications) registers an `OutsideBatch`: the
runner loads what all its claimed jobs need in one read, runs them in the thread pool, and
writes the outcomes of those finished by then in one transaction, a few statements for the
whole group, instead of a read and a transaction per job. A worker killed before that write
loses nothing: the jobs stay pending and run again when their lease ends (at least once).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ALL_COMPLETED, Future, ThreadPoolExecutor, wait
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

    def finish_many(self, tx: Tx, job_ids: Sequence[int], now_us: int) -> int:
        """Mark these jobs done if still pending; how many were."""
        ...

    def retry_later(self, tx: Tx, job_id: int, error: str, due_at_us: int, dead: bool) -> None: ...

    def retry_many(self, tx: Tx, retries: Sequence[tuple[int, int]], error: str) -> None:
        """Each (job id, due time): pending again, due then, one attempt more."""
        ...

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


# A handler that calls out (HTTP) and must hold no transaction meanwhile. It returns None when
# the job is done, or the time (us) of its next try, having recorded its effects itself. (A
# kind that has something to record with the job's own update is an `OutsideBatch`.)
OutsideHandler = Callable[[Job], int | None]
OUTSIDE_THREADS_MAX = 16
# How long the runner lets finished batch jobs wait for others to finish with them, so that one
# transaction records the group: short next to the lease, and a slow endpoint does not hold
# the records of the fast ones.
GROUP_WAIT_S = 0.2


@dataclass(frozen=True, slots=True)
class OutsideRecord:
    """What an `OutsideBatch` job returns: its next try (None: done) and a record (None:
    nothing to write) for the kind's `write_in`, written in the same transaction that
    finishes or re-schedules the job, so the record and the job's state cannot disagree."""

    retry_at_us: int | None
    record: Any = None


class OutsideBatch(Protocol):
    """A kind of outside job run in batches (see the module docstring)."""

    def load(self, jobs: Sequence[Job]) -> Mapping[int, Any]:
        """What the jobs need, by job id, in one read (no transaction open after it)."""
        ...

    def run(self, job: Job, loaded: Any) -> OutsideRecord:
        """One job's outside work, with what `load` found for it (None: nothing)."""
        ...

    def write_in(self, tx: Tx, records: Sequence[Any]) -> None:
        """Write a group's records, in the order of their jobs' ids, in the transaction that
        finishes or re-schedules those jobs. `tx` is a driver transaction (`Database.run`
        with `driver=True`)."""
        ...


class _FinishedElsewhere(RuntimeError):
    """A group's job was finished by another worker after our lease ran out."""


class JobRunner:
    def __init__(self, db: Database, store: JobStore, clock: Clock) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self._handlers: dict[str, Handler] = {}
        self._outside: dict[str, OutsideHandler] = {}
        self._batches: dict[str, OutsideBatch] = {}
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
        assert kind not in self._batches, kind
        assert attempts_max is None or 1 <= attempts_max <= ATTEMPTS_MAX
        self._outside[kind] = handler
        if attempts_max is not None:
            self._attempts_max[kind] = attempts_max

    def register_outside_batch(self, kind: str, batch: OutsideBatch) -> None:
        """An outside kind whose claimed jobs are loaded, and their outcomes written, together
        (one read and one transaction for many jobs)."""
        assert kind not in self._handlers and kind not in self._outside, kind
        assert kind not in self._batches, kind
        self._batches[kind] = batch

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
        jobs = self.db.run(
            lambda tx: self.store.claim_due(tx, now_us, limit, lease_until_us), driver=True
        )
        outside = [job for job in jobs if job.kind in self._outside]
        futures = [self._outside_pool().submit(self._run_outside, job) for job in outside]
        batched = self._start_batches([job for job in jobs if job.kind in self._batches])
        for job in jobs:
            if job.kind not in self._outside and job.kind not in self._batches:
                self._run_one(job)
        self._write_batches(batched)
        for future in futures:
            future.result()
        return len(jobs)

    def _outside_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(OUTSIDE_THREADS_MAX, thread_name_prefix="jobs-out")
        return self._pool

    def _run_outside(self, job: Job) -> None:
        try:
            retry_at_us = self._outside[job.kind](job)
        except Exception as error:  # a failing job must not stop the others
            self._failed(job, error)
            return

        def work(tx: Tx) -> None:
            if retry_at_us is None:
                self.store.finish(tx, job.id, self.clock.now_us())
            else:
                self.store.retry_later(tx, job.id, "retry", retry_at_us, False)

        self.db.run(work)

    # Batches ------------------------------------------------------------------------------

    def _start_batches(self, jobs: list[Job]) -> dict[Future[OutsideRecord], Job]:
        running: dict[Future[OutsideRecord], Job] = {}
        for kind in dict.fromkeys(job.kind for job in jobs):
            of_kind = [job for job in jobs if job.kind == kind]
            batch = self._batches[kind]
            try:
                loaded = batch.load(of_kind)
            except Exception as error:  # as a handler's failure: each job backs off
                for job in of_kind:
                    self._failed(job, error)
                continue
            for job in of_kind:
                future = self._outside_pool().submit(batch.run, job, loaded.get(job.id))
                running[future] = job
        return running

    def _write_batches(self, running: dict[Future[OutsideRecord], Job]) -> None:
        """Write the outcomes as the jobs finish, each group of those finished meanwhile in
        one transaction."""
        first_error: Exception | None = None
        while running:
            done, _ = wait(running, timeout=GROUP_WAIT_S, return_when=ALL_COMPLETED)
            group: list[tuple[Job, OutsideRecord]] = []
            for future in done:
                job = running.pop(future)
                try:
                    group.append((job, future.result()))
                except Exception as error:  # a failing job must not stop the others
                    self._failed(job, error)
            group.sort(key=lambda pair: pair[0].id)
            try:
                self._write_group(group)
            except Exception as error:  # raised once the rest is written, as `run_due` did
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def _write_group(self, group: list[tuple[Job, OutsideRecord]]) -> None:
        if len(group) > 1:
            try:
                self.db.run(lambda tx: self._group_in(tx, group), driver=True)
                return
            except Exception as error:  # one job's conflict must not cost the others' records
                log.info("writing %d outcomes together failed (%s); one by one", len(group), error)
        first_error: Exception | None = None
        for one in group:
            try:
                self.db.run(functools.partial(self._group_in, group=[one]), driver=True)
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def _group_in(self, tx: Tx, group: list[tuple[Job, OutsideRecord]]) -> None:
        records: dict[str, list[Any]] = {}
        for job, outcome in group:
            if outcome.record is not None:
                records.setdefault(job.kind, []).append(outcome.record)
        for kind, of_kind in records.items():
            self._batches[kind].write_in(tx, of_kind)
        done = [job.id for job, outcome in group if outcome.retry_at_us is None]
        if self.store.finish_many(tx, done, self.clock.now_us()) != len(done):
            # Roll the records back too: the job that another worker finished keeps its
            # outcome (and its attempt) off the books, as `finish` does for a single job.
            raise _FinishedElsewhere(f"a job of {done} was finished elsewhere")
        retries = [
            (job.id, outcome.retry_at_us)
            for job, outcome in group
            if outcome.retry_at_us is not None
        ]
        self.store.retry_many(tx, retries, "retry")

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
