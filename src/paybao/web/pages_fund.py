"""Wallet pages of Yu'e Bao (`/wallet/fund...`): the holdings card (total, yesterday's and all
income, the 7-day yield, what is pending and when it confirms), transfer in and out forms, the
records and the daily income; and the operators' read-only page (`/admin/fund`).

Money forms carry a one-time `idem` key, as the wallet's do: a double submit moves money once.
The figures are published with `paybao fund publish-rate` (the console shows them).
"""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.errors import DomainError
from paybao.domain.fund import (
    RedeemSpeed,
    china_day,
    format_per_10k,
    redeem_speed_of,
)
from paybao.domain.money import format_yuan, parse_yuan
from paybao.services.fund import FundService
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.web import pages_admin
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, field, form_of, render
from paybao.web.session import login_redirect

router = APIRouter(prefix="/wallet/fund", include_in_schema=False)
admin_router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(pages_admin.require_operator)]
)
pages_admin.add_nav("nav_fund", "/admin/fund")
PAGE_SIZE = 20
RECENT_ROWS = 7

FUND_TEXTS: dict[str, dict[str, str]] = {
    "fund": {"zh": "余额宝", "en": "Yu'e Bao"},
    "total": {"zh": "总金额(元)", "en": "Total (CNY)"},
    "income_yesterday": {"zh": "昨日收益", "en": "Yesterday's income"},
    "income_total": {"zh": "累计收益", "en": "Total income"},
    "yield_7d": {"zh": "七日年化", "en": "7-day annualised"},
    "per_10k": {"zh": "万份收益", "en": "Income per 10,000"},
    "confirmed": {"zh": "已确认", "en": "Confirmed"},
    "pending": {"zh": "待确认", "en": "Waiting for confirmation"},
    "redeeming": {"zh": "转出中", "en": "On its way out"},
    "in": {"zh": "转入", "en": "Transfer in"},
    "out": {"zh": "转出", "en": "Transfer out"},
    "kind_in": {"zh": "转入", "en": "In"},
    "kind_out_fast": {"zh": "快速转出", "en": "Out (instant)"},
    "kind_out_normal": {"zh": "普通转出", "en": "Out (next trading day)"},
    "status_pending": {"zh": "处理中", "en": "In progress"},
    "status_confirmed": {"zh": "已确认", "en": "Confirmed"},
    "status_succeeded": {"zh": "已到账", "en": "Arrived"},
    "in_progress": {"zh": "处理中", "en": "In progress"},
    "confirms_on": {
        "zh": "{day} 确认,当日起计算收益",
        "en": "confirmed on {day}, earning from then",
    },
    "arrives_on": {"zh": "{day} 到账余额", "en": "arrives in the balance on {day}"},
    "income": {"zh": "收益明细", "en": "Daily income"},
    "income_col": {"zh": "收益", "en": "Income"},
    "state": {"zh": "状态", "en": "Status"},
    "settles_on": {"zh": "{day} 确认", "en": "confirmed {day}"},
    "arrives_short": {"zh": "{day} 到账", "en": "arrives {day}"},
    "records": {"zh": "交易记录", "en": "Transfers"},
    "more": {"zh": "查看全部", "en": "See all"},
    "date": {"zh": "日期", "en": "Date"},
    "on_amount": {"zh": "计息金额", "en": "On"},
    "speed": {"zh": "到账方式", "en": "Arrival"},
    "fast": {"zh": "快速到账(今日剩余额度 {left} 元)", "en": "Instant ({left} CNY left today)"},
    "normal": {"zh": "普通到账({day} 到账,不限额)", "en": "Normal (arrives {day}, no limit)"},
    "from_balance": {
        "zh": "从余额转入,可用余额 {available} 元",
        "en": "From the balance: {available} CNY available",
    },
    "in_timing": {
        "zh": "现在转入,{confirm} 确认份额并开始计算收益,{shown} 收益到账。"
        "15:00 后或非交易日转入顺延一个交易日。",
        "en": "In now: shares confirmed on {confirm}, earning from then; the first income "
        "shows on {shown}. After 15:00 or on a non-trading day it counts for the next "
        "trading day.",
    },
    "out_available": {
        "zh": "可转出 {confirmed} 元(待确认的资金确认后才能转出)",
        "en": "{confirmed} CNY can leave now (money waiting for confirmation cannot)",
    },
    "out_free": {"zh": "转出到余额免费。", "en": "Transfers out to the balance are free."},
    "rules": {
        "zh": "交易日 15:00 前转入,下一个交易日确认并开始计算收益,收益每日发放"
        "(含周末、节假日)。快速转出每人每日限额 {quota} 元,实时到账;"
        "普通转出不限额,下一个交易日到账。",
        "en": "Money in before 15:00 on a trading day is confirmed on the next trading day "
        "and earns from then; income is paid every day, weekends and holidays too. Instant "
        "transfers out: up to {quota} CNY per person per day; normal ones are unlimited and "
        "arrive on the next trading day.",
    },
    "none_yet": {"zh": "暂无记录", "en": "Nothing yet"},
    "back": {"zh": "返回余额宝", "en": "Back to Yu'e Bao"},
    "done_pending": {"zh": "转入成功,等待确认", "en": "Transferred in; waiting for confirmation"},
    "done_succeeded": {"zh": "转出成功,已到账余额", "en": "Transferred out to the balance"},
    "done_redeeming": {
        "zh": "转出成功,下一交易日到账",
        "en": "On its way; arrives on the next trading day",
    },
}


