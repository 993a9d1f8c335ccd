"""Reconciliation: invariants checked on a live database, every difference reported.

Each check is a function over a read transaction that returns the differences it found. The
ledger's own checks come first; features (trades, escrow, bank statements) register theirs.
Nothing here fixes anything: an operator reads the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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

    @property
    def clean(self) -> bool:
        return not self.differences


Check = Callable[[Tx, int], Sequence[Difference]]


class ReconcileService:
    def __init__(self, db: Database, clock: Clock, checks: Sequence[tuple[str, Check]]) -> None:
        self.db = db
        self.clock = clock
        self.checks = list(checks)

    def run(self) -> ReconcileReport:
        report = ReconcileReport()
        now_us = self.clock.now_us()
        with self.db.read() as tx:
            for name, check in self.checks:
                found = check(tx, now_us)
                report.checks_run.append(name)
                room = DIFFERENCES_LISTED_MAX - len(report.differences)
                report.differences.extend(found[: max(room, 0)])
                report.totals[name] = len(found)
        return report
