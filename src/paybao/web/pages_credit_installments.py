"""Huabei installment pages of the wallet: choose installments on a bill with the schedule shown
before confirming (`/wallet/credit/installments/new?bill=<id>`), a plan and its periods with early
repayment (`/wallet/credit/installments/<id>`).

Choosing is GETs (amount and number of periods; every plan's first period and fee shown), so the
back button and a reload move nothing. Confirming and prepaying are POSTs with CSRF, the payment
password and a one-time `idem` key, so a double submit converts or prepays once; a DomainError
re-renders the page with the message for its code.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import format_yuan, parse_yuan
from paybao.services.credit_installments import InstallmentService, Quote, plan_answer
from paybao.services.idempotency import fingerprint
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import TEXTS, lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, render
from paybao.web.session import login_redirect

ID_MAX = 2**63 - 1
AMOUNT_TEXT_LENGTH_MAX = 16

TEXTS.update(
    {
        "credit_installments": {"zh": "账单分期", "en": "Bill installments"},
        "credit_installment_offer": {
            "zh": "本期账单最多可分期 ¥{amount}:3、6、9或12期,手续费总额为本金的"
            "2.5%、4.5%、6.5%或8.8%。",
            "en": "Up to ¥{amount} of this bill can go into 3, 6, 9 or 12 monthly periods; the "
            "fee is 2.5%, 4.5%, 6.5% or 8.8% of it in all.",
        },
        "credit_installment_start": {"zh": "分期还款", "en": "Pay in installments"},
        "credit_installment_bill": {"zh": "{period} 账单", "en": "Bill of {period}"},
        "credit_installment_amount": {"zh": "分期金额(元)", "en": "Amount in installments (CNY)"},
        "credit_installment_amount_note": {
            "zh": "最少100元,最多 ¥{amount}。",
            "en": "At least 100 CNY, at most ¥{amount}.",
        },
        "credit_installment_update": {"zh": "更新金额", "en": "Update the amount"},
        "credit_installment_count": {"zh": "{n}期", "en": "{n} months"},
        "credit_installment_first": {"zh": "首期 ¥{amount}", "en": "first ¥{amount}"},
        "credit_installment_fee_all": {"zh": "手续费 ¥{amount}", "en": "fee ¥{amount}"},
        "credit_installment_unavailable": {
            "zh": "这期账单不能分期:只有已出账、未到还款日、未还清且未分期过的账单,"
            "且可分期金额不少于100元时才可分期。",
            "en": "This bill cannot go into installments: only a bill that is billed, not yet "
            "due, not repaid and not converted before, with at least 100 CNY of its own "
            "principal unpaid, can.",
        },
        "credit_installment_choose": {"zh": "选择期数", "en": "Choose the months"},
        "credit_installment_chosen": {"zh": "已选", "en": "chosen"},
        "credit_installment_schedule": {"zh": "还款计划", "en": "Schedule"},
        "credit_installment_number": {"zh": "期", "en": "No."},
        "credit_installment_due": {"zh": "还款日", "en": "Due"},
        "credit_installment_principal": {"zh": "本金", "en": "Principal"},
        "credit_installment_fee": {"zh": "手续费", "en": "Fee"},
        "credit_installment_total": {"zh": "应还", "en": "To repay"},
        "credit_installment_sum": {"zh": "合计", "en": "Total"},
        "credit_installment_confirm": {"zh": "确认分期", "en": "Confirm installments"},
        "credit_installment_rules": {
            "zh": "分期金额从本期账单移出,每月1日按计划计入新账单(本金+手续费),手续费随每期入账。"
            "提前还款一次还清未入账本金,未入账各期手续费全免。",
            "en": "The amount leaves this bill; on each 1st one period (principal + fee) goes "
            "into the new bill, its fee with it. Repaying early pays every period not billed "
            "yet at once and waives their fees.",
        },
        "credit_plans": {"zh": "我的分期", "en": "My installments"},
        "credit_plan": {"zh": "分期详情", "en": "Installment plan"},
        "credit_plan_progress": {"zh": "已入账 {k}/{n} 期", "en": "{k} of {n} billed"},
        "credit_plan_left": {"zh": "未入账本金", "en": "Not billed yet"},
        "credit_plan_status_active": {"zh": "还款中", "en": "Repaying"},
        "credit_plan_status_completed": {"zh": "已完成", "en": "Completed"},
        "credit_plan_status_prepaid": {"zh": "已提前还清", "en": "Repaid early"},
        "credit_plan_status_refunded": {"zh": "已退款", "en": "Refunded"},
        "credit_period_scheduled": {"zh": "待入账", "en": "To be billed"},
        "credit_period_billed": {"zh": "已入账", "en": "Billed"},
        "credit_period_prepaid": {"zh": "已提前还款", "en": "Repaid early"},
        "credit_period_refunded": {"zh": "已退款取消", "en": "Refunded"},
        # Checkout installments (花呗分期 at the cashier: domain/checkout_installments.py).
        "credit_plan_checkout": {"zh": "分期购物", "en": "Paid in installments"},
        "credit_plan_trade": {"zh": "订单", "en": "Order"},
        "credit_plan_seller_fee": {
            "zh": "商家承担手续费 · 免息",
            "en": "Fee paid by the merchant · interest-free",
        },
        "credit_plan_refunded": {"zh": "已退款", "en": "Refunded"},
        "credit_prepay": {"zh": "提前还款", "en": "Repay early"},
        "credit_prepay_note": {
            "zh": "从余额一次还清未入账本金 ¥{amount},免除未入账手续费 ¥{fee};"
            "已入账的各期请在账单中还款。",
            "en": "Pays the ¥{amount} not billed yet from your balance and waives its ¥{fee} of "
            "fees; periods already billed are repaid with their bills.",
        },
        "credit_converted_done": {"zh": "分期成功", "en": "Installments set up"},
        "credit_prepaid_done": {"zh": "提前还款成功", "en": "Repaid early"},
    }
)

router = APIRouter(include_in_schema=False)


def _installments(request: Request) -> InstallmentService:
    service: InstallmentService = platform_of(request).services["credit_installments"]
    return service


# Choosing ----------------------------------------------------------------------------------------


@router.get("/wallet/credit/installments/new")
def choose(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    query = request.query_params
    return _choose_page(
        request, user.id, query.get("bill", ""), query.get("amount", ""), query.get("periods", "")
    )


def _choose_page(
    request: Request,
    user_id: int,
    bill_text: str,
    amount_text: str,
    periods_text: str,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    service = _installments(request)
    try:
        bill_id = _id(bill_text, "credit_bill_not_found")
        bill = service.bill_of(user_id, bill_id)
    except DomainError as error:
        return _render_choose(request, status_for(error), {"bill": None, **_error(request, error)})
    most_fen = service.convertible(user_id, bill_id)
    amount_text = amount_text.strip()[:AMOUNT_TEXT_LENGTH_MAX]
    context: dict[str, Any] = {
        "bill": bill,
        "most_fen": most_fen,
        "amount": amount_text or format_yuan(most_fen),
        "options": [],
        "chosen": None,
        "idem": secrets.token_urlsafe(16),
    }
    if most_fen > 0:
        try:
            amount_fen = parse_yuan(amount_text) if amount_text else most_fen
            context["options"] = [
                service.quote(user_id, bill_id, amount_fen, n) for n in service.policy.counts
            ]
            context["chosen"] = _chosen(service, user_id, bill_id, amount_fen, periods_text)
        except DomainError as error:
            context.update(_error(request, error))
            status_code = max(status_code, status_for(error))
    context.update(extra)
    return _render_choose(request, status_code, context)


def _render_choose(request: Request, status_code: int, context: dict[str, Any]) -> HTMLResponse:
    lang = lang_of(request)
    return render(
        request,
        "credit/installment_new.html",
        status_code=status_code,
        title=TEXTS["credit_installments"][lang],
        **context,
    )


def _id(text: str, code: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= ID_MAX:
        raise InvalidInput("no such item", code=code)
    return int(text)


def _chosen(
    service: InstallmentService, user_id: int, bill_id: int, amount_fen: int, periods_text: str
) -> Quote | None:
    if not periods_text:
        return None
    if not periods_text.isdigit() or len(periods_text) > 2:
        raise InvalidInput("choose the months", code="credit_installment_count_invalid")
    return service.quote(user_id, bill_id, amount_fen, int(periods_text))


@router.post("/wallet/credit/installments", dependencies=CSRF)
async def convert(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    bill_text, amount_text, periods_text = (form.get(k, "") for k in ("bill", "amount", "periods"))
    service = _installments(request)
    try:
        bill_id = _id(bill_text, "credit_bill_not_found")
        amount_fen = parse_yuan(amount_text.strip()[:AMOUNT_TEXT_LENGTH_MAX])
        count = _id(periods_text, "credit_installment_count_invalid")
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            plan = service.convert(user.id, bill_id, amount_fen, count, password)
            return 200, json.dumps(plan_answer(plan), ensure_ascii=False)

        digest = fingerprint("credit_installment", str(bill_id), str(amount_fen), str(count))
        key = form.get("idem") or secrets.token_urlsafe(8)
        idempotency = platform_of(request).services["idempotency"]
        _status, body = idempotency.run(f"form:{user.id}", key, digest, work)
    except DomainError as error:
        extra = _error(request, error)
        return _choose_page(
            request, user.id, bill_text, amount_text, periods_text, status_for(error), **extra
        )
    plan_id = json.loads(body)["id"]
    return RedirectResponse(f"/wallet/credit/installments/{plan_id}?done=converted", 303)


# A plan ------------------------------------------------------------------------------------------


@router.get("/wallet/credit/installments/{plan_id}")
def plan_page(request: Request, plan_id: int = Path(ge=1, le=ID_MAX)) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    done = request.query_params.get("done", "")
    notice = {"converted": "credit_converted_done", "prepaid": "credit_prepaid_done"}.get(done)
    return _plan_page(request, user.id, plan_id, notice=notice)


def _plan_page(
    request: Request, user_id: int, plan_id: int, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    notice = extra.pop("notice", None)
    try:
        plan = _installments(request).plan(user_id, plan_id)
    except DomainError as error:
        return render(
            request, "credit/installment_plan.html", 404, plan=None, **_error(request, error)
        )
    return render(
        request,
        "credit/installment_plan.html",
        status_code=status_code,
        title=TEXTS["credit_plan"][lang],
        plan=plan,
        idem=secrets.token_urlsafe(16),
        notice=TEXTS[notice][lang] if notice else None,
        **extra,
    )


@router.post("/wallet/credit/installments/{plan_id}/prepay", dependencies=CSRF)
async def prepay(request: Request, plan_id: int = Path(ge=1, le=ID_MAX)) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    service = _installments(request)
    try:
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            plan = service.prepay(user.id, plan_id, password)
            return 200, json.dumps(plan_answer(plan), ensure_ascii=False)

        digest = fingerprint("credit_prepayment", str(plan_id))
        key = form.get("idem") or secrets.token_urlsafe(8)
        platform_of(request).services["idempotency"].run(f"form:{user.id}", key, digest, work)
    except DomainError as error:
        return _plan_page(request, user.id, plan_id, status_for(error), **_error(request, error))
    return RedirectResponse(f"/wallet/credit/installments/{plan_id}?done=prepaid", 303)
