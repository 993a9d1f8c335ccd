"""Portal escrow: the merchant's escrow trades (made through `paybao.trade.escrow.create`) with
their status and running timer, and one trade's page where the merchant ships, extends the
buyer's time, answers a refund request (agree / refuse), closes an unpaid order, or adds to the
case file. A buyer's platform coupon shows with what the buyer paid: the merchant is paid the full
price either way (the platform pays the coupon).

Every look-up is scoped by the signed-in merchant: another merchant's escrow trade is a 404, the
same answer as one that does not exist. Every POST checks CSRF; a refused action re-renders the
trade page with the message for its stable code and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.escrow import EscrowEvent, EscrowNotFound, EscrowStatus, next_status
from paybao.services.escrow import IMAGE_BYTES_MAX, Escrow, EscrowService, Evidence, Party
from paybao.web import pages_merchant as portal
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

LIST_LIMIT: Final = 200
ESCROW_NO_LENGTH_MAX: Final = 32
DAY_S: Final = 86_400
EXTEND_DAYS_MAX: Final = 30
ACTIONS: Final = frozenset({"ship", "extend", "agree", "refuse", "close", "message"})

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_nav("nav_escrow", "/merchant/escrow")
portal.add_texts(
    {
        "nav_escrow": {"zh": "担保交易", "en": "Escrow"},
        "escrow_trade": {"zh": "担保交易详情", "en": "Escrow trade"},
        "escrow_no": {"zh": "担保交易号", "en": "Escrow no."},
        "escrow_none": {"zh": "还没有担保交易", "en": "No escrow trades yet"},
        "escrow_timer": {"zh": "计时", "en": "Timer"},
        "escrow_amount": {"zh": "金额", "en": "Amount"},
        "escrow_refunded": {"zh": "已退款", "en": "Refunded"},
        "escrow_fee": {"zh": "手续费", "en": "Fee"},
        "escrow_discount": {"zh": "平台红包(平台出资)", "en": "Platform coupon (platform-funded)"},
        "escrow_buyer_paid": {"zh": "买家实付", "en": "Buyer paid"},
        "escrow_discount_back": {"zh": "退款中红包补贴退回平台", "en": "Coupon share refunded"},
        "escrow_goods_type": {"zh": "商品类型", "en": "Goods type"},
        "escrow_shipping": {"zh": "物流", "en": "Shipping"},
        "escrow_carrier": {"zh": "物流公司", "en": "Carrier"},
        "escrow_tracking_no": {"zh": "运单号", "en": "Tracking no."},
        "escrow_ship": {"zh": "发货", "en": "Ship"},
        "escrow_extend": {"zh": "延长收货时间", "en": "Give the buyer more time"},
        "escrow_extend_days": {"zh": "延长天数", "en": "Days"},
        "escrow_refund_request": {"zh": "买家退款申请", "en": "Buyer's refund request"},
        "escrow_agree": {"zh": "同意退款", "en": "Agree to refund"},
        "escrow_refuse": {"zh": "拒绝退款", "en": "Refuse"},
        "escrow_refuse_reason": {"zh": "拒绝理由", "en": "Reason"},
        "escrow_close": {"zh": "关闭未付款订单", "en": "Close the unpaid order"},
        "escrow_message": {"zh": "补充留言/凭证", "en": "Add a message or evidence"},
        "escrow_image": {"zh": "图片凭证(可选)", "en": "Image (optional)"},
        "escrow_history": {"zh": "协商记录", "en": "History"},
        "escrow_image_link": {"zh": "图片", "en": "image"},
        "escrow_done": {"zh": "已提交", "en": "Done"},
        "escrow_timer_pay": {"zh": "付款截止", "en": "Pay by"},
        "escrow_timer_confirm": {"zh": "自动确认收货", "en": "Auto-confirms at"},
        "escrow_timer_answer": {"zh": "退款答复截止", "en": "Answer the refund by"},
        "escrow_timer_escalate": {"zh": "买家可申请介入至", "en": "Buyer may escalate until"},
        "escrow_timer_paused": {
            "zh": "已暂停,剩余 {days} 天 {hours} 小时",
            "en": "Paused, {days} d {hours} h left",
        },
        "escrow_timer_operator": {"zh": "等待平台裁决", "en": "Waiting for the platform"},
        "escrow_timer_ship": {"zh": "等待发货(无计时)", "en": "Waiting for shipment (no timer)"},
    }
)
portal.MERCHANT_ERRORS.update(
    {
        "escrow_not_found": {"zh": "担保交易不存在", "en": "No such escrow trade"},
        "escrow_not_paid": {"zh": "买家尚未付款", "en": "The buyer has not paid"},
        "escrow_not_shipped": {"zh": "尚未发货", "en": "Not shipped yet"},
        "escrow_already_shipped": {"zh": "已经发货", "en": "Already shipped"},
        "escrow_refund_open": {
            "zh": "退款申请处理中,暂不能操作",
            "en": "Not possible while a refund request is open",
        },
        "escrow_no_refund_open": {"zh": "没有待处理的退款申请", "en": "No open refund request"},
        "escrow_already_finished": {"zh": "交易已完成", "en": "The trade is finished"},
        "escrow_closed": {"zh": "交易已关闭", "en": "The trade is closed"},
        "escrow_status_error": {
            "zh": "当前状态不能进行此操作",
            "en": "Not possible in the trade's current state",
        },
        "escrow_extend_too_long": {
            "zh": "累计延长不能超过30天",
            "en": "Extensions may add up to 30 days at most",
        },
        "escrow_not_party": {"zh": "担保交易不存在", "en": "No such escrow trade"},
        "invalid_extension": {"zh": "请填写1-30天", "en": "Enter 1 to 30 days"},
        "invalid_carrier": {"zh": "请填写物流公司(32字以内)", "en": "Enter a carrier"},
        "invalid_tracking_no": {"zh": "请填写运单号(64字以内)", "en": "Enter a tracking no."},
        "invalid_reason": {"zh": "请填写理由(500字以内)", "en": "Enter a reason"},
        "invalid_message": {"zh": "请填写留言(2000字以内)", "en": "Enter a message"},
        "image_too_large": {"zh": "图片不能超过512KB", "en": "Images may be 512 KiB at most"},
        "image_type": {"zh": "图片须为PNG、JPEG、GIF或WebP", "en": "PNG, JPEG, GIF or WebP"},
        "unknown_action": {"zh": "未知操作", "en": "Unknown action"},
    }
)


@dataclass(frozen=True, slots=True)
class TimerView:
    """What the merchant waits for: a text key, and a due time or the time left when paused."""

    key: str
    due_at_us: int | None = None
    remaining_us: int | None = None


def timer_of(escrow: Escrow) -> TimerView | None:
    status = escrow.status
    if status is EscrowStatus.WAIT_BUYER_PAY:
        return TimerView("escrow_timer_pay", escrow.pay_expires_at_us)
    if status is EscrowStatus.WAIT_SELLER_SEND_GOODS:
        return TimerView("escrow_timer_ship")
    if status is EscrowStatus.WAIT_BUYER_CONFIRM_GOODS:
        return TimerView("escrow_timer_confirm", escrow.confirm_due_at_us)
    if status is EscrowStatus.REFUNDING:
        return TimerView("escrow_timer_answer", escrow.timer_due_at_us, escrow.confirm_remaining_us)
    if status is EscrowStatus.REFUND_REFUSED:
        return TimerView(
            "escrow_timer_escalate", escrow.timer_due_at_us, escrow.confirm_remaining_us
        )
    if status is EscrowStatus.DISPUTE:
        return TimerView("escrow_timer_operator", None, escrow.confirm_remaining_us)
    return None


def paused_parts(remaining_us: int) -> dict[str, int]:
    hours_total = remaining_us // (3600 * 1_000_000)
    return {"days": hours_total // 24, "hours": hours_total % 24}


def _service(request: Request) -> EscrowService:
    service: EscrowService = portal.services(request)["escrow"]
    return service


def own_escrow(request: Request, merchant_id: int, escrow_no: str) -> Escrow:
    """The merchant's escrow trade, or EscrowNotFound (another merchant's is not there)."""
    escrow = _service(request).get(escrow_no[:ESCROW_NO_LENGTH_MAX])
    if escrow.merchant_id != merchant_id:
        raise EscrowNotFound("no such escrow trade")
    return escrow


def _not_found(request: Request) -> HTMLResponse:
    context = portal.merchant_error(request, EscrowNotFound("no such escrow trade"))
    return portal.render(request, "merchant/message.html", 404, **context)


@router.get("/escrow")
def escrow_list(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    rows = _service(request).escrows_of(Party.merchant(merchant_id), LIST_LIMIT)
    return portal.render(
        request,
        "merchant/escrow_list.html",
        title=portal.merchant_text(lang_of(request), "nav_escrow"),
        rows=[(row, timer_of(row)) for row in rows],
        paused_parts=paused_parts,
    )


def _render_detail(
    request: Request, escrow: Escrow, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    assert escrow.merchant_id is not None
    messages = _service(request).messages(escrow.escrow_no, Party.merchant(escrow.merchant_id))
    return portal.render(
        request,
        "merchant/escrow_trade.html",
        status_code,
        title=portal.merchant_text(lang_of(request), "escrow_trade"),
        e=escrow,
        timer=timer_of(escrow),
        paused_parts=paused_parts,
        messages=messages,
        **extra,
    )


@router.get("/escrow/{escrow_no}")
def escrow_page(
    request: Request, escrow_no: str, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    try:
        escrow = own_escrow(request, merchant_id, escrow_no)
    except EscrowNotFound:
        return _not_found(request)
    notice = ""
    if request.query_params.get("done"):
        notice = portal.merchant_text(lang_of(request), "escrow_done")
    return _render_detail(request, escrow, notice=notice)


@router.get("/escrow/{escrow_no}/image/{message_id}")
def image(
    request: Request,
    escrow_no: str,
    message_id: int,
    merchant_id: int = Depends(portal.require_merchant),
) -> Response:
    try:
        escrow = own_escrow(request, merchant_id, escrow_no)
        data, content_type = _service(request).image(
            escrow.escrow_no, message_id, Party.merchant(merchant_id)
        )
    except DomainError:  # not this merchant's trade, or not an image of it
        return _not_found(request)
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    return Response(data, media_type=content_type, headers=headers)


@router.post("/escrow/{escrow_no}/{action}", dependencies=portal.CSRF)
async def act(
    request: Request,
    escrow_no: str,
    action: str,
    merchant_id: int = Depends(portal.require_merchant),
) -> Response:
    try:
        escrow = own_escrow(request, merchant_id, escrow_no)
    except EscrowNotFound:
        return _not_found(request)
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    upload = form.get("image")
    try:
        image = await _image_of(upload) if isinstance(upload, UploadFile) else (None, None)
        _do(_service(request), escrow, Party.merchant(merchant_id), action, values, image)
    except DomainError as error:
        current = own_escrow(request, merchant_id, escrow.escrow_no)
        context = portal.merchant_error(request, error)
        return _render_detail(request, current, status_for(error), **context)
    return RedirectResponse(f"/merchant/escrow/{escrow.escrow_no}?done={action}", 303)


async def _image_of(upload: UploadFile) -> tuple[bytes | None, str | None]:
    # Read one byte past the limit, never the whole of a hostile upload.
    data = await upload.read(IMAGE_BYTES_MAX + 1)
    if not data:
        return None, None
    return data, upload.content_type


def _days_s(text: str) -> int:
    days = text.strip()
    if not days.isdigit() or not 0 < int(days) <= EXTEND_DAYS_MAX:
        raise InvalidInput("extend by 1 to 30 days", code="invalid_extension")
    return int(days) * DAY_S


def _do(
    service: EscrowService,
    escrow: Escrow,
    party: Party,
    action: str,
    values: dict[str, str],
    image: tuple[bytes | None, str | None],
) -> None:
    no = escrow.escrow_no
    if action not in ACTIONS:
        raise DomainError("unknown action", code="unknown_action")
    if action == "ship":
        service.ship(no, party, values.get("carrier", ""), values.get("tracking_no", ""))
    elif action == "extend":
        service.extend(no, party, _days_s(values.get("days", "")))
    elif action == "agree":
        service.agree_refund(no, party)
    elif action == "refuse":
        service.refuse_refund(no, party, values.get("reason", ""))
    elif action == "close":
        # A paid order is the buyer's to cancel; say so by the state's own refusal.
        next_status(escrow.status, EscrowEvent.CLOSE)
        service.cancel(no, party)
    else:
        service.add_message(no, party, Evidence(values.get("text", ""), *image))


def install(app: Any) -> None:
    app.include_router(router)