# The operators' page: its words join the console's texts (`t(key)` in fund/admin.html).
pages_admin.ADMIN_TEXTS.update(
    {
        "nav_fund": {"zh": "余额宝", "en": "Fund"},
        "fd_title": {"zh": "余额宝", "en": "Yu'e Bao"},
        "fd_holders": {"zh": "持有人数", "en": "Holders"},
        "fd_confirmed": {"zh": "已确认份额", "en": "Confirmed shares"},
        "fd_pending": {"zh": "待确认", "en": "Waiting for confirmation"},
        "fd_redeeming": {"zh": "普通转出在途", "en": "On the way back (normal)"},
        "fd_income_total": {"zh": "累计发放收益", "en": "Income paid, all time"},
        "fd_custody": {"zh": "基金托管账户", "en": "Custody account"},
        "fd_income_account": {"zh": "收益账户", "en": "Income account"},
        "fd_yield_7d": {"zh": "七日年化", "en": "7-day annualised"},
        "fd_default_per_10k": {"zh": "默认万份收益", "en": "Default per 10,000"},
        "fd_default_note": {
            "zh": "{value} 元(未公布收益的日期使用)",
            "en": "{value} CNY (a day nobody published)",
        },
        "fd_quota": {"zh": "快速转出额度", "en": "Instant limit"},
        "fd_quota_note": {"zh": "每人每日 {quota} 元", "en": "{quota} CNY per user per day"},
        "fd_daily_pass": {"zh": "每日结算", "en": "Daily pass"},
        "fd_users_settled": {"zh": "已结算 {count} 人", "en": "{count} users"},
        "fd_not_started": {
            "zh": "尚未开始(第一笔转入后开始)",
            "en": "not started (the first transfer in starts it)",
        },
        "fd_holidays": {"zh": "节假日", "en": "Holidays"},
        "fd_no_holidays": {
            "zh": "未设置(PAYBAO_FUND_HOLIDAYS)",
            "en": "none set (PAYBAO_FUND_HOLIDAYS)",
        },
        "fd_rates": {"zh": "已公布的万份收益", "en": "Published income per 10,000 CNY"},
        "fd_rates_hint": {
            "zh": "公布今日(或之后某日)的万份收益:",
            "en": "Publish today's (or a later day's) figure with",
        },
        "fd_rates_final": {
            "zh": "。已结束的日期不能再修改。",
            "en": "; a day that has ended is final.",
        },
        "fd_day": {"zh": "日期", "en": "Day"},
        "fd_per_10k": {"zh": "万份收益(元)", "en": "Per 10,000 CNY"},
        "fd_published": {"zh": "公布时间", "en": "Published"},
        "fd_by": {"zh": "公布人", "en": "By"},
        "fd_no_rates": {
            "zh": "尚未公布:每天都使用默认万份收益。",
            "en": "None published yet: every day uses the default.",
        },
    }
)


def fund_text(lang: str, key: str, **values: object) -> str:
    entry = FUND_TEXTS.get(key)
    value = entry.get(lang, key) if entry else key
    return value.format(**values) if values else value


def _fund(request: Request) -> FundService:
    service: FundService = platform_of(request).services["fund"]
    return service


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    context.setdefault("title", fund_text(lang, "fund"))
    return render(request, name, ft=lambda key, **v: fund_text(lang, key, **v), **context)


# The fund page ------------------------------------------------------------------------------


@router.get("")
def fund_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    fund = _fund(request)
    lang = lang_of(request)
    done = request.query_params.get("done", "")
    notice = fund_text(lang, f"done_{done}") if f"done_{done}" in FUND_TEXTS else None
    return _render(
        request,
        "fund/home.html",
        s=fund.summary(user.id),
        incomes=fund.incomes(user.id, RECENT_ROWS),
        orders=fund.orders(user.id, RECENT_ROWS),
        quota=format_yuan(fund.policy.fast_redeem_daily_fen),
        notice=notice,
    )


@router.get("/records")
def records_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    before = request.query_params.get("before", "")
    orders = _fund(request).orders(user.id, PAGE_SIZE, int(before) if before.isdigit() else None)
    next_before = orders[-1].id if len(orders) == PAGE_SIZE else None
    return _render(request, "fund/records.html", orders=orders, next_before=next_before)


