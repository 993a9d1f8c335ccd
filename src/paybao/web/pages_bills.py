"""Portal bills and settlement: bill downloads, the daily summary, T+1 payouts, the settlement
card and manual withdrawals.

- `/merchant/bills`: one app's day summary (the same rows the trade bill prints), the bills
  already built, and a download form for any closed day (`yyyy-MM-dd`) or month (`yyyy-MM`).
  A download asks the bill service for a 30-second signed URL (as the gateway method does) and
  redirects the browser to it, so the portal and merchants' tools get the very same file.
- `/merchant/settlements`: the settlement account's balance, the bound card (masked), every
  payout with its status and failure, a card-binding form and a withdrawal form. Binding a card
  and withdrawing move where money goes, so both ask for the portal password again.

Every look-up is scoped by the signed-in merchant: another merchant's app is a 404, the same
answer as an app that does not exist.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.bins import CardType
from paybao.domain.cards import identify_card, mask_card_number
from paybao.domain.errors import DomainError, InvalidInput, NotFound
from paybao.domain.identity import normalize_phone, real_names_match
from paybao.domain.money import parse_yuan
from paybao.domain.settlement import SettlementStatus
from paybao.services.clock import datetime_from_us
from paybao.web import pages_merchant as portal
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

SETTLEMENTS_SHOWN_MAX = 50
BILLS_SHOWN_MAX = 62
FIELD_LENGTH_MAX = 64

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_nav("nav_bills", "/merchant/bills")
portal.add_nav("nav_settlements", "/merchant/settlements")
portal.add_texts(
    {
        "nav_bills": {"zh": "账单", "en": "Bills"},
        "nav_settlements": {"zh": "结算", "en": "Settlement"},
        "bill_app": {"zh": "应用", "en": "App"},
        "bill_day": {"zh": "日期", "en": "Day"},
        "bill_show": {"zh": "查看", "en": "Show"},
        "bill_summary": {"zh": "当日汇总", "en": "Day summary"},
        "bill_summary_open": {
            "zh": "当日尚未结束,数字截至此刻",
            "en": "The day has not ended: figures so far",
        },
        "bill_trade_count": {"zh": "交易笔数", "en": "Payments"},
        "bill_refund_count": {"zh": "退款笔数", "en": "Refunds"},
        "bill_received": {"zh": "商家实收", "en": "Received"},
        "bill_refunded": {"zh": "退款金额", "en": "Refunded"},
        "bill_fee": {"zh": "服务费", "en": "Fees"},
        "bill_net": {"zh": "净额", "en": "Net"},
        "bill_download": {"zh": "下载账单", "en": "Download a bill"},
        "bill_type": {"zh": "账单类型", "en": "Bill type"},
        "bill_type_trade": {"zh": "交易账单(trade)", "en": "Trades (trade)"},
        "bill_type_signcustomer": {
            "zh": "账户资金账单(signcustomer)",
            "en": "Account movements (signcustomer)",
        },
        "bill_period": {
            "zh": "账单日期(日 2026-01-31 或月 2026-01)",
            "en": "Period (day 2026-01-31 or month 2026-01)",
        },
        "bill_built": {"zh": "已生成的账单", "en": "Bills ready"},
        "bill_none": {"zh": "还没有生成的账单", "en": "No bills yet"},
        "bill_no_apps": {"zh": "还没有应用", "en": "No apps yet"},
        "settle_balance": {"zh": "待结算余额", "en": "Balance to settle"},
        "settle_available": {"zh": "可提现", "en": "Available"},
        "settle_card": {"zh": "结算银行卡", "en": "Settlement card"},
        "settle_no_card": {
            "zh": "尚未绑定结算卡:T+1 结算款会留在账户中,直到绑定银行卡",
            "en": "No settlement card: T+1 payouts wait on the account until you bind one",
        },
        "settle_failed_banner": {
            "zh": "有结算款未能打到银行卡,请检查结算卡",
            "en": "A payout could not be paid to your card; check the settlement card",
        },
        "settle_list": {"zh": "结算记录", "en": "Payouts"},
        "settle_none": {"zh": "还没有结算记录", "en": "No payouts yet"},
        "settle_kind": {"zh": "类型", "en": "Kind"},
        "settle_kind_daily": {"zh": "T+1 结算", "en": "T+1"},
        "settle_kind_manual": {"zh": "手动提现", "en": "Withdrawal"},
        "settle_date": {"zh": "业务日", "en": "Business day"},
        "settle_amount": {"zh": "金额", "en": "Amount"},
        "settle_status": {"zh": "状态", "en": "Status"},
        "settle_attempts": {"zh": "尝试次数", "en": "Attempts"},
        "settle_failure": {"zh": "失败原因", "en": "Failure"},
        "settle_paid_at": {"zh": "到账时间", "en": "Paid"},
        "settle_status_pending": {"zh": "待打款", "en": "Waiting"},
        "settle_status_sent": {"zh": "银行处理中", "en": "At the bank"},
        "settle_status_paid": {"zh": "已到账", "en": "Paid"},
        "settle_status_failed": {"zh": "失败", "en": "Failed"},
        "settle_bind": {"zh": "绑定结算卡", "en": "Bind a settlement card"},
        "settle_card_number": {"zh": "银行卡号(借记卡)", "en": "Card number (debit)"},
        "settle_holder": {
            "zh": "开户名(商户名称或法人姓名)",
            "en": "Holder (merchant or owner's name)",
        },
        "settle_id_number": {"zh": "开户证件号", "en": "Holder's ID number"},
        "settle_phone": {"zh": "银行预留手机号", "en": "Phone registered at the bank"},
        "settle_password": {"zh": "登录密码(确认身份)", "en": "Portal password (to confirm)"},
        "settle_bound": {"zh": "结算卡已绑定", "en": "Settlement card bound"},
        "settle_withdraw": {"zh": "手动提现", "en": "Withdraw"},
        "settle_withdraw_amount": {"zh": "提现金额(元)", "en": "Amount (CNY)"},
        "settle_withdraw_paid": {"zh": "提现已到账", "en": "Withdrawal paid"},
        "settle_withdraw_waiting": {
            "zh": "提现已提交,银行处理中",
            "en": "Withdrawal sent; the bank is processing it",
        },
    }
)
portal.MERCHANT_ERRORS.update(
    {
        "app_not_found": {"zh": "应用不存在", "en": "No such app"},
        "bill_not_exist": {
            "zh": "该期账单不存在或尚未生成(当天结束后才有账单)",
            "en": "No bill for that period (a day's bill exists once the day has ended)",
        },
        "invalid_bill_date": {
            "zh": "账单日期应为 2026-01-31 或 2026-01",
            "en": "Periods look like 2026-01-31 or 2026-01",
        },
        "settlement_card_missing": {"zh": "请先绑定结算卡", "en": "Bind a settlement card first"},
        "merchant_balance_not_enough": {
            "zh": "可提现余额不足",
            "en": "The available balance is not enough",
        },
        "settle_holder_mismatch": {
            "zh": "开户名须为商户名称或法人姓名",
            "en": "The holder must be the merchant or its owner",
        },
        "bank_declined": {"zh": "银行拒绝入账", "en": "The bank declined the credit"},
        "bank_not_received": {"zh": "银行未收到请求", "en": "The bank never got the request"},
        "balance_not_enough": {
            "zh": "打款时余额已不足",
            "en": "The balance was spent before the payout",
        },
    }
)


class AppNotFound(NotFound):
    code = "app_not_found"


# Bills --------------------------------------------------------------------------------------


def _own_app(request: Request, merchant_id: int, app_id: str) -> str:
    """The merchant's app id (the first one when none is asked for), else AppNotFound."""
    apps = [app.app_id for app in portal.services(request)["merchants"].apps_of(merchant_id)]
    if not app_id:
        if not apps:
            raise AppNotFound("the merchant has no app")
        return str(apps[0])
    if app_id not in apps:
        raise AppNotFound("no such app")
    return app_id


