"""Wallet pages: sign-in, the six registration steps, home, top-up, withdraw, transfer,
statement, the language switch, and the sandbox SMS inbox (/dev/sms). Cards and security are
in pages_user_settings.py.

Every POST checks the CSRF token; a DomainError re-renders the form with the message for its
code in the page's language. Money forms carry a one-time `idem` key, so a double submit moves
money once (the idempotency service answers the second from the first).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from paybao.adapters.db.wallet_store import sms_outbox_tail
from paybao.domain.errors import DomainError, NotFound
from paybao.domain.money import format_yuan, parse_yuan
from paybao.domain.withdrawal import TransferArrival, WithdrawalArrival
from paybao.services.clock import datetime_from_us
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.services.wallet_statement import StatementQuery
from paybao.web import password_reset_texts  # noqa: F401 (its texts join i18n's tables)
from paybao.web.api_wallet import CODES_BY_KIND, RowId, statement_query
from paybao.web.deps import platform_of
from paybao.web.i18n import LANGS, error_text, lang_of, text
from paybao.web.session import (
    check_csrf,
    csrf_token,
    current_user_id,
    login_redirect,
    sign_in,
    sign_out,
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
CSRF = [Depends(check_csrf)]
STEP_NUMBER = {
    "phone_pending": 2,
    "phone_verified": 3,
    "payment_password_set": 4,
    "identity_verified": 5,
}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    context.setdefault("title", text(lang, "brand"))
    base = {
        "request": request,
        "lang": lang,
        "t": lambda key, **v: text(lang, key, **v),
        "yuan": format_yuan,
        "when": _when,
        "csrf": csrf_token(request),
        "signed_in": current_user_id(request) is not None,
        "notes": [],
        "links": [],
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _when(at_us: int) -> str:
    from paybao.domain.account_class import CHINA_TZ

    return datetime_from_us(at_us).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _error(request: Request, error: DomainError) -> dict[str, Any]:
    return {
        "error": error_text(lang_of(request), error.code, error.message),
        "error_code": error.code,
    }


def field(
    name: str,
    label: str,
    kind: str = "text",
    value: str = "",
    mode: str = "",
    options: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": kind,
        "value": value,
        "mode": mode,
        "options": options or [],
    }


async def form_of(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


def services(request: Request) -> dict[str, Any]:
    return platform_of(request).services


# Language, sign-in ---------------------------------------------------------------------------


@router.get("/lang/{code}")
def switch_lang(code: str, next: str = "/wallet") -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/wallet"
    response = RedirectResponse(target, status_code=303)
    if code in LANGS:
        response.set_cookie("lang", code, max_age=365 * 86_400, samesite="lax")
    return response


@router.get("/")
def root() -> Response:
    return RedirectResponse("/wallet", status_code=303)


def texts_of(lang: str) -> Callable[[str], str]:
    """The page's text lookup in one language (typed, unlike a lambda)."""

    def t(key: str) -> str:
        return text(lang, key)

    return t


def login_form(request: Request, **extra: Any) -> HTMLResponse:
    t = texts_of(lang_of(request))
    return render(
        request,
        "base/form.html",
        title=t("login"),
        action="/login"
        + (
            f"?next={request.query_params.get('next', '')}"
            if request.query_params.get("next")
            else ""
        ),
        fields=[
            field("phone", t("phone"), "tel", mode="numeric"),
            field("password", t("login_password"), "password"),
        ],
        submit=t("login"),
        links=[
            ("/register", f"{t('no_account')} {t('register')}"),
            ("/password-reset", t("forgot_password")),  # web/pages_password_resets.py
        ],
        **extra,
    )


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    if request.query_params.get("done") == "password_reset":
        return login_form(request, notice=text(lang_of(request), "login_password_reset_done"))
    return login_form(request)


