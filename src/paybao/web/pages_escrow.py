"""Escrow pages in the wallet: the marketplace (list, buy), my purchases and sales, one trade's
page with the actions its state allows (ship, extend, confirm, refund dialogue, escalate), and
the pay page of a merchant's escrow order (`/escrow/pay/<no>`, the gateway's pay_url).

Every POST checks CSRF; a DomainError re-renders the trade page with the message for its code.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from paybao.domain.errors import DomainError
from paybao.domain.escrow import GoodsType, goods_type_of
from paybao.domain.money import parse_yuan
from paybao.services.escrow import IMAGE_BYTES_MAX, Escrow, EscrowService, Evidence, Party
from paybao.web.deps import platform_of
from paybao.web.pages_user import CSRF, _error, render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
DAY_S = 86_400


def _escrow(request: Request) -> EscrowService:
    service: EscrowService = platform_of(request).services["escrow"]
    return service


def _roles(escrow: Escrow, user_id: int) -> set[str]:
    roles = set()
    if escrow.buyer_user_id == user_id:
        roles.add("buyer")
    if escrow.seller_user_id == user_id:
        roles.add("seller")
    return roles


def _party(escrow: Escrow, user_id: int) -> Party:
    return Party.seller(user_id) if escrow.seller_user_id == user_id else Party.buyer(user_id)


@router.get("/market")
def market(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    return _market_page(request, user_id)


def _market_page(request: Request, user_id: int, **extra: Any) -> HTMLResponse:
    escrow = _escrow(request)
    return render(
        request,
        "escrow/market.html",
        status_code=400 if "error" in extra else 200,
        listings=escrow.listings(),
        goods_types=list(GoodsType),
        user_id=user_id,
        purchases=escrow.escrows_of(Party.buyer(user_id)),
        sales=escrow.escrows_of(Party.seller(user_id)),
        request_key=secrets.token_urlsafe(16),
        **extra,
    )


@router.post("/market/list", dependencies=CSRF)
async def list_item(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    form = await request.form()
    try:
        _escrow(request).list_item(
            user_id,
            str(form.get("title", "")),
            parse_yuan(str(form.get("price", ""))),
            goods_type_of(str(form.get("goods_type", ""))),
        )
    except DomainError as error:
        return _market_page(request, user_id, **_error(request, error))
    return RedirectResponse("/market", status_code=303)


@router.post("/market/buy/{listing_id}", dependencies=CSRF)
async def buy(request: Request, listing_id: int) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    form = await request.form()
    try:
        bought = _escrow(request).buy(
            listing_id,
            user_id,
            str(form.get("payment_password", "")),
            str(form.get("request_key", "")),
        )
    except DomainError as error:
        return _market_page(request, user_id, **_error(request, error))
    return RedirectResponse(f"/escrow/{bought.escrow_no}", status_code=303)


@router.get("/escrow/{escrow_no}")
def trade_page(request: Request, escrow_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    return _trade_page(request, escrow_no, user_id)


def _trade_page(request: Request, escrow_no: str, user_id: int, **extra: Any) -> HTMLResponse:
    service = _escrow(request)
    escrow = service.get(escrow_no)
    party = _party(escrow, user_id)
    if escrow.buyer_user_id is not None:
        escrow = service.get_for(escrow_no, party)
    messages = service.messages(escrow_no, party) if escrow.buyer_user_id is not None else []
    return render(
        request,
        "escrow/trade.html",
        status_code=400 if "error" in extra else 200,
        e=escrow,
        roles=_roles(escrow, user_id),
        messages=messages,
        **extra,
    )


@router.post("/escrow/{escrow_no}/{action}", dependencies=CSRF)
async def act(request: Request, escrow_no: str, action: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    upload = form.get("image")
    try:
        image = await _image_of(upload) if isinstance(upload, UploadFile) else (None, None)
        _do(_escrow(request), escrow_no, user_id, action, values, image)
    except DomainError as error:
        return _trade_page(request, escrow_no, user_id, **_error(request, error))
    return RedirectResponse(f"/escrow/{escrow_no}", status_code=303)


async def _image_of(upload: UploadFile) -> tuple[bytes | None, str | None]:
    # Read one byte past the limit, never the whole of a hostile upload.
    data = await upload.read(IMAGE_BYTES_MAX + 1)
    if not data:
        return None, None
    return data, upload.content_type


def _do(
    service: EscrowService,
    escrow_no: str,
    user_id: int,
    action: str,
    values: dict[str, str],
    image: tuple[bytes | None, str | None],
) -> None:
    escrow = service.get(escrow_no)
    party = _party(escrow, user_id)
    password = values.get("payment_password", "")
    if action == "pay":
        service.pay(escrow_no, user_id, password)
    elif action == "ship":
        service.ship(escrow_no, party, values.get("carrier", ""), values.get("tracking_no", ""))
    elif action == "extend":
        service.extend(escrow_no, party, int(values.get("days", "0") or 0) * DAY_S)
    elif action == "confirm":
        service.confirm(escrow_no, user_id, password)
    elif action == "cancel":
        service.cancel(escrow_no, party)
    elif action == "refund":
        amount_fen = parse_yuan(values.get("amount", ""))
        service.request_refund(escrow_no, user_id, amount_fen, values.get("reason", ""))
    elif action == "withdraw":
        service.withdraw_refund(escrow_no, user_id)
    elif action == "agree":
        service.agree_refund(escrow_no, party)
    elif action == "refuse":
        service.refuse_refund(escrow_no, party, values.get("reason", ""))
    elif action == "escalate":
        service.escalate(escrow_no, user_id, Evidence(values.get("text", ""), *image))
    elif action == "message":
        service.add_message(escrow_no, party, Evidence(values.get("text", ""), *image))
    else:
        raise DomainError("unknown action", code="unknown_action")


@router.get("/escrow/{escrow_no}/image/{message_id}")
def image(request: Request, escrow_no: str, message_id: int) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    service = _escrow(request)
    party = _party(service.get(escrow_no), user_id)
    data, content_type = service.image(escrow_no, message_id, party)
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    return Response(data, media_type=content_type, headers=headers)


@router.get("/escrow/pay/{escrow_no}")
def pay_page(request: Request, escrow_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    return _trade_page(request, escrow_no, user_id)


def install(app: Any) -> None:
    app.include_router(router)


__all__ = ["install", "router"]
