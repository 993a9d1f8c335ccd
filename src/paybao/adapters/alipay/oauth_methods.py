"""User OAuth on the gateway, wire-compatible with Alipay's web authorisation
(services/user_oauth.py has the rules).

`alipay.system.oauth.token` takes its parameters at the top level, beside app_id and method, not
in biz_content (the official SDK's AlipaySystemOauthTokenRequest.code / grant_type /
refresh_token; python-alipay-sdk's `server_api(method, grant_type=..., code=...)`); Alipay
refuses them inside biz_content, and so does paybao:
- `grant_type=authorization_code` + `code` (the auth_code the authorize page redirected with);
- `grant_type=refresh_token` + `refresh_token`.
The answer: `user_id` (the 2088… id every other method uses), `access_token`, `expires_in`,
`refresh_token`, `re_expires_in` (seconds, numbers) and `auth_start` (Beijing time). Refusals
come under `error_response`, signed, code 40002, as Alipay's do: `isv.grant-type-invalid`,
`isv.code-invalid` (unknown, used, expired, revoked, or another app's code),
`isv.refresh-token-invalid`, `isv.refresh-token-time-out`.

`alipay.user.info.share` takes the top-level `auth_token` (official SDK:
`request.add_other_text_param("auth_token", token)`, a common parameter it sends in the query).
Only what paybao knows is shared: `user_id`, `nick_name` (the verified real name with its first
character hidden, as the wallet shows it; absent before verification), `is_certified` (T/F: real
name verified), `is_blocked` (T/F: the account is frozen), `user_type` 2 (a person). Refusals
are method-keyed and signed: `aop.invalid-auth-token` / `aop.auth-token-time-out` (20001), and
`isv.insufficient-user-permissions` (40006) for a token of scope auth_base only.
"""

from __future__ import annotations

from typing import Final

from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.gateway import AlipayGateway
from paybao.adapters.alipay.methods import Call, Fields, Methods, format_time, user_wire_id
from paybao.domain.errors import DomainError
from paybao.domain.user_oauth import Scope
from paybao.services.user_oauth import IssuedTokens, UserOAuthService
from paybao.services.users import UserService

TOKEN_METHOD: Final = "alipay.system.oauth.token"  # noqa: S105 (a method name)
INFO_METHOD: Final = "alipay.user.info.share"
GRANT_AUTHORIZATION_CODE: Final = "authorization_code"
GRANT_REFRESH_TOKEN: Final = "refresh_token"  # noqa: S105 (a grant type)
# Domain refusals -> Alipay's sub_code and its usual sub_msg.
SUB_CODES: Final[dict[str, tuple[str, str]]] = {
    "oauth_code_invalid": ("isv.code-invalid", "授权码code无效"),
    "oauth_refresh_token_invalid": ("isv.refresh-token-invalid", "刷新令牌refresh_token无效"),
    "oauth_refresh_token_expired": ("isv.refresh-token-time-out", "刷新令牌refresh_token过期"),
    "oauth_token_invalid": ("aop.invalid-auth-token", "无效的访问令牌"),
    "oauth_token_expired": ("aop.auth-token-time-out", "访问令牌已过期"),
}


def _translated(error: DomainError) -> WireError | None:
    known = SUB_CODES.get(error.code)
    return WireError(*known) if known is not None else None


class OAuthMethods:
    def __init__(self, oauth: UserOAuthService, users: UserService) -> None:
        self.oauth = oauth
        self.users = users

    def install(self, methods: Methods, gateway: AlipayGateway | None) -> None:
        """Join the gateway's method table; oauth.token's refusals answer as error_response."""
        methods.table[TOKEN_METHOD] = self.token
        methods.table[INFO_METHOD] = self.info_share
        if gateway is not None:
            gateway.error_response_methods.add(TOKEN_METHOD)

    def token(self, call: Call) -> Fields:
        grant_type = call.params.get("grant_type", "")
        app_id = call.app.app_id
        try:
            if grant_type == GRANT_AUTHORIZATION_CODE:
                issued = self.oauth.exchange_code(app_id, call.params.get("code", ""))
            elif grant_type == GRANT_REFRESH_TOKEN:
                issued = self.oauth.refresh(app_id, call.params.get("refresh_token", ""))
            else:
                raise WireError("isv.grant-type-invalid", "grant_type参数不正确")
        except WireError:
            raise
        except DomainError as error:
            wire = _translated(error)
            if wire is None:
                raise
            raise wire from None
        return token_fields(issued)

    def info_share(self, call: Call) -> Fields:
        try:
            holder = self.oauth.holder(call.app.app_id, call.params.get("auth_token", ""))
        except DomainError as error:
            wire = _translated(error)
            if wire is None:
                raise
            raise wire from None
        if Scope.AUTH_USER not in holder.scopes:
            raise WireError(
                "isv.insufficient-user-permissions", "用户权限不足", gateway_code="40006"
            )
        user = self.users.get(holder.user_id)
        fields: Fields = {"user_id": user_wire_id(user.id)}
        if user.real_name_masked:
            fields["nick_name"] = user.real_name_masked
        fields["is_certified"] = "T" if user.account_class is not None else "F"
        fields["is_blocked"] = "T" if user.status != "active" else "F"
        fields["user_type"] = "2"
        return fields


def token_fields(issued: IssuedTokens) -> Fields:
    return {
        "user_id": user_wire_id(issued.user_id),
        "access_token": issued.access_token,
        "expires_in": issued.expires_in_s,
        "refresh_token": issued.refresh_token,
        "re_expires_in": issued.re_expires_in_s,
        "auth_start": format_time(issued.issued_at_us),
    }
