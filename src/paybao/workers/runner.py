"""The background worker: runs due jobs (timers, outbox) and sweeps (expired holds).

Runs as `paybao worker`, and inside `paybao serve` as a thread unless disabled. Several workers
may run at once: jobs are claimed with leases (and SKIP LOCKED on PostgreSQL).

The loop claims due jobs every pass (every `worker_poll_interval_s` when quiet) and runs the
sweeps at most every `SWEEP_INTERVAL_S` (again at once while a sweep finds work): the sweeps
are a dozen statements and what they look for (holds, trades, codes past their time) is due
in minutes or days, not in half-seconds. It goes round again at once only when there may be
more to do (a full claim, or a sweep that did something); otherwise it sleeps out the rest of
the poll interval, so an idle worker costs one claim statement per interval and jobs arriving
meanwhile are taken together by the next claim.

Each worker loop keeps a heartbeat (`services/heartbeats.py`) under the id host:pid: what it
ran, written at most every `worker_heartbeat_interval_s`, and marked stopped when the loop
ends cleanly, so the admin console and /metrics can tell a live worker from a dead one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from paybao.bootstrap import Platform
from paybao.domain.errors import Retryable
from paybao.services.heartbeats import WorkerHeartbeat
from paybao.services.jobs import CLAIM_BATCH_SIZE_MAX

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 5.0


def worker_id() -> str:
    """host:pid: unique among running workers, and tells an operator where to look."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_pass(platform: Platform, *, sweep: bool = True) -> tuple[int, int]:
    """One pass: every sweep (unless `sweep` is False), then the due jobs. Returns (items
    swept, jobs run)."""
    swept = sum(each() for each in platform.sweeps) if sweep else 0
    return swept, platform.jobs.run_due()


def run_once(platform: Platform) -> int:
    swept, jobs_run = run_pass(platform)
    return swept + jobs_run


def run_forever(
    platform: Platform, stop: threading.Event, *, heartbeat: WorkerHeartbeat | None = None
) -> None:
    interval_s = platform.settings.worker_poll_interval_s
    sweep_every_s = max(interval_s, SWEEP_INTERVAL_S)
    beat = heartbeat or platform.services["heartbeats"].worker(worker_id())
    swept_at = -sweep_every_s  # the first pass sweeps
    swept = 0
    try:
        while not stop.is_set():
            started = time.monotonic()
            sweep = swept > 0 or started - swept_at >= sweep_every_s
            swept_at = started if sweep else swept_at
            swept = jobs_run = 0
            error = None
            try:
                swept, jobs_run = run_pass(platform, sweep=sweep)
            except Retryable as failure:
                log.warning("worker pass failed, will retry: %s", failure)
                error = failure.code
            except Exception as failure:  # the worker must outlive any single failure
                log.exception("worker pass failed")
                error = f"{type(failure).__name__}: {failure}"
            beat.counted(jobs_run=jobs_run, swept=swept, error=error)
            beat.beat_if_due()
            if swept == 0 and jobs_run < CLAIM_BATCH_SIZE_MAX:
                stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    finally:
        beat.stop()


def start_thread(platform: Platform) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(platform, stop), name="paybao-worker", daemon=True
    )
    thread.start()
    return thread, stop
