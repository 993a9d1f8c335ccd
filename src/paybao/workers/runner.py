"""The background worker: runs due jobs (timers, outbox) and sweeps (expired holds).

Runs as `paybao worker`, and inside `paybao serve` as a thread unless disabled. Several workers
may run at once: jobs are claimed with leases (and SKIP LOCKED on PostgreSQL).
"""

from __future__ import annotations

import logging
import threading

from paybao.bootstrap import Platform
from paybao.domain.errors import Retryable

log = logging.getLogger(__name__)


def run_once(platform: Platform) -> int:
    swept = sum(sweep() for sweep in platform.sweeps)
    return swept + platform.jobs.run_due()


def run_forever(platform: Platform, stop: threading.Event) -> None:
    interval_s = platform.settings.worker_poll_interval_s
    while not stop.is_set():
        try:
            busy = run_once(platform) > 0
        except Retryable as error:
            log.warning("worker pass failed, will retry: %s", error)
            busy = False
        except Exception:  # the worker must outlive any single failure
            log.exception("worker pass failed")
            busy = False
        if not busy:
            stop.wait(interval_s)


def start_thread(platform: Platform) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(platform, stop), name="paybao-worker", daemon=True
    )
    thread.start()
    return thread, stop
