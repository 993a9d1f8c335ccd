"""Admin console: background jobs that gave up (`/admin/jobs`).

The dead jobs (kind, key, attempts, why each last failed, when it was last due), newest first,
filtered by kind, 50 a page, and for finance and admin (`job.retry`) a button that runs one
again now with fresh attempts (services/job_admin.py), audited under the operator. The health
page's count of dead jobs links here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.services.job_admin import KIND_LENGTH_MAX, JobAdmin
from paybao.web import pages_admin as admin
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

PAGE_SIZE = 50
LAST_ERROR_SHOWN = 300  # characters in the table; the audit row keeps what the retry saw

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.ADMIN_TEXTS.update(
    {
        "dj_title": {"zh": "失败放弃的后台任务", "en": "Dead jobs"},
        "dj_open": {"zh": "查看并重试", "en": "See and retry"},
        "dj_hint": {
            "zh": "这些任务已失败重试达到上限,不会再自动执行。修复原因后可立即重试:"
            "任务重新排队、尝试次数清零,由后台进程执行。",
            "en": "These jobs failed as often as the runner allows and will not run again by "
            "themselves. Once the cause is fixed, retry one: it is queued now with fresh "
            "attempts and the worker runs it.",
        },
        "dj_all_kinds": {"zh": "全部类型", "en": "All kinds"},
        "dj_kind": {"zh": "任务类型", "en": "Kind"},
        "dj_key": {"zh": "任务键", "en": "Key"},
        "dj_attempts": {"zh": "尝试次数", "en": "Attempts"},
        "dj_last_error": {"zh": "最后错误", "en": "Last error"},
        "dj_due": {"zh": "最后到期", "en": "Last due"},
        "dj_created": {"zh": "创建时间", "en": "Created"},
        "dj_filter": {"zh": "筛选", "en": "Filter"},
        "dj_retry": {"zh": "立即重试", "en": "Retry now"},
        "dj_retried": {
            "zh": "已重新排队,后台进程将立即执行:任务",
            "en": "Queued to run now by the worker: job",
        },
        "dj_none": {"zh": "没有失败放弃的任务", "en": "No dead jobs"},
        "dj_older": {"zh": "更早", "en": "Older"},
    }
)
admin.ADMIN_ERRORS.update(
    {
        "job_not_found": {"zh": "没有这个任务", "en": "No such job"},
        "job_not_dead": {
            "zh": "该任务不是失败放弃状态(可能已重试、正在排队),未作改动",
            "en": "That job is not dead (it may be retried already and waiting to run); "
            "nothing changed",
        },
    }
)


def _jobs(request: Request) -> JobAdmin:
    platform = platform_of(request)
    return JobAdmin.of(platform.jobs, platform.services["audit"])


def _before(request: Request) -> int | None:
    value = request.query_params.get("before", "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= ROW_ID_MAX else None


@router.get("/jobs")
def dead_jobs(request: Request) -> HTMLResponse:
    kind = request.query_params.get("kind", "").strip()[:KIND_LENGTH_MAX]
    return _page(request, kind, _before(request))


def _page(
    request: Request, kind: str, before_id: int | None, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    service = _jobs(request)
    page = service.dead_page(kind, before_id=before_id, limit=PAGE_SIZE)
    return admin.render(
        request,
        "admin/jobs.html",
        status_code,
        title=admin.admin_text(lang_of(request), "dj_title"),
        kind=kind,
        kinds=service.dead_kinds(),
        rows=page.jobs,
        next_before=page.next_before_id,
        error_shown=LAST_ERROR_SHOWN,
        **extra,
    )


@router.post("/jobs/{job_id}/retry", dependencies=admin.CSRF)
@admin.operator_action("job.retry")
async def retry(
    request: Request, job_id: int, operator_id: int = Depends(admin.require_operator)
) -> Response:
    kind = str((await request.form()).get("kind", ""))[:KIND_LENGTH_MAX]
    try:
        _jobs(request).retry(job_id, operator_id)
    except DomainError as error:
        context = admin.admin_error(request, error)
        return _page(request, kind, None, status_for(error), **context)
    return RedirectResponse(f"/admin/jobs?kind={quote(kind)}&retried={job_id}", status_code=303)


def install(app: Any) -> None:
    app.include_router(router)
