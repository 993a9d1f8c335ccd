"""Wallet pages of city services (`/wallet/bills...`, 生活缴费): pick a city and a category, a
biller and an account number; the inquiry shows the holder (masked) and the bill; pay from the
balance with the payment password; the receipt. Saved accounts (户号) with nicknames, mobile
top-up (话费充值), the payments list; the reminders on the wallet's home page; and the
operators' billers page (`/admin/billers`: create, disable, enable; audited).

Money forms carry a one-time `idem` key, as the wallet's do: a double submit moves money once.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.billpay import (
    CATEGORY_NAMES,
    CITIES,
    CITY_NAMES,
    NATIONAL,
    TOPUP_DENOMINATIONS_FEN,
    Category,
    carrier_of,
    display_name,
)
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.identity import mask_phone, normalize_phone
from paybao.domain.money import format_yuan, parse_yuan
from paybao.services.billpay import BillpayService
from paybao.services.billpay_accounts import SavedAccountService
from paybao.services.billpay_billers import BillerService, NewBiller
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.web import pages_admin
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import ERRORS, error_text, lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, form_of, render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(prefix="/wallet/bills", include_in_schema=False)
admin_router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(pages_admin.require_operator)]
)
pages_admin.add_nav("Billers", "/admin/billers")
PAGE_SIZE = 20
RECENT_ROWS = 5
FIELD_LENGTH_MAX = 64

TEXTS: dict[str, dict[str, str]] = {
    "bills": {"zh": "生活缴费", "en": "Bills & top-up"},
    "city": {"zh": "城市", "en": "City"},
    "change_city": {"zh": "切换", "en": "Change"},
    "my_accounts": {"zh": "我的户号", "en": "My accounts"},
    "no_accounts": {
        "zh": "还没有保存户号。缴费时勾选“保存户号”,以后一键缴费并收到欠费提醒。",
        "en": "No saved accounts yet. Tick “save” when paying to pay in one tap next time "
        "and get reminders.",
    },
    "owes": {"zh": "待缴 {amount} 元", "en": "{amount} CNY due"},
    "settled": {"zh": "暂无欠费", "en": "Nothing due"},
    "pay_now": {"zh": "去缴费", "en": "Pay"},
    "delete": {"zh": "删除", "en": "Delete"},
    "recent": {"zh": "缴费记录", "en": "Payments"},
    "more": {"zh": "查看全部", "en": "See all"},
    "none_yet": {"zh": "暂无记录", "en": "Nothing yet"},
    "topup": {"zh": "话费充值", "en": "Mobile top-up"},
    "choose_biller": {"zh": "选择缴费单位", "en": "Choose the biller"},
    "no_billers": {
        "zh": "该城市暂未开通此项缴费",
        "en": "Not offered in this city yet",
    },
    "account_no": {"zh": "缴费户号", "en": "Account number"},
    "account_hint": {
        "zh": "户号见纸质账单或缴费通知单,6-20位数字",
        "en": "On your paper bill or notice: 6-20 digits",
    },
    "inquire": {"zh": "查询账单", "en": "Look up the bill"},
    "biller": {"zh": "缴费单位", "en": "Biller"},
    "holder": {"zh": "户名", "en": "Account holder"},
    "period": {"zh": "账期", "en": "Period"},
    "outstanding": {"zh": "应缴金额(元)", "en": "Amount due (CNY)"},
    "nothing_due": {"zh": "当前无待缴账单", "en": "Nothing is due now"},
    "amount": {"zh": "缴费金额(元)", "en": "Amount to pay (CNY)"},
    "amount_exact": {
        "zh": "须足额缴纳账单金额",
        "en": "The bill is paid in full: exactly the amount due",
    },
    "amount_prepay": {
        "zh": "电费可预存:可缴 {low} 至 {high} 元,超出欠费部分存为电费余额",
        "en": "Electricity can be prepaid: pay {low} to {high} CNY; what is above the bill "
        "stays as credit with the power company",
    },
    "from_balance": {
        "zh": "从余额付款,可用余额 {available} 元",
        "en": "Paid from the balance: {available} CNY available",
    },
    "save_account": {"zh": "保存户号,便于下次缴费和欠费提醒", "en": "Save this account"},
    "nickname": {"zh": "备注名(如:家里水费)", "en": "Nickname (e.g. Home water)"},
    "pay": {"zh": "确认缴费", "en": "Pay"},
    "receipt": {"zh": "缴费凭证", "en": "Receipt"},
    "status_paid": {"zh": "缴费成功", "en": "Paid"},
    "status_failed": {
        "zh": "缴费失败,款项已退回余额",
        "en": "Failed: the money is back in the balance",
    },
    "status_processing": {
        "zh": "缴费处理中,款项已冻结,结果确认后自动入账或退回",
        "en": "In progress: the money is held until the biller confirms (or it goes back)",
    },
    "topup_paid": {"zh": "充值成功", "en": "Topped up"},
    "topup_failed": {
        "zh": "充值失败,款项已退回余额",
        "en": "Failed: the money is back in the balance",
    },
    "payment_no": {"zh": "交易号", "en": "Payment number"},
    "paid_at": {"zh": "时间", "en": "Time"},
    "failure": {"zh": "失败原因", "en": "Why it failed"},
    "saved": {"zh": "已保存户号", "en": "Account saved"},
    "save": {"zh": "保存户号", "en": "Save account"},
    "save_only": {"zh": "暂不缴费,仅保存户号", "en": "Just save the account for now"},
    "back": {"zh": "返回生活缴费", "en": "Back to bills"},
    "phone": {"zh": "充值号码", "en": "Phone number"},
    "check_phone": {"zh": "确定", "en": "OK"},
    "carrier": {"zh": "运营商", "en": "Carrier"},
    "denomination": {"zh": "充值面额", "en": "Amount"},
    "yuan": {"zh": "{n} 元", "en": "{n} CNY"},
    "topup_now": {"zh": "立即充值", "en": "Top up"},
    "remind_title": {"zh": "待缴账单", "en": "Bills due"},
    "rules": {
        "zh": "水费、燃气费、宽带固话费须按账单金额足额缴纳;电费可预存,最多比欠费多 {over} 元。"
        "话费充值面额为 10/20/30/50/100/200/300/500 元。缴费从余额支付,计入账户类别的余额支付额度;"
        "缴费单位未确认的款项会被冻结,确认失败自动退回余额。",
        "en": "Water, gas and broadband bills are paid in full; electricity can be prepaid, up "
        "to {over} CNY above the bill. Top-ups: 10/20/30/50/100/200/300/500 CNY. Payments come "
        "from the balance and count toward your account class's balance-payment limit; money "
        "waiting for the biller's confirmation is held, and goes back if it fails.",
    },
    "payments": {"zh": "缴费记录", "en": "Payments"},
    "older": {"zh": "更早", "en": "Older"},
    "state": {"zh": "状态", "en": "Status"},
    "state_paid": {"zh": "成功", "en": "Paid"},
    "state_failed": {"zh": "失败·已退回", "en": "Failed, refunded"},
    "state_processing": {"zh": "处理中", "en": "In progress"},
    "kind_bill": {"zh": "缴费", "en": "Bill"},
    "kind_topup": {"zh": "话费", "en": "Top-up"},
}


def bill_text(lang: str, key: str, **values: object) -> str:
    entry = TEXTS.get(key)
    value = entry.get(lang, key) if entry else key
    return value.format(**values) if values else value


def _billers(request: Request) -> BillerService:
    service: BillerService = platform_of(request).services["billers"]
    return service


def _payments(request: Request) -> BillpayService:
    service: BillpayService = platform_of(request).services["billpay"]
    return service


def _accounts(request: Request) -> SavedAccountService:
    service: SavedAccountService = platform_of(request).services["bill_accounts"]
    return service


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    context.setdefault("title", bill_text(lang, "bills"))
    return render(
        request,
        name,
        status_code,
        bt=lambda key, **v: bill_text(lang, key, **v),
        city_name=lambda code: display_name(CITY_NAMES.get(code, (code, code)), lang),
        category_name=lambda code: display_name(CATEGORY_NAMES[Category(code)], lang),
        **context,
    )


def _row_id(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) <= ROW_ID_MAX else None


# Home: city, categories, saved accounts, recent payments ---------------------------------------


@router.get("")
def bills_home(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    served = _billers(request).served()
    cities = [code for code in CITIES if code in served]
    chosen = request.query_params.get("city", "")
    city = chosen if chosen in cities else (cities[0] if cities else "")
    return _render(
        request,
        "billpay/home.html",
        **_saved_flag(request),
        city=city,
        cities=cities,
        categories=served.get(city, []),
        topup_offered=NATIONAL in served,
        accounts=_accounts(request).accounts(user.id),
        receipts=_payments(request).payments(user.id, RECENT_ROWS),
        over=format_yuan(_payments(request).policy.prepay_over_fen_max),
    )


@router.get("/payments")
def payments_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    before = _row_id(request.query_params.get("before", ""))
    receipts = _payments(request).payments(user.id, PAGE_SIZE, before)
    next_before = receipts[-1].payment.id if len(receipts) == PAGE_SIZE else None
    return _render(request, "billpay/payments.html", receipts=receipts, next_before=next_before)


# Biller and account number -> inquiry -> pay -> receipt -------------------------------------


@router.get("/new")
def new_bill(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    city = request.query_params.get("city", "")[:FIELD_LENGTH_MAX]
    category = request.query_params.get("category", "")[:FIELD_LENGTH_MAX]
    return _new_page(request, city, category)


def _new_page(
    request: Request, city: str, category: str, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    try:
        billers = _billers(request).of_city(city, category)
    except DomainError as error:
        return _render(request, "billpay/message.html", status_for(error), **_error(request, error))
    return _render(
        request,
        "billpay/new.html",
        status_code,
        city=city,
        category=category,
        billers=billers,
        **extra,
    )


@router.get("/inquiry")
def inquiry_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return _inquiry_page(
        request,
        user.id,
        request.query_params.get("biller", ""),
        request.query_params.get("account_no", "")[:FIELD_LENGTH_MAX],
    )


def _inquiry_page(
    request: Request, user_id: int, biller_text: str, account_no: str, **extra: Any
) -> HTMLResponse:
    status_code = int(extra.pop("status_code", 200))
    biller_id = _row_id(biller_text)
    try:
        if biller_id is None:
            raise InvalidInput("choose a biller", code="biller_not_found")
        inquiry = _payments(request).inquire(biller_id, account_no)
    except DomainError as error:
        return _back_to_new(request, biller_id, account_no, error)
    _, available_fen = platform_of(request).services["wallet"].balance(user_id)
    saved = _accounts(request).find(user_id, inquiry.biller.id, inquiry.account_no)
    return _render(
        request,
        "billpay/inquiry.html",
        status_code,
        q=inquiry,
        available=format_yuan(available_fen),
        saved=saved,
        idem=secrets.token_urlsafe(16),
        **extra,
    )


def _back_to_new(
    request: Request, biller_id: int | None, account_no: str, error: DomainError
) -> HTMLResponse:
    """The biller form again, with the error, for the biller's city and category."""
    try:
        biller = _billers(request).get(biller_id) if biller_id else None
    except DomainError:
        biller = None
    if biller is None:
        return _render(request, "billpay/message.html", status_for(error), **_error(request, error))
    return _new_page(
        request,
        biller.city,
        str(biller.category),
        status_for(error),
        chosen=biller.id,
        account_no=account_no,
        **_error(request, error),
    )


