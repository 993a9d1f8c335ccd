"""The wallet's ride codes (乘车码) at /wallet/transit: open the service for an operator (the
browser makes the phone key, the payment password signs the withholding agreement), the code
itself (signed by the browser every minute, works offline), arrears and repayment, closing.

Every POST checks CSRF; a DomainError re-renders the page with the message for its code.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paybao.adapters.transit_crypto import compress_raw
from paybao.domain.errors import DomainError, InvalidInput
from paybao.services.transit import TransitService
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, form_of, render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
RIDES_SHOWN = 20
PUBLIC_KEY_TEXT_MAX = 200

ERRORS: dict[str, dict[str, str]] = {
    "transit_key_invalid": {
        "zh": "此设备无法生成乘车码密钥，请换用支持的浏览器",
        "en": "This device could not make a ride-code key; use a supported browser",
    },
    "transit_has_debt": {"zh": "请先补缴欠款再关闭", "en": "Repay the owed rides before closing"},
    "transit_suspended": {
        "zh": "有未支付的乘车费用，补缴后恢复使用",
        "en": "Rides are owed: repay to ride again",
    },
    "transit_closing": {"zh": "乘车码正在关闭", "en": "The ride code is closing"},
    "transit_not_open": {"zh": "尚未开通乘车码", "en": "The ride code is not open"},
    "transit_operator_not_found": {"zh": "没有这家交通运营方", "en": "No such transit operator"},
}
STATUS_TEXT = {
    "ACTIVE": {"zh": "可乘车", "en": "Ready to ride"},
    "SUSPENDED": {"zh": "已暂停（欠费）", "en": "Suspended (owed rides)"},
    "CLOSING": {"zh": "关闭中", "en": "Closing"},
}
RIDE_TEXT = {
    "PENDING": {"zh": "扣款中", "en": "Charging"},
    "PAID": {"zh": "已扣款", "en": "Paid"},
    "OWED": {"zh": "欠费", "en": "Owed"},
    "REPAID": {"zh": "已补缴", "en": "Repaid"},
    "REFUSED": {"zh": "超出信用额度", "en": "Over the credit limit"},
}


def _transit(request: Request) -> TransitService:
    service: TransitService = platform_of(request).services["transit"]
    return service


def _page(request: Request, user_id: int, status_code: int = 200, **extra: Any) -> Response:
    service = _transit(request)
    lang = lang_of(request)
    accounts = {a.app_id: a for a in service.accounts_of(user_id)}
    cards = []
    for operator in service.operators():
        account = accounts.get(operator.app_id)
        card: dict[str, Any] = {"op": operator, "account": account, "cert": "", "rides": []}
        if account is not None:
            card["status_text"] = STATUS_TEXT.get(account.status.value, {}).get(lang, "")
            card["rides"] = service.rides(user_id, operator.app_id, RIDES_SHOWN)
            if account.status.value == "ACTIVE":
                cert = service.certificate(user_id, operator.app_id)
                card["cert"] = base64.b64encode(cert).decode()
        cards.append(card)
    title = "乘车码" if lang == "zh" else "Ride codes"
    return render(
        request,
        "transit/wallet.html",
        status_code,
        title=title,
        cards=cards,
        ride_text={k: v[lang] for k, v in RIDE_TEXT.items()},
        **extra,
    )


@router.get("/wallet/transit")
def transit_page(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    notice = {
        "opened": ("乘车码已开通", "Ride code opened"),
        "repaid": ("欠款已补缴，乘车码已恢复", "Repaid: the ride code works again"),
        "closing": ("将在 3 天后关闭", "Closes in 3 days"),
    }.get(request.query_params.get("done", ""))
    text = "" if notice is None else notice[0 if lang_of(request) == "zh" else 1]
    return _page(request, user_id, notice=text)


@router.post("/wallet/transit/{app_id}/open", dependencies=CSRF)
async def open_code(request: Request, app_id: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        key = _public_key(form.get("public_key", ""))
        _transit(request).open(user_id, app_id[:16], key, form.get("payment_password", ""))
    except DomainError as error:
        return _page(request, user_id, 400, **page_error(request, error, ERRORS))
    return RedirectResponse("/wallet/transit?done=opened", status_code=303)


@router.post("/wallet/transit/{app_id}/repay", dependencies=CSRF)
async def repay(request: Request, app_id: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        _transit(request).repay(user_id, app_id[:16], form.get("payment_password", ""))
    except DomainError as error:
        return _page(request, user_id, 400, **page_error(request, error, ERRORS))
    return RedirectResponse("/wallet/transit?done=repaid", status_code=303)


@router.post("/wallet/transit/{app_id}/close", dependencies=CSRF)
def close(request: Request, app_id: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        _transit(request).close(user_id, app_id[:16])
    except DomainError as error:
        return _page(request, user_id, 400, **page_error(request, error, ERRORS))
    return RedirectResponse("/wallet/transit?done=closing", status_code=303)


def _public_key(text: str) -> bytes:
    """The browser's raw P-256 public key (base64) as a compressed point."""
    invalid = InvalidInput("the device key is not a P-256 public key", code="transit_key_invalid")
    if not text or len(text) > PUBLIC_KEY_TEXT_MAX:
        raise invalid
    try:
        return compress_raw(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise invalid from None


def install(app: Any) -> None:
    """Before the wallet pages: their `/wallet/{kind}` would shadow `/wallet/transit`."""
    app.include_router(router)
