"""Helpers for the dead-jobs tests (services/job_admin.py and its console page, REST API and
CLI): jobs that gave up, made directly in the jobs table, and a kind of job that records its
runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from paybao.adapters.db.tables.platform import jobs
from paybao.bootstrap import Platform
from paybao.services.jobs import ATTEMPTS_MAX, Job

FLAKY = "test.flaky"
LAST_ERROR = "ConnectionError: the partner endpoint is down"


def dead_job(platform: Platform, key: str, kind: str = FLAKY) -> int:
    """A job of `kind` that failed ATTEMPTS_MAX times (as the runner leaves it): its id."""
    now_us = platform.clock.now_us()
    store = platform.jobs.store

    def work(tx: Any) -> int:
        assert store.schedule(tx, kind, key, now_us, "{}", now_us)
        job_id = int(
            tx.execute(select(jobs.c.id).where(jobs.c.kind == kind, jobs.c.key == key)).scalar()
        )
        died = {"status": "dead", "attempts": ATTEMPTS_MAX, "last_error": LAST_ERROR}
        tx.execute(update(jobs).where(jobs.c.id == job_id).values(died))
        return job_id

    return int(platform.db.run(work))


def job_row(platform: Platform, job_id: int) -> Any:
    with platform.db.read() as tx:
        return tx.execute(select(jobs).where(jobs.c.id == job_id)).one()


def recorded_runs(platform: Platform, kind: str = FLAKY) -> list[str]:
    """Register a handler for `kind` that records the key of each job it runs."""
    ran: list[str] = []

    def handler(_tx: Any, job: Job) -> None:
        ran.append(job.key)

    platform.jobs.register(kind, handler)
    return ran