@router.get("/income")
def income_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    incomes = _fund(request).incomes(user.id, PAGE_SIZE, _date(request.query_params.get("before")))
    next_before = incomes[-1].income_date.isoformat() if len(incomes) == PAGE_SIZE else None
    return _render(request, "fund/income.html", incomes=incomes, next_before=next_before)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# Transfer in and out --------------------------------------------------------------------------


def _money_form(request: Request, user_id: int, direction: str, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    fund = _fund(request)
    now_us = fund.clock.now_us()
    calendar = fund.policy.calendar
    settle = calendar.settle_date(now_us)
    fields = [field("amount", "金额(元)" if lang == "zh" else "Amount (CNY)", mode="decimal")]
    if direction == "in":
        _, available_fen = platform_of(request).services["wallet"].balance(user_id)
        notes = [
            fund_text(lang, "from_balance", available=format_yuan(available_fen)),
            fund_text(lang, "in_timing", confirm=settle, shown=settle + timedelta(days=1)),
        ]
    else:
        summary = fund.summary(user_id)
        speeds = [
            (
                RedeemSpeed.FAST.value,
                fund_text(lang, "fast", left=format_yuan(summary.fast_left_fen)),
            ),
            (RedeemSpeed.NORMAL.value, fund_text(lang, "normal", day=settle)),
        ]
        fields.append(field("speed", fund_text(lang, "speed"), "select", "fast", options=speeds))
        notes = [
            fund_text(lang, "out_available", confirmed=format_yuan(summary.confirmed_fen)),
            fund_text(lang, "out_free"),
        ]
    password_label = "支付密码(6位数字)" if lang == "zh" else "Payment password (6 digits)"
    fields.append(field("payment_password", password_label, "password", mode="numeric"))
    title = fund_text(lang, direction)
    return render(
        request,
        "base/form.html",
        title=f"{fund_text(lang, 'fund')} · {title}",
        action=f"/wallet/fund/{direction}",
        fields=fields,
        submit=title,
        idem=secrets.token_urlsafe(16),
        notes=notes,
        links=[("/wallet/fund", fund_text(lang, "back"))],
        **extra,
    )


@router.get("/{direction}")
def money_page(direction: str, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    if direction not in ("in", "out"):
        return render(request, "user/info.html", status_code=404, title="404", sections=[])
    return _money_form(request, user.id, direction)


@router.post("/{direction}", dependencies=CSRF)
async def money_post(direction: str, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    if direction not in ("in", "out"):
        return render(request, "user/info.html", status_code=404, title="404", sections=[])
    form = await form_of(request)
    fund = _fund(request)
    try:
        amount_fen = parse_yuan(form.get("amount", "").strip())
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            if direction == "in":
                order = fund.transfer_in(user.id, amount_fen, password)
            else:
                speed = redeem_speed_of(form.get("speed", "fast"))
                order = fund.transfer_out(user.id, amount_fen, speed, password)
            return 200, json.dumps({"status": order.status.value, "kind": order.kind.value})

        public = without_secrets({k: v for k, v in form.items() if k != "csrf_token"})
        digest = fingerprint("fund", direction, *(f"{k}={v}" for k, v in sorted(public.items())))
        key = form.get("idem") or secrets.token_urlsafe(8)
        _, body = (
            platform_of(request).services["idempotency"].run(f"form:{user.id}", key, digest, work)
        )
    except DomainError as error:
        return _money_form(request, user.id, direction, status_code=400, **_error(request, error))
    answer = json.loads(body)
    done = "redeeming" if answer.get("kind") == "out_normal" else answer.get("status", "")
    return RedirectResponse(f"/wallet/fund?done={done}", status_code=303)


# The operators' page --------------------------------------------------------------------------


@admin_router.get("/fund")
def admin_fund(request: Request) -> HTMLResponse:
    fund = _fund(request)
    yield_7d, _ = fund.yield_7d()
    return pages_admin.render(
        request,
        "fund/admin.html",
        title=pages_admin.admin_text(lang_of(request), "fd_title"),
        rates=fund.rates(60),
        totals=fund.totals(),
        state=platform_of(request).services["fund_days"].state(),
        default_per_10k=format_per_10k(fund.policy.per_10k_default_e4),
        yield_7d=yield_7d,
        per_10k=format_per_10k,
        today=china_day(fund.clock.now_us()),
        quota=format_yuan(fund.policy.fast_redeem_daily_fen),
        holidays=sorted(fund.policy.calendar.holidays),
    )


def install(app: Any) -> None:
    """Before the wallet pages: their /wallet/{kind} would shadow /wallet/fund."""
    app.include_router(router)
    app.include_router(admin_router)


__all__ = ["install", "router"]
