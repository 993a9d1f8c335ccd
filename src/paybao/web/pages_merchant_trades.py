"""Portal trades: search by out_trade_no / trade_no / date with paging, a trade's detail with
its refunds, and a refund issued from the page.

Every look-up is scoped by the signed-in merchant: another merchant's trade is a 404, the same
answer as a trade that does not exist. A refund form carries an `out_request_no` minted when
the page was drawn, so a double submit (or a browser retry) repeats the first refund instead of
refunding twice.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import parse_yuan
from paybao.domain.trades import Funding, TradeNotFound
from paybao.services.clock import US_PER_S
from paybao.services.trades import Trade, TradeRef, TradeSearch
from paybao.web import pages_merchant as portal
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

PAGE_SIZE = 20
# Rows that share the cursor's timestamp are fetched again and dropped, so a page asks for more.
FETCH_SIZE = 2 * PAGE_SIZE + 1
REASON_LENGTH_MAX = 256

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_texts(
    {
        "search": {"zh": "查询", "en": "Search"},
        "trade_no": {"zh": "交易号", "en": "Trade no."},
        "out_trade_no": {"zh": "商户订单号", "en": "Order no."},
        "date_from": {"zh": "起始日期", "en": "From"},
        "date_to": {"zh": "截止日期", "en": "To"},
        "subject": {"zh": "商品", "en": "Subject"},
        "total": {"zh": "金额", "en": "Amount"},
        "refunded": {"zh": "已退款", "en": "Refunded"},
        "trade_status": {"zh": "状态", "en": "Status"},
        "created": {"zh": "创建时间", "en": "Created"},
        "paid_at": {"zh": "支付时间", "en": "Paid"},
        "no_trades": {"zh": "没有符合条件的交易", "en": "No trades match"},
        "trade_detail": {"zh": "交易详情", "en": "Trade"},
        "refunds": {"zh": "退款记录", "en": "Refunds"},
        "refund": {"zh": "退款", "en": "Refund"},
        "refund_amount": {"zh": "退款金额(元)", "en": "Refund amount (CNY)"},
        "refund_reason": {"zh": "退款原因(可选)", "en": "Reason (optional)"},
        "refundable": {"zh": "可退金额", "en": "Refundable"},
        "out_request_no": {"zh": "退款请求号", "en": "Request no."},
        "fee_back": {"zh": "退回手续费", "en": "Fee returned"},
        "refund_done": {"zh": "退款成功", "en": "Refunded"},
        "newer": {"zh": "最新", "en": "Newest"},
        "older": {"zh": "更早", "en": "Older"},
        "buyer": {"zh": "买家", "en": "Buyer"},
        # How the buyer paid, and where each refund went back to (原路退回).
        "funding": {"zh": "付款方式", "en": "Paid with"},
        "funding_balance": {"zh": "余额", "en": "Balance"},
        "funding_card": {"zh": "银行卡", "en": "Bank card"},
        "funding_credit": {"zh": "花呗", "en": "Huabei (credit)"},
        "refund_route": {"zh": "退回", "en": "Returned to"},
        "card_refund_processing": {"zh": "银行处理中", "en": "bank processing"},
        "card_refund_succeeded": {"zh": "已退回", "en": "credited"},
        "card_refund_failed": {
            "zh": "银行未受理，已退至买家余额",
            "en": "refused by the bank, left in the buyer's balance",
        },
    }
)
portal.MERCHANT_ERRORS.update(
    {
        "invalid_date": {"zh": "日期格式应为 2026-01-31", "en": "Dates look like 2026-01-31"},
        "trade_not_found": {"zh": "交易不存在", "en": "No such trade"},
    }
)


def _day_start_us(text: str) -> int | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("dates look like 2026-01-31", code="invalid_date") from None
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)
    return int(start.timestamp()) * US_PER_S


def _cursor(text: str) -> tuple[int, int] | None:
    """`<created_at_us>.<id>` of the last row shown: the next page starts below it."""
    created, _, row_id = text.partition(".")
    if not (created.isdigit() and row_id.isdigit()):
        return None
    return int(created), int(row_id)


def _search_of(merchant_id: int, query: dict[str, str]) -> tuple[TradeSearch, Any]:
    from_us = _day_start_us(query.get("from", ""))
    to_us = _day_start_us(query.get("to", ""))
    until_us = to_us + 86_400 * US_PER_S if to_us is not None else None  # the whole last day
    cursor = _cursor(query.get("before", ""))
    if cursor is not None:
        until_us = min(until_us or cursor[0] + 1, cursor[0] + 1)
    search = TradeSearch(
        merchant_id=merchant_id,
        trade_no=query.get("trade_no", "").strip()[:64] or None,
        out_trade_no=query.get("out_trade_no", "").strip()[:64] or None,
        from_us=from_us,
        until_us=until_us,
        limit=FETCH_SIZE,
    )
    return search, cursor


def _page_of(rows: list[Trade], cursor: tuple[int, int] | None) -> tuple[list[Trade], str]:
    """Drop rows already shown (same timestamp as the cursor, id not below it); the next cursor."""
    if cursor is not None:
        rows = [r for r in rows if (r.created_at_us, r.id) < cursor]
    page = rows[:PAGE_SIZE]
    more = len(rows) > PAGE_SIZE
    next_cursor = f"{page[-1].created_at_us}.{page[-1].id}" if more and page else ""
    return page, next_cursor


@router.get("/trades")
def trades_page(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    query = {k: v for k, v in request.query_params.items() if k in _QUERY_KEYS}
    try:
        search, cursor = _search_of(merchant_id, query)
    except DomainError as error:
        context = portal.merchant_error(request, error)
        return _render_list(request, query, [], "", status_for(error), **context)
    rows = portal.services(request)["trades"].search(search)
    page, next_cursor = _page_of(rows, cursor)
    return _render_list(request, query, page, next_cursor)


_QUERY_KEYS = ("trade_no", "out_trade_no", "from", "to", "before")


def _render_list(
    request: Request,
    query: dict[str, str],
    rows: list[Trade],
    next_cursor: str,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    filters = {k: v for k, v in query.items() if k != "before" and v}
    title = portal.merchant_text(lang_of(request), "nav_trades")
    return portal.render(
        request,
        "merchant/trades.html",
        status_code,
        title=title,
        q=query,
        trades=rows,
        filters=filters,
        next_cursor=next_cursor,
        **extra,
    )


def own_trade(request: Request, merchant_id: int, trade_no: str) -> Trade:
    """The merchant's trade, or TradeNotFound (another merchant's trade is not there)."""
    trade: Trade = portal.services(request)["trades"].get(trade_no[:64])
    if trade.merchant_id != merchant_id:
        raise TradeNotFound("no such trade")
    return trade


def _new_request_no() -> str:
    return "P" + secrets.token_hex(12)


def _render_detail(
    request: Request, trade: Trade, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    services = portal.services(request)
    card_refunds = {}
    if trade.funding is Funding.CARD:
        card_refunds = {
            card_refund.refund_id: card_refund
            for card_refund in services["card_refunds"].card_refunds_of(trade.trade_no)
        }
    context: dict[str, Any] = {
        "title": portal.merchant_text(lang_of(request), "trade_detail"),
        "trade": trade,
        "refunds": services["refunds"].refunds_of(trade),
        "card_refunds": card_refunds,
        "refundable_fen": trade.total_fen - trade.refunded_fen,
        "can_refund": trade.status.value == "TRADE_SUCCESS"
        and trade.refunded_fen < trade.total_fen,
        "out_request_no": _new_request_no(),
        "amount": "",
        "reason": "",
    }
    context.update(extra)
    return portal.render(request, "merchant/trade.html", status_code, **context)


def _not_found(request: Request) -> HTMLResponse:
    context = portal.merchant_error(request, TradeNotFound("no such trade"))
    return portal.render(request, "merchant/message.html", 404, **context)


@router.get("/trades/{trade_no}")
def trade_page(
    request: Request, trade_no: str, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    try:
        trade = own_trade(request, merchant_id, trade_no)
    except TradeNotFound:
        return _not_found(request)
    notice = ""
    if request.query_params.get("refunded"):
        notice = portal.merchant_text(lang_of(request), "refund_done")
    return _render_detail(request, trade, notice=notice)


@router.post("/trades/{trade_no}/refund", dependencies=portal.CSRF)
async def refund(
    request: Request, trade_no: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        trade = own_trade(request, merchant_id, trade_no)
    except TradeNotFound:
        return _not_found(request)
    form = await portal.form_of(request)
    request_no = form.get("out_request_no", "")[:64] or _new_request_no()
    reason = form.get("reason", "").strip()[:REASON_LENGTH_MAX] or None
    try:
        amount_fen = parse_yuan(form.get("amount", "").strip())
        portal.services(request)["refunds"].refund(
            trade.app_id, TradeRef(trade_no=trade.trade_no), request_no, amount_fen, reason
        )
    except DomainError as error:
        # Keep the request number: a refused refund wrote nothing, and if an earlier submit
        # of this form did go through, a retry is answered from that refund, not made twice.
        kept = {"out_request_no": request_no, "amount": form.get("amount", ""), "reason": reason}
        current = own_trade(request, merchant_id, trade_no)
        context = portal.merchant_error(request, error)
        return _render_detail(request, current, status_for(error), **kept, **context)
    target = f"/merchant/trades/{trade.trade_no}?refunded={request_no}"
    return RedirectResponse(target, status_code=303)
