"""The cashier: where page.pay / wap.pay / app.pay (and a scanned precreate QR) lead the buyer.

Shows the merchant, subject and amount; the buyer signs in with the wallet's session, pays
from the balance, a bound card (a quick-pay debit through the bank: services/card_pay.py) or,
offered only when the buyer's Huabei line is not frozen and has enough credit available, with
credit (services/credit.py), always with the payment password (the wallet counts wrong tries
and locks after five), and is sent to the merchant's return_url with signed parameters. While a
card debit's answer is unknown the page says so and reloads itself until the bank query job has
settled the trade. A trade that is paid or closed is shown as such and cannot be paid again (the
service refuses it in any case).

Huabei installments (花呗分期, services/checkout_installments.py): when the order allows them and
the buyer's line has room, the page offers the merchant's fixed number of periods, or (orders of
100 CNY and more without one) 3, 6 and 12, each with what a period costs and the fee, or
"商家承担手续费 · 免息" when the merchant pays it; plain 花呗 is hidden when the order's pay
channels exclude it. The amounts are those of the amount the pay button shows.

Coupons (services/marketing.py): the page offers the buyer's usable coupons, one merchant-funded
and one platform-funded at most, the best pair chosen (the buyer may pick others or none) and
what is left to pay shown as the choice changes (static/coupons.js, from a table the server
priced). After paying, a campaign may give the buyer a coupon: then the success page shows it
(with the link back to the merchant) instead of going straight to the return_url.

An order made for one buyer (alipay.trade.create with buyer_id) is paid by that user only: signed
in as anyone else the page says so (交易买家不匹配) and offers no way to pay; the services refuse
such a payment on every path in any case (TradeBuyerNotMatch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from paybao.domain.coupons import NO_COUPONS, CouponChoice, CouponNotApplicable
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import format_yuan
from paybao.domain.trades import Funding, TradeStatus
from paybao.services.trades import Trade
from paybao.web.deps import platform_of
from paybao.web.pages_user import sign_in_and_return
from paybao.web.session import check_csrf, csrf_token, current_user_id

router = APIRouter(prefix="/cashier", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

_MESSAGES = {
    "payment_password_wrong": "支付密码错误",
    "payment_password_locked": "支付密码错误次数过多，请稍后再试",
    "buyer_balance_not_enough": "余额不足",
    "trade_has_success": "订单已支付",
    "trade_has_close": "订单已关闭",
    "trade_has_finished": "订单已完结",
    "bad_credentials": "手机号或密码错误",
    "login_locked": "登录失败次数过多，请稍后再试",
    "buyer_seller_equal": "不能向自己付款",
    "csrf_failed": "页面已过期，请刷新后重试",
    "card_not_found": "请选择已绑定的银行卡",
    "card_payment_in_flight": "银行卡支付处理中，请稍候",
    "bank_declined": "银行扣款失败，请换一种付款方式",
    "funding_invalid": "请选择付款方式",
    "credit_not_opened": "尚未开通花呗",
    "credit_limit_exceeded": "花呗可用额度不足",
    "credit_overdue_frozen": "花呗账单已逾期,暂停使用;还清后恢复",
    "installment_not_offered": "该订单不支持所选的花呗分期期数",
    "credit_channel_disabled": "该订单不支持花呗付款",
    "coupon_unavailable": "优惠券已使用或已过期,请重新选择",
    "coupon_not_applicable": "所选优惠券不适用于本订单",
    "card_payment_mismatch": "优惠已变化,款项已存入余额,请重新付款",
    "trade_buyer_not_match": "交易买家不匹配 · This order is for another buyer",
}
# Shown while a card debit's outcome is unknown; the page reloads itself this often.
PROCESSING_REFRESH_S = 3


def _message(error: DomainError) -> str:
    return _MESSAGES.get(error.code, error.message)


def _page(
    request: Request, trade: Trade, *, error: str = "", status: int = 200, processing: bool = False
) -> Response:
    platform = platform_of(request)
    user_id = current_user_id(request)
    merchant = platform.services["merchants"].merchant(trade.merchant_id)
    return_url = None
    if trade.status is TradeStatus.TRADE_SUCCESS:
        forms = platform.services["notification_forms"]
        return_url = forms.return_url(trade, platform.clock.now_us())
    offers = None
    installments: tuple[Any, ...] = ()
    # Signed in as someone the order was not made for: nothing to offer, nothing to pay.
    other_buyer = user_id is not None and trade.designated_buyer_id not in (None, user_id)
    payable = trade.status is TradeStatus.WAIT_BUYER_PAY and not other_buyer
    if user_id is not None and payable:
        offers = _offers(request, trade, user_id)
        principal_fen = offers.best.buyer_pay_fen if offers else trade.total_fen
        installments = _installments(request, trade, user_id, principal_fen)
    context = {
        "trade": trade,
        "merchant_name": merchant.name,
        "amount_yuan": format_yuan(trade.total_fen),
        "offers": offers,
        "yuan": format_yuan,
        "gift": _gift(request, trade, user_id),
        "user_id": user_id,
        "csrf": csrf_token(request),
        "error": error,
        "return_url": return_url,
        "cards": _cards(request, user_id) if payable else [],
        "credit_available": _credit_available(request, user_id, trade) if payable else None,
        "other_buyer": other_buyer,
        "installments": installments,
        "seller_pays": bool(installments) and _seller_pays(request, trade),
        "processing": processing,
        "refresh_s": PROCESSING_REFRESH_S,
    }
    return templates.TemplateResponse(request, "cashier/pay.html", context, status_code=status)


def _offers(request: Request, trade: Trade, user_id: int) -> Any:
    """The buyer's coupon choices (None: no coupons feature, or none usable here)."""
    marketing = platform_of(request).services.get("marketing")
    if marketing is None:
        return None
    offers = marketing.offers(trade, user_id)
    return offers if offers.merchant or offers.platform else None


