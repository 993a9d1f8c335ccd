"""Wallet pages of card payouts (phone-sized): transfer to a bank card (`/wallet/card-transfer`),
credit-card repayment with saved cards and reminders (`/wallet/card-repayment`), the records
(`/wallet/card-payouts`) and one payout's state (`/wallet/card-payouts/<id>`).

Sending is two steps: the form, then a confirmation page showing the bank recognised from the
card number, the fee, the total and the arrival time, where the payment password is typed.
The confirmation carries a one-time `idem` key, as the wallet's money forms do: a double
submit moves money once.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.bins import BANKS
from paybao.domain.card_payouts import (
    PAYOUT_DELAY_S,
    REMIND_DAYS,
    PayoutArrival,
    PayoutKind,
    check_memo,
    holder_name,
)
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import format_yuan, parse_yuan
from paybao.services.card_payouts import CardPayoutService
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.services.repayment_cards import RepaymentCardService
from paybao.web.api_wallet import RowId
from paybao.web.card_payout_texts import card_text
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, form_of, render
from paybao.web.session import login_redirect

router = APIRouter(prefix="/wallet", include_in_schema=False)
PAGE_SIZE = 20
PATHS = {PayoutKind.TRANSFER: "card-transfer", PayoutKind.REPAYMENT: "card-repayment"}
# What the confirmation page carries over from the form (never the password).
CARRIED = ("card_number", "card_id", "holder_name", "amount", "arrival", "memo")


def _service(request: Request) -> CardPayoutService:
    service: CardPayoutService = platform_of(request).services["card_payouts"]
    return service


def _cards(request: Request) -> RepaymentCardService:
    service: RepaymentCardService = platform_of(request).services["repayment_cards"]
    return service


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    service = _service(request)

    return render(
        request,
        name,
        status_code=status_code,
        ct=lambda key, **v: card_text(lang, key, **v),
        bank_name=lambda code: BANKS[code].name_in(lang),
        now_us=service.clock.now_us(),
        **context,
    )


# The forms --------------------------------------------------------------------------------------


def _form(request: Request, user: Any, kind: PayoutKind, **extra: Any) -> HTMLResponse:
    service = _service(request)
    free_fen, left_fen, month = service.quota(user.id, kind)
    _, available_fen = platform_of(request).services["wallet"].balance(user.id)
    extra.setdefault("values", {})
    return _render(
        request,
        f"card_payouts/{PATHS[kind]}.html",
        title=card_text(lang_of(request), str(kind)),
        kind=str(kind),
        user=user,
        free=format_yuan(free_fen),
        left=format_yuan(left_fen),
        month=month,
        available=format_yuan(available_fen),
        arrivals=[a.value for a in PayoutArrival],
        cards=_cards(request).cards(user.id) if kind is PayoutKind.REPAYMENT else [],
        remind_days=list(REMIND_DAYS),
        **extra,
    )


@router.get("/card-transfer")
def transfer_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return _form(request, user, PayoutKind.TRANSFER)


@router.get("/card-repayment")
def repayment_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    notice = request.query_params.get("done", "")
    card = request.query_params.get("card", "")
    return _form(
        request,
        user,
        PayoutKind.REPAYMENT,
        values={"card_id": card} if card.isdigit() else {},
        notice=card_text(lang_of(request), notice) if notice in ("saved", "removed") else None,
    )


@router.post("/card-transfer", dependencies=CSRF)
async def transfer_preview(request: Request) -> Response:
    return await _preview(request, PayoutKind.TRANSFER)


@router.post("/card-repayment", dependencies=CSRF)
async def repayment_preview(request: Request) -> Response:
    return await _preview(request, PayoutKind.REPAYMENT)


async def _preview(request: Request, kind: PayoutKind, **extra: Any) -> Response:
    """The confirmation page (or the form again, with what was typed and the error)."""
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    values = {name: form.get(name, "") for name in CARRIED}
    if form.get("edit"):
        return _form(request, user, kind, values=values)
    try:
        return _confirm_page(request, user, kind, values, **extra)
    except DomainError as error:
        return _form(request, user, kind, status_code=400, values=values, **_error(request, error))


def _confirm_page(
    request: Request, user: Any, kind: PayoutKind, values: dict[str, str], **extra: Any
) -> HTMLResponse:
    service = _service(request)
    card_number = _card_number(_cards(request), user.id, values)
    amount_fen = parse_yuan(values["amount"].strip())
    arrival = _arrival(values["arrival"])
    if kind is PayoutKind.TRANSFER:
        values["holder_name"] = holder_name(values["holder_name"])
        values["memo"] = check_memo(values["memo"])
    preview = service.preview(user.id, kind, card_number, amount_fen)
    return _render(
        request,
        "card_payouts/confirm.html",
        title=card_text(lang_of(request), f"confirm_{kind}"),
        kind=str(kind),
        path=PATHS[kind],
        p=preview,
        values=values,
        arrival=arrival.value,
        expected_us=service.clock.now_us() + PAYOUT_DELAY_S[arrival] * 1_000_000,
        idem=extra.pop("idem", None) or secrets.token_urlsafe(16),
        carried=CARRIED,
        **extra,
    )


@router.post("/card-transfer/confirm", dependencies=CSRF)
async def transfer_confirm(request: Request) -> Response:
    return await _confirm(request, PayoutKind.TRANSFER)


@router.post("/card-repayment/confirm", dependencies=CSRF)
async def repayment_confirm(request: Request) -> Response:
    return await _confirm(request, PayoutKind.REPAYMENT)


async def _confirm(request: Request, kind: PayoutKind) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    values = {name: form.get(name, "") for name in CARRIED}
    service = _service(request)
    idem = form.get("idem") or secrets.token_urlsafe(8)
    try:
        password = form.get("payment_password", "")

        def work() -> tuple[int, str]:
            card_number = _card_number(_cards(request), user.id, values)
            amount_fen = parse_yuan(values["amount"].strip())
            arrival = _arrival(values["arrival"])
            if kind is PayoutKind.TRANSFER:
                payout = service.transfer(
                    user.id,
                    card_number,
                    values["holder_name"],
                    amount_fen,
                    password,
                    arrival=arrival,
                    memo=values["memo"],
                )
            else:
                payout = service.repay(user.id, card_number, amount_fen, password, arrival=arrival)
            return 200, json.dumps({"id": payout.id})

        public = without_secrets({k: v for k, v in form.items() if k != "csrf_token"})
        digest = fingerprint(str(kind), *(f"{k}={v}" for k, v in sorted(public.items())))
        idempotency = platform_of(request).services["idempotency"]
        _, body = idempotency.run(f"form:{user.id}", idem, digest, work)
    except DomainError as error:
        try:
            return _confirm_page(
                request, user, kind, values, status_code=400, idem=idem, **_error(request, error)
            )
        except DomainError:  # what was typed no longer holds: back to the form
            return _form(
                request, user, kind, status_code=400, values=values, **_error(request, error)
            )
    return RedirectResponse(f"/wallet/card-payouts/{json.loads(body)['id']}", status_code=303)


def _card_number(cards: RepaymentCardService, user_id: int, values: dict[str, str]) -> str:
    """The card typed, else the saved card chosen (repayments)."""
    typed = values.get("card_number", "").strip()
    if typed or not values.get("card_id", "").isdigit():
        return typed
    return cards.card_number_of(user_id, int(values["card_id"]))


def _arrival(value: str) -> PayoutArrival:
    try:
        return PayoutArrival(value or "instant")
    except ValueError:
        raise InvalidInput("choose when it should arrive", code="arrival_invalid") from None


# Saved repayment cards ------------------------------------------------------------------------


@router.post("/card-repayment/cards", dependencies=CSRF)
async def save_card(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    day = form.get("remind_day", "")
    try:
        _cards(request).save_card(
            user.id, form.get("new_card_number", ""), int(day) if day.isdigit() else None
        )
    except DomainError as error:
        return _form(
            request,
            user,
            PayoutKind.REPAYMENT,
            status_code=400,
            new_card=form.get("new_card_number", ""),
            **_error(request, error),
        )
    return RedirectResponse("/wallet/card-repayment?done=saved", status_code=303)


@router.post("/card-repayment/cards/{card_id}/remove", dependencies=CSRF)
def remove_card(card_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    _cards(request).remove_card(user.id, card_id)
    return RedirectResponse("/wallet/card-repayment?done=removed", status_code=303)


# Records and one payout ---------------------------------------------------------------------------


@router.get("/card-payouts")
def records_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    before = request.query_params.get("before", "")
    payouts = _service(request).payouts(
        user.id, None, PAGE_SIZE, int(before) if before.isdigit() else None
    )
    return _render(
        request,
        "card_payouts/list.html",
        title=card_text(lang_of(request), "records"),
        payouts=payouts,
        next_before=payouts[-1].id if len(payouts) == PAGE_SIZE else None,
    )


@router.get("/card-payouts/{payout_id}")
def payout_page(payout_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    payout = _service(request).payout(user.id, payout_id)
    return _render(
        request,
        "card_payouts/detail.html",
        title=card_text(lang_of(request), payout.kind),
        p=payout,
        path=PATHS[PayoutKind(payout.kind)],
    )


@router.post("/card-payouts/{payout_id}/cancel", dependencies=CSRF)
def cancel(payout_id: RowId, request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    try:
        _service(request).cancel(user.id, payout_id)
    except DomainError as error:
        payout = _service(request).payout(user.id, payout_id)
        return _render(
            request,
            "card_payouts/detail.html",
            status_code=409,
            title=card_text(lang_of(request), payout.kind),
            p=payout,
            path=PATHS[PayoutKind(payout.kind)],
            **_error(request, error),
        )
    return RedirectResponse(f"/wallet/card-payouts/{payout_id}", status_code=303)


def install(app: Any) -> None:
    """Before the wallet pages: their /wallet/{kind} would shadow /wallet/card-transfer."""
    from paybao.web import api_card_payouts

    app.include_router(api_card_payouts.router)
    app.include_router(router)
