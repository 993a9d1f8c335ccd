"""Wallet pages for 忘记密码 (services/password_resets.py), two steps each.

Signed out, from the sign-in page's "忘记密码?" link: `/password-reset` asks for the phone and
texts a code (the page says "if this number has an account", the same for every number), then
the code, the ID number (for verified accounts) and the new login password; a right reset
signs this browser out and lands on the sign-in page with a notice.

Signed in, from the security page's "忘记支付密码?" link: `/wallet/security/payment-password/
reset` sends a code to the user's own phone, then takes the code, the ID number and the new
payment password, and returns to the security page.

As on the other wallet pages: every POST checks the CSRF token, a DomainError re-renders the
form with the message for its code, and the final forms carry a one-time `idem` key, so a
double submit resets once and the second gets the first answer (instead of "code used"). The
ID number is never written back into a re-rendered form.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.identity import mask_phone, normalize_phone
from paybao.services.idempotency import fingerprint
from paybao.services.password_resets import PasswordResetService
from paybao.web.i18n import error_text, lang_of, text
from paybao.web.pages_user import _active_user, field, form_of, render, services, texts_of
from paybao.web.pages_user_settings import _once
from paybao.web.password_reset_texts import CODE_SPENT
from paybao.web.session import check_csrf, login_redirect, sign_out

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]
LOGIN_RESET = "/password-reset"
PAYMENT_RESET = "/wallet/security/payment-password/reset"


def _resets(request: Request) -> PasswordResetService:
    service: PasswordResetService = services(request)["password_resets"]
    return service


def _error(request: Request, error: DomainError) -> dict[str, Any]:
    message = error_text(lang_of(request), error.code, error.message)
    tries_left = error.data.get("tries_left")
    if error.code == "reset_proof_wrong" and isinstance(tries_left, int) and tries_left > 0:
        message += text(lang_of(request), "reset_tries_left", n=tries_left)
    return {"error": message, "error_code": error.code}


def _valid_min(request: Request) -> int:
    return int(_resets(request).sms.policy.valid_s // 60)


# Login password, signed out --------------------------------------------------------------


def _login_step1(request: Request, phone: str = "", **extra: Any) -> HTMLResponse:
    t = texts_of(lang_of(request))
    return render(
        request,
        "base/form.html",
        title=t("reset_login_title"),
        subtitle=text(lang_of(request), "reset_step", n=1),
        notes=[t("reset_login_intro")],
        action=LOGIN_RESET,
        fields=[field("phone", t("phone"), "tel", phone, mode="numeric")],
        submit=t("send_code"),
        links=[("/login", t("login"))],
        **extra,
    )


def _login_step2(request: Request, phone: str, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    t = texts_of(lang)
    id_field = field("id_number", t("id_number_if_verified"))
    id_field["optional"] = True
    notes = [
        text(
            lang,
            "code_sent_if_registered",
            phone=mask_phone(phone),
            minutes=_valid_min(request),
        )
    ]
    return render(
        request,
        "base/form.html",
        title=t("reset_login_title"),
        subtitle=text(lang, "reset_step", n=2),
        notes=notes,
        action=f"{LOGIN_RESET}/confirm",
        fields=[
            field("phone", "", "hidden", phone),
            field("sms_code", t("sms_code"), mode="numeric"),
            id_field,
            field("new_login_password", t("new_password"), "password"),
        ],
        submit=t("confirm"),
        idem=secrets.token_urlsafe(16),
        links=[(f"{LOGIN_RESET}?phone={phone}", t("resend_code")), ("/login", t("login"))],
        **extra,
    )


@router.get(LOGIN_RESET)
def login_reset_page(request: Request) -> HTMLResponse:
    phone = request.query_params.get("phone", "")
    return _login_step1(request, phone if phone.isdigit() and len(phone) == 11 else "")


@router.post(LOGIN_RESET, dependencies=CSRF)
async def login_reset_start(request: Request) -> HTMLResponse:
    form = await form_of(request)
    typed = form.get("phone", "")[:32]
    try:
        phone = normalize_phone(typed)
        _resets(request).request_login_reset(phone)
    except DomainError as error:
        return _login_step1(request, typed, status_code=400, **_error(request, error))
    return _login_step2(request, phone)


@router.get(f"{LOGIN_RESET}/confirm")
@router.get(f"{PAYMENT_RESET}/code")
def back_to_the_start(request: Request) -> Response:
    """The POST-only paths, opened by GET (the language switch returns to the page's path):
    the first step again."""
    start = PAYMENT_RESET if request.url.path.startswith("/wallet") else LOGIN_RESET
    return RedirectResponse(start, status_code=303)


@router.post(f"{LOGIN_RESET}/confirm", dependencies=CSRF)
async def login_reset_confirm(request: Request) -> Response:
    form = await form_of(request)
    try:
        phone = normalize_phone(form.get("phone", ""))
    except InvalidInput:  # the hidden field was tampered with: start again
        return RedirectResponse(LOGIN_RESET, status_code=303)
    service = _resets(request)

    def work() -> tuple[int, str]:
        service.confirm_login_reset(
            phone,
            form.get("sms_code", ""),
            form.get("id_number", ""),
            form.get("new_login_password", ""),
        )
        return 200, json.dumps({"status": "reset"})

    try:
        # Keyed by the phone (hashed: the scope is stored) and the form's one-time key.
        services(request)["idempotency"].run(
            f"password-reset:{fingerprint(phone)[:32]}",
            form.get("idem") or secrets.token_urlsafe(8),
            fingerprint("password.login_reset", phone),
            work,
        )
    except DomainError as error:
        if error.code in CODE_SPENT:
            return _login_step1(request, phone, status_code=400, **_error(request, error))
        return _login_step2(request, phone, status_code=400, **_error(request, error))
    response = RedirectResponse("/login?done=password_reset", status_code=303)
    # Whoever was signed in on this browser is not any more; sessions elsewhere are signed
    # cookies the server cannot end (no per-user cut-off yet).
    sign_out(response)
    return response


# Payment password, signed in -------------------------------------------------------------


def _payment_step1(request: Request, phone_masked: str, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    t = texts_of(lang)
    return render(
        request,
        "base/form.html",
        title=t("reset_payment_title"),
        subtitle=text(lang, "reset_step", n=1),
        notes=[text(lang, "reset_payment_intro", phone=phone_masked)],
        action=f"{PAYMENT_RESET}/code",
        fields=[],
        submit=t("send_code"),
        links=[("/wallet/security", t("security"))],
        **extra,
    )


def _payment_step2(request: Request, phone_masked: str, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    t = texts_of(lang)
    return render(
        request,
        "base/form.html",
        title=t("reset_payment_title"),
        subtitle=text(lang, "reset_step", n=2),
        notes=[text(lang, "code_sent", phone=phone_masked)],
        action=PAYMENT_RESET,
        fields=[
            field("sms_code", t("sms_code"), mode="numeric"),
            field("id_number", t("id_number")),
            field("new_payment_password", t("new_payment_password"), "password", mode="numeric"),
        ],
        submit=t("confirm"),
        idem=secrets.token_urlsafe(16),
        links=[(PAYMENT_RESET, t("resend_code")), ("/wallet/security", t("security"))],
        **extra,
    )


@router.get(PAYMENT_RESET)
def payment_reset_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return _payment_step1(request, user.phone_masked)


@router.post(f"{PAYMENT_RESET}/code", dependencies=CSRF)
def payment_reset_code(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    try:
        phone_masked = _resets(request).request_payment_reset(user.id)
    except DomainError as error:
        return _payment_step1(request, user.phone_masked, status_code=400, **_error(request, error))
    return _payment_step2(request, phone_masked)


@router.post(PAYMENT_RESET, dependencies=CSRF)
async def payment_reset_confirm(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    service = _resets(request)

    def work() -> None:
        service.confirm_payment_reset(
            user.id,
            form.get("sms_code", ""),
            form.get("id_number", ""),
            form.get("new_payment_password", ""),
        )

    try:
        _once(request, user.id, form, "password.payment_reset", work)
    except DomainError as error:
        step = _payment_step1 if error.code in CODE_SPENT else _payment_step2
        return step(request, user.phone_masked, status_code=400, **_error(request, error))
    return RedirectResponse("/wallet/security?done=payment", status_code=303)
