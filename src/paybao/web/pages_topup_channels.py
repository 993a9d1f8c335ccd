"""Wallet pages of the top-up channels (phone-sized), and the bank's notice endpoint.

- `/wallet/topup/bank-pay`: pick a bank and an amount -> a pending top-up, and off to the
  bank's online-banking page (303). `/wallet/topup/bank-pay/<id>` shows where it stands and
  polls `/status`; `/return` is where the bank sends the browser back: paybao asks the bank
  itself there (server to server) and never credits on what the browser brings.
- `POST /bank-pay/notify`: the bank's signed server-to-server notice. Answers `success`
  (taken), or an error status with `fail` (forged, stale, replayed, wrong amount).
- `/wallet/topup/cash`: make a cash code for an amount; `/wallet/topup/cash/<id>` shows its QR,
  its digits, the time left and its status (polled), `/qr.png` the QR image.

Forms carry CSRF and a one-time `idem` key (a double submit makes one top-up or one code).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from paybao.adapters.qr import qr_png
from paybao.domain.account_class import AccountClass
from paybao.domain.bins import BANKS
from paybao.domain.errors import DomainError
from paybao.domain.money import format_yuan, parse_yuan
from paybao.domain.topup_channels import class_room_fen
from paybao.services.bank_pay_topups import BankPayService
from paybao.services.cash_topups import CashTopupService
from paybao.services.idempotency import fingerprint
from paybao.services.users import usage_period
from paybao.web.api_wallet import RowId
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, form_of, render
from paybao.web.session import login_redirect
from paybao.web.topup_channel_texts import topup_text

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


def _bank_pay(request: Request) -> BankPayService:
    service: BankPayService = platform_of(request).services["bank_pay_topups"]
    return service


def _cash(request: Request) -> CashTopupService:
    service: CashTopupService = platform_of(request).services["cash_topups"]
    return service


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)

    return render(
        request,
        name,
        status_code=status_code,
        tt=lambda key, **v: topup_text(lang, key, **v),
        bank_name=lambda code: BANKS[code].name_in(lang),
        now_us=platform_of(request).clock.now_us(),
        **context,
    )


def channel_links(lang: str) -> list[tuple[str, str]]:
    """The other ways to top up, for the card top-up page (web/pages_user.py)."""
    return [
        ("/wallet/topup/bank-pay", topup_text(lang, "bank_pay")),
        ("/wallet/topup/cash", topup_text(lang, "cash")),
    ]


def _room(request: Request, user_id: int) -> tuple[str, str] | None:
    """(class, room in yuan) the user may still top up, for the forms."""
    platform = platform_of(request)
    users = platform.services["users"]
    user = users.record(user_id)
    if user.account_class is None or user.wallet_account_id is None:
        return None
    klass = AccountClass(user.account_class)
    with platform.db.read() as tx:
        used_fen = users.store.usage_fen(tx, user_id, usage_period(klass, platform.clock.now()))
    balance_fen = platform.ledger.balance(user.wallet_account_id).balance_fen
    room_fen = class_room_fen(klass, used_fen, balance_fen, users.policy.classes)
    return str(klass), format_yuan(room_fen)


def _once(request: Request, user_id: int, form: dict[str, str], kind: str, work: Any) -> int:
    """Run `work` (-> row id) once per form `idem` key: a double submit gets the first id."""

    def run() -> tuple[int, str]:
        return 200, json.dumps({"id": work()})

    digest = fingerprint(kind, *(f"{k}={form.get(k, '')}" for k in ("bank_code", "amount")))
    idempotency = platform_of(request).services["idempotency"]
    _, body = idempotency.run(
        f"form:{user_id}", form.get("idem") or secrets.token_urlsafe(8), digest, run
    )
    return int(json.loads(body)["id"])


# Online banking ---------------------------------------------------------------------------------


def _bank_pay_form(request: Request, user: Any, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    service = _bank_pay(request)
    return _render(
        request,
        "topup_channels/bank_pay.html",
        title=topup_text(lang, "bank_pay"),
        banks=list(BANKS.values()),
        room=_room(request, user.id),
        minutes=service.policy.bank_pay_ttl_s // 60,
        recent=service.topups(user.id, 5),
        idem=secrets.token_urlsafe(16),
        values=extra.pop("values", {}),
        **extra,
    )


@router.get("/wallet/topup/bank-pay")
def bank_pay_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return _bank_pay_form(request, user)


@router.post("/wallet/topup/bank-pay", dependencies=CSRF)
async def bank_pay_start(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    service = _bank_pay(request)
    try:
        amount_fen = parse_yuan(form.get("amount", "").strip())

        def work() -> int:
            topup, _ = service.start(user.id, form.get("bank_code", ""), amount_fen)
            return topup.id

        topup_id = _once(request, user.id, form, "bank_pay", work)
        url = service.payment_url(user.id, topup_id)
    except DomainError as error:
        values = {"bank_code": form.get("bank_code", ""), "amount": form.get("amount", "")}
        return _bank_pay_form(
            request, user, status_code=status_for(error), values=values, **_error(request, error)
        )
    return RedirectResponse(url, status_code=303)


def _bank_pay_status(request: Request, user: Any, topup_id: int) -> HTMLResponse:
    topup = _bank_pay(request).topup(user.id, topup_id)
    return _render(
        request,
        "topup_channels/bank_pay_status.html",
        title=topup_text(lang_of(request), "bank_pay"),
        p=topup,
        balance_fen=platform_of(request).services["wallet"].balance(user.id)[0],
    )


@router.get("/wallet/topup/bank-pay/{topup_id}")
def bank_pay_status_page(topup_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return _bank_pay_status(request, user, topup_id)


@router.get("/wallet/topup/bank-pay/{topup_id}/return")
def bank_pay_return(topup_id: RowId, request: Request) -> Response:
    """The bank sent the browser back. Its query parameters are not read: paybao asks the
    bank, server to server, and shows what it knows ("processing" until then)."""
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    _bank_pay(request).check(user.id, topup_id)
    return RedirectResponse(f"/wallet/topup/bank-pay/{topup_id}", status_code=303)


@router.post("/wallet/topup/bank-pay/{topup_id}/pay", dependencies=CSRF)
def bank_pay_again(topup_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return RedirectResponse(_bank_pay(request).payment_url(user.id, topup_id), status_code=303)


@router.get("/wallet/topup/bank-pay/{topup_id}/status")
def bank_pay_status_json(topup_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return JSONResponse({"status": "signed_out"}, status_code=401)
    topup = _bank_pay(request).topup(user.id, topup_id)
    return JSONResponse({"status": topup.status}, headers=NO_STORE)


@router.post("/bank-pay/notify")
async def bank_pay_notify(request: Request) -> Response:
    """The bank's notice: `success` once taken; `fail` with the refusal's status otherwise."""
    form = await form_of(request)
    try:
        _bank_pay(request).on_notice(form)
    except DomainError as error:
        return PlainTextResponse(f"fail {error.code}", status_code=status_for(error))
    return PlainTextResponse("success")


# Cash codes -------------------------------------------------------------------------------------


def _cash_form(request: Request, user: Any, **extra: Any) -> HTMLResponse:
    service = _cash(request)
    policy = service.policy
    return _render(
        request,
        "topup_channels/cash.html",
        title=topup_text(lang_of(request), "cash"),
        room=_room(request, user.id),
        min_yuan=format_yuan(policy.cash_amount_min_fen),
        max_yuan=format_yuan(policy.cash_amount_max_fen),
        minutes=policy.cash_code_ttl_s // 60,
        codes=service.codes(user.id, 10),
        idem=secrets.token_urlsafe(16),
        values=extra.pop("values", {}),
        **extra,
    )


@router.get("/wallet/topup/cash")
def cash_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return _cash_form(request, user)


@router.post("/wallet/topup/cash", dependencies=CSRF)
async def cash_create(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        amount_fen = parse_yuan(form.get("amount", "").strip())
        code_id = _once(
            request,
            user.id,
            form,
            "cash_code",
            lambda: _cash(request).create(user.id, amount_fen).id,
        )
    except DomainError as error:
        values = {"amount": form.get("amount", "")}
        return _cash_form(
            request, user, status_code=status_for(error), values=values, **_error(request, error)
        )
    return RedirectResponse(f"/wallet/topup/cash/{code_id}", status_code=303)


@router.get("/wallet/topup/cash/{code_id}")
def cash_code_page(code_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    code = _cash(request).code(user.id, code_id)
    return _render(
        request,
        "topup_channels/cash_code.html",
        title=topup_text(lang_of(request), "cash"),
        c=code,
    )


@router.get("/wallet/topup/cash/{code_id}/qr.png")
def cash_code_qr(code_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return Response(status_code=401)
    code = _cash(request).code(user.id, code_id)
    # The QR holds the 18 digits alone, as a counter's scanner types them.
    return Response(qr_png(code.code, scale=8), media_type="image/png", headers=NO_STORE)


@router.get("/wallet/topup/cash/{code_id}/status")
def cash_code_status(code_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return JSONResponse({"status": "signed_out"}, status_code=401)
    code = _cash(request).code(user.id, code_id)
    return JSONResponse({"status": code.status}, headers=NO_STORE)


@router.post("/wallet/topup/cash/{code_id}/cancel", dependencies=CSRF)
def cash_code_cancel(code_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    try:
        _cash(request).cancel(user.id, code_id)
    except DomainError as error:
        code = _cash(request).code(user.id, code_id)
        return _render(
            request,
            "topup_channels/cash_code.html",
            status_code=status_for(error),
            title=topup_text(lang_of(request), "cash"),
            c=code,
            **_error(request, error),
        )
    return RedirectResponse(f"/wallet/topup/cash/{code_id}", status_code=303)


def install(app: Any) -> None:
    """Before the wallet pages; with the wallet's REST API of these channels, the partner API
    and the sandbox bank's pages."""
    from paybao.web import (
        api_cash_topup_partners,
        api_topup_channels,
        pages_cash_topup_admin,
        sandbox_bank_pay_pages,
    )

    app.include_router(router)
    app.include_router(api_topup_channels.router)
    app.include_router(api_cash_topup_partners.router)
    app.include_router(sandbox_bank_pay_pages.router)
    pages_cash_topup_admin.install(app)
