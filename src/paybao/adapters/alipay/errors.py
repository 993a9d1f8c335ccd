"""Gateway errors with Alipay's own codes, and the one table that maps sub_code -> code/msg.

A `WireError` carries an Alipay `sub_code` (its stable `code`), the public gateway `code`
(40001, 40002, ...) and the fixed English `msg` that goes with it, so the gateway can render
any failure as a signed `{"code","msg","sub_code","sub_msg"}` object without a lookup of its own.
"""

from __future__ import annotations

from typing import Final

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
