"""Wallet pages for paying by code: my payment code (computed offline in the browser by
paycode.js), binding and unbinding devices, the password-free amount, the pending-confirmation
card on the home page, the scan page, and my receive-money codes (personal and merchants').
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from paybao.adapters.qr import IMAGE_BYTES_MAX, decode_image
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import parse_yuan
from paybao.web import pages_user
from paybao.web.deps import platform_of
from paybao.web.pages_user import _active_user, _error, form_of, render
from paybao.web.qr_routes import error_words
from paybao.web.session import check_csrf, current_user_id, login_redirect

router = APIRouter(prefix="/wallet", include_in_schema=False)
CSRF = [Depends(check_csrf)]


def paycodes(request: Request) -> Any:
    return platform_of(request).services["paycodes"]


def code_page(request: Request, user_id: int, **extra: Any) -> Response:
    service = paycodes(request)
    devices = service.devices(user_id)
    state = {
        "user_id": user_id,
        "active_device_ids": [device.id for device in devices],
        "bound": extra.pop("bound", None),
    }
    return render(
        request,
        "paycode/code.html",
        title="付款码",
        devices=devices,
        password_free_fen=service.password_free_fen(user_id),
        state=state,
        **extra,
    )


@router.get("/paycode")
def my_code(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    return code_page(request, user.id)


@router.post("/paycode/bind", dependencies=CSRF)
async def bind(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        bound = paycodes(request).bind_device(
            user.id, form.get("name", ""), form.get("payment_password", "")
        )
    except DomainError as error:
        return code_page(request, user.id, status_code=400, **_error(request, error))
    seed = {
        "device_id": bound.device_id,
        "seed": bound.seed_base64,
        "locator": bound.locator_digits,
    }
    # Served once, never cached: the page script moves the seed into this browser's storage.
    response = code_page(request, user.id, bound=seed)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/paycode/unbind/{device_id}", dependencies=CSRF)
def unbind(request: Request, device_id: int) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    try:
        paycodes(request).unbind_device(user.id, device_id)
    except DomainError as error:
        return code_page(request, user.id, status_code=400, **_error(request, error))
    return RedirectResponse("/wallet/paycode", status_code=303)


@router.post("/paycode/limit", dependencies=CSRF)
async def set_limit(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        amount_fen = parse_yuan(form.get("amount", ""), allow_zero=True)
        paycodes(request).set_password_free_fen(user.id, amount_fen)
    except DomainError as error:
        return code_page(request, user.id, status_code=400, **_error(request, error))
    return RedirectResponse("/wallet/paycode", status_code=303)


# Payments waiting for the password (10003) -----------------------------------------------------


def pending_for(request: Request) -> list[Any]:
    """For the home page's card (a Jinja global): waiting payments of the signed-in user."""
    user_id = current_user_id(request)
    if user_id is None:
        return []
    result: list[Any] = paycodes(request).pending(user_id)
    return result


@router.post("/paycode/confirm/{confirmation_id}", dependencies=CSRF)
async def confirm(request: Request, confirmation_id: int) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        paycodes(request).confirm(user.id, confirmation_id, form.get("payment_password", ""))
    except DomainError as error:
        return render(request, "paycode/error.html", status_code=400, **_error(request, error))
    return RedirectResponse("/wallet?done=succeeded", status_code=303)


@router.post("/paycode/decline/{confirmation_id}", dependencies=CSRF)
def decline(request: Request, confirmation_id: int) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    try:
        paycodes(request).decline(user.id, confirmation_id)
    except DomainError as error:
        return render(request, "paycode/error.html", status_code=400, **_error(request, error))
    return RedirectResponse("/wallet", status_code=303)


# Scanning -------------------------------------------------------------------------------------


@router.get("/scan")
def scan_page(request: Request) -> Response:
    if _active_user(request) is None:
        return login_redirect(request)
    return render(request, "paycode/scan.html", title="扫一扫")


@router.post("/scan", dependencies=CSRF)
async def scan(request: Request) -> Response:
    if _active_user(request) is None:
        return login_redirect(request)
    form = await request.form()
    try:
        text = await scanned_text(form.get("image"), str(form.get("text") or ""))
        target = platform_of(request).services["static_codes"].route(text)
    except DomainError as error:
        return render(
            request,
            "paycode/scan.html",
            status_code=400,
            title="扫一扫",
            **error_words(request, error),
        )
    return RedirectResponse(target, status_code=303)


async def scanned_text(image: Any, pasted: str) -> str:
    """The text of the uploaded photo's code, else the pasted text."""
    if isinstance(image, UploadFile) and image.filename:
        data = await image.read(IMAGE_BYTES_MAX + 1)
        texts = decode_image(data)
        if not texts:
            raise InvalidInput("no code found in the image", code="no_code_in_image")
        return texts[0]
    if not pasted.strip():
        raise InvalidInput("choose an image or paste a code", code="code_malformed")
    return pasted


# Receive-money codes --------------------------------------------------------------------------


@router.get("/receive")
def receive(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    services = platform_of(request).services
    codes = services["static_codes"]
    items = []
    for merchant in services["merchants"].owned_by(user.id):
        code = codes.static_code_for("merchant", merchant.id)
        items.append({"code": code, "name": merchant.name, "url": codes.static_url(code)})
    mine = codes.static_code_for("user", user.id)
    name = "我的个人收钱码" if request.cookies.get("lang") != "en" else "My personal code"
    items.append({"code": mine, "name": name, "url": codes.static_url(mine)})
    return render(request, "paycode/receive.html", title="收钱码", codes=items)


def install(app: Any) -> None:
    app.include_router(router)
    # The home page includes paycode/_pending.html, which calls this to list waiting payments.
    pages_user.templates.env.globals["paycode_pending"] = pending_for