@router.post("/login", dependencies=CSRF)
async def login(request: Request) -> Response:
    form = await form_of(request)
    try:
        user = services(request)["users"].authenticate(
            form.get("phone", ""), form.get("password", "")
        )
    except DomainError as error:
        return login_form(request, status_code=400, **_error(request, error))
    target = request.query_params.get("next", "/wallet")
    if not target.startswith("/") or target.startswith("//"):
        target = "/wallet"
    response = RedirectResponse(target if user.step == "active" else "/register", status_code=303)
    sign_in(response, request, user.id)
    return response


async def sign_in_and_return(request: Request, back_to: str) -> RedirectResponse:
    """A wallet user signing in on a page a merchant sent them to (the cashier, an agreement to
    sign, a deposit to allow): the form's CSRF token, phone and login password checked, then
    back to that page. A failed check raises its DomainError, for the page to show."""
    form = await form_of(request)
    await check_csrf(request)
    user = services(request)["users"].authenticate(form.get("phone", ""), form.get("password", ""))
    response = RedirectResponse(back_to, status_code=303)
    sign_in(response, request, user.id)
    return response


@router.post("/logout", dependencies=CSRF)
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    sign_out(response)
    return response


# Registration --------------------------------------------------------------------------------


def register_form(request: Request, step: int, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    t = texts_of(lang)
    fields = {
        1: [
            field("phone", t("phone"), "tel", mode="numeric"),
            field("password", t("login_password"), "password"),
        ],
        2: [field("code", t("sms_code"), mode="numeric")],
        3: [field("payment_password", t("payment_password"), "password", mode="numeric")],
        4: [field("real_name", t("real_name")), field("id_number", t("id_number"))],
        5: [
            field("card_number", t("card_number"), mode="numeric"),
            field("holder_name", t("holder_name")),
            field("reserved_phone", t("reserved_phone"), "tel", mode="numeric"),
        ],
        6: [
            field("code", t("sms_code"), mode="numeric"),
            field("card_id", "", "hidden", extra.pop("card_id", "")),
        ],
    }[step]
    return render(
        request,
        "base/form.html",
        title=t(f"step{step}"),
        subtitle=text(lang, "step", n=step),
        action=f"/register/{step}",
        fields=fields,
        submit=t("next"),
        links=[("/login", t("login"))] if step == 1 else [],
        **extra,
    )


@router.get("/register")
def register_page(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return register_form(request, 1)
    try:
        user = services(request)["users"].get(user_id)
    except NotFound:
        return register_form(request, 1)
    if user.step == "active":
        return RedirectResponse("/wallet", status_code=303)
    return register_form(request, STEP_NUMBER[user.step])


@router.post("/register/{step}", dependencies=CSRF)
async def register_step(step: int, request: Request) -> Response:
    form = await form_of(request)
    registration = services(request)["registration"]
    user_id = current_user_id(request)
    try:
        if step == 1:
            user_id = registration.start(form.get("phone", ""), form.get("password", ""))
            response = RedirectResponse("/register", status_code=303)
            sign_in(response, request, user_id)
            return response
        if user_id is None:
            return login_redirect(request)
        if step == 2:
            registration.verify_phone(user_id, form.get("code", ""))
        elif step == 3:
            registration.set_payment_password(user_id, form.get("payment_password", ""))
        elif step == 4:
            registration.verify_identity(
                user_id, form.get("real_name", ""), form.get("id_number", "")
            )
        elif step == 5:
            card_id = registration.add_card(
                user_id,
                form.get("card_number", ""),
                form.get("holder_name", ""),
                form.get("reserved_phone", ""),
            )
            return register_form(request, 6, card_id=str(card_id))
        elif step == 6:
            registration.confirm_card(user_id, int(form.get("card_id") or 0), form.get("code", ""))
            return RedirectResponse("/wallet", status_code=303)
    except DomainError as error:
        extra: dict[str, Any] = {"card_id": form.get("card_id", "")} if step == 6 else {}
        return register_form(request, step, status_code=400, **extra, **_error(request, error))
    return RedirectResponse("/register", status_code=303)


# The wallet ----------------------------------------------------------------------------------


def _active_user(request: Request) -> Any:
    user_id = current_user_id(request)
    if user_id is None:
        return None
    try:
        user = services(request)["users"].get(user_id)
    except NotFound:
        return None
    return user if user.step == "active" else None


@router.get("/wallet")
def home(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    wallet = services(request)["wallet"]
    balance_fen, available_fen = wallet.balance(user.id)
    entries = wallet.statement(user.id, StatementQuery(limit=10))
    pending = [
        row
        for row in wallet.statements.recent("wallet_transfers", user.id, 20)
        if row.status == "pending"
    ]
    notice = request.query_params.get("done")
    return render(
        request,
        "user/home.html",
        user=user,
        balance_fen=balance_fen,
        available_fen=available_fen,
        held_fen=balance_fen - available_fen,
        holds=wallet.holds(user.id),
        entries=entries,
        pending=pending,
        notice=text(lang_of(request), "done") + f" · {text(lang_of(request), 'status_' + notice)}"
        if notice
        else None,
    )


def _cards_options(request: Request, user_id: int) -> list[tuple[str, str]]:
    platform = platform_of(request)
    with platform.db.read() as tx:
        cards = services(request)["wallet"].cards.of_user(tx, user_id)
    from paybao.domain.bins import BANKS

    zh = lang_of(request) == "zh"
    return [
        (str(c.id), f"{BANKS[c.bank_code].name_zh if zh else c.bank_code} ****{c.card_number[-4:]}")
        for c in cards
        if c.status == "bound"
    ]


def money_form(request: Request, user_id: int, kind: str, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    t = texts_of(lang)
    fields = []
    if kind == "transfer":
        fields.append(field("payee_phone", t("payee_phone"), "tel", mode="numeric"))
    else:
        fields.append(
            field("card_id", t("card"), "select", options=_cards_options(request, user_id))
        )
    fields.append(field("amount", t("amount"), mode="decimal"))
    if kind == "transfer":
        arrivals = [(a.value, t(a.value)) for a in TransferArrival]
        fields += [
            field("arrival", t("arrival"), "select", "instant", options=arrivals),
            field("memo", t("memo")),
        ]
        fields[-1]["optional"] = True
    if kind == "withdraw":
        fields.append(
            field(
                "arrival",
                t("arrival"),
                "select",
                "instant",
                options=[(a.value, t(a.value)) for a in WithdrawalArrival],
            )
        )
    fields.append(field("payment_password", t("payment_password"), "password", mode="numeric"))
    notes = extra.pop("notes", [])
    if kind == "topup":  # online banking and cash codes (web/pages_topup_channels.py)
        from paybao.web.pages_topup_channels import channel_links

        extra.setdefault("links", channel_links(lang))
    if kind == "withdraw":
        user = services(request)["users"].record(user_id)
        left = max(
            services(request)["wallet"].fee_policy.free_quota_fen - user.withdraw_quota_used_fen, 0
        )
        notes.append(
            ("免费额度剩余 " if lang == "zh" else "Free quota left: ")
            + format_yuan(left)
            + (
                " 元,超出部分收取 0.1%(最低 0.10 元)"
                if lang == "zh"
                else " CNY; 0.1% above it (min 0.10)"
            )
        )
    return render(
        request,
        "base/form.html",
        title=t(kind if kind != "withdraw" else "withdraw"),
        action=f"/wallet/{kind}",
        fields=fields,
        submit=t("confirm"),
        idem=secrets.token_urlsafe(16),
        notes=notes,
        **extra,
    )


@router.get("/wallet/{kind}", response_model=None)
def money_page(kind: str, request: Request) -> Response:
    if kind not in ("topup", "withdraw", "transfer"):
        return _other_page(kind, request)
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return money_form(request, user.id, kind)


@router.post("/wallet/{kind}", dependencies=CSRF)
async def money_post(kind: str, request: Request) -> Response:
    if kind not in ("topup", "withdraw", "transfer"):
        return render(request, "user/info.html", status_code=404, title="404", sections=[])
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    wallet = services(request)["wallet"]
    try:
        amount_fen = parse_yuan(form.get("amount", "").strip())
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            if kind == "topup":
                result = wallet.top_up(user.id, int(form.get("card_id") or 0), amount_fen, password)
            elif kind == "withdraw":
                result = wallet.withdraw(
                    user.id,
                    int(form.get("card_id") or 0),
                    amount_fen,
                    password,
                    WithdrawalArrival(form.get("arrival", "instant")),
                )
            else:
                arrival = TransferArrival(form.get("arrival", "instant"))
                result = wallet.transfer(
                    user.id,
                    form.get("payee_phone", ""),
                    amount_fen,
                    password,
                    arrival=arrival,
                    memo=form.get("memo", ""),
                )
                if result.status == "pending" and arrival is TransferArrival.INSTANT:
                    return 200, json.dumps({"status": "risk_held"})  # risk control held it
            return 200, json.dumps({"status": result.status})

        public = without_secrets({k: v for k, v in form.items() if k != "csrf_token"})
        digest = fingerprint(kind, *(f"{k}={v}" for k, v in sorted(public.items())))
        _, body = services(request)["idempotency"].run(
            f"form:{user.id}", form.get("idem") or secrets.token_urlsafe(8), digest, work
        )
    except DomainError as error:
        return money_form(request, user.id, kind, status_code=400, **_error(request, error))
    return RedirectResponse(f"/wallet?done={json.loads(body)['status']}", status_code=303)


@router.post("/wallet/transfer/{transfer_id}/cancel", dependencies=CSRF)
def cancel_transfer(transfer_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    services(request)["wallet"].cancel_transfer(user.id, transfer_id)
    return RedirectResponse("/wallet?done=cancelled", status_code=303)


def _other_page(kind: str, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    lang = lang_of(request)
    t = texts_of(lang)
    if kind == "statement":
        params = request.query_params
        kind_filter = params.get("kind", "")
        query = statement_query(
            kind=kind_filter if kind_filter in CODES_BY_KIND else "",
            date_from=_date(params.get("date_from")),
            date_to=_date(params.get("date_to")),
            before=int(params["before"]) if params.get("before", "").isdigit() else None,
            limit=20,
        )
        entries = services(request)["wallet"].statement(user.id, query)
        return render(
            request,
            "user/statement.html",
            title=t("statement"),
            entries=entries,
            holds=services(request)["wallet"].holds(user.id) if "before" not in params else [],
            kind=kind_filter,
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            next_before=entries[-1].seq if len(entries) == 20 else None,
        )
    return render(request, "user/info.html", status_code=404, title="404", sections=[])


def _date(value: str | None) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# Developer inbox -----------------------------------------------------------------------------


@router.get("/dev/sms")
def dev_sms(request: Request) -> HTMLResponse:
    platform = platform_of(request)
    if not platform.settings.sandbox:
        return render(request, "user/info.html", status_code=404, title="404", sections=[])
    with platform.db.read() as tx:
        messages = sms_outbox_tail(tx, 50, request.query_params.get("phone"))
    return render(request, "user/dev_sms.html", title="SMS", messages=messages)


def install(app: Any) -> None:
    """Register the wallet's REST API, pages, static files and the CSRF cookie middleware."""
    from fastapi.staticfiles import StaticFiles

    from paybao.web import (
        api_devices,
        api_password_resets,
        api_wallet,
        pages_password_resets,
        pages_user_settings,
    )
    from paybao.web.session import CsrfCookie

    app.include_router(api_wallet.router)
    app.include_router(api_devices.router)
    app.include_router(api_password_resets.router)  # 忘记密码, signed out and signed in
    app.include_router(pages_password_resets.router)
    # Cards and security first: their GET pages are also `/wallet/{kind}` paths.
    app.include_router(pages_user_settings.router)
    app.include_router(router)
    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    app.add_middleware(CsrfCookie)
