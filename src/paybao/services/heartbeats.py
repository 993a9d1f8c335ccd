"""Worker heartbeats: is the background worker alive, and what has it been doing?

Each worker process (`paybao worker`, or the worker thread of a `paybao serve` process) keeps
one `WorkerHeartbeat`: it counts every pass (jobs run, items swept, errors) in memory and writes
its row at most once per `interval_s` (and once more, marked stopped, on a clean shutdown), so
a busy worker costs one small write per interval, not one per pass. The same write prunes rows
whose last beat is older than `keep_s`: restarts make new rows (the id is host:pid), and they
must not pile up.

Readers (the admin health page, /healthz, /metrics) see each worker seen in the last `shown_s`
with its age: `live` while its last beat is at most `stale_s` old, `stale` after (crashed,
hung, or cut off from the database), `stopped` once it said goodbye. Ages are platform time,
the same clock the beats are stamped with.

A failed heartbeat write is logged and never stops the worker: jobs matter more than beats.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx

log = logging.getLogger(__name__)

WORKER_ID_LENGTH_MAX = 128
ERROR_LENGTH_MAX = 200
SHOWN_WORKERS_MAX = 100

LIVE = "live"
STALE = "stale"
STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class HeartbeatPolicy:
    interval_s: float = 5.0  # at most one write per worker per interval
    stale_s: int = 30  # a running worker whose last beat is older is flagged
    shown_s: int = 600  # the health page lists workers seen this recently
    keep_s: int = 86_400  # rows older than this are pruned


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    worker_id: str
    started_at_us: int
    beat_at_us: int
    passes: int = 0
    jobs_run: int = 0
    swept: int = 0
    errors: int = 0
    last_error: str | None = None
    last_work_at_us: int | None = None
    stopped_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    beat: WorkerBeat
    age_s: float  # since its last beat
    state: str  # live | stale | stopped


@dataclass(frozen=True, slots=True)
class HeartbeatSummary:
    live: int
    stale: int
    # Seconds since the freshest beat of any worker not stopped; None: no such worker.
    freshest_age_s: float | None


class HeartbeatStore(Protocol):
    def save(self, tx: Tx, beat: WorkerBeat) -> None:
        """Insert or replace the worker's row."""
        ...

    def prune(self, tx: Tx, before_us: int) -> int: ...

    def seen_since(
        self, tx: Tx, since_us: int, limit: int, *, running_only: bool = False
    ) -> list[WorkerBeat]:
        """Rows with a beat at or after `since_us` (only those not stopped, if asked),
        freshest first."""
        ...


class Heartbeats:
    def __init__(
        self, db: Database, store: HeartbeatStore, clock: Clock, policy: HeartbeatPolicy
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.policy = policy

    def worker(
        self, worker_id: str, *, monotonic: Callable[[], float] = time.monotonic
    ) -> WorkerHeartbeat:
        """The heartbeat of one worker process (its id: host:pid)."""
        return WorkerHeartbeat(self, worker_id[:WORKER_ID_LENGTH_MAX], monotonic)

    def save(self, beat: WorkerBeat) -> None:
        keep_from_us = beat.beat_at_us - self.policy.keep_s * US_PER_S

        def work(tx: Tx) -> None:
            self.store.save(tx, beat)
            self.store.prune(tx, keep_from_us)

        self.db.run(work)

    def recent(self) -> list[WorkerStatus]:
        """Workers seen in the last `shown_s`, freshest first."""
        now_us = self.clock.now_us()
        since_us = now_us - self.policy.shown_s * US_PER_S
        with self.db.read() as tx:
            beats = self.store.seen_since(tx, since_us, SHOWN_WORKERS_MAX)
        return [self._status(beat, now_us) for beat in beats]

    def summary(self) -> HeartbeatSummary:
        """For alerts: how many workers are live, and how old the freshest running one's beat is
        (a crashed worker never says goodbye, so its age keeps growing)."""
        now_us = self.clock.now_us()
        since_us = now_us - self.policy.keep_s * US_PER_S
        with self.db.read() as tx:
            beats = self.store.seen_since(tx, since_us, SHOWN_WORKERS_MAX, running_only=True)
        running = [self._status(beat, now_us) for beat in beats]
        return HeartbeatSummary(
            live=sum(1 for s in running if s.state == LIVE),
            stale=sum(1 for s in running if s.state == STALE),
            freshest_age_s=min((s.age_s for s in running), default=None),
        )

    def _status(self, beat: WorkerBeat, now_us: int) -> WorkerStatus:
        age_s = max(now_us - beat.beat_at_us, 0) / US_PER_S
        if beat.stopped_at_us is not None:
            state = STOPPED
        elif age_s > self.policy.stale_s:
            state = STALE
        else:
            state = LIVE
        return WorkerStatus(beat, age_s, state)


class WorkerHeartbeat:
    """Counts a worker's passes and writes its beat at a bounded rate. One per worker loop;
    used from that loop's thread only."""

    def __init__(
        self, heartbeats: Heartbeats, worker_id: str, monotonic: Callable[[], float]
    ) -> None:
        self.heartbeats = heartbeats
        self.monotonic = monotonic
        now_us = heartbeats.clock.now_us()
        self.beat = WorkerBeat(worker_id=worker_id, started_at_us=now_us, beat_at_us=now_us)
        self._last_write_s: float | None = None

    @property
    def worker_id(self) -> str:
        return self.beat.worker_id

    def counted(self, *, jobs_run: int, swept: int, error: str | None = None) -> None:
        """One pass of the worker loop: what it ran, and the error that ended it if any."""
        beat = self.beat
        worked = jobs_run + swept > 0
        self.beat = replace(
            beat,
            passes=beat.passes + 1,
            jobs_run=beat.jobs_run + jobs_run,
            swept=beat.swept + swept,
            errors=beat.errors + (1 if error else 0),
            last_error=error[:ERROR_LENGTH_MAX] if error else beat.last_error,
            last_work_at_us=self.heartbeats.clock.now_us() if worked else beat.last_work_at_us,
        )

    def beat_if_due(self) -> bool:
        """Write the beat if `interval_s` has passed since the last write (or there was none).
        Returns whether it wrote; never raises."""
        now_s = self.monotonic()
        interval_s = self.heartbeats.policy.interval_s
        if self._last_write_s is not None and now_s - self._last_write_s < interval_s:
            return False
        # Counted even when the write fails: a database outage must not turn into a write
        # attempt per pass.
        self._last_write_s = now_s
        return self._write(stopped=False)

    def stop(self) -> None:
        """The last beat, marked stopped: a clean shutdown is not a crash."""
        self._write(stopped=True)

    def _write(self, *, stopped: bool) -> bool:
        now_us = self.heartbeats.clock.now_us()
        beat = replace(self.beat, beat_at_us=now_us, stopped_at_us=now_us if stopped else None)
        try:
            self.heartbeats.save(beat)
        except Exception as error:  # the worker must outlive its heartbeat
            log.warning("worker %s: heartbeat not written: %s", self.worker_id, error)
            return False
        self.beat = beat
        return True
