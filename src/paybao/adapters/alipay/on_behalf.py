"""Calls an ISV makes for a merchant (第三方应用授权): the gateway's hook and what a trade keeps.

A call that carries the common parameter `app_auth_token` is verified with the calling (ISV)
app's key, as every call is; then the gateway asks its `OnBehalf` which app the call runs as.
isv_methods.py's answer: the merchant app the token was granted for, if the token is a live one
of this ISV app, else 20001 `aop.invalid-app-auth-token` / `aop.app-auth-token-time-out`
before anything runs. The answer's signature stays the calling app's (its generation of the
platform key), as Alipay signs what the ISV verifies with its own Alipay public key.

Until a feature installs one, `REFUSE_APP_AUTH` refuses every token: a call with a token
must never quietly run as the calling app (the ISV's own account would get the merchant's
money).

A trade an ISV makes remembers the ISV app in its channel_context (`ISV_APP_KEY`): its
notifications name the ISV's app as `app_id` and the merchant's as `auth_app_id`, and are
signed for the ISV, as Alipay's are (`app_id` 开发者的app_id, `auth_app_id` 授权方的app_id).
Agreements, pre-authorisation orders, parking trades and escrow trades keep it the same way
(`isv_context`), so their notifications and return_url parameters do too; an asynchronous
settle carries it in its job (royalty_notify.py), as a settle row has no channel_context.
"""

from __future__ import annotations

import json
from typing import Final, Protocol

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.errors import WireError
from paybao.services.merchants import App

ISV_APP_KEY: Final = "isv_app_id"
INVALID_TOKEN: Final = ("aop.invalid-app-auth-token", "无效的应用授权令牌")
EXPIRED_TOKEN: Final = ("aop.app-auth-token-time-out", "应用授权令牌已过期")


class OnBehalf(Protocol):
    def acting_app(self, app: App, common: wire.CommonParams) -> App:
        """The app a verified call of `app` runs as: `app` itself, or the merchant app its
        app_auth_token stands for; WireError for a token that stands for nothing."""
        ...


class RefuseAppAuth:
    def acting_app(self, app: App, common: wire.CommonParams) -> App:
        if common.app_auth_token:
            raise WireError(*INVALID_TOKEN)
        return app


REFUSE_APP_AUTH: Final = RefuseAppAuth()


def isv_context(common: wire.CommonParams, app: App) -> dict[str, str]:
    """What a channel_context adds for a call of `app` (the acting app): the ISV's app id when
    an ISV made the call with a token, nothing when the app called for itself."""
    return {ISV_APP_KEY: common.app_id} if common.app_id != app.app_id else {}


def calling_app_id(channel_context: object, app_id: str) -> str:
    """The app that made an object (trade, agreement, order) of `app_id`: the ISV's, if an ISV
    made it with a token; its notifications name it as app_id and are signed for it."""
    if not channel_context:
        return app_id
    try:
        context = json.loads(str(channel_context))
    except ValueError:
        return app_id
    isv_app_id = context.get(ISV_APP_KEY) if isinstance(context, dict) else None
    return str(isv_app_id) if isv_app_id else app_id
