"""The background worker: runs due jobs (timers, outbox) and sweeps (expired holds).

Runs as `paybao worker`, and inside `paybao serve` as a thread unless disabled. Several workers
may run at once: jobs are claimed with leases (and SKIP LOCKED on PostgreSQL).

Each worker loop keeps a heartbeat (`services/heartbeats.py`) under the id host:pid: what it
ran, written at most every `worker_heartbeat_interval_s`, and marked stopped when the loop
ends cleanly, so the admin console and /metrics can tell a live worker from a dead one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from paybao.bootstrap import Platform
from paybao.domain.errors import Retryable
from paybao.services.heartbeats import WorkerHeartbeat

log = logging.getLogger(__name__)


def worker_id() -> str:
    """host:pid: unique among running workers, and tells an operator where to look."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_pass(platform: Platform) -> tuple[int, int]:
    """One pass: every sweep, then the due jobs. Returns (items swept, jobs run)."""
    swept = sum(sweep() for sweep in platform.sweeps)
    return swept, platform.jobs.run_due()


def run_once(platform: Platform) -> int:
    swept, jobs_run = run_pass(platform)
    return swept + jobs_run


def run_forever(
    platform: Platform, stop: threading.Event, *, heartbeat: WorkerHeartbeat | None = None
) -> None:
    interval_s = platform.settings.worker_poll_interval_s
    beat = heartbeat or platform.services["heartbeats"].worker(worker_id())
    try:
        while not stop.is_set():
            swept = jobs_run = 0
            error = None
            try:
                swept, jobs_run = run_pass(platform)
            except Retryable as failure:
                log.warning("worker pass failed, will retry: %s", failure)
                error = failure.code
            except Exception as failure:  # the worker must outlive any single failure
                log.exception("worker pass failed")
                error = f"{type(failure).__name__}: {failure}"
            beat.counted(jobs_run=jobs_run, swept=swept, error=error)
            beat.beat_if_due()
            if swept + jobs_run == 0:
                stop.wait(interval_s)
    finally:
        beat.stop()


def start_thread(platform: Platform) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(platform, stop), name="paybao-worker", daemon=True
    )
    thread.start()
    return thread, stop
