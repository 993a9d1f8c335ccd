"""Wallet pages: cards (the bound cards, binding another one with the SMS confirmation step)
and security (class and limits, changing the login and the payment password, the devices that
may confirm payments in place of the password, each removable: a lost phone is revoked here).

Same rules as the other wallet pages (pages_user.py): every POST checks the CSRF token, every
form carries a one-time `idem` key (a double submit runs once: the second gets the first
answer instead of, say, "wrong old password"), a DomainError re-renders the page with the
message for its code in the page's language, shown on the form it belongs to (`data-code`).
Passwords never enter the idempotency fingerprint: it is an unsalted hash, and a 6-digit PIN
is quick to find from one.

Routes are two segments deep under /wallet/cards and /wallet/security, so they never meet the
wallet's `/wallet/{kind}` money routes; the two GET pages are included before those.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.account_class import CHINA_TZ, AccountClass, upgrade_hint
from paybao.domain.bins import BANKS
from paybao.domain.cards import mask_card_number
from paybao.domain.errors import DomainError
from paybao.domain.identity import mask_phone
from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.services.idempotency import fingerprint
from paybao.web.deps import platform_of
from paybao.web.i18n import error_text, lang_of, text
from paybao.web.pages_user import _active_user, field, form_of, render, services, texts_of
from paybao.web.session import check_csrf, login_redirect, sign_in

router = APIRouter(include_in_schema=False)
CSRF = [Depends(check_csrf)]
# ?done=<what> on the redirect after a successful form -> the notice's text key.
NOTICES = {
    "card": "card_bound",
    "login": "login_password_changed",
    "payment": "payment_password_changed",
    "device": "device_revoked",
}
PROOFS = ("payment", "login")
PUBLIC_FIELDS = frozenset(
    {"card_number", "holder_name", "reserved_phone", "card_id", "proof", "device_id"}
)


def _form(
    request: Request,
    form_id: str,
    title: str,
    action: str,
    fields: list[dict[str, Any]],
    submit: str,
    error: DomainError | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One form of a settings page (the page may show several; each shows its own error)."""
    lang = lang_of(request)
    message = ""
    if error is not None:
        message = error_text(lang, error.code, error.message)
        if error.code == "bad_credentials":  # signed in: only the password can be wrong
            message = text(lang, "current_password_wrong")
    return {
        "id": form_id,
        "title": title,
        "action": action,
        "fields": fields,
        "submit": submit,
        "idem": secrets.token_urlsafe(16),
        "error": message,
        "error_code": error.code if error is not None else "",
        "note": note,
    }


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done", "")
    return text(lang_of(request), NOTICES[done]) if done in NOTICES else None


def _once(
    request: Request, user_id: int, form: dict[str, str], what: str, work: Callable[[], Any]
) -> Any:
    """Run `work` under the form's one-time key; a replay returns the first run's JSON answer."""

    def run() -> tuple[int, str]:
        return 200, json.dumps(work())

    # The key is one-time per rendered form; the fingerprint names the form and its
    # non-secret fields only.
    public = sorted(f"{k}={v}" for k, v in form.items() if k in PUBLIC_FIELDS)
    _, body = services(request)["idempotency"].run(
        f"form:{user_id}",
        form.get("idem") or secrets.token_urlsafe(8),
        fingerprint(what, *public),
        run,
    )
    return json.loads(body)


# Cards -------------------------------------------------------------------------------------


def _card_rows(request: Request, user_id: int) -> list[tuple[str, str]]:
    zh = lang_of(request) == "zh"
    with platform_of(request).db.read() as tx:
        cards = services(request)["wallet"].cards.of_user(tx, user_id)
    return [
        (
            BANKS[c.bank_code].name_zh if zh else c.bank_code,
            mask_card_number(c.card_number, show_head=False),
        )
        for c in cards
        if c.status == "bound"
    ]


