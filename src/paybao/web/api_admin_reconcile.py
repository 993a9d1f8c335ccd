"""REST for operators: the daily three-way reconciliation, as the console's /admin/reconcile does
(services/day_close.py; web/pages_admin_reconcile.py).

- `GET /api/v1/admin/reconcile/runs?limit=`: the saved runs, newest first (the day-close job
  saves one a day, operators' runs too), each with its differences by kind (the first 100),
  the count per check and the money totals per account class.
- `POST /api/v1/admin/reconcile/runs` `{"day": "2026-01-31"}` (`reconcile.run`: finance or
  admin): reconcile that China day now (default: yesterday), save the run as the console does
  and answer its report. The day is past and within the kept history (400 `invalid_date`).
  Nothing here fixes a difference; running again only saves another run.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

from paybao.domain.bills import china_day_of
from paybao.domain.reconcile_days import DAY_TEXT_LENGTH, day_to_reconcile
from paybao.services.day_close import RUN_LIST_LIMIT_MAX
from paybao.services.reconcile import ReconcileReport
from paybao.web.admin_access import operator_action
from paybao.web.api_admin_support import Admin, admin_router, caller_of

DIFFERENCES_SHOWN_MAX = 100
RUNS_PAGE_MAX = min(30, RUN_LIST_LIMIT_MAX)  # the console's

log = logging.getLogger(__name__)
router = admin_router("/reconcile", "admin: reconciliation")


class DifferenceOut(BaseModel):
    kind: str  # missing_at_bank | missing_in_ledger | missing_in_tables | amount_differs | ...
    subject: str
    expected: str
    actual: str


class RunOut(BaseModel):
    day: str
    clean: bool
    difference_count: int  # every difference found (the list holds the first ones)
    differences: list[DifferenceOut]
    checks: dict[str, int]  # check name -> differences it found
    class_totals: dict[str, int]  # money per account class for the day, in fen


class SavedRunOut(RunOut):
    run_id: int
    ran_at_us: int


class RunsOut(BaseModel):
    runs: list[SavedRunOut]


class RunIn(BaseModel):
    day: str | None = Field(default=None, min_length=1, max_length=DAY_TEXT_LENGTH)


def _differences(found: list[dict[str, Any]]) -> list[DifferenceOut]:
    return [
        DifferenceOut(
            kind=str(d.get("kind", "")),
            subject=str(d.get("subject", "")),
            expected=str(d.get("expected", "")),
            actual=str(d.get("actual", "")),
        )
        for d in found[:DIFFERENCES_SHOWN_MAX]
    ]


def _saved(run: dict[str, Any]) -> SavedRunOut:
    report = run["report"]
    return SavedRunOut(
        run_id=int(run["id"]),
        ran_at_us=int(run["created_at_us"]),
        day=str(run["day"]),
        clean=bool(run["clean"]),
        difference_count=int(run["difference_count"]),
        differences=_differences(list(report.get("differences", []))),
        checks={str(k): int(v) for k, v in report.get("checks", {}).items()},
        class_totals={str(k): int(v) for k, v in report.get("class_totals", {}).items()},
    )


def _report(report: ReconcileReport) -> RunOut:
    assert report.day is not None  # a run of one day (run_and_save passes it)
    found = [
        {"kind": d.kind, "subject": d.subject, "expected": d.expected, "actual": d.actual}
        for d in report.differences[:DIFFERENCES_SHOWN_MAX]
    ]
    return RunOut(
        day=report.day.isoformat(),
        clean=report.clean,
        difference_count=len(report.differences),
        differences=_differences(found),
        checks=dict(report.totals),
        class_totals=dict(report.class_totals),
    )


@router.get("/runs", response_model=RunsOut)
def runs(
    platform: Admin,
    limit: Annotated[int, Query(ge=1, le=RUNS_PAGE_MAX)] = 10,
) -> RunsOut:
    return RunsOut(runs=[_saved(r) for r in platform.services["day_close"].recent_runs(limit)])


@router.post("/runs", response_model=RunOut)
@operator_action("reconcile.run")
def run_now(body: RunIn, request: Request, platform: Admin) -> RunOut:
    today = china_day_of(platform.clock.now_us())
    day = day_to_reconcile(body.day, today) if body.day else today - timedelta(days=1)
    caller = caller_of(request)
    report = platform.services["day_close"].run_and_save(
        day, operator_id=caller.operator_id, actor=caller.actor
    )
    log.info(
        "%s reconciled %s: %s differences", caller_of(request).actor, day, len(report.differences)
    )
    return _report(report)


def install(app: Any) -> None:
    app.include_router(router)
