"""Admin console: the audit log (paged), platform health (database, jobs, each worker's
heartbeat, ledger reconciliation, the platform key generations and which app each one signs
for) and the ledger explorer (one account's counters and transfers, paged, and its posted balance
at an "as of" instant)."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import text

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.adapters.db.admin_queries import (
    account_transfers,
    audit_page,
    find_account,
    job_health,
    operator_names,
    platform_accounts,
)
from paybao.adapters.db.key_generation_queries import apps_by_generation
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.ledger import Account
from paybao.services.ledger_history import TIME_TEXT_MAX, BalanceAt, parse_time_us
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of
from paybao.web.pages_admin import ADMIN_TEXTS, admin_text, render, require_operator
from paybao.wiring.ledger_history import ledger_history

AUDIT_PAGE_SIZE = 50
TRANSFERS_PAGE_SIZE = 50
DIFFERENCES_SHOWN_MAX = 50
KEY_APPS_SHOWN = 50  # apps listed with their key generation, oldest generation first

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(require_operator)]
)

ADMIN_TEXTS.update(
    {
        "operator": {"zh": "操作人", "en": "Operator"},
        "action": {"zh": "操作", "en": "Action"},
        "subject": {"zh": "对象", "en": "Target"},
        "detail": {"zh": "说明", "en": "Detail"},
        "outcome": {"zh": "结果", "en": "Outcome"},
        "database": {"zh": "数据库", "en": "Database"},
        "ok": {"zh": "正常", "en": "OK"},
        "unavailable": {"zh": "不可用", "en": "Unavailable"},
        "latency_ms": {"zh": "延迟(毫秒)", "en": "Latency (ms)"},
        "worker": {"zh": "后台任务", "en": "Worker and jobs"},
        "last_job_done": {"zh": "最近完成任务", "en": "Last job finished"},
        "jobs_due": {"zh": "已到期未执行", "en": "Jobs due now"},
        "jobs_pending": {"zh": "排队中", "en": "Jobs pending"},
        "jobs_dead": {"zh": "失败放弃", "en": "Dead jobs"},
        "next_due": {"zh": "下一个到期", "en": "Next due"},
        "workers": {"zh": "后台进程心跳", "en": "Worker heartbeats"},
        "workers_none": {
            "zh": "近期没有后台进程在运行:到期任务不会执行",
            "en": "No worker is running: due jobs will not run",
        },
        "workers_hint": {
            "zh": "心跳超过 {stale_s} 秒即标记为失联;列出最近 {shown_min} 分钟内出现过的进程",
            "en": "A beat older than {stale_s} s is flagged stale; "
            "workers seen in the last {shown_min} minutes",
        },
        "worker_id": {"zh": "进程(主机:PID)", "en": "Worker (host:pid)"},
        "worker_state": {"zh": "状态", "en": "State"},
        "state_live": {"zh": "运行中", "en": "Live"},
        "state_stale": {"zh": "失联", "en": "Stale"},
        "state_stopped": {"zh": "已停止", "en": "Stopped"},
        "started_at": {"zh": "启动时间", "en": "Started"},
        "last_beat": {"zh": "最近心跳", "en": "Last beat"},
        "beat_age_s": {"zh": "距今(秒)", "en": "Age (s)"},
        "passes": {"zh": "轮次", "en": "Passes"},
        "jobs_run": {"zh": "执行任务", "en": "Jobs run"},
        "swept": {"zh": "清理项", "en": "Swept"},
        "worker_errors": {"zh": "出错", "en": "Errors"},
        "last_error": {"zh": "最近错误", "en": "Last error"},
        "last_work": {"zh": "最近有活", "en": "Last work"},
        "reconcile": {"zh": "账本核对", "en": "Ledger reconciliation"},
        "clean": {"zh": "无差异", "en": "No differences"},
        "differences": {"zh": "差异", "en": "Differences"},
        "check": {"zh": "检查项", "en": "Check"},
        "platform_time": {"zh": "平台时间", "en": "Platform time"},
        "account_ref": {"zh": "账户ID或键", "en": "Account id or key"},
        "platform_accounts": {"zh": "平台账户", "en": "Platform accounts"},
        "no_account": {"zh": "没有这个账户", "en": "No such account"},
        "owner": {"zh": "所有者", "en": "Owner"},
        "purpose": {"zh": "用途", "en": "Purpose"},
        "debits_posted": {"zh": "借方已入账", "en": "Debits posted"},
        "credits_posted": {"zh": "贷方已入账", "en": "Credits posted"},
        "debits_pending": {"zh": "借方冻结", "en": "Debits pending"},
        "credits_pending": {"zh": "贷方冻结", "en": "Credits pending"},
        "transfers": {"zh": "转账记录", "en": "Transfers"},
        "direction": {"zh": "方向", "en": "Side"},
        "counterparty": {"zh": "对方账户", "en": "Other account"},
        "code": {"zh": "代码", "en": "Code"},
        "reference": {"zh": "业务单号", "en": "Reference"},
        "as_of": {"zh": "截至时刻(北京时间)", "en": "As of (China time)"},
        "balance_at": {"zh": "该时刻的入账余额", "en": "Posted balance at that instant"},
        "balance_at_hint": {
            "zh": "只计该时刻之前发生的转账;冻结在完成扣款时才计入,撤销或过期的冻结不计",
            "en": "Counts transfers made before that instant; a hold counts only once posted,"
            " never if voided or expired",
        },
        "as_of_invalid": {
            "zh": "时刻无效:格式不对、早于1970年或在未来",
            "en": "Not a valid instant: malformed, before 1970 or in the future",
        },
        "platform_keys": {"zh": "平台密钥版本", "en": "Platform key generations"},
        "platform_keys_hint": {
            "zh": "只读:轮换请用命令行 paybao keys 或商户后台",
            "en": "Read-only: rotate with the paybao keys CLI or the merchant portal",
        },
        "key_generation": {"zh": "版本", "en": "Generation"},
        "key_state": {"zh": "状态", "en": "State"},
        "key_state_active": {"zh": "使用中", "en": "Active"},
        "key_state_retired": {"zh": "已停用", "en": "Retired"},
        "key_newest": {"zh": "新应用使用", "en": "new apps get it"},
        "key_created": {"zh": "创建时间", "en": "Created"},
        "key_apps": {"zh": "应用数", "en": "Apps on it"},
        "key_app_rows": {"zh": "应用及其签名密钥版本", "en": "Apps and their key generation"},
        "key_apps_more": {
            "zh": "只列出前 {shown} 个应用(旧版本在前)",
            "en": "The first {shown} apps are listed (older generations first)",
        },
        "key_app_id": {"zh": "应用ID", "en": "App ID"},
        "key_merchant": {"zh": "商户", "en": "Merchant"},
        "app_status": {"zh": "应用状态", "en": "App status"},
    }
)


@router.get("/audit")
def audit_log(request: Request, before: int | None = None) -> HTMLResponse:
    platform = platform_of(request)
    with platform.db.read() as tx:
        rows = audit_page(tx, before_id=before, limit=AUDIT_PAGE_SIZE)
        names = operator_names(tx, {int(r.operator_id) for r in rows if r.operator_id})
    next_before = rows[-1].id if len(rows) == AUDIT_PAGE_SIZE else None
    return render(
        request,
        "admin/audit.html",
        title=admin_text(lang_of(request), "nav_audit"),
        audit=rows,
        names=names,
        next_before=next_before,
    )


def _database_health(request: Request) -> dict[str, Any]:
    platform = platform_of(request)
    started = time.perf_counter()
    try:
        with platform.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # the page must render to say the database is down
        log.warning("admin health: database check failed: %s", error)
        return {"ok": False, "dialect": platform.db.dialect, "latency_ms": None}
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return {"ok": True, "dialect": platform.db.dialect, "latency_ms": latency_ms}


@router.get("/health")
def health(request: Request) -> HTMLResponse:
    platform = platform_of(request)
    database = _database_health(request)
    jobs = reconcile = workers = key_generations = key_apps = None
    if database["ok"]:
        with platform.db.read() as tx:
            jobs = job_health(tx, platform.clock.now_us())
            key_apps = apps_by_generation(tx, KEY_APPS_SHOWN + 1)
        workers = platform.services["heartbeats"].recent()
        reconcile = platform.reconcile.run()
        key_generations = platform.services["platform_keys"].generations()
    policy = platform.services["heartbeats"].policy
    return render(
        request,
        "admin/health.html",
        503 if not database["ok"] else 200,
        title=admin_text(lang_of(request), "nav_health"),
        database=database,
        jobs=jobs,
        workers=workers,
        live_workers=sum(1 for w in workers or [] if w.state == "live"),
        heartbeat_policy=policy,
        reconcile=reconcile,
        differences=reconcile.differences[:DIFFERENCES_SHOWN_MAX] if reconcile else [],
        key_generations=key_generations,
        key_apps=(key_apps or [])[:KEY_APPS_SHOWN],
        key_apps_more=len(key_apps or []) > KEY_APPS_SHOWN,
        key_apps_shown=KEY_APPS_SHOWN,
        now_us=platform.clock.now_us(),
    )


def _account_view(row: Any) -> dict[str, Any]:
    account = Account(
        id=int(row.id),
        currency=row.currency,
        flags=int(row.flags),
        debits_pending=int(row.debits_pending),
        debits_posted=int(row.debits_posted),
        credits_pending=int(row.credits_pending),
        credits_posted=int(row.credits_posted),
    )
    return {"row": row, "balance_fen": account.balance_fen, "available_fen": account.available_fen}


def _balance_at(platform: Platform, account_id: int, as_of: str) -> tuple[BalanceAt | None, str]:
    """The posted balance at the console's "as of" time (China time), or the refusal's code."""
    if not as_of.strip():
        return None, ""
    try:
        at_us = parse_time_us(as_of)
        return ledger_history(platform).balance_at(account_id, at_us), ""
    except DomainError as error:
        return None, error.code


@router.get("/ledger")
def ledger(
    request: Request, account: str = "", before: int | None = None, as_of: str = ""
) -> HTMLResponse:
    platform = platform_of(request)
    found = transfers = None
    with platform.db.read() as tx:
        listing = platform_accounts(tx)
        if account.strip():
            found = find_account(tx, account[:128])
            if found is not None:
                transfers = account_transfers(
                    tx, int(found.id), before_seq=before, limit=TRANSFERS_PAGE_SIZE
                )
    next_before = transfers[-1].seq if transfers and len(transfers) == TRANSFERS_PAGE_SIZE else None
    balance_at, as_of_error = (
        _balance_at(platform, int(found.id), as_of) if found is not None else (None, "")
    )
    return render(
        request,
        "admin/ledger.html",
        404 if account.strip() and found is None else 200,
        title=admin_text(lang_of(request), "nav_ledger"),
        account_ref=account,
        listing=[_account_view(row) for row in listing],
        found=_account_view(found) if found is not None else None,
        transfers=transfers or [],
        next_before=next_before,
        as_of=as_of.strip()[:TIME_TEXT_MAX],
        balance_at=balance_at,
        as_of_error=as_of_error,
    )
