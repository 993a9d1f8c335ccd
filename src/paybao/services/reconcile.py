"""Reconciliation: invariants checked on a live database, every difference reported.

Each check is a function over a read transaction that returns the differences it found. The
ledger's own checks come first; features (trades, escrow, bank statements) register theirs.
Nothing here fixes anything: an operator reads the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from paybao.services.ports import Clock, Database, Tx

DIFFERENCES_LISTED_MAX = 1000


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    subject: str
    expected: str = ""
    actual: str = ""

    def line(self) -> str:
        detail = f" expected {self.expected}, found {self.actual}" if self.expected else ""
        return f"{self.kind}: {self.subject}{detail}".rstrip()


@dataclass(slots=True)
class ReconcileReport:
    checks_run: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    # The China day the dated checks covered, and money totals per account class for it.
    day: date | None = None
    class_totals: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.differences


Check = Callable[[Tx, int], Sequence[Difference]]
# Checks of one China day (bank statements, bills): they get the day too.
DatedCheck = Callable[[Tx, int, date], Sequence[Difference]]
Summary = Callable[[Tx, date], dict[str, int]]
_CHINA_TZ = timezone(timedelta(hours=8))


class ReconcileService:
    def __init__(self, db: Database, clock: Clock, checks: Sequence[tuple[str, Check]]) -> None:
        self.db = db
        self.clock = clock
        self.checks = list(checks)
        self.dated_checks: list[tuple[str, DatedCheck]] = []
        self.summaries: list[Summary] = []

    def run(self, day: date | None = None) -> ReconcileReport:
        """Every check; dated ones for `day` (default: the last China day that has ended)."""
        now_us = self.clock.now_us()
        day = day or _last_closed_day(now_us)
        report = ReconcileReport(day=day)
        with self.db.read() as tx:
            for name, check in self.checks:
                self._record(report, name, check(tx, now_us))
            for name, dated in self.dated_checks:
                self._record(report, name, dated(tx, now_us, day))
            for summary in self.summaries:
                report.class_totals.update(summary(tx, day))
        return report

    @staticmethod
    def _record(report: ReconcileReport, name: str, found: Sequence[Difference]) -> None:
        report.checks_run.append(name)
        room = DIFFERENCES_LISTED_MAX - len(report.differences)
        report.differences.extend(found[: max(room, 0)])
        report.totals[name] = len(found)


def _last_closed_day(now_us: int) -> date:
    today = datetime.fromtimestamp(now_us / 1_000_000, _CHINA_TZ).date()
    return today - timedelta(days=1)