def _gift(request: Request, trade: Trade, user_id: int | None) -> Any:
    """The coupon this payment gave the signed-in buyer, if any."""
    marketing = platform_of(request).services.get("marketing")
    if marketing is None or user_id is None or not trade.paid:
        return None
    return marketing.issued_for(trade.trade_no, user_id)


def _coupon_choice(form: Any) -> CouponChoice:
    """The coupon radios (`coupon_merchant`, `coupon_platform`): a coupon id, or 0 for none."""
    ids = []
    for name in ("coupon_merchant", "coupon_platform"):
        value = str(form.get(name, "0"))
        if not value.isdigit() or len(value) > 18:
            raise CouponNotApplicable("choose a coupon from the list")
        if int(value):
            ids.append(int(value))
    return CouponChoice(coupon_ids=tuple(ids)) if ids else NO_COUPONS


def _cards(request: Request, user_id: int | None) -> list[tuple[int, str]]:
    """(card id, label with the last four digits) of the buyer's bound cards."""
    if user_id is None:
        return []
    cards = platform_of(request).services["card_pay"].cards_of(user_id)
    return [(card.id, f"{card.bank_code} 尾号{card.card_number[-4:]}") for card in cards]


def _credit_available(request: Request, user_id: int | None, trade: Trade) -> str | None:
    """The buyer's available Huabei credit (yuan) if it can pay this trade, else None."""
    credit = platform_of(request).services.get("credit")  # None: no credit feature installed
    if credit is None or user_id is None or trade.status is not TradeStatus.WAIT_BUYER_PAY:
        return None
    checkout = platform_of(request).services.get("checkout_installments")
    if checkout is not None and not checkout.terms_of(trade.trade_no).credit_allowed:
        return None  # the order's pay channels exclude plain Huabei
    line = credit.offer(user_id, trade.total_fen)
    return None if line is None else format_yuan(line.available_fen)


def _installments(
    request: Request, trade: Trade, user_id: int, principal_fen: int
) -> tuple[Any, ...]:
    """The Huabei installment offers (domain Offer: periods, fees) for this buyer and trade."""
    checkout = platform_of(request).services.get("checkout_installments")
    if checkout is None:
        return ()
    return tuple(checkout.offers(trade, user_id, principal_fen))


def _seller_pays(request: Request, trade: Trade) -> bool:
    checkout = platform_of(request).services.get("checkout_installments")
    return checkout is not None and bool(checkout.terms_of(trade.trade_no).seller_pays)


def _not_found(request: Request) -> Response:
    context = {"message": "订单不存在"}
    return templates.TemplateResponse(request, "cashier/error.html", context, status_code=404)


@router.get("/{trade_no}", response_class=HTMLResponse)
def show(request: Request, trade_no: str, scan: int = 0, card_payment: int = 0) -> Response:
    trades = platform_of(request).services["trades"]
    try:
        trade = trades.mark_scanned(trade_no) if scan else trades.get(trade_no)
    except DomainError:
        return _not_found(request)
    processing = bool(card_payment) and _card_payment_processing(request, card_payment, trade)
    return _page(request, trade, processing=processing)


