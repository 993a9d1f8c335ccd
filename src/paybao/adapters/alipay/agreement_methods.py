"""Gateway methods of withholding agreements, with Alipay's names and codes.

* `alipay.user.agreement.page.sign` (a page method): a sign request, answered with a redirect to
  paybao's sign page `/agreements/sign/<token>`.
* `alipay.user.agreement.query` and `alipay.user.agreement.unsign`: by `agreement_no`, or by
  `personal_product_code` with `sign_scene` + `external_agreement_no`, or with the user
  (`alipay_user_id` / `alipay_open_id` / `alipay_logon_id`).
* `alipay.trade.pay` with `product_code` GENERAL_WITHHOLDING or CYCLE_PAY_AUTH and
  `agreement_params.agreement_no`: a password-free deduction. Other `alipay.trade.pay` calls go
  on to the till-code payment as before (`pay_router`). A deduction takes the signer's best
  coupons as a till payment does (`undiscountable_amount` / `discountable_amount` apply), and
  answers with the same split (receipt_amount, buyer_pay_amount, discount_amount,
  mdiscount_amount, voucher_detail_list, DISCOUNT / MDISCOUNT in fund_bill_list).

Refusals use Alipay's sub_codes where they exist. Sources: deduction codes (ACQ.AGREEMENT_*,
ACQ.CYCLE_PAY_*, ACQ.PRODUCT_AMOUNT_LIMIT_ERROR, ACQ.BUYER_PAYMENT_AMOUNT_*_LIMIT_ERROR) from the
trade.pay code list as mirrored in github.com/Bishoptylaor/paypay alipay/utils/busserr.go; the
agreement API's unprefixed USER_AGREEMENT_NOT_EXIST, AGREEMENT_HAS_UNSIGNED and
PRODUCT_CODE_NOT_SUPPORTED_ERROR from the same file and developer.aliyun.com/ask/285584.
`PAYBAO.AGREEMENT_EXISTS` (a signed agreement holds the external number) is ours.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import date
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
    user_id_from_wire,
    user_wire_id,
)
from paybao.adapters.alipay.on_behalf import isv_context
from paybao.domain.agreements import (
    SIGN_SCENE_DEFAULT,
    PeriodRule,
    PeriodType,
    Product,
    product_of,
)
from paybao.services.agreements import (
    Agreement,
    AgreementRef,
    AgreementService,
    NewSignRequest,
)
from paybao.services.withholding import DeductionRequest, WithholdingService

R = TypeVar("R")
SIGN_METHOD: Final = "alipay.user.agreement.page.sign"
WITHHOLDING_PRODUCTS: Final = frozenset(product.value for product in Product)
_ACQ_INVALID: Final = "ACQ.INVALID_PARAMETER"
_FIELDS: Final = BizFields("INVALID_PARAMETER")
_text = _FIELDS.text
ACCESS_CHANNELS: Final = frozenset({"ALIPAYAPP", "QRCODE", "QRCODEORSMS"})
# Domain refusals of a deduction (alipay.trade.pay) as Alipay's sub_codes.
DEDUCTION_SUB_CODES: Final[Mapping[str, str]] = {
    "agreement_not_found": "ACQ.AGREEMENT_NOT_EXIST",
    "agreement_invalid": "ACQ.AGREEMENT_INVALID",
    "agreement_status_not_normal": "ACQ.AGREEMENT_STATUS_NOT_NORMAL",
    "agreement_product_mismatch": "ACQ.AGREEMENT_ERROR",
    "cycle_pay_date_not_match": "ACQ.CYCLE_PAY_DATE_NOT_MATCH",
    "cycle_pay_period_used": "ACQ.CYCLE_PAY_DATE_NOT_MATCH",
    "cycle_pay_single_fee_exceed": "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED",
    "cycle_pay_total_fee_exceed": "ACQ.CYCLE_PAY_TOTAL_FEE_EXCEED",
    "cycle_pay_total_times_exceed": "ACQ.CYCLE_PAY_TOTAL_TIMES_EXCEED",
    "withholding_single_limit": "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR",
    "withholding_day_limit": "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR",
    "withholding_month_limit": "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR",
    "agreement_user_cap_exceeded": "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR",
}
# Domain refusals of the agreement API (page.sign, query, unsign): unprefixed, as Alipay's.
AGREEMENT_SUB_CODES: Final[Mapping[str, str]] = {
    "agreement_not_found": "USER_AGREEMENT_NOT_EXIST",
    "agreement_already_unsigned": "AGREEMENT_HAS_UNSIGNED",
    "agreement_product_not_supported": "PRODUCT_CODE_NOT_SUPPORTED_ERROR",
    "agreement_exists": "PAYBAO.AGREEMENT_EXISTS",
    "agreement_ref": "INVALID_PARAMETER",
    "invalid_period_rule": "INVALID_PARAMETER",
    "invalid_validity": "INVALID_PARAMETER",
    "invalid_sign_scene": "INVALID_PARAMETER",
    "invalid_external_agreement_no": "INVALID_PARAMETER",
    "invalid_external_logon_id": "INVALID_PARAMETER",
    "app_not_found": "isv.invalid-app-id",
}


class AgreementMethods:
    def __init__(
        self,
        *,
        agreements: AgreementService,
        withholding: WithholdingService,
        methods: Methods,
        merchants: Any,
        users: Any,
    ) -> None:
        self.agreements = agreements
        self.withholding = withholding
        self.methods = methods
        self.merchants = merchants
        self.users = users

    def install(self, gateway: AlipayGateway) -> None:
        """Join the gateway's tables: the page method, the two API methods, and the
        withholding branch in front of alipay.trade.pay."""
        gateway.pages[SIGN_METHOD] = translated(self.page_sign, AGREEMENT_SUB_CODES)
        self.methods.table["alipay.user.agreement.query"] = translated(
            self.query, AGREEMENT_SUB_CODES
        )
        self.methods.table["alipay.user.agreement.unsign"] = translated(
            self.unsign, AGREEMENT_SUB_CODES
        )
        till_pay = self.methods.table["alipay.trade.pay"]
        self.methods.table["alipay.trade.pay"] = self.pay_router(till_pay)

    # Sign requests --------------------------------------------------------------------------

    def page_sign(self, call: Call) -> str:
        new = self._sign_request(call)
        agreement = self.agreements.request_sign(new)
        return f"{self.methods.base_url}/agreements/sign/{agreement.sign_token}"

    def _sign_request(self, call: Call) -> NewSignRequest:
        biz = call.biz
        product = product_of(
            _text(biz, "product_code", 64) or None, _text(biz, "personal_product_code", 64, True)
        )
        access = biz.get("access_params")
        if access is not None:
            channel = access.get("channel") if isinstance(access, Mapping) else None
            if channel not in ACCESS_CHANNELS:
                raise WireError("INVALID_PARAMETER", "access_params.channel is not supported")
        rule = _period_rule(biz.get("period_rule_params"))
        isv = isv_context(call.common, call.app)
        # No notify_url: the caller's own (an ISV's, when it asks for a merchant, on_behalf.py).
        caller = self.merchants.app(call.common.app_id) if isv else call.app
        merchant = self.merchants.merchant(caller.merchant_id)
        terms = {
            "product": product.value,
            "sign_scene": _text(biz, "sign_scene", 64) or SIGN_SCENE_DEFAULT,
            "external_agreement_no": _text(biz, "external_agreement_no", 32) or None,
            "external_logon_id": _text(biz, "external_logon_id", 100) or None,
            "validity": _text(biz, "sign_validity_period", 8) or None,
            "notify_url": call.common.notify_url or merchant.notify_url,
            "return_url": call.common.return_url,
        }
        context = {"sign_type": call.common.sign_type, "charset": call.charset, **isv}
        return NewSignRequest(
            app_id=call.app.app_id,
            product=product,
            sign_scene=str(terms["sign_scene"]),
            fingerprint=terms_digest([terms, _rule_terms(rule)]),
            external_agreement_no=terms["external_agreement_no"],
            external_logon_id=terms["external_logon_id"],
            rule=rule,
            validity=terms["validity"],
            notify_url=terms["notify_url"],
            return_url=terms["return_url"],
            channel_context=json.dumps(context, separators=(",", ":")),
        )

    # Query and unsign -----------------------------------------------------------------------

    def query(self, call: Call) -> Fields:
        agreement = self.agreements.query(call.app.app_id, self._ref(call.biz))
        return self.agreement_answer(agreement)

    def unsign(self, call: Call) -> Fields:
        self.agreements.unsign_by_merchant(call.app.app_id, self._ref(call.biz))
        return {}

    def agreement_answer(self, agreement: Agreement) -> Fields:
        """alipay.user.agreement.query's fields (the official SDK's response class names)."""
        assert agreement.user_id is not None
        fields: Fields = {
            "agreement_no": agreement.agreement_no,
            "principal_id": user_wire_id(agreement.user_id),
            "principal_open_id": user_wire_id(agreement.user_id),
            "alipay_logon_id": self.methods.buyer_logon_id(agreement.user_id),
            "pricipal_type": "CARD",  # sic: Alipay's spelling
            "personal_product_code": agreement.personal_product_code,
            "sign_scene": agreement.sign_scene,
            "status": str(agreement.status),
            "sign_time": format_time(agreement.signed_at_us),
            "valid_time": format_time(agreement.signed_at_us),
            "invalid_time": format_time(agreement.invalid_at_us),
            "third_party_type": "PARTNER",
        }
        if agreement.external_agreement_no:
            fields["external_agreement_no"] = agreement.external_agreement_no
        if agreement.external_logon_id:
            fields["external_logon_id"] = agreement.external_logon_id
        if agreement.last_deduct_at_us is not None:
            fields["last_deduct_time"] = format_time(agreement.last_deduct_at_us)
        next_due = self.agreements.next_deduct_date(agreement)
        if next_due is not None:
            fields["next_deduct_time"] = next_due.isoformat()
        if agreement.rule is not None:
            fields["single_quota"] = wire.format_amount(agreement.rule.single_amount_fen)
        return fields

    def _ref(self, biz: Mapping[str, object]) -> AgreementRef:
        agreement_no = _text(biz, "agreement_no", 32)
        if agreement_no:
            return AgreementRef(agreement_no=agreement_no)
        personal = _text(biz, "personal_product_code", 64)
        if not personal:
            message = "缺少必选参数 agreement_no 或 personal_product_code"
            raise WireError("INVALID_PARAMETER", message)
        return AgreementRef(
            product=product_of(None, personal),
            sign_scene=_text(biz, "sign_scene", 64) or None,
            external_agreement_no=_text(biz, "external_agreement_no", 32) or None,
            user_id=self._user_of(biz),
        )

    def _user_of(self, biz: Mapping[str, object]) -> int | None:
        for key in ("alipay_user_id", "alipay_open_id"):
            text = _text(biz, key, 64)
            if text:
                user_id = user_id_from_wire(text)
                if user_id is None:
                    raise WireError("USER_AGREEMENT_NOT_EXIST", "用户协议不存在")
                return user_id
        logon_id = _text(biz, "alipay_logon_id", 100)
        if not logon_id:
            return None
        found = self.users.find_by_phone(logon_id)
        if found is None:
            raise WireError("USER_AGREEMENT_NOT_EXIST", "用户协议不存在")
        return int(found.id)

    # Deductions -----------------------------------------------------------------------------

    def pay_router(self, till_pay: Callable[[Call], Fields]) -> Callable[[Call], Fields]:
        """alipay.trade.pay: a withholding product goes to `deduct`, the rest to the till."""
        deduct = translated(self.deduct, DEDUCTION_SUB_CODES)

        def pay(call: Call) -> Fields:
            product_code = _text(call.biz, "product_code", 64, sub_code=_ACQ_INVALID)
            if product_code in WITHHOLDING_PRODUCTS or "agreement_params" in call.biz:
                return deduct(call)
            return till_pay(call)

        return pay

    def deduct(self, call: Call) -> Fields:
        product_code = _text(call.biz, "product_code", 64, sub_code=_ACQ_INVALID)
        if product_code not in WITHHOLDING_PRODUCTS:
            message = "代扣的 product_code 须为 GENERAL_WITHHOLDING 或 CYCLE_PAY_AUTH"
            raise WireError(_ACQ_INVALID, message)
        product = Product(product_code)
        params = call.biz.get("agreement_params")
        agreement_no = params.get("agreement_no") if isinstance(params, Mapping) else None
        if not isinstance(agreement_no, str) or not 0 < len(agreement_no) <= 32:
            raise WireError(_ACQ_INVALID, "缺少必选参数 agreement_params.agreement_no")
        # The Methods helpers parse the order the way every alipay.trade.* method does.
        parsed = self.methods._new_trade(call)
        terms: list[object] = [product.value, agreement_no, parsed.total_fen, parsed.subject]
        if parsed.undiscountable_fen:  # it prices the coupons; orders without it keep theirs
            terms.append(parsed.undiscountable_fen)
        new = dataclasses.replace(parsed, product=product.value, fingerprint=terms_digest(terms))
        trade = self.withholding.deduct(DeductionRequest(new, agreement_no, product))
        return self.methods._paid_fields(trade)


def _period_rule(value: object) -> PeriodRule | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise WireError("INVALID_PARAMETER", "period_rule_params must be an object")
    period_type = _text(value, "period_type", 8, True)
    if period_type not in ("DAY", "MONTH"):
        raise WireError("INVALID_PARAMETER", "period_type must be DAY or MONTH")
    period = _text(value, "period", 4, True)
    if not period.isdigit():
        raise WireError("INVALID_PARAMETER", "period must be a whole number")
    execute = _text(value, "execute_time", 10, True)
    try:
        execute_date = date.fromisoformat(execute)
    except ValueError:
        raise WireError("INVALID_PARAMETER", "execute_time must be yyyy-MM-dd") from None
    total_payments = _text(value, "total_payments", 6)
    if total_payments and not total_payments.isdigit():
        raise WireError("INVALID_PARAMETER", "total_payments must be a whole number")
    return PeriodRule(
        period_type=PeriodType(period_type),
        period=int(period),
        execute_date=execute_date,
        single_amount_fen=_amount(value, "single_amount", required=True) or 0,
        total_amount_fen=_amount(value, "total_amount"),
        total_payments=int(total_payments) if total_payments else None,
    )


def _rule_terms(rule: PeriodRule | None) -> list[object] | None:
    if rule is None:
        return None
    return [
        str(rule.period_type),
        rule.period,
        rule.execute_date.isoformat(),
        rule.single_amount_fen,
        rule.total_amount_fen,
        rule.total_payments,
    ]


def _amount(biz: Mapping[str, object], key: str, *, required: bool = False) -> int | None:
    return _FIELDS.amount_fen(biz, key) if required else _FIELDS.optional_amount_fen(biz, key)
