"""Gateway methods: Alipay's biz_content in, a service call, Alipay's response fields out.

Each handler translates wire names and yuan strings to the domain (amounts in fen, our trade
objects) and back; business rules live in the services. A handler returns the response object
without `code`/`msg` on success and raises `WireError` (or a DomainError that `errors.py`
translates) on failure. Page methods (page/wap/app pay) return the cashier URL instead.

A trade paid partly with coupons answers with Alipay's funding split (alipay-product.md §13):
`receipt_amount` (total less the merchant-funded discount), `buyer_pay_amount` and
`invoice_amount` (what the buyer paid; paybao has no points), `discount_amount` (platform-funded)
and `mdiscount_amount` (merchant-funded), `voucher_detail_list`, and DISCOUNT / MDISCOUNT bills
beside the buyer's channel in `fund_bill_list`. Its refunds answer `send_back_fee` (what left
the merchant) and `present_refund_buyer_amount` / `_discount_amount` / `_mdiscount_amount`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.logon_ids import LogonIds
from paybao.adapters.alipay.on_behalf import ISV_APP_KEY
from paybao.domain.bins import CardType
from paybao.domain.checkout_installments import TERMS_DEFAULT, InstallmentTerms
from paybao.domain.coupons import CouponKind, VoucherDetail
from paybao.domain.errors import NotFound
from paybao.domain.money import AMOUNT_FEN_MAX
from paybao.domain.royalty import BackPart
from paybao.domain.trades import (
    PAY_TIMEOUT_S_MAX,
    DiscountFunder,
    FundBill,
    Funding,
    fund_bills,
)
from paybao.services.clock import datetime_from_us, us_from_datetime
from paybao.services.merchants import App
from paybao.services.payouts import PayoutService
from paybao.services.refunds import Refund, RefundService
from paybao.services.trades import NewTrade, Trade, TradeRef, TradeService

Fields = dict[str, object]
ZERO_AMOUNTS: Final[Mapping[str, str]] = {
    "buyer_pay_amount": "0.00",
    "invoice_amount": "0.00",
    "point_amount": "0.00",
    "receipt_amount": "0.00",
}
PAGE_METHODS: Final = frozenset(
    {"alipay.trade.page.pay", "alipay.trade.wap.pay", "alipay.trade.app.pay"}
)
_TIMEOUT_UNITS_S: Final = {"m": 60, "h": 3600, "d": 86_400}
# fund_bill_list's channel names (Alipay's 支付渠道): the wallet balance is 支付宝余额, a bound
# card's quick-pay debit 银行卡, the Huabei credit line 花呗 PCREDIT. Other Alipay channels
# (COUPON 红包, POINT 集分宝, FINANCEACCOUNT 余额宝, ...) have no paybao funding paying trades yet.
# Coupons: DISCOUNT 折扣券 (platform-funded) and MDISCOUNT 商户优惠券 (merchant-funded).
FUND_CHANNEL_BALANCE: Final = "ALIPAYACCOUNT"
FUND_CHANNEL_CARD: Final = "BANKCARD"
FUND_CHANNEL_CREDIT: Final = "PCREDIT"
FUND_CHANNELS: Final[Mapping[Funding | DiscountFunder, str]] = {
    Funding.BALANCE: FUND_CHANNEL_BALANCE,
    Funding.CARD: FUND_CHANNEL_CARD,
    Funding.CREDIT: FUND_CHANNEL_CREDIT,
    DiscountFunder.PLATFORM: "DISCOUNT",
    DiscountFunder.MERCHANT: "MDISCOUNT",
}
# voucher_detail_list's type: 全场代金券 (a fixed amount off) and 折扣券.
VOUCHER_TYPES: Final[Mapping[CouponKind, str]] = {
    CouponKind.FIXED: "ALIPAY_FIX_VOUCHER",
    CouponKind.DISCOUNT: "ALIPAY_DISCOUNT_VOUCHER",
}
# A BANKCARD bill also says what kind of card paid (Alipay's fund_type, only on BANKCARD
# bills; MIXED_CARD 借贷合一卡 has no paybao card type).
FUND_TYPES: Final[Mapping[str, str]] = {
    CardType.DEBIT: "DEBIT_CARD",
    CardType.CREDIT: "CREDIT_CARD",
}
# The type of the card that paid a card-funded trade ('DC' | 'CC', domain.bins.CardType), or
# None: the card-payment feature plugs it in (wiring/merchant_portal.py).
CardTypeOf = Callable[[str], str | None]


def no_card_type(_trade_no: str) -> str | None:
    return None


# The coupons a discounted trade used (services/marketing.py plugs it in; asked only for trades
# with a discount, whose coupons never change once paid).
VouchersOf = Callable[[str], Sequence[VoucherDetail]]


def no_vouchers(_trade_no: str) -> Sequence[VoucherDetail]:
    return ()


# The number of Huabei installments a credit-paid trade was paid in (None: not in installments):
# checkout installments plug it in (wiring/checkout_installments.py) for hb_fq_pay_info.
InstallmentsOf = Callable[[str], int | None]


def no_installments(_trade_no: str) -> int | None:
    return None


# Profit sharing (adapters/alipay/royalty_methods.py) plugs in the refund's
# refund_royalty_parameters (the shares receivers give back in it, 退分账) and, for
# fastpay.refund.query, what each refund took back (refund_royaltys).
RoyaltyBackOf = Callable[["Call"], tuple[BackPart, ...]]
RefundRoyaltysOf = Callable[[Refund], list[dict[str, str]]]


def no_royalty_back(call: Call) -> tuple[BackPart, ...]:
    if call.biz.get("refund_royalty_parameters") not in (None, "", []):
        raise WireError("ACQ.INVALID_PARAMETER", "refund_royalty_parameters is not supported")
    return ()


def no_refund_royaltys(_refund: Refund) -> list[dict[str, str]]:
    return []


# Pay channels (enable_pay_channels / disable_pay_channels) that name Huabei: 花呗 pcredit,
# 花呗分期 pcreditpayInstallment, and credit_group (both, with credit cards).
CHANNEL_CREDIT: Final = "pcredit"
CHANNEL_INSTALLMENT: Final = "pcreditpayInstallment"
CHANNEL_CREDIT_GROUP: Final = "credit_group"
PAY_CHANNELS_LENGTH_MAX: Final = 128
# buyer_id / buyer_open_id: Alipay's String(28) (a 2088… user id is 16 digits).
BUYER_ID_LENGTH_MAX: Final = 28


@dataclass(frozen=True)
class Call:
    """One verified gateway call."""

    app: App
    method: str
    biz: Mapping[str, object]
    common: wire.CommonParams
    charset: str
    now_us: int
    # Every request parameter as signed: for methods that take theirs at the top level rather
    # than in biz_content (alipay.system.oauth.token's grant_type/code, auth_token).
    params: Mapping[str, str] = field(default_factory=dict)


# Alipay-style party ids: users 2088 + 12 digits, merchants 2088 9 + 11 digits.


def user_wire_id(user_id: int) -> str:
    assert 0 < user_id < 10**11
    return f"2088{user_id:012d}"


def seller_wire_id(merchant_id: int) -> str:
    assert 0 < merchant_id < 10**11
    return f"20889{merchant_id:011d}"


def user_id_from_wire(text: str) -> int | None:
    if len(text) == 16 and text.isdigit() and text.startswith("20880"):
        return int(text[4:]) or None
    return None


def format_time(at_us: int | None) -> str:
    return wire.format_timestamp(datetime_from_us(at_us)) if at_us is not None else ""


class Methods:
    def __init__(
        self,
        *,
        trades: TradeService,
        refunds: RefundService,
        payouts: PayoutService,
        users: Any,
        base_url: str,
    ) -> None:
        self.trades = trades
        self.refunds = refunds
        self.payouts = payouts
        self.users = users
        self.base_url = base_url.rstrip("/")
        self.logon_ids = LogonIds(users)
        self.table: dict[str, Callable[[Call], Fields]] = {
            "alipay.trade.precreate": self.precreate,
            "alipay.trade.create": self.create,
            "alipay.trade.pay": self.pay,
            "alipay.trade.query": self.query,
            "alipay.trade.refund": self.refund,
            "alipay.trade.fastpay.refund.query": self.refund_query,
            "alipay.trade.close": self.close,
            "alipay.trade.cancel": self.cancel,
            "alipay.data.dataservice.bill.downloadurl.query": self.bill_url,
            "alipay.fund.trans.uni.transfer": self.fund_transfer,
            "alipay.fund.trans.common.query": self.fund_transfer_query,
            "alipay.fund.account.query": self.fund_account,
        }
        # The payment-code feature plugs in its till-code payer and its precreate QR links.
        self.code_payer: Callable[[NewTrade, str], Trade] = trades.pay_with_code
        self.qr_link: Callable[[Trade], str] = self.qr_url
        self.card_type_of: CardTypeOf = no_card_type
        self.vouchers_of: VouchersOf = no_vouchers
        self.installments_of: InstallmentsOf = no_installments
        self.royalty_back_of: RoyaltyBackOf = no_royalty_back
        self.refund_royaltys_of: RefundRoyaltysOf = no_refund_royaltys

    def knows(self, method: str) -> bool:
        return method in self.table or method in PAGE_METHODS

    # Trades -------------------------------------------------------------------------------

    def precreate(self, call: Call) -> Fields:
        trade = self.trades.create(self._new_trade(call, visible=False))
        return {"out_trade_no": trade.out_trade_no, "qr_code": self.qr_link(trade)}

    def create(self, call: Call) -> Fields:
        """An order for one buyer (buyer_id or buyer_open_id: the JSAPI / mini-program flow
        after "Log in with paybao"); only that user can then pay it. Alipay refuses a create
        that names no buyer (ACQ.INVALID_PARAMETER, "参数无效:买家不能为空"), and so do we: an
        order for anyone is precreate (a QR code) or page/wap/app pay (the cashier)."""
        new = self._new_trade(call)
        buyer_id = self._designated_buyer_id(call.biz)
        if buyer_id is None:
            raise WireError("ACQ.INVALID_PARAMETER", "参数无效:买家不能为空")
        new = dataclasses.replace(new, designated_buyer_id=buyer_id)
        trade = self.trades.create(new)
        return {"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}

    def _designated_buyer_id(self, biz: Mapping[str, object]) -> int | None:
        """The user a create names, or None. paybao's open ids are its user ids (the 2088… wire
        form, as alipay_open_id elsewhere), so buyer_open_id is read as buyer_id; if both are
        given they must agree. Refusals are Alipay's: ACQ.INVALID_PARAMETER (not a 2088 id),
        ACQ.BUYER_NOT_EXIST (no such user), ACQ.BUYER_ENABLE_STATUS_FORBID (frozen)."""
        texts = {
            key: text
            for key in ("buyer_id", "buyer_open_id")
            if (text := _text(biz, key, length_max=BUYER_ID_LENGTH_MAX))
        }
        if not texts:
            return None
        if len(set(texts.values())) > 1:
            raise WireError("ACQ.INVALID_PARAMETER", "buyer_id 与 buyer_open_id 不一致")
        key, text = next(iter(texts.items()))
        user_id = user_id_from_wire(text)
        if user_id is None:
            raise WireError("ACQ.INVALID_PARAMETER", f"参数无效:{key}")
        try:
            user = self.users.get(user_id)
        except NotFound:
            raise WireError("ACQ.BUYER_NOT_EXIST", "买家不存在") from None
        if user.status != "active":
            raise WireError("ACQ.BUYER_ENABLE_STATUS_FORBID", "买家状态非法")
        return user_id

    def pay(self, call: Call) -> Fields:
        auth_code = _text(call.biz, "auth_code", required=True, length_max=64)
        scene = _text(call.biz, "scene") or "bar_code"
        if scene not in ("bar_code", "security_code", "wave_code"):
            raise WireError("ACQ.INVALID_PARAMETER", "scene must be bar_code or security_code")
        trade = self.code_payer(self._new_trade(call), auth_code)
        if not trade.paid:
            # The buyer must confirm with the payment password: 10003, the till polls query.
            return {
                "code": "10003",
                "msg": " order success pay inprocess",
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "total_amount": wire.format_amount(trade.total_fen),
            }
        return self._paid_fields(trade)

    def page_pay(self, call: Call) -> str:
        """page/wap/app pay: the trade, then the cashier page's URL for the buyer."""
        trade = self.trades.create(self._new_trade(call))
        return self.cashier_url(trade)

    def query(self, call: Call) -> Fields:
        trade = self.trades.find(call.app.app_id, _ref(call.biz))
        fields: Fields = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status.value,
            "total_amount": wire.format_amount(trade.total_fen),
        }
        if trade.paid:
            fields.update(self._paid_amounts(trade))
            fields["send_pay_date"] = format_time(trade.paid_at_us)
            fields.update(self._buyer_fields(trade))
            fields["fund_bill_list"] = self._fund_bill_list(trade, trade.fund_bills())
            fields.update(self._voucher_fields(trade))
            fields.update(self._installment_fields(trade))
        else:
            fields.update(ZERO_AMOUNTS)
            if trade.designated_buyer_id is not None:
                # A create for one buyer: the order is that buyer's from the start (JSAPI).
                fields.update(self._user_fields(trade.designated_buyer_id))
        fields["subject"] = trade.subject
        if trade.store_id:
            fields["store_id"] = trade.store_id
        return fields

    def close(self, call: Call) -> Fields:
        trade = self.trades.close(call.app.app_id, _ref(call.biz))
        return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}

    def cancel(self, call: Call) -> Fields:
        trade, action = self.refunds.cancel(call.app.app_id, _ref(call.biz))
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "retry_flag": "N",
            "action": action,
        }

    # Refunds ------------------------------------------------------------------------------

    def refund(self, call: Call) -> Fields:
        ref = _ref(call.biz)
        amount_fen = _amount(call.biz, "refund_amount")
        request_no = _text(call.biz, "out_request_no", length_max=64)
        request_no = request_no or ref.out_trade_no or ref.trade_no or ""
        reason = _text(call.biz, "refund_reason", length_max=256) or None
        back = self.royalty_back_of(call)
        result = self.refunds.refund(
            call.app.app_id, ref, request_no, amount_fen, reason, royalty_back=back
        )
        trade = result.trade
        fields: Fields = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            **self._buyer_fields(trade),
            "fund_change": "Y" if result.fund_change else "N",
            "refund_fee": wire.format_amount(trade.refunded_fen),
            "gmt_refund_pay": format_time(result.refund.created_at_us),
            "send_back_fee": wire.format_amount(result.refund.send_back_fen),
            # The refund goes back the way the trade was paid (原路退回).
            "refund_detail_item_list": self._refund_bills(trade, result.refund),
        }
        fields.update(_refund_parts(trade, result.refund))
        return fields

    def refund_query(self, call: Call) -> Fields:
        ref = _ref(call.biz)
        request_no = _text(call.biz, "out_request_no", required=True, length_max=64)
        trade, refund = self.refunds.find(call.app.app_id, ref, request_no)
        fields: Fields = {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}
        if refund is None:
            return fields  # 10000 without refund_amount: no such refund (Alipay's way)
        fields.update(
            {
                "out_request_no": refund.out_request_no,
                "total_amount": wire.format_amount(trade.total_fen),
                "refund_amount": wire.format_amount(refund.amount_fen),
                "refund_status": "REFUND_SUCCESS",
            }
        )
        options = call.biz.get("query_options")
        if isinstance(options, list) and "gmt_refund_pay" in options:
            fields["gmt_refund_pay"] = format_time(refund.created_at_us)
        if isinstance(options, list) and "refund_detail_item_list" in options:
            fields["refund_detail_item_list"] = self._refund_bills(trade, refund)
        if _discounted(trade):
            fields["send_back_fee"] = wire.format_amount(refund.send_back_fen)
            fields.update(_refund_parts(trade, refund))
        royaltys = self.refund_royaltys_of(refund)
        if royaltys:  # shares the refund took back from receivers (退分账)
            fields["refund_royaltys"] = royaltys
        return fields

    # Others -------------------------------------------------------------------------------

    def bill_url(self, call: Call) -> Fields:
        bill_type = _text(call.biz, "bill_type", required=True)
        if bill_type not in ("trade", "signcustomer"):
            raise WireError("isv.invalid-parameter", "bill_type must be trade or signcustomer")
        _text(call.biz, "bill_date", required=True, length_max=10)
        # Bills arrive with the settlement feature; until then no bill exists for any day.
        raise WireError("isp.bill_not_exist", "账单不存在")

    def fund_transfer(self, call: Call) -> Fields:
        out_biz_no = _text(call.biz, "out_biz_no", required=True, length_max=64)
        amount_fen = _amount(call.biz, "trans_amount", sub_code="INVALID_PARAMETER")
        payee = call.biz.get("payee_info")
        if not isinstance(payee, Mapping):
            raise WireError("INVALID_PARAMETER", "payee_info is required")
        payee_user_id = self._payee_user_id(payee)
        title = _text(call.biz, "order_title", length_max=128) or None
        payout = self.payouts.pay_user(
            call.app.app_id, out_biz_no, payee_user_id, amount_fen, title
        )
        return {
            "out_biz_no": payout.out_biz_no,
            "order_id": payout.order_no,
            "pay_fund_order_id": payout.order_no,
            "status": "SUCCESS",
            "trans_date": format_time(payout.created_at_us),
        }

    def fund_transfer_query(self, call: Call) -> Fields:
        """A transfer's state, by paybao's number (`pay_fund_order_id` or `order_id`: the same
        here, and it wins) or by the app's `out_biz_no`. A payout commits with its money, so
        every transfer found has arrived: SUCCESS."""
        order_no = _text(call.biz, "pay_fund_order_id", length_max=64) or _text(
            call.biz, "order_id", length_max=64
        )
        out_biz_no = _text(call.biz, "out_biz_no", length_max=64)
        if not order_no and out_biz_no:
            # Alipay requires the product and scene with the merchant's own number.
            _text(call.biz, "product_code", required=True, length_max=64)
            _text(call.biz, "biz_scene", required=True, length_max=64)
        payout = self.payouts.find(
            call.app.app_id, out_biz_no=out_biz_no or None, order_no=order_no or None
        )
        return {
            "order_id": payout.order_no,
            "pay_fund_order_id": payout.order_no,
            "out_biz_no": payout.out_biz_no,
            "trans_amount": wire.format_amount(payout.amount_fen),
            "status": "SUCCESS",
            "pay_date": format_time(payout.created_at_us),
            "order_fee": "0.00",
        }

    def fund_account(self, call: Call) -> Fields:
        """The balance of the calling app's merchant (its settlement account): a merchant asks
        about itself only: another party's id is refused (INVALID_PARAMETER: ours, Alipay does
        not document the case)."""
        user_id = _text(call.biz, "alipay_user_id", length_max=28)
        account_type = _text(call.biz, "account_type", length_max=32) or "ACCTRANS_ACCOUNT"
        if account_type != "ACCTRANS_ACCOUNT":
            raise WireError("INVALID_PARAMETER", "account_type must be ACCTRANS_ACCOUNT")
        if user_id and user_id != seller_wire_id(call.app.merchant_id):
            raise WireError("INVALID_PARAMETER", "只能查询本商户的账户")
        balance = self.payouts.merchant_balance(call.app.app_id)
        return {
            "available_amount": wire.format_amount(balance.available_fen),
            "freeze_amount": wire.format_amount(balance.pending_debits_fen),
            "total_amount": wire.format_amount(balance.balance_fen),
        }

    def _payee_user_id(self, payee: Mapping[str, object]) -> int:
        identity = str(payee.get("identity") or "")
        identity_type = str(payee.get("identity_type") or "")
        user_id: int | None = None
        if identity_type in ("ALIPAY_USER_ID", "ALIPAY_OPEN_ID"):
            user_id = user_id_from_wire(identity)
        elif identity_type == "ALIPAY_LOGON_ID":
            found = self.users.find_by_phone(identity)
            user_id = found.id if found is not None else None
        else:
            raise WireError("INVALID_PARAMETER", "identity_type is not supported")
        if user_id is None or not self._user_exists(user_id):
            raise WireError("PAYEE_NOT_EXIST", "收款账号不存在")
        return user_id

    def _user_exists(self, user_id: int) -> bool:
        try:
            self.users.get(user_id)
        except NotFound:
            return False
        return True

    # Shared -------------------------------------------------------------------------------

    def _new_trade(self, call: Call, *, visible: bool = True) -> NewTrade:
        biz = call.biz
        out_trade_no = _text(biz, "out_trade_no", required=True, length_max=64)
        total_fen = _amount(biz, "total_amount")
        subject = _text(biz, "subject", required=True, length_max=256)
        product = call.method.removeprefix("alipay.trade.")
        undiscountable_fen = _undiscountable_fen(biz, total_fen)
        terms = installment_terms(biz)
        context = {"sign_type": call.common.sign_type, "charset": call.charset}
        context["method"] = call.method
        if call.common.app_id != call.app.app_id:  # an ISV made it (on_behalf.py): its notify
            context[ISV_APP_KEY] = call.common.app_id
        return NewTrade(
            app_id=call.app.app_id,
            out_trade_no=out_trade_no,
            product=product,
            subject=subject,
            total_fen=total_fen,
            fingerprint=_fingerprint(product, total_fen, subject, undiscountable_fen, terms),
            body=_text(biz, "body", length_max=400) or None,
            notify_url=call.common.notify_url,
            return_url=call.common.return_url,
            passback=_text(biz, "passback_params", length_max=512) or None,
            channel_context=json.dumps(context, separators=(",", ":")),
            visible=visible,
            store_id=_text(biz, "store_id", length_max=64) or None,
            operator_id=_text(biz, "operator_id", length_max=28) or None,
            terminal_id=_text(biz, "terminal_id", length_max=32) or None,
            timeout_s=_timeout_s(biz),
            expires_at_us=_time_expire_us(biz, call.now_us),
            undiscountable_fen=undiscountable_fen,
            installment_terms=terms,
        )

    def _paid_fields(self, trade: Trade) -> Fields:
        fields: Fields = {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}
        fields.update(self._buyer_fields(trade))
        fields["total_amount"] = wire.format_amount(trade.total_fen)
        fields.update(self._paid_amounts(trade))
        fields["gmt_payment"] = format_time(trade.paid_at_us)
        fields["fund_bill_list"] = self._fund_bill_list(trade, trade.fund_bills())
        fields.update(self._voucher_fields(trade))
        return fields

    def _fund_bill_list(self, trade: Trade, bills: Sequence[FundBill]) -> list[dict[str, str]]:
        """The trade's payment (or a refund) by channel: fund_bill_list, and
        refund_detail_item_list (a refund goes back the way the money came)."""
        card_type = self.card_type_of(trade.trade_no) if trade.funding is Funding.CARD else None
        return fund_bill_list(bills, card_type)

    def _refund_bills(self, trade: Trade, refund: Refund) -> list[dict[str, str]]:
        bills = fund_bills(
            trade.funding, refund.buyer_fen, refund.discount_back_fen, refund.mdiscount_back_fen
        )
        return self._fund_bill_list(trade, bills)

    def _paid_amounts(self, trade: Trade) -> Fields:
        return dict(paid_amounts(trade))

    def _voucher_fields(self, trade: Trade) -> Fields:
        """A discounted trade's discount_amount, mdiscount_amount and voucher_detail_list."""
        if not _discounted(trade):
            return {}
        return {
            "discount_amount": wire.format_amount(trade.discount_fen),
            "mdiscount_amount": wire.format_amount(trade.mdiscount_fen),
            "voucher_detail_list": voucher_detail_list(self.vouchers_of(trade.trade_no)),
        }

    def _installment_fields(self, trade: Trade) -> Fields:
        """A trade paid in Huabei installments: hb_fq_pay_info (the number of periods)."""
        if trade.funding is not Funding.CREDIT:
            return {}
        count = self.installments_of(trade.trade_no)
        return {} if count is None else {"hb_fq_pay_info": hb_fq_pay_info(count)}

    def _buyer_fields(self, trade: Trade) -> Fields:
        if trade.buyer_user_id is None:
            return {}
        return self._user_fields(trade.buyer_user_id)

    def _user_fields(self, user_id: int) -> Fields:
        return {
            "buyer_logon_id": self.buyer_logon_id(user_id),
            "buyer_user_id": user_wire_id(user_id),
        }

    def buyer_logon_id(self, user_id: int) -> str:
        return self.logon_ids.of(user_id)

    def cashier_url(self, trade: Trade) -> str:
        return f"{self.base_url}/cashier/{trade.trade_no}"

    def qr_url(self, trade: Trade) -> str:
        return f"{self.base_url}/cashier/{trade.trade_no}?scan=1"