def _china_today(request: Request) -> date:
    now_us = platform_of(request).clock.now_us()
    return datetime_from_us(now_us).astimezone(CHINA_TZ).date()


def _day_of(text: str, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise InvalidInput("dates look like 2026-01-31", code="invalid_date") from None


def _bills_context(request: Request, merchant_id: int, app_id: str, day: date) -> dict[str, Any]:
    services = portal.services(request)
    bills = services["bills"]
    today = _china_today(request)
    return {
        "title": portal.merchant_text(lang_of(request), "nav_bills"),
        "apps": [app.app_id for app in services["merchants"].apps_of(merchant_id)],
        "app_id": app_id,
        "day": day.isoformat(),
        "day_open": day >= today,
        "summary": bills.day_summary(app_id, day),
        "built": bills.bills_of(app_id, BILLS_SHOWN_MAX),
        # The form suggests the chosen day, or yesterday while the chosen day is still open.
        "period": (today - timedelta(days=1) if day >= today else day).isoformat(),
        "bill_type": "trade",
    }


def _not_found(request: Request, error: DomainError) -> HTMLResponse:
    context = portal.merchant_error(request, error)
    return portal.render(request, "merchant/message.html", 404, **context)


@router.get("/bills")
def bills_page(
    request: Request,
    merchant_id: int = Depends(portal.require_merchant),
    app_id: str = Query("", max_length=FIELD_LENGTH_MAX),
    day: str = Query("", max_length=FIELD_LENGTH_MAX),
) -> HTMLResponse:
    try:
        own = _own_app(request, merchant_id, app_id)
    except AppNotFound as error:
        if app_id:
            return _not_found(request, error)
        title = portal.merchant_text(lang_of(request), "nav_bills")
        return portal.render(request, "merchant/bills.html", title=title, apps=[])
    today = _china_today(request)
    try:
        chosen = _day_of(day, today)
    except DomainError as error:
        context = _bills_context(request, merchant_id, own, today)
        error_context = portal.merchant_error(request, error)
        return portal.render(
            request, "merchant/bills.html", status_for(error), **context, **error_context
        )
    return portal.render(
        request, "merchant/bills.html", **_bills_context(request, merchant_id, own, chosen)
    )


@router.get("/bills/download")
def download(
    request: Request,
    merchant_id: int = Depends(portal.require_merchant),
    app_id: str = Query("", max_length=FIELD_LENGTH_MAX),
    bill_type: str = Query("trade", max_length=FIELD_LENGTH_MAX),
    period: str = Query("", max_length=FIELD_LENGTH_MAX),
) -> Response:
    try:
        own = _own_app(request, merchant_id, app_id)
    except AppNotFound as error:
        return _not_found(request, error)
    try:
        url = portal.services(request)["bills"].download_url(own, bill_type, period.strip())
    except DomainError as error:
        context = _bills_context(request, merchant_id, own, _china_today(request))
        context.update(period=period, bill_type=bill_type)
        error_context = portal.merchant_error(request, error)
        return portal.render(
            request, "merchant/bills.html", status_for(error), **context, **error_context
        )
    # Relative, so the redirect works whatever host name the merchant reached the portal by.
    signed = urlsplit(url)
    return RedirectResponse(f"{signed.path}?{signed.query}", status_code=303)


# Settlement ---------------------------------------------------------------------------------


def _settlement_context(request: Request, merchant_id: int) -> dict[str, Any]:
    services = portal.services(request)
    settlement = services["settlement"]
    merchant = services["merchants"].merchant(merchant_id)
    balance = platform_of(request).ledger.balance(merchant.settlement_account_id)
    card = settlement.card_of(merchant_id)
    rows = settlement.of_merchant(merchant_id, SETTLEMENTS_SHOWN_MAX)
    return {
        "title": portal.merchant_text(lang_of(request), "nav_settlements"),
        "balance_fen": balance.balance_fen,
        "available_fen": balance.available_fen,
        "card": mask_card_number(card) if card else None,
        "settlements": rows,
        "any_failed": any(row.status is SettlementStatus.FAILED for row in rows),
        "failure_text": lambda code: _failure_text(request, code),
        "out_no": "W" + secrets.token_hex(12),
        "form": {},
    }


def _failure_text(request: Request, code: str | None) -> str:
    if not code:
        return ""
    entry = portal.MERCHANT_ERRORS.get(code)
    return entry[lang_of(request)] if entry else code


def _render_settlements(
    request: Request, merchant_id: int, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    context = _settlement_context(request, merchant_id)
    context.update(extra)
    return portal.render(request, "merchant/settlements.html", status_code, **context)


@router.get("/settlements")
def settlements_page(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    return _render_settlements(request, merchant_id)


def _confirm_password(request: Request, merchant_id: int, password: str) -> None:
    portal.services(request)["merchant_accounts"].authenticate(str(merchant_id), password)


def _check_holder(request: Request, merchant_id: int, holder_name: str) -> None:
    """The card must be in the merchant's name or its owner's real name."""
    services = portal.services(request)
    merchant = services["merchants"].merchant(merchant_id)
    names = [merchant.name]
    if merchant.owner_user_id is not None:
        owner = services["users"].record(merchant.owner_user_id)
        names.extend([owner.real_name] if owner.real_name else [])
    try:
        matched = any(real_names_match(holder_name, name) for name in names)
    except InvalidInput:
        matched = False  # a name a person cannot have (a company's) compares as text below
    if not (matched or holder_name.strip() in names):
        raise InvalidInput("the holder must be the merchant or its owner", code=_HOLDER_CODE)


_HOLDER_CODE = "settle_holder_mismatch"


def _bind(request: Request, merchant_id: int, form: dict[str, str]) -> None:
    _confirm_password(request, merchant_id, form.get("password", ""))
    card = identify_card(form.get("card_number", ""), card_types=frozenset({CardType.DEBIT}))
    holder_name = form.get("holder_name", "").strip()[:FIELD_LENGTH_MAX]
    _check_holder(request, merchant_id, holder_name)
    phone = normalize_phone(form.get("reserved_phone", ""))
    id_number = form.get("id_number", "").strip()[:FIELD_LENGTH_MAX]
    services = portal.services(request)
    answer = services["bank"].verify_card(card.number, holder_name, id_number, phone)
    if answer.outcome.value != "succeeded":
        raise InvalidInput(
            "the bank does not know this card with this holder, ID number and phone",
            code=answer.failure_code or "card_info_mismatch",
        )
    services["settlement"].bind_card(merchant_id, card.number, actor=f"merchant:{merchant_id}")


@router.post("/settlements/card", dependencies=portal.CSRF)
async def bind_card(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    form = await portal.form_of(request)
    try:
        _bind(request, merchant_id, form)
    except DomainError as error:
        portal.services(request)["settlement"].bind_refused(
            merchant_id,
            form.get("card_number", "")[:FIELD_LENGTH_MAX],
            error.code,
            actor=f"merchant:{merchant_id}",
        )
        kept = {k: form.get(k, "")[:FIELD_LENGTH_MAX] for k in ("holder_name", "reserved_phone")}
        context = portal.merchant_error(request, error)
        return _render_settlements(request, merchant_id, status_for(error), form=kept, **context)
    notice = portal.merchant_text(lang_of(request), "settle_bound")
    return _render_settlements(request, merchant_id, notice=notice)


@router.post("/settlements/withdraw", dependencies=portal.CSRF)
async def withdraw(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    form = await portal.form_of(request)
    services = portal.services(request)
    try:
        _confirm_password(request, merchant_id, form.get("password", ""))
        amount_fen = parse_yuan(form.get("amount", "").strip())
        account_id = services["merchants"].merchant(merchant_id).settlement_account_id
        done = services["settlement"].withdraw(
            merchant_id, account_id, amount_fen, form.get("out_no", "")
        )
    except DomainError as error:
        kept = {"amount": form.get("amount", "")[:FIELD_LENGTH_MAX]}
        context = portal.merchant_error(request, error)
        return _render_settlements(request, merchant_id, status_for(error), form=kept, **context)
    lang = lang_of(request)
    if done.status is SettlementStatus.FAILED:
        code = done.failure_code or "bank_declined"
        context = {"error": _failure_text(request, code), "error_code": code}
        return _render_settlements(request, merchant_id, 200, **context)
    paid = done.status is SettlementStatus.PAID
    key = "settle_withdraw_paid" if paid else "settle_withdraw_waiting"
    return _render_settlements(request, merchant_id, notice=portal.merchant_text(lang, key))


def install(app: Any) -> None:
    app.include_router(router)
