"""REST for operators: background jobs that gave up, as the console's /admin/jobs shows them
(services/job_admin.py; web/pages_admin_jobs.py).

- `GET /api/v1/admin/jobs?status=dead&kind=&limit=&before_id=`: dead jobs, newest first, of one
  kind or of all, with why each last failed; `kinds` counts the dead jobs of each kind.
  `next_before_id` is the cursor of the next page, null on the last page (even a full one).
  Only `status=dead` is listed (400 `job_status_invalid` otherwise).
- `POST /api/v1/admin/jobs/{job_id}/retry` (`job.retry`: finance or admin): run a dead job
  again now with fresh attempts; the worker claims it. Audited. 404 `job_not_found`; 409
  `job_not_dead` (pending, e.g. retried already and waiting to run; done; cancelled).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel

from paybao.domain.errors import InvalidInput
from paybao.services.job_admin import KIND_LENGTH_MAX, PAGE_SIZE_MAX, JobAdmin
from paybao.services.jobs import JobRow
from paybao.web.admin_access import operator_action
from paybao.web.api_admin_support import Admin, Before, admin_router, caller_of
from paybao.web.deps import ROW_ID_MAX

STATUS_LENGTH_MAX = 16
STATUSES = ("dead",)

router = admin_router("/jobs", "admin: jobs")


class JobOut(BaseModel):
    job_id: int
    kind: str
    key: str
    status: str  # dead | pending | done | cancelled
    attempts: int
    last_error: str | None
    due_at_us: int
    created_at_us: int


class KindCountOut(BaseModel):
    kind: str
    dead: int


class JobPageOut(BaseModel):
    status: str
    kind: str
    kinds: list[KindCountOut]
    jobs: list[JobOut]
    next_before_id: int | None


def job_admin(platform: Any) -> JobAdmin:
    """The service over the platform's job runner and audit trail (the console's too)."""
    return JobAdmin.of(platform.jobs, platform.services["audit"])


def _job(row: JobRow) -> JobOut:
    return JobOut(
        job_id=row.id,
        kind=row.kind,
        key=row.key,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        due_at_us=row.due_at_us,
        created_at_us=row.created_at_us,
    )


@router.get("", response_model=JobPageOut)
def dead_jobs(
    platform: Admin,
    status: Annotated[str, Query(min_length=1, max_length=STATUS_LENGTH_MAX)] = "dead",
    kind: Annotated[str, Query(max_length=KIND_LENGTH_MAX)] = "",
    before_id: Before = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = PAGE_SIZE_MAX,
) -> JobPageOut:
    if status not in STATUSES:
        raise InvalidInput("only dead jobs are listed (status=dead)", code="job_status_invalid")
    service = job_admin(platform)
    page = service.dead_page(kind, before_id=before_id, limit=limit)
    return JobPageOut(
        status=status,
        kind=kind,
        kinds=[KindCountOut(kind=k, dead=n) for k, n in service.dead_kinds()],
        jobs=[_job(row) for row in page.jobs],
        next_before_id=page.next_before_id,
    )


@router.post("/{job_id}/retry", response_model=JobOut)
@operator_action("job.retry")
def retry(
    job_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)], request: Request, platform: Admin
) -> JobOut:
    """Run a dead job again now. 404 `job_not_found`; 409 `job_not_dead`."""
    caller = caller_of(request)
    return _job(job_admin(platform).retry(job_id, caller.operator_id, actor=caller.actor))


def install(app: Any) -> None:
    app.include_router(router)