def paid_amounts(trade: Trade) -> dict[str, str]:
    """The split of a paid trade: receipt (total less the merchant's discount), what the buyer
    paid (also the invoice amount: paybao has no points)."""
    buyer_pay = wire.format_amount(trade.buyer_pay_fen)
    return {
        "receipt_amount": wire.format_amount(trade.receipt_fen),
        "buyer_pay_amount": buyer_pay,
        "invoice_amount": buyer_pay,
        "point_amount": "0.00",
    }


def voucher_detail_list(vouchers: Sequence[VoucherDetail]) -> list[dict[str, str]]:
    """Alipay's voucher_detail_list: each coupon, what it took, who funded it."""
    items = []
    for voucher in vouchers:
        amount = wire.format_amount(voucher.amount_fen)
        by_merchant = voucher.funder is DiscountFunder.MERCHANT
        items.append(
            {
                "id": str(voucher.coupon_id),
                "name": voucher.name,
                "type": VOUCHER_TYPES[voucher.kind],
                "amount": amount,
                "merchant_contribute": amount if by_merchant else "0.00",
                "other_contribute": "0.00" if by_merchant else amount,
                "template_id": str(voucher.template_id),
            }
        )
    return items


def _discounted(trade: Trade) -> bool:
    return bool(trade.discount_fen or trade.mdiscount_fen)


