"""Escrow pages in the wallet: the marketplace (list, buy), my purchases and sales, one trade's
page with the actions its state allows (ship, extend, confirm, refund dialogue, escalate), and
the pay page of a merchant's escrow order (`/escrow/pay/<no>`, the gateway's pay_url).

Coupons (services/marketing.py, when installed): the trade page of an unpaid order and the
market's checkout page (`/market/buy/<listing id>`) offer the buyer's platform-funded coupons
that apply, the best one checked, each with what the buyer would pay; the quick buy in the
market's list uses none. The trade page shows the discount and, after a refund, its split.

Every POST checks CSRF; a DomainError re-renders the page with the message for its code.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.coupons import NO_COUPONS, CouponChoice, CouponNotApplicable
from paybao.domain.errors import DomainError
from paybao.domain.escrow import EscrowStatus, GoodsType, goods_type_of
from paybao.domain.money import parse_yuan
from paybao.services.escrow import IMAGE_BYTES_MAX, Escrow, EscrowService, Evidence, Party
from paybao.web.deps import platform_of
from paybao.web.escrow_notes import history
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
DAY_S = 86_400
COUPON_ID_DIGITS_MAX = 18
# The escrow pages' own wording for refusals the shared table does not name.
ESCROW_ERRORS: dict[str, dict[str, str]] = {
    "coupon_unavailable": {
        "zh": "红包/优惠券已使用或已过期,请重新选择",
        "en": "This coupon has been used or has expired; choose again",
    },
    "coupon_not_applicable": {
        "zh": "所选红包/优惠券不适用于本订单",
        "en": "This coupon does not apply to this order",
    },
    "listing_not_found": {"zh": "商品不存在或已下架", "en": "No such listing"},
}


def _error(request: Request, error: DomainError) -> dict[str, Any]:
    return page_error(request, error, ESCROW_ERRORS)


def _offers(request: Request, total_fen: int, merchant_id: int | None, user_id: int) -> Any:
    """The buyer's coupon choices for this price (None: no coupons feature, or none apply)."""
    marketing = platform_of(request).services.get("marketing")
    if marketing is None:
        return None
    offers = marketing.escrow_offers(total_fen, merchant_id, user_id)
    return offers if offers.platform else None


def _coupon_choice(values: Any) -> CouponChoice:
    """The coupon radio (`coupon_platform`): a coupon id, or 0 (or absent) for none."""
    value = str(values.get("coupon_platform", "0"))
    if not value.isdigit() or len(value) > COUPON_ID_DIGITS_MAX:
        raise CouponNotApplicable("choose a coupon from the list")
    return CouponChoice(coupon_ids=(int(value),)) if int(value) else NO_COUPONS


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


@router.get("/market/buy/{listing_id}")
def checkout(request: Request, listing_id: int) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        return _checkout_page(request, listing_id, user_id)
    except DomainError as error:
        return _market_page(request, user_id, **_error(request, error))


def _checkout_page(request: Request, listing_id: int, user_id: int, **extra: Any) -> HTMLResponse:
    """Buy one listing: its price, the buyer's coupons that apply, the payment password."""
    listing = _escrow(request).listing(listing_id)
    return render(
        request,
        "escrow/checkout.html",
        status_code=400 if "error" in extra else 200,
        listing=listing,
        mine=listing.seller_user_id == user_id,
        offers=_offers(request, listing.price_fen, None, user_id),
        request_key=secrets.token_urlsafe(16),
        **extra,
    )


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
            _coupon_choice(form),
        )
    except DomainError as error:
        if form.get("checkout"):  # from the checkout page: back to it, with the message
            return _checkout_or_market(request, listing_id, user_id, error)
        return _market_page(request, user_id, **_error(request, error))
    return RedirectResponse(f"/escrow/{bought.escrow_no}", status_code=303)


def _checkout_or_market(
    request: Request, listing_id: int, user_id: int, error: DomainError
) -> HTMLResponse:
    try:
        return _checkout_page(request, listing_id, user_id, **_error(request, error))
    except DomainError:  # the listing went away meanwhile
        return _market_page(request, user_id, **_error(request, error))


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
    offers = None
    if escrow.status is EscrowStatus.WAIT_BUYER_PAY and escrow.seller_user_id != user_id:
        offers = _offers(request, escrow.total_fen, escrow.merchant_id, user_id)
    return render(
        request,
        "escrow/trade.html",
        status_code=400 if "error" in extra else 200,
        e=escrow,
        roles=_roles(escrow, user_id),
        history=history(messages, lang_of(request)),
        offers=offers,
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
        service.pay(escrow_no, user_id, password, _coupon_choice(values))
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
