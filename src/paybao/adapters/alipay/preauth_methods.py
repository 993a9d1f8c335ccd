"""Gateway methods of fund pre-authorisation (资金预授权), with Alipay's names and codes.

* `alipay.fund.auth.order.freeze`: a till scans the user's payment code (`auth_code`,
  `auth_code_type` bar_code | security_code), `out_order_no`, `out_request_no`, `order_title`,
  `amount`, `product_code` PRE_AUTH; answers `auth_no`, `operation_id`, `status` SUCCESS.
* `alipay.fund.auth.order.app.freeze` (a page method, as alipay.trade.app.pay here): the order
  string opened against the gateway redirects to paybao's confirmation page, where the user
  confirms with the payment password; `pay_timeout` (default 15m) is the time to do so.
* `alipay.fund.auth.operation.detail.query`: the order (`auth_no` or `out_order_no`) and one
  operation (`operation_id`, or `out_request_no` with `operation_type`; default the freeze).
* `alipay.fund.auth.order.unfreeze`: `auth_no`, `out_request_no` (idempotent), `amount`, `remark`.
* `alipay.fund.auth.operation.cancel`: undo a freeze whose outcome is unknown; `action` close
  (nothing was frozen) or unfreeze.
* `alipay.trade.pay` with `auth_no` and `product_code` PRE_AUTH (or PRE_AUTH_ONLINE), and
  `auth_confirm_mode` COMPLETE | NOT_COMPLETE (default): a trade paid from the freeze. Other
  `alipay.trade.pay` calls go on to the next handler as before (`pay_router`). The user's best
  coupons apply as at a till (the freeze pays `buyer_pay_amount`), and the answer carries the
  same split as any paid trade (services/preauth.py).

Where the names come from: request and response fields are the official SDK's model and
response classes (alipay-sdk-python 3.7: AlipayFundAuthOrderFreezeModel, ...Response, and
AlipayTradePayModel's auth_no / auth_confirm_mode); order and operation states from the detail
query's documented example (apifox mirror of Alipay's docs, docs-site/3618910/api-127338885);
the default NOT_COMPLETE and product codes from Alipay's trade.pay field text (mirrored in
docs.rs ruipay AlipayPreAuthOnlinePayModel); the default pay_timeout 15m from
developer.aliyun.com/ask/285606. Codes: ILLEGAL_ARGUMENT, AUTH_ORDER_NOT_EXIST and
AUTH_OPERATION_NOT_EXIST from the detail query's error table (same mirror);
REQUEST_AMOUNT_EXCEED, ORDER_ALREADY_FINISH and ORDER_ALREADY_CLOSED from Alipay's answers in
developer.aliyun.com/ask/285633, 285622 and 285628; ACQ.AUTH_NO_ERROR (alipay.trade.pay with an
unusable auth_no) from developer.aliyun.com/ask/260622; PAYER_BALANCE_NOT_ENOUGH is the fund
family's code as alipay.fund.trans.uni.transfer answers it. Our own, where we found none:
PAYMENT_AUTH_CODE_INVALID (the trade code without its ACQ. prefix),
PAYBAO.ORDER_NOT_AUTHORIZED, PAYBAO.REQUEST_INCONSISTENT and PAYBAO.CANCEL_NOT_ALLOWED.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.biz_fields import BizFields, terms_digest
from paybao.adapters.alipay.errors import WireError, translated
from paybao.adapters.alipay.gateway import AlipayGateway
from paybao.adapters.alipay.methods import (
    Call,
    Fields,
    Methods,
    format_time,
    seller_wire_id,
    user_id_from_wire,
    user_wire_id,
)
from paybao.adapters.alipay.on_behalf import isv_context
from paybao.domain.preauth import (
    TIMEOUT_S_MAX,
    TIMEOUT_S_MIN,
    CancelAction,
    ConfirmMode,
    OperationType,
    ProductCode,
)
from paybao.services.preauth import PreauthService
from paybao.services.preauth_records import (
    NewFreeze,
    Operation,
    OperationRef,
    OrderRef,
    PayRequest,
    PreauthOrder,
)

R = TypeVar("R")
FREEZE_METHOD: Final = "alipay.fund.auth.order.freeze"
APP_FREEZE_METHOD: Final = "alipay.fund.auth.order.app.freeze"
QUERY_METHOD: Final = "alipay.fund.auth.operation.detail.query"
UNFREEZE_METHOD: Final = "alipay.fund.auth.order.unfreeze"
CANCEL_METHOD: Final = "alipay.fund.auth.operation.cancel"
PRODUCT_CODES: Final = frozenset(code.value for code in ProductCode)
AUTH_CODE_TYPES: Final = frozenset({"bar_code", "security_code"})
_ILLEGAL: Final = "ILLEGAL_ARGUMENT"
_ACQ_INVALID: Final = "ACQ.INVALID_PARAMETER"
_FIELDS: Final = BizFields(_ILLEGAL)
_text = _FIELDS.text
_amount = _FIELDS.amount_fen
_TIMEOUT_UNITS_S: Final = {"m": 60, "h": 3600, "d": 86_400}
# Domain refusals of the fund-auth methods as their (unprefixed) sub_codes; others go on to
# the gateway's own table (frozen account, balance-payment limit, ...).
FUND_AUTH_SUB_CODES: Final[Mapping[str, str]] = {
    "preauth_order_not_found": "AUTH_ORDER_NOT_EXIST",
    "preauth_operation_not_found": "AUTH_OPERATION_NOT_EXIST",
    "preauth_amount_exceeds_rest": "REQUEST_AMOUNT_EXCEED",
    "preauth_order_finished": "ORDER_ALREADY_FINISH",
    "preauth_order_closed": "ORDER_ALREADY_CLOSED",
    "preauth_not_authorized": "PAYBAO.ORDER_NOT_AUTHORIZED",
    "preauth_request_mismatch": "PAYBAO.REQUEST_INCONSISTENT",
    "preauth_cancel_not_allowed": "PAYBAO.CANCEL_NOT_ALLOWED",
    "buyer_balance_not_enough": "PAYER_BALANCE_NOT_ENOUGH",
    "exceeds_credits": "PAYER_BALANCE_NOT_ENOUGH",
    "payment_auth_code_invalid": "PAYMENT_AUTH_CODE_INVALID",
    "invalid_amount": _ILLEGAL,
    "invalid_out_order_no": _ILLEGAL,
    "invalid_out_request_no": _ILLEGAL,
    "invalid_order_title": _ILLEGAL,
    "invalid_remark": _ILLEGAL,
    "invalid_timeout": _ILLEGAL,
}
# The same refusals of alipay.trade.pay with auth_no, as trade codes.
PAY_SUB_CODES: Final[Mapping[str, str]] = {
    "preauth_order_not_found": "ACQ.AUTH_NO_ERROR",
    "preauth_not_authorized": "ACQ.AUTH_NO_ERROR",
    "preauth_order_finished": "ACQ.AUTH_NO_ERROR",
    "preauth_order_closed": "ACQ.AUTH_NO_ERROR",
    "preauth_amount_exceeds_rest": "ACQ.TOTAL_FEE_EXCEED",
    "preauth_not_payer": _ACQ_INVALID,
    "preauth_request_mismatch": "ACQ.CONTEXT_INCONSISTENT",
}


class PreauthMethods:
    def __init__(self, *, preauth: PreauthService, methods: Methods, merchants: Any) -> None:
        self.preauth = preauth
        self.methods = methods
        self.merchants = merchants

    def install(self, gateway: AlipayGateway) -> None:
        """Join the gateway's tables: four API methods, the app freeze page method, and the
        pre-authorisation branch in front of alipay.trade.pay."""
        table = self.methods.table
        table[FREEZE_METHOD] = translated(self.freeze, FUND_AUTH_SUB_CODES)
        table[QUERY_METHOD] = translated(self.query, FUND_AUTH_SUB_CODES)
        table[UNFREEZE_METHOD] = translated(self.unfreeze, FUND_AUTH_SUB_CODES)
        table[CANCEL_METHOD] = translated(self.cancel, FUND_AUTH_SUB_CODES)
        gateway.pages[APP_FREEZE_METHOD] = translated(self.app_freeze, FUND_AUTH_SUB_CODES)
        table["alipay.trade.pay"] = self.pay_router(table["alipay.trade.pay"])

    # Freeze -------------------------------------------------------------------------------

    def freeze(self, call: Call) -> Fields:
        auth_code = _text(call.biz, "auth_code", 64, required=True)
        code_type = _text(call.biz, "auth_code_type", 32) or "bar_code"
        if code_type not in AUTH_CODE_TYPES:
            raise WireError(_ILLEGAL, "auth_code_type must be bar_code or security_code")
        order, freeze = self.preauth.freeze_with_code(self._new_freeze(call), auth_code)
        fields = self._operation_fields(order, freeze)
        fields.update(self._payer_fields(order))
        return fields

    def app_freeze(self, call: Call) -> str:
        """The order string, opened against the gateway: to the confirmation page."""
        order = self.preauth.request_app_freeze(self._new_freeze(call, app=True))
        return f"{self.methods.base_url}/preauth/confirm/{order.confirm_token}"

    def _new_freeze(self, call: Call, *, app: bool = False) -> NewFreeze:
        biz = call.biz
        product_code = _text(biz, "product_code", 32, required=True)
        if product_code not in PRODUCT_CODES:
            raise WireError(_ILLEGAL, "product_code must be PRE_AUTH or PRE_AUTH_ONLINE")
        currency = _text(biz, "trans_currency", 8)
        if currency not in ("", "CNY"):
            raise WireError(_ILLEGAL, "trans_currency: only CNY")
        self._check_payee(call)
        terms = {
            "method": call.method,
            "out_request_no": _text(biz, "out_request_no", 64, required=True),
            "order_title": _text(biz, "order_title", 100, required=True),
            "amount_fen": _amount(biz, "amount"),
            "product_code": product_code,
            "timeout_s": _timeout_s(biz, "timeout_express"),
            "confirm_s": _timeout_s(biz, "pay_timeout") if app else None,
        }
        context = {"sign_type": call.common.sign_type, "charset": call.charset}
        context.update(isv_context(call.common, call.app))  # an ISV's order notifies the ISV
        return NewFreeze(
            app_id=call.app.app_id,
            out_order_no=_text(biz, "out_order_no", 64, required=True),
            out_request_no=str(terms["out_request_no"]),
            title=str(terms["order_title"]),
            amount_fen=int(str(terms["amount_fen"])),
            product_code=product_code,
            fingerprint=terms_digest(terms),
            timeout_s=_optional_int(terms["timeout_s"]),
            confirm_s=_optional_int(terms["confirm_s"]),
            notify_url=call.common.notify_url or self._merchant_notify_url(call),
            return_url=call.common.return_url,
            channel_context=json.dumps(context, separators=(",", ":")),
        )

    def _check_payee(self, call: Call) -> None:
        """payee_user_id, if given, must be this app's merchant (Alipay: the app's PID)."""
        payee = _text(call.biz, "payee_user_id", 32)
        if payee and payee != seller_wire_id(call.app.merchant_id):
            raise WireError(_ILLEGAL, "payee_user_id is not this app's merchant")

    def _merchant_notify_url(self, call: Call) -> str | None:
        """The caller's own notify_url: an ISV's, when it calls for a merchant (on_behalf.py)."""
        caller = (
            self.merchants.app(call.common.app_id)
            if isv_context(call.common, call.app)
            else call.app
        )
        notify_url: str | None = self.merchants.merchant(caller.merchant_id).notify_url
        return notify_url

    # Unfreeze, cancel, query --------------------------------------------------------------

    def unfreeze(self, call: Call) -> Fields:
        biz = call.biz
        order, operation = self.preauth.unfreeze(
            call.app.app_id,
            _text(biz, "auth_no", 64, required=True),
            _text(biz, "out_request_no", 64, required=True),
            _amount(biz, "amount"),
            _text(biz, "remark", 100),
            notify_url=call.common.notify_url,
        )
        return self._operation_fields(order, operation)

    def cancel(self, call: Call) -> Fields:
        order_ref, operation_ref = _refs(call.biz)
        if not (operation_ref.operation_id or operation_ref.out_request_no):
            raise WireError(_ILLEGAL, "缺少必选参数 operation_id 或 out_request_no")
        order, freeze, action = self.preauth.cancel(call.app.app_id, order_ref, operation_ref)
        fields: Fields = {
            "auth_no": order.auth_no,
            "out_order_no": order.out_order_no,
            "action": str(action),
        }
        if freeze is not None:
            fields["operation_id"] = freeze.operation_id
            fields["out_request_no"] = freeze.out_request_no or ""
        elif operation_ref.out_request_no:
            fields["out_request_no"] = operation_ref.out_request_no
        assert action in (CancelAction.CLOSE, CancelAction.UNFREEZE)
        return fields

    def query(self, call: Call) -> Fields:
        order_ref, operation_ref = _refs(call.biz)
        order, operation = self.preauth.query(call.app.app_id, order_ref, operation_ref)
        totals = order.totals
        fields: Fields = {
            "auth_no": order.auth_no,
            "out_order_no": order.out_order_no,
            "order_status": str(order.status),
            "order_title": order.title,
            "total_freeze_amount": wire.format_amount(totals.frozen_fen),
            "total_freeze_fund_amount": wire.format_amount(totals.frozen_fen),
            "total_pay_amount": wire.format_amount(totals.paid_fen),
            "total_pay_fund_amount": wire.format_amount(totals.paid_fen),
            "rest_amount": wire.format_amount(totals.rest_fen),
            "rest_fund_amount": wire.format_amount(totals.rest_fen),
            "gmt_create": format_time(order.created_at_us),
        }
        fields.update(self._payer_fields(order))
        if operation is not None:
            fields.update(self._operation_fields(order, operation))
            fields["operation_type"] = str(operation.kind)
            fields["gmt_create"] = format_time(operation.created_at_us)
            if operation.remark:
                fields["remark"] = operation.remark
        return fields

    def _operation_fields(self, order: PreauthOrder, operation: Operation) -> Fields:
        fields: Fields = {
            "auth_no": order.auth_no,
            "out_order_no": order.out_order_no,
            "operation_id": operation.operation_id,
            "amount": wire.format_amount(operation.amount_fen),
            "fund_amount": wire.format_amount(operation.amount_fen),
            "credit_amount": "0.00",
            "status": str(operation.status),
        }
        if operation.out_request_no:
            fields["out_request_no"] = operation.out_request_no
        if operation.done_at_us is not None:
            fields["gmt_trans"] = format_time(operation.done_at_us)
        return fields

    def _payer_fields(self, order: PreauthOrder) -> Fields:
        if order.user_id is None:
            return {}
        return {
            "payer_user_id": user_wire_id(order.user_id),
            "payer_logon_id": self.methods.buyer_logon_id(order.user_id),
        }

    # Pay from the freeze ------------------------------------------------------------------

    def pay_router(self, next_pay: Callable[[Call], Fields]) -> Callable[[Call], Fields]:
        """alipay.trade.pay: with an auth_no, from the freeze; anything else as before."""
        from_freeze = translated(self.pay, PAY_SUB_CODES)

        def pay(call: Call) -> Fields:
            if call.biz.get("auth_no") not in (None, ""):
                return from_freeze(call)
            return next_pay(call)

        return pay

    def pay(self, call: Call) -> Fields:
        biz = call.biz
        product_code = _text(biz, "product_code", 32, sub_code=_ACQ_INVALID)
        if product_code not in PRODUCT_CODES:
            message = "从冻结支付的 product_code 须为 PRE_AUTH 或 PRE_AUTH_ONLINE"
            raise WireError(_ACQ_INVALID, message)
        auth_no = _text(biz, "auth_no", 64, required=True, sub_code=_ACQ_INVALID)
        mode_text = _text(biz, "auth_confirm_mode", 16, sub_code=_ACQ_INVALID)
        if mode_text not in ("", *ConfirmMode):
            raise WireError(_ACQ_INVALID, "auth_confirm_mode must be COMPLETE or NOT_COMPLETE")
        mode = ConfirmMode(mode_text or ConfirmMode.NOT_COMPLETE)
        # The Methods helper parses the order the way every alipay.trade.* method does.
        parsed = self.methods._new_trade(call)
        terms: list[object] = [product_code, auth_no, str(mode), parsed.total_fen, parsed.subject]
        if parsed.undiscountable_fen:  # it prices the coupons; orders without it keep theirs
            terms.append(parsed.undiscountable_fen)
        new = dataclasses.replace(parsed, fingerprint=terms_digest(terms))
        request = PayRequest(new, auth_no, mode, self._buyer_of(biz))
        return self.methods._paid_fields(self.preauth.pay(request))

    @staticmethod
    def _buyer_of(biz: Mapping[str, object]) -> int | None:
        text = _text(biz, "buyer_id", 32, sub_code=_ACQ_INVALID)
        if not text:
            return None
        user_id = user_id_from_wire(text)
        if user_id is None:
            raise WireError(_ACQ_INVALID, "buyer_id is not the payer of auth_no")
        return user_id


def _refs(biz: Mapping[str, object]) -> tuple[OrderRef, OperationRef]:
    auth_no = _text(biz, "auth_no", 64)
    out_order_no = _text(biz, "out_order_no", 64)
    if not auth_no and not out_order_no:
        raise WireError(_ILLEGAL, "缺少必选参数 auth_no 或 out_order_no")
    kind_text = _text(biz, "operation_type", 16)
    if kind_text not in ("", *OperationType):
        raise WireError(_ILLEGAL, "operation_type must be FREEZE, UNFREEZE or PAY")
    operation_ref = OperationRef(
        operation_id=_text(biz, "operation_id", 64) or None,
        out_request_no=_text(biz, "out_request_no", 64) or None,
        kind=OperationType(kind_text) if kind_text else None,
    )
    return OrderRef(auth_no=auth_no or None, out_order_no=out_order_no or None), operation_ref


def _timeout_s(biz: Mapping[str, object], key: str) -> int | None:
    """`90m`, `2h`, `15d`: 1m .. 15d, Alipay's range for fund-auth orders."""
    text = _text(biz, key, 8)
    if not text:
        return None
    unit, number = text[-1:], text[:-1]
    if unit not in _TIMEOUT_UNITS_S or not number.isdigit():
        raise WireError(_ILLEGAL, f"{key} must be like 90m, 2h, 15d")
    seconds = int(number) * _TIMEOUT_UNITS_S[unit]
    if not TIMEOUT_S_MIN <= seconds <= TIMEOUT_S_MAX:
        raise WireError(_ILLEGAL, f"{key} must be 1m .. 15d")
    return seconds


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))