def _refund_parts(trade: Trade, refund: Refund) -> Fields:
    """A discounted trade's refund, by who gets it (Alipay's present_refund_* fields)."""
    if not _discounted(trade):
        return {}
    return {
        "present_refund_buyer_amount": wire.format_amount(refund.buyer_fen),
        "present_refund_discount_amount": wire.format_amount(refund.discount_back_fen),
        "present_refund_mdiscount_amount": wire.format_amount(refund.mdiscount_back_fen),
    }


def fund_type(bill: FundBill, card_type: str | None) -> str | None:
    """A BANKCARD bill's fund_type (DEBIT_CARD | CREDIT_CARD); None for other channels, or
    when the card's type is unknown."""
    if bill.funding is not Funding.CARD or card_type is None:
        return None
    return FUND_TYPES.get(card_type)


def fund_bill_list(bills: Sequence[FundBill], card_type: str | None = None) -> list[dict[str, str]]:
    """An API response's fund_bill_list (and refund_detail_item_list): snake_case keys, the
    card's fund_type on a BANKCARD bill (`card_type`: the paying card's, 'DC' | 'CC')."""
    items = []
    for bill in bills:
        item = {
            "fund_channel": FUND_CHANNELS[bill.funding],
            "amount": wire.format_amount(bill.amount_fen),
        }
        kind = fund_type(bill, card_type)
        if kind is not None:
            item["fund_type"] = kind
        items.append(item)
    return items


