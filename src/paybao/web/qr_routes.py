"""The URLs inside QR codes: `/qr/<token>` (a precreated order) and `/c/<token>` (a static
receive-money code), their images, and the pay page a static code opens.

An order QR leads, once checked and marked scanned, to the gateway's cashier, which signs the
buyer in and takes the payment password. A static code opens a page where the signed-in payer
types the amount and the payment password; the form carries a one-time key so a double submit
pays once.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from paybao.adapters.qr import qr_png, qr_svg, receive_money_poster_png
from paybao.domain.errors import DomainError
from paybao.domain.money import parse_yuan
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of
from paybao.web.pages_user import _active_user, form_of, render
from paybao.web.session import check_csrf, login_redirect

router = APIRouter(include_in_schema=False)
IMAGE_CACHE = {"Cache-Control": "private, max-age=300"}

# Clear words for the errors a scanned code can meet (zh, en).
CODE_ERRORS: dict[str, tuple[str, str]] = {
    "code_unknown": ("无法识别的二维码", "Unknown code"),
    "code_malformed": ("这不是 paybao 的二维码", "This is not a paybao code"),
    "code_expired": ("二维码已过期,请让商家重新生成", "This QR code has expired"),
    "code_is_paycode": ("这是付款码,请出示给商家扫描", "This is a payment code: show it to a till"),
    "trade_has_success": ("订单已支付", "This order is already paid"),
    "trade_has_close": ("订单已关闭", "This order is closed"),
    "trade_not_found": ("订单不存在", "No such order"),
    "static_code_daily_limit": (
        "今日收钱码付款已达 500 元上限",
        "Today's limit for receive-money codes is reached",
    ),
    "payment_password_wrong": ("支付密码错误", "Wrong payment password"),
    "buyer_balance_not_enough": ("余额不足", "Balance not enough"),
    "image_unreadable": ("图片无法读取", "The image cannot be read"),
    "image_too_large": ("图片太大", "The image is too large"),
    "no_code_in_image": ("图片中没有找到二维码", "No code found in the image"),
}


def error_words(request: Request, error: DomainError) -> dict[str, Any]:
    words = CODE_ERRORS.get(error.code)
    if words is None:
        return {"error": error.message, "error_code": error.code}
    return {"error": words[0] if lang_of(request) == "zh" else words[1], "error_code": error.code}


def code_error_page(request: Request, error: DomainError) -> Response:
    status = 404 if error.code in ("code_unknown", "trade_not_found") else 400
    return render(request, "paycode/error.html", status_code=status, **error_words(request, error))


def codes(request: Request) -> Any:
    return platform_of(request).services["static_codes"]


# Order QR codes --------------------------------------------------------------------------------


@router.get("/qr/{token}.png")
def order_png(request: Request, token: str) -> Response:
    try:
        codes(request).order(token)
    except DomainError as error:
        return code_error_page(request, error)
    url = f"{codes(request).base_url}/qr/{token}"
    return Response(qr_png(url), media_type="image/png", headers=IMAGE_CACHE)


@router.get("/qr/{token}")
def open_order(request: Request, token: str) -> Response:
    try:
        trade = codes(request).open_order(token)
    except DomainError as error:
        return code_error_page(request, error)
    return RedirectResponse(f"/cashier/{trade.trade_no}", status_code=303)


# Static receive-money codes ----------------------------------------------------------------------


@router.get("/c/{token}/poster.png")
def static_poster(request: Request, token: str) -> Response:
    try:
        payee = codes(request).payee(token)
    except DomainError as error:
        return code_error_page(request, error)
    url = codes(request).static_url(payee.code)
    image = receive_money_poster_png(url, payee.name)
    return Response(image, media_type="image/png", headers=IMAGE_CACHE)


@router.get("/c/{token}/qr.svg")
def static_svg(request: Request, token: str) -> Response:
    try:
        payee = codes(request).payee(token)
    except DomainError as error:
        return code_error_page(request, error)
    svg = qr_svg(codes(request).static_url(payee.code))
    return Response(svg, media_type="image/svg+xml", headers=IMAGE_CACHE)


def static_page(request: Request, token: str, status_code: int = 200, **extra: Any) -> Response:
    payee = codes(request).payee(token)
    return render(
        request,
        "paycode/static_pay.html",
        status_code=status_code,
        title=payee.name,
        payee=payee,
        token=token,
        idem=secrets.token_urlsafe(16),
        **extra,
    )


@router.get("/c/{token}")
def static_pay_page(request: Request, token: str) -> Response:
    if _active_user(request) is None:
        return login_redirect(request)
    try:
        return static_page(request, token)
    except DomainError as error:
        return code_error_page(request, error)


@router.post("/c/{token}", dependencies=[Depends(check_csrf)])
async def static_pay(request: Request, token: str) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        amount_fen = parse_yuan(form.get("amount", ""))
        payment = codes(request).pay_static(
            user.id, token, amount_fen, form.get("payment_password", ""), form.get("idem", "")
        )
    except DomainError as error:
        try:
            return static_page(request, token, 400, **error_words(request, error))
        except DomainError as unknown:
            return code_error_page(request, unknown)
    return render(request, "paycode/done.html", title=payment.payee_name, payment=payment)


def install(app: Any) -> None:
    app.include_router(router)