@router.post("/pay", dependencies=CSRF)
async def pay_post(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    biller_text = form.get("biller", "")
    account_no = form.get("account_no", "")[:FIELD_LENGTH_MAX]
    payments = _payments(request)
    try:
        biller_id = _row_id(biller_text)
        if biller_id is None:
            raise InvalidInput("choose a biller", code="biller_not_found")
        amount_fen = parse_yuan(form.get("amount", "").strip())
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            paid = payments.pay_bill(user.id, biller_id, account_no, amount_fen, password)
            return 200, json.dumps({"id": paid.payment.id})

        payment_id = _once(request, user.id, form, "bill", work)
    except DomainError as error:
        extra = {"status_code": status_for(error), **_error(request, error)}
        return _inquiry_page(request, user.id, biller_text, account_no, **extra)
    saved = ""
    if form.get("save") == "1" and biller_id is not None:
        saved = _save_quietly(request, user.id, biller_id, account_no, form.get("nickname", ""))
    return RedirectResponse(f"/wallet/bills/receipt/{payment_id}{saved}", status_code=303)


def _once(request: Request, user_id: int, form: dict[str, str], kind: str, work: Any) -> int:
    """Run a money form once per its one-time key; the payment's id."""
    public = without_secrets({k: v for k, v in form.items() if k != "csrf_token"})
    digest = fingerprint("billpay", kind, *(f"{k}={v}" for k, v in sorted(public.items())))
    key = form.get("idem") or secrets.token_urlsafe(8)
    idempotency = platform_of(request).services["idempotency"]
    _, body = idempotency.run(f"form:{user_id}", key, digest, work)
    return int(json.loads(body)["id"])


def _save_quietly(
    request: Request, user_id: int, biller_id: int, account_no: str, nickname: str
) -> str:
    """Save after paying; the receipt says how it went (`?saved=1` or the error's code)."""
    try:
        _accounts(request).save(user_id, biller_id, account_no, nickname[:FIELD_LENGTH_MAX])
    except DomainError as error:
        return f"?saved={error.code}"
    return "?saved=1"


@router.get("/receipt/{payment_id}")
def receipt_page(payment_id: int, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    try:
        if not 0 < payment_id <= ROW_ID_MAX:
            raise InvalidInput("no such payment", code="billpay_payment_not_found")
        receipt = _payments(request).receipt(user.id, payment_id)
    except DomainError as error:
        return _render(request, "billpay/message.html", 404, **_error(request, error))
    payment = receipt.payment
    saved = None
    if payment.kind == "bill":
        saved = _accounts(request).find(user.id, payment.biller_id, payment.account_no)
    code = payment.failure_code
    return _render(
        request,
        "billpay/receipt.html",
        r=receipt,
        failure_text=error_text(lang_of(request), code, code) if code else "",
        saved=saved,
        **_saved_flag(request),
    )


def _saved_flag(request: Request) -> dict[str, Any]:
    """How saving an account went (`?saved=1` or its error's code): a notice or an error.
    Only a known code is shown (the query string is anyone's to write)."""
    flag = request.query_params.get("saved", "")
    if flag == "1":
        return {"notice": bill_text(lang_of(request), "saved")}
    return _error(request, DomainError(code=flag)) if flag in ERRORS else {}


# Saved accounts --------------------------------------------------------------------------------


@router.post("/accounts", dependencies=CSRF)
async def save_post(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    biller_id = _row_id(form.get("biller", ""))
    back = _row_id(form.get("payment", ""))
    target = f"/wallet/bills/receipt/{back}" if back else "/wallet/bills"
    if biller_id is None:
        return RedirectResponse(target, status_code=303)
    account_no = form.get("account_no", "")[:FIELD_LENGTH_MAX]
    saved = _save_quietly(request, user.id, biller_id, account_no, form.get("nickname", ""))
    return RedirectResponse(f"{target}{saved}", status_code=303)


@router.post("/accounts/{saved_id}/delete", dependencies=CSRF)
async def delete_post(saved_id: int, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    if 0 < saved_id <= ROW_ID_MAX:
        try:
            _accounts(request).delete(user.id, saved_id)
        except DomainError as error:
            return _render(request, "billpay/message.html", 404, **_error(request, error))
    return RedirectResponse("/wallet/bills", status_code=303)


# Mobile top-up ---------------------------------------------------------------------------------


@router.get("/topup")
def topup_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    phone = request.query_params.get("phone", "")[:FIELD_LENGTH_MAX]
    if not phone:  # one's own number first
        phone = platform_of(request).services["users"].record(user.id).phone
    return _topup_page(request, user.id, phone)


def _topup_page(
    request: Request, user_id: int, phone: str, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    carrier = None
    if "error" not in extra:
        try:
            number = normalize_phone(phone)
            carrier = _billers(request).carrier(carrier_of(number))
            phone = number
        except DomainError as error:
            status_code = status_for(error)
            extra.update(_error(request, error))
    _, available_fen = platform_of(request).services["wallet"].balance(user_id)
    return _render(
        request,
        "billpay/topup.html",
        status_code,
        title=bill_text(lang_of(request), "topup"),
        phone=phone,
        phone_masked=mask_phone(phone) if carrier else "",
        carrier=carrier,
        denominations=TOPUP_DENOMINATIONS_FEN,
        available=format_yuan(available_fen),
        idem=secrets.token_urlsafe(16),
        **extra,
    )


@router.post("/topup", dependencies=CSRF)
async def topup_post(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    phone = form.get("phone", "")[:FIELD_LENGTH_MAX]
    payments = _payments(request)
    try:
        denomination = form.get("amount", "")
        amount_fen = int(denomination) if denomination.isdigit() else 0
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            paid = payments.top_up(user.id, phone, amount_fen, password)
            return 200, json.dumps({"id": paid.payment.id})

        payment_id = _once(request, user.id, form, "topup", work)
    except DomainError as error:
        context = _error(request, error)
        return _topup_page(request, user.id, phone, status_for(error), **context)
    return RedirectResponse(f"/wallet/bills/receipt/{payment_id}", status_code=303)


# The wallet home's reminders -------------------------------------------------------------------


def reminders_for(request: Request) -> list[Any]:
    """For the wallet's home page (templates/billpay/_reminders.html): saved accounts that owe.
    Read from what billers last said; a failure here must not break the home page."""
    user_id = current_user_id(request)
    if user_id is None:
        return []
    try:
        return _accounts(request).reminders(user_id)
    except DomainError:
        return []


# The operators' page ---------------------------------------------------------------------------


@admin_router.get("/billers")
def admin_billers(request: Request) -> HTMLResponse:
    return _admin_page(request)


def _admin_page(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    billers = _billers(request)
    rows = [(b, billers.settlement_balance_fen(b)) for b in billers.all()]
    done = request.query_params.get("done", "")
    return pages_admin.render(
        request,
        "billpay/admin.html",
        status_code,
        title="Billers",
        rows=rows,
        cities=list(CITY_NAMES),
        categories=list(Category),
        notice=f"Biller {done}" if done in ("created", "disabled", "enabled") else None,
        form=extra.pop("form", {}),
        **extra,
    )


@admin_router.post("/billers", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("biller.manage")
async def admin_create(
    request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = {k: v[:FIELD_LENGTH_MAX] for k, v in (await form_of(request)).items()}
    try:
        merchant_text = form.get("merchant_id", "").strip()
        merchant_id = _row_id(merchant_text)
        if merchant_text and merchant_id is None:
            raise InvalidInput("a merchant id is a number", code="merchant_not_found")
        new = NewBiller(
            code=form.get("code", ""),
            name=form.get("name", ""),
            category=form.get("category", ""),
            city=form.get("city", ""),
            merchant_id=merchant_id,
        )
        _billers(request).create(new, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _admin_page(request, status_for(error), form=form, **context)
    return RedirectResponse("/admin/billers?done=created", status_code=303)


@admin_router.post("/billers/{biller_id}/status", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("biller.manage")
async def admin_status(
    biller_id: int, request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await form_of(request)
    active = form.get("status") == "active"
    try:
        if not 0 < biller_id <= ROW_ID_MAX:
            raise InvalidInput("no such biller", code="biller_not_found")
        _billers(request).set_active(biller_id, active, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _admin_page(request, status_for(error), **context)
    done = "enabled" if active else "disabled"
    return RedirectResponse(f"/admin/billers?done={done}", status_code=303)


def install(app: Any) -> None:
    """Before the wallet pages: their /wallet/{kind} would shadow /wallet/bills."""
    from paybao.web import api_billpay, pages_user

    pages_user.templates.env.globals["billpay_reminders"] = reminders_for
    app.include_router(api_billpay.router)
    app.include_router(router)
    app.include_router(admin_router)


__all__ = ["install", "router"]