def cards_page(
    request: Request,
    user_id: int,
    *,
    status_code: int = 200,
    error: DomainError | None = None,
    confirm: tuple[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The bound cards, then the add form, or (`confirm` = (card id, masked phone)) the
    SMS-code form that binds the card just added."""
    t = texts_of(lang_of(request))
    values = values or {}
    if confirm is None:
        form = _form(
            request,
            "add-card",
            t("add_card"),
            "/wallet/cards/add",
            [
                field(
                    "card_number",
                    t("card_number"),
                    value=values.get("card_number", ""),
                    mode="numeric",
                ),
                field("holder_name", t("holder_name"), value=values.get("holder_name", "")),
                field(
                    "reserved_phone",
                    t("reserved_phone"),
                    "tel",
                    values.get("reserved_phone", ""),
                    mode="numeric",
                ),
            ],
            t("next"),
            error,
        )
    else:
        card_id, phone_masked = confirm
        form = _form(
            request,
            "confirm-card",
            t("step6"),
            "/wallet/cards/confirm",
            [
                field("code", t("sms_code"), mode="numeric"),
                field("card_id", "", "hidden", card_id),
                field("reserved_phone", "", "hidden", phone_masked),
            ],
            t("confirm"),
            error,
            note=text(lang_of(request), "code_sent", phone=phone_masked) if phone_masked else "",
        )
    rows = _card_rows(request, user_id)
    return render(
        request,
        "user/settings.html",
        status_code=status_code,
        title=t("cards"),
        sections=[{"id": "cards", "rows": rows, "empty": t("no_cards")}],
        forms=[form],
        notice=_notice(request),
        links=[("/wallet", t("home"))],
    )


@router.get("/wallet/cards")
def cards(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return cards_page(request, user.id)


@router.post("/wallet/cards/add", dependencies=CSRF)
async def add_card(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    registration = services(request)["registration"]
    try:
        card_id = _once(
            request,
            user.id,
            form,
            "card.add",
            lambda: registration.add_card(
                user.id,
                form.get("card_number", ""),
                form.get("holder_name", ""),
                form.get("reserved_phone", ""),
            ),
        )
    except DomainError as error:
        return cards_page(request, user.id, status_code=400, error=error, values=form)
    phone = form.get("reserved_phone", "").strip()
    masked = mask_phone(phone) if len(phone) == 11 and phone.isdigit() else ""
    return cards_page(request, user.id, confirm=(str(card_id), masked))


@router.post("/wallet/cards/confirm", dependencies=CSRF)
async def confirm_card(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    card_id = form.get("card_id", "")
    registration = services(request)["registration"]
    try:
        _once(
            request,
            user.id,
            form,
            "card.confirm",
            lambda: registration.confirm_card(
                user.id, int(card_id) if card_id.isdigit() else 0, form.get("code", "")
            ),
        )
    except DomainError as error:
        confirm = (card_id, form.get("reserved_phone", ""))
        if error.code == "card_not_pending":  # nothing to confirm: start again
            return cards_page(request, user.id, status_code=400, error=error)
        return cards_page(request, user.id, status_code=400, error=error, confirm=confirm)
    return RedirectResponse("/wallet/cards?done=card", status_code=303)


# Security ----------------------------------------------------------------------------------


def _class_rows(request: Request, user_id: int) -> list[tuple[str, str]]:
    lang = lang_of(request)
    t = texts_of(lang)
    users = services(request)["users"]
    record = users.record(user_id)
    limits = users.limits(user_id)
    rows = [(t("account_class"), record.account_class or "-")]
    if limits:
        rows += [
            (t("limit"), format_yuan(limits.limit_fen)),
            (t("used"), format_yuan(limits.used_fen)),
            (t("remaining"), format_yuan(limits.remaining_fen)),
        ]
        channels = [c for c in record.channels.split(",") if c]
        hint = upgrade_hint(AccountClass(limits.account_class), channels, lang=lang)
        if hint:
            rows.append(("↑", hint))
    return rows


def security_page(
    request: Request,
    user_id: int,
    *,
    status_code: int = 200,
    failed: str = "",
    error: DomainError | None = None,
    proof: str = "payment",
) -> HTMLResponse:
    """Class and limits, then the two password forms (`failed` names the one that erred)."""
    t = texts_of(lang_of(request))
    login_form = _form(
        request,
        "login-password",
        t("change_password"),
        "/wallet/security/login-password",
        [
            field("old_password", t("old_password"), "password"),
            field("new_password", t("new_password"), "password"),
        ],
        t("confirm"),
        error if failed == "login" else None,
    )
    payment_form = _form(
        request,
        "payment-password",
        t("change_payment_password"),
        "/wallet/security/payment-password",
        [
            field(
                "proof",
                t("verify_with"),
                "select",
                proof,
                options=[
                    ("payment", t("current_payment_password")),
                    ("login", t("login_password")),
                ],
            ),
            field("current", t("current_password"), "password"),
            field("new_payment_password", t("new_payment_password"), "password", mode="numeric"),
        ],
        t("confirm"),
        error if failed == "payment" else None,
    )
    devices = services(request)["devices"].devices(user_id)
    device_forms = [
        _form(
            request,
            f"device-{device.device_id}",
            f"{device.name} · {t('registered_at')} {_day(device.created_at_us)}",
            "/wallet/security/devices/revoke",
            [field("device_id", "", "hidden", device.device_id)],
            t("revoke_device"),
            error if failed == device.device_id else None,
        )
        for device in devices
    ]
    return render(
        request,
        "user/settings.html",
        status_code=status_code,
        title=t("security"),
        sections=[
            {"id": "limits", "rows": _class_rows(request, user_id), "empty": ""},
            {
                "id": "devices",
                "rows": [(t("confirm_devices"), str(len(devices)))] if devices else [],
                "empty": t("no_confirm_devices"),
            },
        ],
        forms=[*device_forms, login_form, payment_form],
        notice=_notice(request),
        # Merchants' apps the user let read their id or profile (Log in with paybao).
        links=[("/wallet/authorized-apps", t("authorized_apps")), ("/wallet", t("home"))],
    )


@router.get("/wallet/security")
def security(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return security_page(request, user.id)


@router.post("/wallet/security/login-password", dependencies=CSRF)
async def change_login_password(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    users = services(request)["users"]
    try:
        _once(
            request,
            user.id,
            form,
            "password.login",
            lambda: users.change_login_password(
                user.id, form.get("old_password", ""), form.get("new_password", "")
            ),
        )
    except DomainError as error:
        return security_page(request, user.id, status_code=400, failed="login", error=error)
    done = RedirectResponse("/wallet/security?done=login", status_code=303)
    sign_in(done, request, user.id)  # the change ended every session, this one's too
    return done


@router.post("/wallet/security/payment-password", dependencies=CSRF)
async def change_payment_password(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    users = services(request)["users"]
    proof = form.get("proof", "payment")
    proof = proof if proof in PROOFS else "payment"
    current = form.get("current", "")
    new = form.get("new_payment_password", "")
    try:
        _once(
            request,
            user.id,
            form,
            "password.payment",
            lambda: users.change_payment_password(
                user.id,
                new,
                payment_password=current if proof == "payment" else None,
                login_password=current if proof == "login" else None,
            ),
        )
    except DomainError as error:
        return security_page(
            request, user.id, status_code=400, failed="payment", error=error, proof=proof
        )
    return RedirectResponse("/wallet/security?done=payment", status_code=303)


@router.post("/wallet/security/devices/revoke", dependencies=CSRF)
async def revoke_device(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    device_id = form.get("device_id", "")[:32]
    devices = services(request)["devices"]
    try:
        _once(
            request,
            user.id,
            form,
            "device.revoke",
            lambda: devices.revoke(user.id, device_id),
        )
    except DomainError as error:
        if error.code != "device_not_found":  # already gone: what the user asked for
            return security_page(request, user.id, status_code=400, failed=device_id, error=error)
    return RedirectResponse("/wallet/security?done=device", status_code=303)


def _day(at_us: int) -> str:
    return datetime_from_us(at_us).astimezone(CHINA_TZ).strftime("%Y-%m-%d")
