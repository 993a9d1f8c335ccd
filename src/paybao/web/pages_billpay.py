"""Wallet pages of city services (`/wallet/bills...`, 生活缴费): pick a city and a category, a
biller and an account number; the inquiry shows the holder (masked) and the bill; pay from the
balance with the payment password; the receipt. Saved accounts (户号) with nicknames, mobile
top-up (话费充值), the payments list; the reminders on the wallet's home page. Texts are in
web/billpay_texts.py; the operators' billers page is web/pages_billpay_admin.py.

Money forms carry a one-time `idem` key, as the wallet's do: a double submit moves money once.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
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
from paybao.services.billpay_billers import BillerService
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.web.billpay_texts import bill_text
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import ERRORS, error_text, lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, form_of, render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(prefix="/wallet/bills", include_in_schema=False)
PAGE_SIZE = 20
RECENT_ROWS = 5
FIELD_LENGTH_MAX = 64


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


def install(app: Any) -> None:
    """Before the wallet pages: their /wallet/{kind} would shadow /wallet/bills."""
    from paybao.web import api_billpay, pages_billpay_admin, pages_user

    pages_user.templates.env.globals["billpay_reminders"] = reminders_for
    app.include_router(api_billpay.router)
    app.include_router(router)
    app.include_router(pages_billpay_admin.router)


__all__ = ["install", "router"]
