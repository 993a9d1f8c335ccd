"""Portal receive-money code (收钱码): the signed-in merchant's static code, a preview, the
printable PNG poster and the SVG to download, and today's takings through the code.

The code is the one the wallet's /wallet/receive shows for the merchant, made on first view by
the static-code service. The downloads live under the portal and are keyed by the code's token;
a token that is not the signed-in merchant's own is a 404, the same answer as one that does
not exist. (The public `/c/<token>/poster.png` stays open: the token is printed on the poster.)

Today's takings are the paid `static_code` trades created since Beijing midnight, read through
the trades search (bounded): past `TAKINGS_ROWS_MAX` trades of the day the sum is shown as a
lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from paybao.adapters.qr import qr_svg, receive_money_poster_png
from paybao.domain.account_class import CHINA_TZ
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.static_codes import CodeUnknown, Payee, StaticCodeService
from paybao.services.trades import SEARCH_LIMIT_MAX, Trade, TradeSearch, TradeService
from paybao.web import pages_merchant as portal
from paybao.web.i18n import lang_of

STATIC_PRODUCT: Final = "static_code"
TAKINGS_PAGES_MAX: Final = 5
TAKINGS_ROWS_MAX: Final = TAKINGS_PAGES_MAX * SEARCH_LIMIT_MAX
TOKEN_LENGTH_MAX: Final = 64
IMAGE_HEADERS: Final = {"Cache-Control": "private, max-age=300"}

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_nav("nav_codes", "/merchant/codes")
portal.add_texts(
    {
        "nav_codes": {"zh": "收钱码", "en": "Receive-money code"},
        "codes_hint": {
            "zh": "顾客用 paybao 扫码,输入金额并付款,钱款即时到账。",
            "en": "Customers scan it with paybao, type the amount and pay; money arrives at once.",
        },
        "codes_url": {"zh": "收款链接", "en": "Code URL"},
        "codes_poster_png": {
            "zh": "下载海报 PNG(可打印)",
            "en": "Download poster (PNG, printable)",
        },
        "codes_svg": {"zh": "下载二维码 SVG", "en": "Download QR code (SVG)"},
        "codes_today": {"zh": "今日收钱码收款", "en": "Taken through the code today"},
        "codes_today_total": {"zh": "金额(元)", "en": "Amount (CNY)"},
        "codes_today_count": {"zh": "笔数", "en": "Payments"},
        "codes_today_at_least": {"zh": "至少", "en": "at least"},
        "codes_no_app": {
            "zh": "商户还没有应用,暂时无法收款。",
            "en": "This merchant has no app yet, so the code cannot take payments.",
        },
    }
)
portal.MERCHANT_ERRORS.setdefault(
    "code_unknown", {"zh": "收钱码不存在", "en": "No such receive-money code"}
)


@dataclass(frozen=True, slots=True)
class Takings:
    count: int
    total_fen: int
    partial: bool  # more trades today than were read: the figures are a lower bound


def static_codes(request: Request) -> StaticCodeService:
    service: StaticCodeService = portal.services(request)["static_codes"]
    return service


def own_payee(request: Request, merchant_id: int, token: str) -> Payee:
    """The signed-in merchant's own code behind `token`, or CodeUnknown."""
    payee = static_codes(request).payee(token[:TOKEN_LENGTH_MAX])
    if payee.code.owner_kind != "merchant" or payee.code.owner_id != merchant_id:
        raise CodeUnknown("no such receive-money code")
    return payee


def day_start_us(now_us: int) -> int:
    """Beijing midnight of the day `now_us` falls in (the day the static-code limits count)."""
    moment: datetime = datetime_from_us(now_us).astimezone(CHINA_TZ)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp()) * US_PER_S


def todays_takings(trades: TradeService, merchant_id: int, now_us: int) -> Takings:
    """Paid static-code trades created today, newest first, at most TAKINGS_ROWS_MAX read."""
    from_us = day_start_us(now_us)
    seen: set[int] = set()
    count = total_fen = 0
    until_us: int | None = None
    for _ in range(TAKINGS_PAGES_MAX):
        search = TradeSearch(
            merchant_id=merchant_id, from_us=from_us, until_us=until_us, limit=SEARCH_LIMIT_MAX
        )
        rows: list[Trade] = trades.search(search)
        for trade in rows:
            if trade.id in seen:
                continue
            seen.add(trade.id)
            if trade.product == STATIC_PRODUCT and trade.paid:
                count += 1
                total_fen += trade.total_fen
        if len(rows) < SEARCH_LIMIT_MAX:
            return Takings(count, total_fen, partial=False)
        # Rows sharing the oldest timestamp come again on the next page; `seen` drops them.
        next_until_us = rows[-1].created_at_us + 1
        if until_us is not None and next_until_us >= until_us:
            break  # a whole page at one timestamp: cannot page further
        until_us = next_until_us
    return Takings(count, total_fen, partial=True)


@router.get("/codes")
def codes_page(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    services = portal.services(request)
    codes = static_codes(request)
    code = codes.static_code_for("merchant", merchant_id)
    takings = todays_takings(services["trades"], merchant_id, codes.clock.now_us())
    return portal.render(
        request,
        "merchant/codes.html",
        title=portal.merchant_text(lang_of(request), "nav_codes"),
        code=code,
        code_url=codes.static_url(code),
        takings=takings,
        has_app=bool(services["merchants"].apps_of(merchant_id)),
    )


def _not_found(request: Request) -> HTMLResponse:
    context = portal.merchant_error(request, CodeUnknown("no such receive-money code"))
    return portal.render(request, "merchant/message.html", 404, **context)


def _download(content: bytes | str, media_type: str, filename: str) -> Response:
    headers = {**IMAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=media_type, headers=headers)


@router.get("/codes/{token}/poster.png")
def poster_png(
    request: Request, token: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        payee = own_payee(request, merchant_id, token)
    except CodeUnknown:
        return _not_found(request)
    image = receive_money_poster_png(static_codes(request).static_url(payee.code), payee.name)
    if request.query_params.get("inline"):
        return Response(image, media_type="image/png", headers=IMAGE_HEADERS)
    return _download(image, "image/png", f"paybao-receive-code-{merchant_id}.png")


@router.get("/codes/{token}/qr.svg")
def code_svg(
    request: Request, token: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        payee = own_payee(request, merchant_id, token)
    except CodeUnknown:
        return _not_found(request)
    svg = qr_svg(static_codes(request).static_url(payee.code))
    if request.query_params.get("inline"):
        return Response(svg, media_type="image/svg+xml", headers=IMAGE_HEADERS)
    return _download(svg, "image/svg+xml", f"paybao-receive-code-{merchant_id}.svg")


def install(app: Any) -> None:
    app.include_router(router)
