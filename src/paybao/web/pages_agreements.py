"""Withholding agreement pages: the sign page a merchant's `alipay.user.agreement.page.sign`
leads to, and the wallet's list of agreements (details, the user's monthly cap, unsign).

Sign page (`/agreements/sign/<token>`, phone-sized): the merchant, the product and scene, the
cycle rule and limits, the merchant's own numbers; the user signs in (wallet session), confirms
with the payment password, and goes back to the merchant's return_url with signed parameters.

Every POST checks CSRF; a DomainError re-renders the page with the message for its code.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paybao.domain.agreements import FOREVER, AgreementStatus, PeriodType
from paybao.domain.errors import DomainError
from paybao.domain.money import parse_yuan
from paybao.services.agreements import Agreement, AgreementService
from paybao.services.clock import us_from_datetime
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, form_of, render, sign_in_and_return
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
LIST_SHOWN_MAX = 50
FOREVER_US = us_from_datetime(FOREVER)

# Messages for this feature's codes (others come from the wallet's table in i18n.py).
ERRORS: dict[str, dict[str, str]] = {
    "agreement_not_found": {"zh": "协议不存在或已解约", "en": "No such agreement"},
    "agreement_sign_expired": {
        "zh": "签约请求已失效，请回到商户重新发起",
        "en": "This sign request has expired; start again at the merchant",
    },
    "agreement_already_unsigned": {"zh": "协议已解约", "en": "The agreement has ended"},
    "invalid_agreement_cap": {
        "zh": "每月限额须大于 0，且不超过免密代扣的每月上限",
        "en": "A monthly cap is above 0 and at most the product's monthly limit",
    },
    "registration_incomplete": {
        "zh": "请先完成注册（实名与支付密码）",
        "en": "Finish registering first (real name and payment password)",
    },
}
PRODUCT_NAMES = {
    "GENERAL_WITHHOLDING": {"zh": "免密代扣", "en": "Password-free withholding"},
    "CYCLE_PAY_AUTH": {"zh": "周期扣款", "en": "Periodic deduction"},
}


def _agreements(request: Request) -> AgreementService:
    service: AgreementService = platform_of(request).services["agreements"]
    return service


def _error(request: Request, error: DomainError) -> dict[str, Any]:
    return page_error(request, error, ERRORS)


def _merchant_name(request: Request, agreement: Agreement) -> str:
    return str(platform_of(request).services["merchants"].merchant(agreement.merchant_id).name)


def _context(request: Request, agreement: Agreement) -> dict[str, Any]:
    lang = lang_of(request)
    limits = _agreements(request).policy.limits
    return {
        "a": agreement,
        "merchant_name": _merchant_name(request, agreement),
        "product_name": PRODUCT_NAMES[agreement.product.value][lang],
        "rule_text": rule_text(agreement, lang),
        "limits": limits,
        "expired": _agreements(request).expired(agreement),
        "forever": agreement.invalid_at_us >= FOREVER_US,
    }


def rule_text(agreement: Agreement, lang: str) -> str:
    """How often a cycle agreement charges, in words ("" for general withholding)."""
    rule = agreement.rule
    if rule is None:
        return ""
    zh = lang == "zh"
    if rule.period_type is PeriodType.DAY:
        return f"每 {rule.period} 天一次" if zh else f"once every {rule.period} days"
    if rule.period == 1:
        return "每月一次" if zh else "once a month"
    return f"每 {rule.period} 个月一次" if zh else f"once every {rule.period} months"


# Sign page ----------------------------------------------------------------------------------


def _sign_page(request: Request, token: str, status_code: int = 200, **extra: Any) -> Response:
    try:
        agreement = _agreements(request).sign_request(token)
    except DomainError as error:
        return render(request, "agreements/sign.html", 404, a=None, **_error(request, error))
    user_id = current_user_id(request)
    title = "签约" if lang_of(request) == "zh" else "Sign"
    now_us = platform_of(request).clock.now_us()
    sign_open = (
        agreement.status is AgreementStatus.TEMP
        and min(agreement.sign_expires_at_us, agreement.invalid_at_us) > now_us
    )
    return render(
        request,
        "agreements/sign.html",
        status_code,
        title=title,
        user_id=user_id,
        token=token,
        sign_open=sign_open,
        **_context(request, agreement),
        **extra,
    )


@router.get("/agreements/sign/{token}")
def sign_page(request: Request, token: str) -> Response:
    return _sign_page(request, token[:64])


@router.post("/agreements/sign/{token}/login")
async def sign_login(request: Request, token: str) -> Response:
    token = token[:64]
    try:
        return await sign_in_and_return(request, f"/agreements/sign/{token}")
    except DomainError as error:
        return _sign_page(request, token, 400, **_error(request, error))


@router.post("/agreements/sign/{token}", dependencies=CSRF)
async def sign(request: Request, token: str) -> Response:
    token = token[:64]
    user_id = current_user_id(request)
    if user_id is None:
        return RedirectResponse(f"/agreements/sign/{token}", status_code=303)
    form = await form_of(request)
    try:
        signed = _agreements(request).sign(token, user_id, form.get("payment_password", ""))
    except DomainError as error:
        return _sign_page(request, token, 400, **_error(request, error))
    platform = platform_of(request)
    target = platform.services["agreement_forms"].return_url(signed, platform.clock.now_us())
    if target:
        return RedirectResponse(target, status_code=303)
    return _sign_page(request, token)


# Wallet -------------------------------------------------------------------------------------


@router.get("/wallet/agreements")
def agreements_page(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    service = _agreements(request)
    rows = [
        _context(request, agreement) for agreement in service.agreements_of(user_id, LIST_SHOWN_MAX)
    ]
    done = request.query_params.get("done", "")
    notice = ""
    if done == "unsigned":
        notice = "已解约" if lang_of(request) == "zh" else "Unsigned"
    title = "免密支付/自动扣款" if lang_of(request) == "zh" else "Auto-debit agreements"
    return render(request, "agreements/list.html", title=title, rows=rows, notice=notice)


def _detail_page(
    request: Request, user_id: int, agreement_no: str, status_code: int = 200, **extra: Any
) -> Response:
    try:
        view = _agreements(request).view(user_id, agreement_no)
    except DomainError as error:
        return render(request, "agreements/detail.html", 404, a=None, **_error(request, error))
    return render(
        request,
        "agreements/detail.html",
        status_code,
        title=_merchant_name(request, view.agreement),
        view=view,
        **_context(request, view.agreement),
        **extra,
    )


@router.get("/wallet/agreements/{agreement_no}")
def agreement_page(request: Request, agreement_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    notice = ""
    if request.query_params.get("done") == "cap":
        notice = "每月限额已保存" if lang_of(request) == "zh" else "Monthly cap saved"
    return _detail_page(request, user_id, agreement_no[:32], notice=notice)


@router.post("/wallet/agreements/{agreement_no}/cap", dependencies=CSRF)
async def set_cap(request: Request, agreement_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    agreement_no = agreement_no[:32]
    form = await form_of(request)
    try:
        text = form.get("cap", "").strip()
        cap_fen = parse_yuan(text) if text else None
        _agreements(request).set_user_cap(
            user_id, agreement_no, cap_fen, form.get("payment_password", "")
        )
    except DomainError as error:
        return _detail_page(request, user_id, agreement_no, 400, **_error(request, error))
    return RedirectResponse(f"/wallet/agreements/{agreement_no}?done=cap", status_code=303)


@router.post("/wallet/agreements/{agreement_no}/unsign", dependencies=CSRF)
def unsign(request: Request, agreement_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    agreement_no = agreement_no[:32]
    try:
        _agreements(request).unsign_by_user(user_id, agreement_no)
    except DomainError as error:
        return _detail_page(request, user_id, agreement_no, 400, **_error(request, error))
    return RedirectResponse("/wallet/agreements?done=unsigned", status_code=303)


def install(app: Any) -> None:
    """Before the wallet pages: their `/wallet/{kind}` would shadow `/wallet/agreements`."""
    app.include_router(router)
