"""Huabei pages: the wallet's credit page (`/wallet/credit`: limit, available, this month's
purchases, the last bill and its due date, its minimum repayment, installments on it and the
user's plans (pages_credit_installments.py), repay, the repayment day, history) and the
operator's credit page of a user (`/admin/users/<id>/credit`: the line, its bills, grant or
change the limit with a reason, audited).

Every POST checks CSRF. The repay form carries a one-time `idem` key, so a double submit repays
once (the idempotency service answers the second from the first); a DomainError re-renders the
page with the message for its code in the page's language.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.credit import REPAYMENT_DAYS, Bill, CreditNotOpened, minimum_left_fen
from paybao.domain.errors import DomainError, InvalidInput, NotFound
from paybao.domain.money import format_yuan, parse_yuan
from paybao.services.credit import CreditService
from paybao.services.idempotency import fingerprint
from paybao.web import pages_admin
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import TEXTS, lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, render
from paybao.web.session import login_redirect

REASON_LENGTH_MAX = 500
LIMIT_YUAN_LENGTH_MAX = 16

TEXTS.update(
    {
        "credit": {"zh": "花呗", "en": "Huabei credit"},
        "credit_available": {"zh": "可用额度(元)", "en": "Available credit (CNY)"},
        "credit_limit": {"zh": "总额度", "en": "Credit limit"},
        "credit_open": {"zh": "本月消费(未出账)", "en": "This month (not billed yet)"},
        "credit_due": {"zh": "待还金额", "en": "To repay now"},
        "credit_due_date": {"zh": "最后还款日", "en": "Repay by"},
        "credit_outstanding": {"zh": "总欠款", "en": "Owed in total"},
        "credit_repayment_day": {"zh": "还款日", "en": "Repayment day"},
        "credit_day_n": {"zh": "每月{n}日", "en": "the {n}th of each month"},
        "credit_day_note": {
            "zh": "每月1日出账,还款日可选8、9、10日;修改后从下一期账单起生效。",
            "en": "Bills close on the 1st and fall due on the 8th, 9th or 10th; a change "
            "applies from the next bill on.",
        },
        "credit_set_day": {"zh": "修改还款日", "en": "Change the repayment day"},
        "credit_last_bill": {"zh": "最近账单", "en": "Last bill"},
        "credit_bills": {"zh": "历史账单", "en": "Bills"},
        "credit_purchases": {"zh": "本月消费", "en": "This month's purchases"},
        "credit_repayments": {"zh": "还款记录", "en": "Repayments"},
        "credit_repay": {"zh": "还款", "en": "Repay"},
        "credit_repay_amount": {"zh": "还款金额(元)", "en": "Amount to repay (CNY)"},
        "credit_repay_note": {
            "zh": "从余额还款,可全额、部分或只还最低;先还最早的账单,"
            "先还费用(逾期费、利息、分期手续费)再还本金。",
            "en": "Repaid from your balance, in full, in part or just the minimum: the oldest bill "
            "first, its charges (penalty, interest, installment fees) before its principal.",
        },
        "credit_nothing_due_note": {
            "zh": "暂无待还账单。本月消费将于下月1日出账。",
            "en": "Nothing to repay yet. This month's purchases are billed on the 1st.",
        },
        "credit_frozen": {
            "zh": "账单已逾期,花呗暂停使用;还清逾期账单(含逾期费用)后自动恢复。",
            "en": "A bill is overdue: Huabei is frozen until every overdue bill (with its "
            "penalty) is repaid.",
        },
        "credit_rules": {
            "zh": "按期还款免息;逾期后每日按未还本金的0.05%收取逾期费用。退款退回花呗,"
            "已还款部分退回余额。",
            "en": "Interest-free when repaid on time; after the due date the unpaid principal "
            "costs 0.05% a day. Refunds go back to Huabei; what you had already repaid comes "
            "back to your balance.",
        },
        "credit_not_opened": {
            "zh": "您还没有开通花呗。花呗额度由平台审核开通(需完成实名认证)。",
            "en": "You have no Huabei credit line yet. The platform grants lines to "
            "real-name-verified users.",
        },
        "credit_period": {"zh": "账期", "en": "Month"},
        "credit_billed": {"zh": "账单金额", "en": "Billed"},
        "credit_penalty": {"zh": "逾期费用", "en": "Penalty"},
        "credit_unpaid": {"zh": "未还", "en": "Unpaid"},
        "credit_status": {"zh": "状态", "en": "Status"},
        "credit_status_billed": {"zh": "待还款", "en": "To repay"},
        "credit_status_overdue": {"zh": "已逾期", "en": "Overdue"},
        "credit_status_paid": {"zh": "已还清", "en": "Repaid"},
        "credit_status_frozen": {"zh": "已冻结", "en": "Frozen"},
        "credit_status_active": {"zh": "正常", "en": "Active"},
        "credit_repaid_done": {"zh": "还款成功", "en": "Repaid"},
        "credit_day_done": {"zh": "还款日已修改", "en": "Repayment day changed"},
        "credit_none": {"zh": "暂无", "en": "None"},
        "credit_refunded": {"zh": "已退款", "en": "refunded"},
        # Minimum repayment and revolving interest, installments on a bill.
        "credit_minimum": {"zh": "最低还款", "en": "Minimum repayment"},
        "credit_minimum_left": {"zh": "最低还款额(未还)", "en": "Minimum left to repay"},
        "credit_minimum_note": {
            "zh": "到期前至少还清最低还款额(本金的10%加全部费用)即不算逾期;未还部分自到期日次日起"
            "每日按0.05%计息,于下月1日连同利息转入新账单。",
            "en": "Repaying at least the minimum (10% of the principal plus every charge) by the "
            "due date keeps the bill from going overdue; the rest then costs 0.05% a day from "
            "the day after and goes into the next bill on the 1st, with its interest.",
        },
        "credit_pay_minimum": {"zh": "只还最低 ¥{amount}", "en": "Pay the minimum, ¥{amount}"},
        "credit_status_min_paid": {"zh": "已还最低", "en": "Minimum repaid"},
        "credit_status_rolled": {"zh": "已转入下期", "en": "Carried over"},
        "credit_installment_left": {"zh": "分期未入账本金", "en": "Installments not billed yet"},
        "credit_fees": {"zh": "分期手续费", "en": "Installment fees"},
        "credit_interest": {"zh": "利息", "en": "Interest"},
        "credit_carried": {"zh": "上期转入", "en": "Carried in"},
        "credit_converted": {"zh": "已分期", "en": "In installments"},
        # The operator's page.
        "credit_admin": {"zh": "花呗额度", "en": "Huabei credit line"},
        "credit_admin_none": {"zh": "该用户尚未开通花呗", "en": "No credit line yet"},
        "credit_grant": {"zh": "开通/调整额度", "en": "Grant or change the limit"},
        "credit_grant_limit": {"zh": "额度(元)", "en": "Limit (CNY)"},
        "credit_granted_at": {"zh": "开通时间", "en": "Granted"},
        "credit_granted_done": {"zh": "额度已更新", "en": "Limit saved"},
        "credit_grant_note": {
            "zh": "额度 {low}–{high} 元;仅限已实名认证的用户。操作记入操作日志。",
            "en": "Lines are {low}-{high} CNY, for real-name-verified users only. Audited.",
        },
    }
)

router = APIRouter(include_in_schema=False)
admin_router = APIRouter(
    prefix="/admin",
    include_in_schema=False,
    dependencies=[Depends(pages_admin.require_operator)],
)


def _credit(request: Request) -> CreditService:
    service: CreditService = platform_of(request).services["credit"]
    return service


# The wallet's page -------------------------------------------------------------------------


@router.get("/wallet/credit")
def credit_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    done = request.query_params.get("done", "")
    notice = {"repaid": "credit_repaid_done", "day": "credit_day_done"}.get(done)
    return _page(request, user.id, notice=notice)


def _page(request: Request, user_id: int, status_code: int = 200, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    notice = extra.pop("notice", None)
    credit = _credit(request)
    installments = platform_of(request).services["credit_installments"]
    try:
        summary = credit.summary(user_id)
    except CreditNotOpened:
        summary = None
    last_bill = summary.bills[0] if summary and summary.bills else None
    rate_ppm = credit.policy.minimum_rate_ppm
    repay_fen = 0
    if summary:
        wants_minimum = request.query_params.get("pay") == "min" and summary.minimum_due_fen
        repay_fen = summary.minimum_due_fen if wants_minimum else summary.due_fen
    return render(
        request,
        "credit/wallet.html",
        status_code=status_code,
        title=TEXTS["credit"][lang],
        summary=summary,
        last_bill=last_bill,
        convertible_fen=installments.convertible(user_id, last_bill.id) if last_bill else 0,
        plans=installments.plans_of(user_id) if summary else [],
        minimum_left=lambda bill: _minimum_left(bill, rate_ppm),
        repay_fen=repay_fen,
        days=REPAYMENT_DAYS,
        idem=secrets.token_urlsafe(16),
        notice=TEXTS[notice][lang] if notice else None,
        **extra,
    )


def _minimum_left(bill: Bill, rate_ppm: int) -> int:
    return minimum_left_fen(bill, rate_ppm) if bill.owing else 0


@router.post("/wallet/credit/repay", dependencies=CSRF)
async def repay(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    credit = _credit(request)
    try:
        amount_fen = parse_yuan(form.get("amount", "").strip())
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            repayment = credit.repay(user.id, amount_fen, password)
            return 200, json.dumps({"repayment_id": repayment.id})

        digest = fingerprint("credit_repay", str(amount_fen))
        key = form.get("idem") or secrets.token_urlsafe(8)
        platform_of(request).services["idempotency"].run(f"form:{user.id}", key, digest, work)
    except DomainError as error:
        return _page(request, user.id, status_for(error), **_error(request, error))
    return RedirectResponse("/wallet/credit?done=repaid", status_code=303)


@router.post("/wallet/credit/day", dependencies=CSRF)
async def repayment_day(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await request.form()
    try:
        day_text = str(form.get("day", ""))
        if not day_text.isdigit():
            raise InvalidInput("choose a day", code="credit_repayment_day_invalid")
        _credit(request).set_repayment_day(user.id, int(day_text))
    except DomainError as error:
        return _page(request, user.id, status_for(error), **_error(request, error))
    return RedirectResponse("/wallet/credit?done=day", status_code=303)


# The operator's page ---------------------------------------------------------------------


@admin_router.get("/users/{user_id}/credit")
def admin_credit(request: Request, user_id: int) -> Response:
    done = request.query_params.get("done") == "granted"
    return _admin_page(request, user_id, notice="credit_granted_done" if done else None)


def _admin_page(
    request: Request, user_id: int, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    notice = extra.pop("notice", None)
    try:
        platform_of(request).services["users"].record(user_id)
    except NotFound as error:
        error_context = pages_admin.admin_error(request, error)
        return pages_admin.render(request, "admin/message.html", 404, **error_context)
    try:
        summary = _credit(request).summary(user_id)
    except CreditNotOpened:
        summary = None
    policy = _credit(request).policy
    return pages_admin.render(
        request,
        "credit/admin_line.html",
        status_code,
        title=f"{TEXTS['credit_admin'][lang]} · {user_id}",
        user_id=user_id,
        summary=summary,
        plans=platform_of(request).services["credit_installments"].plans_of(user_id),
        limit_low=format_yuan(policy.limit_fen_min),
        limit_high=format_yuan(policy.limit_fen_max),
        notice=TEXTS[notice][lang] if notice else None,
        **extra,
    )


@admin_router.post("/users/{user_id}/credit", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("credit.grant")
async def admin_grant(
    request: Request, user_id: int, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await request.form()
    limit_text = str(form.get("limit", "")).strip()[:LIMIT_YUAN_LENGTH_MAX]
    reason = " ".join(str(form.get("reason", "")).split())[:REASON_LENGTH_MAX]
    try:
        # An operator's action on someone's money must say why: the audit row keeps it.
        if not reason:
            raise InvalidInput("give a reason", code="reason_required")
        limit_fen = parse_yuan(limit_text)
        _credit(request).grant(user_id, limit_fen, reason=reason, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _admin_page(request, user_id, status_for(error), limit=limit_text, **context)
    return RedirectResponse(f"/admin/users/{user_id}/credit?done=granted", status_code=303)


def install(app: Any) -> None:
    """Before pages_user.install: its catch-all `/wallet/{kind}` would shadow /wallet/credit."""
    from paybao.web import api_credit, api_credit_installments, pages_credit_installments

    app.include_router(api_credit.router)
    app.include_router(api_credit_installments.router)
    app.include_router(router)
    app.include_router(pages_credit_installments.router)
    app.include_router(admin_router)
