"""The close of a China day: bills, T+1 settlements, the day's reconciliation, the next close.

`settlement.day_close` (key: the day) runs in one transaction: it builds every app's bills,
opens the T+1 payouts, schedules the reconciliation of the day and the close of the next day.
A sweep keeps the chain alive: it schedules today's close (due at the coming midnight) if
none is (a fresh install); days before that get their bills on first request instead. Jobs
are unique by (kind, key), so a day is closed once however often the sweep or chain asks.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, Protocol

from paybao.domain.bills import china_day_of, day_period
from paybao.domain.errors import DomainError
from paybao.services.audit import AuditTrail
from paybao.services.bills import BillService
from paybao.services.jobs import Job, JobRunner
from paybao.services.ports import Clock, Database, Tx
from paybao.services.reconcile import ReconcileReport, ReconcileService
from paybao.services.settlement import SettlementService

JOB_DAY_CLOSE = "settlement.day_close"
JOB_RECONCILE = "settlement.reconcile"
DIFFERENCES_SAVED_MAX = 500
AUDIT_RECONCILE = "reconcile.run"
RUN_LIST_LIMIT_MAX = 100

log = logging.getLogger(__name__)


class RunStore(Protocol):
    def save_run(
        self, tx: Tx, day: str, clean: bool, count: int, report: dict[str, Any], now_us: int
    ) -> None: ...

    def runs(self, tx: Tx, limit: int) -> list[dict[str, Any]]: ...


class DayClose:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        jobs: JobRunner,
        bills: BillService,
        settlement: SettlementService,
        reconcile: ReconcileService,
        runs: RunStore,
        audit: AuditTrail,
    ) -> None:
        self.db = db
        self.clock = clock
        self.jobs = jobs
        self.bills = bills
        self.settlement = settlement
        self.reconcile = reconcile
        self.runs = runs
        self.audit = audit
        self._ensured: date | None = None

    def install_jobs(self) -> None:
        self.jobs.register(JOB_DAY_CLOSE, self._close_job)
        self.jobs.register_outside_tx(JOB_RECONCILE, self._reconcile_job)

    def ensure_scheduled(self) -> int:
        """Sweep: make sure today has its close scheduled at the coming midnight (cheap when
        it has). Each close schedules the next, so a worker that was down catches up."""
        day = china_day_of(self.clock.now_us())
        if self._ensured == day:
            return 0
        due_us = day_period(day).end_us
        self.db.run(lambda tx: self.jobs.schedule_in(tx, JOB_DAY_CLOSE, day.isoformat(), due_us))
        self._ensured = day
        return 0

    def close_in(self, tx: Tx, day: date) -> None:
        self.bills.build_day_in(tx, day)
        following = day + timedelta(days=1)
        if following.day == 1:
            self.bills.build_month_in(tx, day.year, day.month)
        self.settlement.open_daily_in(tx, day)
        now_us = self.clock.now_us()
        self.jobs.schedule_in(tx, JOB_RECONCILE, day.isoformat(), now_us)
        next_due_us = day_period(following).end_us
        self.jobs.schedule_in(tx, JOB_DAY_CLOSE, following.isoformat(), next_due_us)

    def _close_job(self, tx: Tx, job: Job) -> None:
        self.close_in(tx, date.fromisoformat(job.key))

    def _reconcile_job(self, job: Job) -> int | None:
        self.run_and_save(date.fromisoformat(job.key))
        return None

    def run_and_save(
        self, day: date, *, operator_id: int | None = None, actor: str | None = None
    ) -> ReconcileReport:
        """Reconcile a day and keep the report for the admin page; differences stay as found.

        A run someone asked for (an operator, or an API token: `actor`) is audited: the row
        (the day, clean or how many differences) commits with the saved run; a run that fails
        is audited with the error and the error raised. The nightly close is not."""
        asked = operator_id is not None or actor is not None
        try:
            report = self.reconcile.run(day)
        except Exception as error:
            if asked:
                self._audit_failed(operator_id, actor, day, error)
            raise
        saved = {
            "checks": report.totals,
            "differences": [
                {"kind": d.kind, "subject": d.subject, "expected": d.expected, "actual": d.actual}
                for d in report.differences[:DIFFERENCES_SAVED_MAX]
            ],
            "class_totals": report.class_totals,
        }
        count = len(report.differences)
        now_us = self.clock.now_us()

        def work(tx: Tx) -> None:
            self.runs.save_run(tx, day.isoformat(), report.clean, count, saved, now_us)
            if asked:
                self.audit.record_in(
                    tx,
                    AUDIT_RECONCILE,
                    f"reconcile:{day.isoformat()}",
                    operator_id=operator_id,
                    actor=actor,
                    detail=_run_detail(report),
                    outcome="clean" if report.clean else "differences",
                )

        self.db.run(work)
        return report

    def _audit_failed(
        self, operator_id: int | None, actor: str | None, day: date, error: Exception
    ) -> None:
        code = error.code if isinstance(error, DomainError) else type(error).__name__
        try:
            self.audit.record(
                AUDIT_RECONCILE,
                f"reconcile:{day.isoformat()}",
                operator_id=operator_id,
                actor=actor,
                detail=str(error)[:200],
                outcome=f"error:{code}",
            )
        except Exception:  # the database may be what failed: the run's own error matters more
            log.warning("could not audit the failed reconciliation of %s", day, exc_info=True)

    def recent_runs(self, limit: int = 30) -> list[dict[str, Any]]:
        assert 0 < limit <= RUN_LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.runs.runs(tx, limit)


def _run_detail(report: ReconcileReport) -> str:
    """'3 differences: bank.three_way=2, ledger.balanced=1' (or 'no differences')."""
    count = len(report.differences)
    if count == 0:
        return "no differences"
    failing = ", ".join(f"{name}={n}" for name, n in report.totals.items() if n)
    return f"{count} differences: {failing}"
