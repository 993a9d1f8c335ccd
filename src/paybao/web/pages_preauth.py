"""Pre-authorisation pages: the confirmation page a merchant's app freeze leads to, and the
wallet's list of the user's pre-authorisations with each one's history.

Confirmation page (`/preauth/confirm/<token>`, phone-sized): the merchant, what for, how much
is frozen and until when, and what the merchant may do with it; the user signs in (wallet
session) and confirms with the payment password. The wallet's pages (`/wallet/preauth`,
`/wallet/preauth/<auth_no>`) show what is frozen, what was paid from it and what came back.

Every POST checks CSRF; a DomainError re-renders the page with the message for its code.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.preauth import OrderStatus
from paybao.services.preauth import PreauthService
from paybao.services.preauth_records import PreauthOrder
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, form_of, render, sign_in_and_return
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
LIST_SHOWN_MAX = 50
TOKEN_LENGTH_MAX = 64
AUTH_NO_LENGTH_MAX = 32

# Messages for this feature's codes (others come from the wallet's table in i18n.py).
ERRORS: dict[str, dict[str, str]] = {
    "preauth_order_not_found": {"zh": "预授权订单不存在", "en": "No such pre-authorisation"},
    "preauth_order_closed": {
        "zh": "该预授权已关闭，请回到商户重新发起",
        "en": "This pre-authorisation is closed; start again at the merchant",
    },
    "preauth_order_finished": {"zh": "该预授权已完结", "en": "This pre-authorisation has ended"},
    "buyer_balance_not_enough": {
        "zh": "余额不足，无法冻结",
        "en": "Your balance is not enough to freeze this amount",
    },
    "buyer_seller_equal": {
        "zh": "不能向自己的商户冻结资金",
        "en": "You cannot freeze money for your own shop",
    },
}
STATUS_NAMES: dict[str, dict[str, str]] = {
    "INIT": {"zh": "待确认", "en": "Waiting for you"},
    "AUTHORIZED": {"zh": "冻结中", "en": "Frozen"},
    "FINISH": {"zh": "已完结", "en": "Ended"},
    "CLOSED": {"zh": "已关闭", "en": "Closed"},
}
OPERATION_NAMES: dict[str, dict[str, str]] = {
    "FREEZE": {"zh": "冻结", "en": "Frozen"},
    "PAY": {"zh": "转支付给商户", "en": "Paid to the merchant"},
    "UNFREEZE": {"zh": "解冻退回余额", "en": "Unfrozen to your balance"},
}


def _preauth(request: Request) -> PreauthService:
    service: PreauthService = platform_of(request).services["preauth"]
    return service


def _error(request: Request, error: DomainError) -> dict[str, Any]:
    return page_error(request, error, ERRORS)


def _merchant_name(request: Request, order: PreauthOrder) -> str:
    return str(platform_of(request).services["merchants"].merchant(order.merchant_id).name)


def _context(request: Request, order: PreauthOrder) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        "o": order,
        "merchant_name": _merchant_name(request, order),
        "status_name": STATUS_NAMES[order.status.value][lang],
        "operation_names": {kind: names[lang] for kind, names in OPERATION_NAMES.items()},
    }


# Confirmation page --------------------------------------------------------------------------


def _confirm_page(request: Request, token: str, status_code: int = 200, **extra: Any) -> Response:
    try:
        order = _preauth(request).by_token(token)
    except DomainError as error:
        return render(request, "preauth/confirm.html", 404, o=None, **_error(request, error))
    now_us = platform_of(request).clock.now_us()
    deadline_us = order.confirm_expires_at_us or 0
    title = "资金授权" if lang_of(request) == "zh" else "Allow a deposit"
    return render(
        request,
        "preauth/confirm.html",
        status_code,
        title=title,
        token=token,
        user_id=current_user_id(request),
        confirm_open=order.status is OrderStatus.INIT and deadline_us > now_us,
        **_context(request, order),
        **extra,
    )


@router.get("/preauth/confirm/{token}")
def confirm_page(request: Request, token: str) -> Response:
    return _confirm_page(request, token[:TOKEN_LENGTH_MAX])


@router.post("/preauth/confirm/{token}/login")
async def confirm_login(request: Request, token: str) -> Response:
    token = token[:TOKEN_LENGTH_MAX]
    try:
        return await sign_in_and_return(request, f"/preauth/confirm/{token}")
    except DomainError as error:
        return _confirm_page(request, token, 400, **_error(request, error))


@router.post("/preauth/confirm/{token}", dependencies=CSRF)
async def confirm(request: Request, token: str) -> Response:
    token = token[:TOKEN_LENGTH_MAX]
    user_id = current_user_id(request)
    if user_id is None:
        return RedirectResponse(f"/preauth/confirm/{token}", status_code=303)
    form = await form_of(request)
    try:
        _preauth(request).confirm(token, user_id, form.get("payment_password", ""))
    except DomainError as error:
        return _confirm_page(request, token, 400, **_error(request, error))
    return RedirectResponse(f"/preauth/confirm/{token}", status_code=303)


# Wallet ---------------------------------------------------------------------------------------


@router.get("/wallet/preauth")
def preauth_list(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    rows = [
        _context(request, order) for order in _preauth(request).orders_of(user_id, LIST_SHOWN_MAX)
    ]
    frozen_fen = sum(row["o"].rest_fen for row in rows)
    title = "资金预授权" if lang_of(request) == "zh" else "Deposits (pre-authorisations)"
    return render(request, "preauth/list.html", title=title, rows=rows, frozen_fen=frozen_fen)


@router.get("/wallet/preauth/{auth_no}")
def preauth_detail(request: Request, auth_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        order, operations = _preauth(request).view(user_id, auth_no[:AUTH_NO_LENGTH_MAX])
    except DomainError as error:
        return render(request, "preauth/detail.html", 404, o=None, **_error(request, error))
    return render(
        request,
        "preauth/detail.html",
        title=order.title,
        operations=operations,
        **_context(request, order),
    )


def install(app: Any) -> None:
    """Before the wallet pages: their `/wallet/{kind}` would shadow `/wallet/preauth`."""
    app.include_router(router)