def _card_payment_processing(request: Request, payment_id: int, trade: Trade) -> bool:
    try:
        payment = platform_of(request).services["card_pay"].payment(payment_id)
    except DomainError:
        return False
    return bool(payment.trade_no == trade.trade_no and payment.status == "processing")


@router.post("/{trade_no}/login")
async def login(request: Request, trade_no: str) -> Response:
    platform = platform_of(request)
    try:
        trade = platform.services["trades"].get(trade_no)
    except DomainError:
        return _not_found(request)
    try:
        return await sign_in_and_return(request, f"/cashier/{trade_no}")
    except DomainError as error:
        return _page(request, trade, error=_message(error), status=400)


@router.post("/{trade_no}/pay")
async def pay(request: Request, trade_no: str) -> Response:
    platform = platform_of(request)
    trades = platform.services["trades"]
    try:
        trade = trades.get(trade_no)
    except DomainError:
        return _not_found(request)
    user_id = current_user_id(request)
    if user_id is None:
        return RedirectResponse(f"/cashier/{trade_no}", status_code=303)
    if trade.designated_buyer_id not in (None, user_id):
        # Before the form's password is looked at (the services refuse it anyway).
        error_text = _MESSAGES["trade_buyer_not_match"]
        return _page(request, trade, error=error_text, status=403)
    form = await request.form()
    password = str(form.get("payment_password", ""))
    funding = str(form.get("funding", "balance"))
    try:
        await check_csrf(request)
        coupons = _coupon_choice(form)
        if funding.startswith("installments:"):
            paid = trades.pay_by_buyer(
                trade_no,
                user_id,
                password,
                funding=Funding.CREDIT,
                coupons=coupons,
                installments=_count(funding),
            )
            return _paid(request, paid)
        if funding not in ("balance", "credit"):
            return _pay_by_card(request, trade_no, user_id, funding, password, coupons)
        paid = trades.pay_by_buyer(
            trade_no, user_id, password, funding=Funding(funding), coupons=coupons
        )
    except DomainError as error:
        return _page(request, trades.get(trade_no), error=_message(error), status=400)
    return _paid(request, paid)


def _count(funding: str) -> int:
    """`installments:<n>`: the number of periods chosen."""
    text = funding.partition(":")[2]
    if not text.isdigit() or len(text) > 2:
        raise InvalidInput("choose how to pay", code="funding_invalid")
    return int(text)


def _pay_by_card(
    request: Request,
    trade_no: str,
    user_id: int,
    funding: str,
    password: str,
    coupons: CouponChoice,
) -> Response:
    """`funding` is `card:<id>`; the answer is paid, failed, or still waiting on the bank."""
    kind, _, card_id = funding.partition(":")
    if kind != "card" or not card_id.isdigit():
        raise InvalidInput("choose how to pay", code="funding_invalid")
    platform = platform_of(request)
    payment = platform.services["card_pay"].pay(trade_no, user_id, int(card_id), password, coupons)
    trade = platform.services["trades"].get(trade_no)
    if payment.status == "paid":
        return _paid(request, trade)
    if payment.status == "processing":
        target = f"/cashier/{trade_no}?card_payment={payment.id}"
        return RedirectResponse(target, status_code=303)
    return _page(request, trade, error=_MESSAGES["bank_declined"], status=402)


def _paid(request: Request, paid: Trade) -> Response:
    platform = platform_of(request)
    forms = platform.services["notification_forms"]
    target = forms.return_url(paid, platform.clock.now_us())
    gift = _give(request, paid)
    if target and gift is None:
        return RedirectResponse(target, status_code=303)
    context = {
        "trade": paid,
        "amount_yuan": format_yuan(paid.total_fen),
        "yuan": format_yuan,
        "gift": gift,
        "return_url": target,
    }
    return templates.TemplateResponse(request, "cashier/done.html", context)


def _give(request: Request, paid: Trade) -> Any:
    """The payment-success page's coupon, if a campaign gives one for this payment. Never
    fails the page: the payment is done whatever happens here."""
    marketing = platform_of(request).services.get("marketing")
    if marketing is None or paid.buyer_user_id is None:
        return None
    try:
        return marketing.issue_after_payment(paid.trade_no, paid.buyer_user_id)
    except DomainError:
        return None
