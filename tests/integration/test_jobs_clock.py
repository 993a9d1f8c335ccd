"""Due-dated jobs and the sandbox clock: in order, exactly once, failures retried."""

from __future__ import annotations

from typing import Any

import pytest

from paybao.bootstrap import Platform
from paybao.domain.errors import SandboxOnly
from paybao.services.jobs import Job


def test_advance_runs_due_jobs_in_order_exactly_once(platform: Platform) -> None:
    ran: list[tuple[str, int]] = []

    def handler(_tx: Any, job: Job) -> None:
        ran.append((job.key, platform.clock.now_us() - job.due_at_us))

    platform.jobs.register("test.timer", handler)
    start_us = platform.clock.now_us()
    hour_us = 3600 * 1_000_000
    scheduled = platform.db.run(
        lambda tx: [
            platform.jobs.schedule_in(tx, "test.timer", "late", start_us + 5 * hour_us),
            platform.jobs.schedule_in(tx, "test.timer", "early", start_us + hour_us),
            platform.jobs.schedule_in(tx, "test.timer", "early", start_us + 2 * hour_us),
            platform.jobs.schedule_in(tx, "test.timer", "never", start_us + 50 * hour_us),
        ]
    )
    assert scheduled == [True, True, False, True]
    report = platform.sandbox_clock.advance(6 * 3600)
    assert [key for key, _ in ran] == ["early", "late"]
    # Each job ran with the clock at (just past) its due time, not at the end of the jump.
    assert all(0 <= lag_us < 60 * 1_000_000 for _, lag_us in ran)
    # The report counts every job that ran: other features' daily jobs (fund income, Huabei
    # charges) fall due in these 6 hours when they cross midnight in China.
    assert report.jobs_run >= len(ran) == 2
    platform.sandbox_clock.advance(60)
    assert len(ran) == 2


def test_failing_job_is_retried_with_backoff(platform: Platform) -> None:
    attempts: list[int] = []

    def flaky(_tx: Any, job: Job) -> None:
        attempts.append(job.attempts)
        if len(attempts) < 3:
            raise RuntimeError("merchant down")

    platform.jobs.register("test.flaky", flaky)
    now_us = platform.clock.now_us()
    platform.db.run(lambda tx: platform.jobs.schedule_in(tx, "test.flaky", "k", now_us))
    platform.sandbox_clock.advance(3600)
    assert attempts == [0, 1, 2]


def test_clock_refuses_outside_sandbox(platform: Platform) -> None:
    platform.sandbox_clock.sandbox = False
    with pytest.raises(SandboxOnly):
        platform.sandbox_clock.advance(10)


def test_advance_runs_a_timer_that_a_sweep_schedules_inside_the_window(platform: Platform) -> None:
    """A sweep (like the day close's) that would schedule a timer before the target must run
    before the jump, as the worker's first pass does, or the timer is skipped until after it."""
    ran: list[tuple[str, int]] = []

    def handler(_tx: Any, job: Job) -> None:
        ran.append((job.key, platform.clock.now_us() - job.due_at_us))

    platform.jobs.register("test.swept", handler)
    due_us = platform.clock.now_us() + 3600 * 1_000_000

    def sweep() -> int:
        if ran:
            return 0
        scheduled = platform.db.run(
            lambda tx: platform.jobs.schedule_in(tx, "test.swept", "k", due_us)
        )
        return int(scheduled)

    platform.sweeps.append(sweep)
    platform.sandbox_clock.advance(2 * 3600)
    assert [key for key, _ in ran] == ["k"]
    assert 0 <= ran[0][1] < 60 * 1_000_000  # at its due time, not an hour late at the target
