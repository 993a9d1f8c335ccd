"""Gateway errors with Alipay's own codes, and the one table that maps sub_code -> code/msg.

A `WireError` carries an Alipay `sub_code` (its stable `code`), the public gateway `code`
(40001, 40002, ...) and the fixed English `msg` that goes with it, so the gateway can render
any failure as a signed `{"code","msg","sub_code","sub_msg"}` object without a lookup of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from paybao.domain.errors import DomainError

# Public gateway codes and their fixed messages (alipay-protocol.md §2.3).
GATEWAY_MESSAGES: Final[dict[str, str]] = {
    "10000": "Success",
    "20000": "Service Currently Unavailable",
    "20001": "Insufficient Token Permissions",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40003": "Insufficient Conditions",
    "40004": "Business Failed",
    "40005": "Call Limited",
    "40006": "Insufficient Permissions",
}

# Sub codes raised by this adapter. Anything not listed must name its gateway code explicitly.
_SUB_CODE_GATEWAY_CODES: Final[dict[str, str]] = {
    "isp.unknow-error": "20000",
    "aop.unknow-error": "20000",
    "aop.invalid-auth-token": "20001",
    "aop.auth-token-time-out": "20001",
    "aop.invalid-app-auth-token": "20001",
    "aop.app-auth-token-time-out": "20001",
    "isv.missing-method": "40001",
    "isv.missing-signature": "40001",
    "isv.missing-signature-type": "40001",
    "isv.missing-app-id": "40001",
    "isv.missing-timestamp": "40001",
    "isv.missing-version": "40001",
    "isv.invalid-signature": "40002",
    "isv.invalid-signature-type": "40002",
    "isv.invalid-app-id": "40002",
    "isv.invalid-method": "40002",
    "isv.invalid-timestamp": "40002",
    "isv.invalid-charset": "40002",
    "isv.invalid-format": "40002",
    "isv.invalid-version": "40002",
    "isv.invalid-parameter": "40002",
    "isv.illegal-json": "40002",
    # Not an Alipay sub_code (Alipay's front proxy just drops huge requests); ours is stable.
    "isv.request-too-large": "40002",
    "isv.missing-signature-config": "40003",
    "isv.app-call-limited": "40005",
    "isv.method-call-limited": "40005",
    "ACQ.INVALID_PARAMETER": "40004",
}


def gateway_code_for(sub_code: str) -> str:
    """The public code that goes with a sub_code; business (ACQ.*) codes default to 40004."""
    known = _SUB_CODE_GATEWAY_CODES.get(sub_code)
    if known is not None:
        return known
    return "40002" if sub_code.startswith("isv.") else "40004"


class WireError(DomainError):
    """A request the gateway refuses. `code` is the Alipay sub_code, e.g. isv.invalid-signature."""

    code = "isv.invalid-parameter"

    def __init__(
        self, sub_code: str, sub_msg: str = "", *, gateway_code: str | None = None
    ) -> None:
        super().__init__(sub_msg or sub_code, code=sub_code)
        self.gateway_code = gateway_code or gateway_code_for(sub_code)
        assert self.gateway_code in GATEWAY_MESSAGES, self.gateway_code

    @property
    def sub_code(self) -> str:
        return self.code

    @property
    def sub_msg(self) -> str:
        return self.message

    @property
    def gateway_msg(self) -> str:
        return GATEWAY_MESSAGES[self.gateway_code]

    def to_response_fields(self) -> dict[str, str]:
        """The object to put under `<method>_response` (then sign it like any response)."""
        return {
            "code": self.gateway_code,
            "msg": self.gateway_msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
        }


class KeyFormatError(DomainError):
    """A key text that is neither PEM nor a bare base64 DER RSA key."""

    code = "invalid_key"


# Domain error codes -> Alipay business sub_codes: the one translation table (§2.3).
SUB_CODE_BY_DOMAIN_CODE: Final[dict[str, str]] = {
    "trade_not_found": "ACQ.TRADE_NOT_EXIST",
    "trade_has_success": "ACQ.TRADE_HAS_SUCCESS",
    "trade_has_close": "ACQ.TRADE_HAS_CLOSE",
    "trade_buyer_not_match": "ACQ.TRADE_BUYER_NOT_MATCH",
    "trade_has_finished": "ACQ.TRADE_HAS_FINISHED",
    "trade_status_error": "ACQ.TRADE_STATUS_ERROR",
    "trade_context_inconsistent": "ACQ.CONTEXT_INCONSISTENT",
    "trade_cancel_time_out": "ACQ.TRADE_CANCEL_TIME_OUT",
    # Alipay's name says "not equal", its meaning is "more than is left to refund".
    "refund_exceeds_paid": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
    "refund_request_mismatch": "ACQ.DISCORDANT_REPEAT_REQUEST",
    "refund_not_allowed": "ACQ.TRADE_NOT_ALLOW_REFUND",
    "seller_balance_not_enough": "ACQ.SELLER_BALANCE_NOT_ENOUGH",
    "buyer_balance_not_enough": "ACQ.BUYER_BALANCE_NOT_ENOUGH",
    "exceeds_credits": "ACQ.BUYER_BALANCE_NOT_ENOUGH",
    "buyer_seller_equal": "ACQ.BUYER_SELLER_EQUAL",
    "payment_auth_code_invalid": "ACQ.PAYMENT_AUTH_CODE_INVALID",
    "barcode_daily_limit": "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR",
    "account_frozen": "ACQ.BUYER_ENABLE_STATUS_FORBID",
    "registration_incomplete": "ACQ.BUYER_ENABLE_STATUS_FORBID",
    "balance_payment_limit_exceeded": "ACQ.BUYER_PAYMENT_AMOUNT_YEAR_LIMIT_ERROR",
    "payment_password_locked": "ACQ.BUYER_ENABLE_STATUS_FORBID",
    "invalid_amount": "ACQ.INVALID_PARAMETER",
    "invalid_out_trade_no": "ACQ.INVALID_PARAMETER",
    "invalid_subject": "ACQ.INVALID_PARAMETER",
    "invalid_timeout": "ACQ.INVALID_PARAMETER",
    "invalid_request_no": "ACQ.INVALID_PARAMETER",
    "invalid_reason": "ACQ.INVALID_PARAMETER",
    "trade_ref": "ACQ.INVALID_PARAMETER",
    # hb_fq_num / hb_fq_seller_percent / pay channels (domain/checkout_installments.py).
    "installment_terms_invalid": "ACQ.INVALID_PARAMETER",
    "app_not_found": "isv.invalid-app-id",
    "temporarily_unavailable": "ACQ.SYSTEM_ERROR",
    # Fund transfers use unprefixed sub_codes (§4).
    "payer_balance_not_enough": "PAYER_BALANCE_NOT_ENOUGH",
    "payee_not_exist": "PAYEE_NOT_EXIST",
    "payout_request_mismatch": "PAYMENT_INFO_INCONSISTENCY",
    "invalid_out_biz_no": "INVALID_PARAMETER",
    "invalid_title": "INVALID_PARAMETER",
    "payout_not_found": "ORDER_NOT_EXIST",
    "payout_key_missing": "INVALID_PARAMETER",
}


def wire_error_for(error: DomainError) -> WireError:
    """A domain refusal as the Alipay error a merchant's code expects."""
    if isinstance(error, WireError):
        return error
    sub_code = SUB_CODE_BY_DOMAIN_CODE.get(error.code, "ACQ.SYSTEM_ERROR")
    return WireError(sub_code, error.message)


A = TypeVar("A")
R = TypeVar("R")


def translated(handler: Callable[[A], R], sub_codes: Mapping[str, str]) -> Callable[[A], R]:
    """A method handler whose domain refusals answer with the feature's own sub_codes (its
    table); a refusal not in the table goes on to the gateway's table as it is."""

    def run(call: A) -> R:
        try:
            return handler(call)
        except WireError:
            raise
        except DomainError as error:
            sub_code = sub_codes.get(error.code)
            if sub_code is None:
                raise
            raise WireError(sub_code, error.message) from None

    return run
