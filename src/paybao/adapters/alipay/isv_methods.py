"""Third-party app authorisation on the gateway, wire-compatible with Alipay's 第三方应用授权
(services/app_auth.py has the rules; on_behalf.py the gateway's hook).

`alipay.open.auth.token.app` takes biz_content `{"grant_type": "authorization_code", "code":
<app_auth_code>}` or `{"grant_type": "refresh_token", "refresh_token": <app_refresh_token>}`
(python-alipay-sdk's ISVAliPay.api_alipay_open_auth_token_app, the official SDK's
AlipayOpenAuthTokenAppModel). The answer has both shapes Alipay has used: the flat fields
python-alipay-sdk reads (`result.get("app_auth_token")`) — `user_id` (the merchant's 2088…
id, its seller_id), `auth_app_id` (the merchant's app), `app_auth_token`, `app_refresh_token`,
`expires_in`, `re_expires_in` (seconds, numbers) — and the same six in a one-element `tokens`
list, the official SDK's AppTokenExchangeSubElement. Refusals are method-keyed and signed, code
40002: `isv.grant-type-invalid`, `isv.code-invalid` (unknown, used, expired, revoked or another
ISV's code), `isv.refresh-token-invalid`, `isv.refresh-token-time-out`.

`alipay.open.auth.token.app.query` takes biz_content `{"app_auth_token": ...}` (the common
parameter as a fallback) and answers `user_id`, `auth_app_id`, `expires_in` (seconds left),
`auth_methods` (the methods the token may call: every gateway method but these two),
`auth_start`, `auth_end` and `status` (`valid` / `invalid`: expired). A token that is unknown,
replaced, revoked or another ISV's: 20001 `aop.invalid-app-auth-token`.

These two act for the calling ISV app itself: the `app_auth_token` common parameter that
python-alipay-sdk adds to every call once it holds a token (a refresh carries the old one) does
not make them run as the merchant.
"""

from __future__ import annotations

from typing import Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.methods import (
    PAGE_METHODS,
    Call,
    Fields,
    Methods,
    format_time,
    seller_wire_id,
)
from paybao.adapters.alipay.on_behalf import EXPIRED_TOKEN, INVALID_TOKEN
from paybao.domain.app_auth import seconds_left
from paybao.domain.errors import DomainError
from paybao.services.app_auth import AppAuthService, IssuedAppTokens
from paybao.services.merchants import App, MerchantService

TOKEN_METHOD: Final = "alipay.open.auth.token.app"  # noqa: S105 (a method name)
QUERY_METHOD: Final = "alipay.open.auth.token.app.query"
# Methods that act for the calling ISV app whatever app_auth_token says.
OWN_METHODS: Final = frozenset({TOKEN_METHOD, QUERY_METHOD})
GRANT_AUTHORIZATION_CODE: Final = "authorization_code"
GRANT_REFRESH_TOKEN: Final = "refresh_token"  # noqa: S105 (a grant type)
VALID: Final = "valid"
INVALID: Final = "invalid"
# Domain refusals -> Alipay's sub_code and its usual sub_msg.
SUB_CODES: Final[dict[str, tuple[str, str]]] = {
    "app_auth_code_invalid": ("isv.code-invalid", "授权码code无效"),
    "app_refresh_token_invalid": ("isv.refresh-token-invalid", "刷新令牌refresh_token无效"),
    "app_refresh_token_expired": ("isv.refresh-token-time-out", "刷新令牌refresh_token过期"),
    "app_auth_token_invalid": INVALID_TOKEN,
    "app_auth_token_expired": EXPIRED_TOKEN,
}


def _translated(error: DomainError) -> DomainError:
    known = SUB_CODES.get(error.code)
    return WireError(*known) if known is not None else error


class AppAuthMethods:
    """The two token methods, and the gateway's OnBehalf (on_behalf.py)."""

    def __init__(
        self, service: AppAuthService, merchants: MerchantService, methods: Methods
    ) -> None:
        self.service = service
        self.merchants = merchants
        self.methods = methods

    def install(self, methods: Methods) -> None:
        methods.table[TOKEN_METHOD] = self.token
        methods.table[QUERY_METHOD] = self.query

    # OnBehalf ---------------------------------------------------------------------------------

    def acting_app(self, app: App, common: wire.CommonParams) -> App:
        token = common.app_auth_token
        if not token or common.method in OWN_METHODS:
            return app
        try:
            holder = self.service.holder(app.app_id, token)
        except DomainError as error:
            raise _translated(error) from None
        acting = self.merchants.find_app(holder.auth_app_id)
        # A disabled merchant app takes no calls, through a token neither.
        if acting is None or not acting.active or acting.merchant_id != holder.merchant_id:
            raise WireError(*INVALID_TOKEN)
        return acting

    # alipay.open.auth.token.app ---------------------------------------------------------------

    def token(self, call: Call) -> Fields:
        grant_type = str(call.biz.get("grant_type") or "")
        try:
            if grant_type == GRANT_AUTHORIZATION_CODE:
                issued = self.service.exchange_code(call.app.app_id, _text(call, "code"))
            elif grant_type == GRANT_REFRESH_TOKEN:
                issued = self.service.refresh(call.app.app_id, _text(call, "refresh_token"))
            else:
                raise WireError("isv.grant-type-invalid", "grant_type参数不正确")
        except WireError:
            raise
        except DomainError as error:
            raise _translated(error) from None
        pair = token_fields(issued)
        return {**pair, "tokens": [pair]}

    # alipay.open.auth.token.app.query ---------------------------------------------------------

    def query(self, call: Call) -> Fields:
        token = _text(call, "app_auth_token") or call.common.app_auth_token or ""
        try:
            status = self.service.status(call.app.app_id, token)
        except DomainError as error:
            raise _translated(error) from None
        return {
            "user_id": seller_wire_id(status.merchant_id),
            "auth_app_id": status.auth_app_id,
            "expires_in": seconds_left(status.expires_at_us, call.now_us),
            "auth_methods": self.auth_methods(),
            "auth_start": format_time(status.issued_at_us),
            "auth_end": format_time(status.expires_at_us),
            "status": VALID if status.valid else INVALID,
        }

    def auth_methods(self) -> list[str]:
        return sorted((set(self.methods.table) | PAGE_METHODS) - OWN_METHODS)


def _text(call: Call, key: str) -> str:
    value = call.biz.get(key)
    return value if isinstance(value, str) else ""


def token_fields(issued: IssuedAppTokens) -> Fields:
    return {
        "user_id": seller_wire_id(issued.merchant_id),
        "auth_app_id": issued.auth_app_id,
        "app_auth_token": issued.app_auth_token,
        "app_refresh_token": issued.app_refresh_token,
        "expires_in": issued.expires_in_s,
        "re_expires_in": issued.re_expires_in_s,
    }
