"""Admin console: the daily three-way reconciliation (ledger, business tables, bank statement).

`/admin/reconcile` lists the saved runs, newest first (the day-close job saves one per day),
each with its differences by kind and the money totals per account class; a form runs one
day's reconciliation now and saves it the same way. Nothing here fixes a difference: an
operator reads it, finds the cause, and the next run shows whether it is gone.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.bills import china_day_of
from paybao.domain.errors import DomainError
from paybao.domain.reconcile_days import day_to_reconcile
from paybao.web import pages_admin as admin
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

RUNS_SHOWN_MAX = 30

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.add_nav("Reconciliation", "/admin/reconcile")
admin.ADMIN_TEXTS.update(
    {
        "rec_run_now": {"zh": "立即对账", "en": "Reconcile now"},
        "rec_day": {"zh": "对账日", "en": "Day"},
        "rec_runs": {"zh": "最近对账", "en": "Recent runs"},
        "rec_no_runs": {"zh": "还没有对账记录", "en": "No runs yet"},
        "rec_ran_at": {"zh": "执行时间", "en": "Ran at"},
        "rec_result": {"zh": "结果", "en": "Result"},
        "rec_kind": {"zh": "差异类型", "en": "Kind"},
        "rec_subject": {"zh": "对象", "en": "Subject"},
        "rec_expected": {"zh": "应为", "en": "Expected"},
        "rec_actual": {"zh": "实际", "en": "Actual"},
        "rec_class_totals": {"zh": "分类汇总(分)", "en": "Totals per class (fen)"},
        "rec_name": {"zh": "项目", "en": "Item"},
        "rec_amount_fen": {"zh": "金额(分)", "en": "Amount (fen)"},
        "rec_checks": {"zh": "检查项", "en": "Checks"},
        "rec_done_clean": {"zh": "{day} 对账完成:无差异", "en": "{day} reconciled: no differences"},
        "rec_done_diff": {
            "zh": "{day} 对账完成:{count} 处差异",
            "en": "{day} reconciled: {count} differences",
        },
        "rec_more": {
            "zh": "仅保存前 {shown} 处差异(共 {count} 处)",
            "en": "Only the first {shown} of {count} differences are kept",
        },
        "kind_missing_at_bank": {"zh": "银行无记录", "en": "Missing at bank"},
        "kind_missing_in_ledger": {"zh": "账本无记录", "en": "Missing in ledger"},
        "kind_missing_in_tables": {"zh": "业务表无记录", "en": "Missing in tables"},
        "kind_amount_differs": {"zh": "金额不符", "en": "Amount differs"},
        "kind_duplicated": {"zh": "重复", "en": "Duplicated"},
    }
)
admin.ADMIN_ERRORS.setdefault(
    "invalid_date",
    {
        "zh": "日期应为 2026-01-31,且不晚于今天",
        "en": "Dates look like 2026-01-31 and are not after today",
    },
)


def _china_today(request: Request) -> date:
    return china_day_of(platform_of(request).clock.now_us())


def _kind_label(lang: str, kind: str) -> str:
    key = f"kind_{kind}"
    return admin.admin_text(lang, key) if key in admin.ADMIN_TEXTS else kind


def _render(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    today = _china_today(request)
    runs = platform_of(request).services["day_close"].recent_runs(RUNS_SHOWN_MAX)
    context: dict[str, Any] = {
        "title": admin.admin_text(lang, "Reconciliation"),
        "runs": runs,
        "kind_label": lambda kind: _kind_label(lang, kind),
        "day": (today - timedelta(days=1)).isoformat(),
        "today": today.isoformat(),
    }
    context.update(extra)
    return admin.render(request, "admin/reconcile.html", status_code, **context)


@router.get("/reconcile")
def reconcile_page(request: Request) -> HTMLResponse:
    lang = lang_of(request)
    notice = None
    ran = request.query_params.get("ran", "")[:10]
    count = request.query_params.get("count", "")[:6]
    if ran and count.isdigit():
        key = "rec_done_clean" if count == "0" else "rec_done_diff"
        notice = admin.admin_text(lang, key, day=ran, count=count)
    return _render(request, notice=notice)


@router.post("/reconcile/run", dependencies=admin.CSRF)
@admin.operator_action("reconcile.run")
async def run_now(request: Request, operator_id: int = Depends(admin.require_operator)) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        day = day_to_reconcile(form.get("day", ""), _china_today(request))
    except DomainError as error:
        context = admin.admin_error(request, error)
        return _render(request, status_for(error), day=form.get("day", "")[:10], **context)
    report = platform_of(request).services["day_close"].run_and_save(day, operator_id=operator_id)
    log.info("operator %s reconciled %s: %s differences", operator_id, day, len(report.differences))
    target = f"/admin/reconcile?ran={day.isoformat()}&count={len(report.differences)}"
    return RedirectResponse(target, status_code=303)


def install(app: Any) -> None:
    app.include_router(router)