def fund_bill_list_json(bills: Sequence[FundBill], card_type: str | None = None) -> str:
    """The notification's fund_bill_list: a JSON string with camelCase keys (§3), so the
    card's type is `fundType`."""
    items = []
    for bill in bills:
        item = {
            "amount": wire.format_amount(bill.amount_fen),
            "fundChannel": FUND_CHANNELS[bill.funding],
        }
        kind = fund_type(bill, card_type)
        if kind is not None:
            item["fundType"] = kind
        items.append(item)
    return json.dumps(items, separators=(",", ":"))


def _fingerprint(
    product: str,
    total_fen: int,
    subject: str,
    undiscountable_fen: int = 0,
    terms: InstallmentTerms = TERMS_DEFAULT,
) -> str:
    parts: list[object] = [product, total_fen, subject]
    if undiscountable_fen:  # orders without it keep the fingerprint they always had
        parts.append(undiscountable_fen)
    if terms != TERMS_DEFAULT:  # other Huabei terms with the same out_trade_no: another order
        parts.append(
            [terms.count, terms.seller_percent, terms.installments_allowed, terms.credit_allowed]
        )
    text = json.dumps(parts, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def hb_fq_pay_info(count: int) -> dict[str, str]:
    """Alipay's hb_fq_pay_info: the number of Huabei periods the buyer paid in."""
    return {"user_install_num": str(count)}


def installment_terms(biz: Mapping[str, object]) -> InstallmentTerms:
    """What the order says about Huabei: extend_params' hb_fq_num and hb_fq_seller_percent,
    and the pay channels (enable_pay_channels / disable_pay_channels, never both)."""
    extend = biz.get("extend_params")
    if isinstance(extend, str) and extend.strip():
        try:
            extend = json.loads(extend)
        except ValueError:
            raise WireError(
                "ACQ.INVALID_PARAMETER", "extend_params must be a JSON object"
            ) from None
    if extend in (None, ""):
        extend = {}
    if not isinstance(extend, Mapping):
        raise WireError("ACQ.INVALID_PARAMETER", "extend_params must be a JSON object")
    count = _small_number(extend, "hb_fq_num")
    seller_percent = _small_number(extend, "hb_fq_seller_percent")
    enabled = _channels(biz, "enable_pay_channels")
    disabled = _channels(biz, "disable_pay_channels")
    if enabled is not None and disabled is not None:
        raise WireError(
            "ACQ.INVALID_PARAMETER",
            "enable_pay_channels and disable_pay_channels exclude each other",
        )
    return InstallmentTerms(
        count=count,
        seller_percent=seller_percent or 0,
        installments_allowed=_channel_allowed(CHANNEL_INSTALLMENT, enabled, disabled),
        credit_allowed=_channel_allowed(CHANNEL_CREDIT, enabled, disabled),
    )


def _small_number(extend: Mapping[str, object], key: str) -> int | None:
    value = extend.get(key)
    if value is None or value == "":
        return None
    text = str(value)
    if isinstance(value, bool) or not text.isdigit() or len(text) > 3:
        raise WireError("ACQ.INVALID_PARAMETER", f"{key} must be a number")
    return int(text)


def _channels(biz: Mapping[str, object], key: str) -> frozenset[str] | None:
    text = _text(biz, key, length_max=PAY_CHANNELS_LENGTH_MAX)
    if not text:
        return None
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def _channel_allowed(
    channel: str, enabled: frozenset[str] | None, disabled: frozenset[str] | None
) -> bool:
    named = {channel, CHANNEL_CREDIT_GROUP}
    if enabled is not None:
        return bool(named & enabled)
    if disabled is not None:
        return not named & disabled
    return True


def _undiscountable_fen(biz: Mapping[str, object], total_fen: int) -> int:
    """The part of the total no coupon may take: undiscountable_amount, or total less
    discountable_amount; given both, they must add up to the total."""
    has_discountable = biz.get("discountable_amount") not in (None, "")
    has_undiscountable = biz.get("undiscountable_amount") not in (None, "")
    discountable = _amount(biz, "discountable_amount", zero=True) if has_discountable else None
    undiscountable = (
        _amount(biz, "undiscountable_amount", zero=True) if has_undiscountable else None
    )
    if undiscountable is None:
        undiscountable = 0 if discountable is None else total_fen - discountable
    if undiscountable < 0 or undiscountable > total_fen:
        raise WireError("ACQ.INVALID_PARAMETER", "discountable_amount exceeds total_amount")
    if discountable is not None and discountable + undiscountable != total_fen:
        raise WireError(
            "ACQ.INVALID_PARAMETER",
            "discountable_amount + undiscountable_amount must equal total_amount",
        )
    return undiscountable


def _ref(biz: Mapping[str, object]) -> TradeRef:
    trade_no = _text(biz, "trade_no", length_max=64) or None
    out_trade_no = _text(biz, "out_trade_no", length_max=64) or None
    if trade_no is None and out_trade_no is None:
        raise WireError("ACQ.INVALID_PARAMETER", "缺少必选参数 out_trade_no 或 trade_no")
    return TradeRef(trade_no=trade_no, out_trade_no=out_trade_no)


def _text(
    biz: Mapping[str, object], key: str, *, required: bool = False, length_max: int = 256
) -> str:
    value = biz.get(key)
    if value is None or value == "":
        if required:
            raise WireError("ACQ.INVALID_PARAMETER", f"缺少必选参数 {key}")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise WireError("ACQ.INVALID_PARAMETER", f"{key} must be a string")
    text = str(value)
    if len(text) > length_max:
        raise WireError("ACQ.INVALID_PARAMETER", f"{key} is longer than {length_max}")
    return text


def _amount(
    biz: Mapping[str, object],
    key: str,
    *,
    sub_code: str = "ACQ.INVALID_PARAMETER",
    zero: bool = False,
) -> int:
    value = biz.get(key)
    if value is None or value == "":
        raise WireError(sub_code, f"缺少必选参数 {key}")
    if zero and str(value) in ("0", "0.0", "0.00"):
        return 0  # a split's part may be nothing (an amount otherwise starts at 0.01)
    try:
        return wire.parse_amount_fen(value, field=key, sub_code=sub_code)
    except WireError:
        if sub_code.startswith("ACQ.") and _over_maximum(value):
            raise WireError("ACQ.TOTAL_FEE_EXCEED", f"{key} exceeds 100000000.00") from None
        raise


def _over_maximum(value: object) -> bool:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return number.is_finite() and number * 100 > AMOUNT_FEN_MAX


def _timeout_s(biz: Mapping[str, object]) -> int | None:
    text = _text(biz, "timeout_express", length_max=8)
    if not text:
        return None
    unit, number = text[-1:], text[:-1]
    if unit == "c" and number == "1":
        return None  # "until the end of today": handled as time_expire by the caller
    if unit not in _TIMEOUT_UNITS_S or not number.isdigit():
        raise WireError("ACQ.INVALID_PARAMETER", "timeout_express must be like 90m, 2h, 15d")
    seconds = int(number) * _TIMEOUT_UNITS_S[unit]
    if not 60 <= seconds <= PAY_TIMEOUT_S_MAX:
        raise WireError("ACQ.INVALID_PARAMETER", "timeout_express must be 1m .. 15d")
    return seconds


def _time_expire_us(biz: Mapping[str, object], now_us: int) -> int | None:
    if _text(biz, "timeout_express", length_max=8) == "1c":
        today = wire.format_timestamp(datetime_from_us(now_us))[:10]
        return us_from_datetime(wire.parse_timestamp(f"{today} 23:59:59")) + 1_000_000
    text = _text(biz, "time_expire", length_max=19)
    if not text:
        return None
    at = wire.parse_timestamp(text, sub_code="ACQ.INVALID_PARAMETER")
    at_us = us_from_datetime(at)
    if not now_us < at_us <= now_us + PAY_TIMEOUT_S_MAX * 1_000_000:
        raise WireError("ACQ.INVALID_PARAMETER", "time_expire must be within 15 days from now")
    return at_us
