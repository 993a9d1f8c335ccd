"""The sandbox bank's online-banking pages (its side of the channel, adapters/banks/
sandbox_bank_pay.py): the order paybao sent the customer with, the card and password form,
confirm and cancel. They look like a bank's, not like paybao's wallet, and know nothing of
paybao's sessions: the order's signature is what the bank trusts.

The sandbox bank checks the online-banking password only for its shape (6 digits): a
real bank would sign its customer in here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from paybao.adapters.banks.sandbox_bank_pay import PAGE_PATH, SandboxBankPay
from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of
from paybao.web.pages_user import form_of
from paybao.web.topup_channel_texts import bank_text

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
BANK_ERRORS = {
    "bank_order_forged": ("订单签名无效", "The order's signature is not valid"),
    "bank_order_not_found": ("订单不存在", "No such order"),
    "bank_order_not_payable": ("该订单已不能支付", "This order can no longer be paid"),
    "bank_card_unknown": ("本行无此借记卡", "No such debit card at this bank"),
    "bank_card_insufficient": ("卡内余额不足", "Not enough money on this card"),
    "bank_password_invalid": ("请输入6位数字密码", "Type a 6-digit password"),
}


def _bank(request: Request) -> SandboxBankPay:
    bank: SandboxBankPay = platform_of(request).services["bank_pay"]
    return bank


def _page(request: Request, order: Any, status_code: int = 200, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)

    def when(at_us: int) -> str:
        return datetime_from_us(at_us).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")

    context = {
        "request": request,
        "lang": lang,
        "o": order,
        "bt": lambda key: bank_text(lang, key),
        "yuan": format_yuan,
        "when": when,
        **extra,
    }
    return templates.TemplateResponse(
        request, "bank_pay/netbank.html", context, status_code=status_code
    )


def _error(request: Request, error: DomainError) -> dict[str, str]:
    zh, en = BANK_ERRORS.get(error.code, (error.message, error.message))
    return {"error": zh if lang_of(request) == "zh" else en, "error_code": error.code}


@router.get(PAGE_PATH)
def netbank(request: Request) -> Response:
    params = {k: str(v) for k, v in request.query_params.items()}
    try:
        order = _bank(request).open_order(params)
    except DomainError as error:
        return _page(request, None, status_for(error), **_error(request, error))
    return _page(request, order)


@router.post(f"{PAGE_PATH}/pay")
async def netbank_pay(request: Request) -> Response:
    form = await form_of(request)
    bank = _bank(request)
    order_no = form.get("order_no", "")
    try:
        password = form.get("password", "")
        if not (len(password) == 6 and password.isascii() and password.isdigit()):
            raise InvalidInput("a 6-digit password", code="bank_password_invalid")
        back = bank.pay(order_no, form.get("card_number", ""))
    except DomainError as error:
        try:
            order = bank.order(order_no)
        except DomainError:
            order = None
        return _page(request, order, status_for(error), **_error(request, error))
    return RedirectResponse(back, status_code=303)


@router.post(f"{PAGE_PATH}/cancel")
async def netbank_cancel(request: Request) -> Response:
    form = await form_of(request)
    try:
        back = _bank(request).cancel(form.get("order_no", ""))
    except DomainError as error:
        return _page(request, None, status_for(error), **_error(request, error))
    return RedirectResponse(back, status_code=303)
