"""Third-party app authorisation (第三方应用授权): a merchant lets an ISV's app (服务商, say a SaaS
POS vendor) call the gateway for one of the merchant's own apps. The rules, without I/O.

The ISV sends the merchant to `/oauth2/appToAppAuth.htm?app_id=<ISV app>&redirect_uri=<url>`;
the merchant signs in to the portal, picks which of their apps to authorise and agrees; the
browser goes back to `redirect_uri` with a one-time `app_auth_code`, which the ISV's server
trades for an `app_auth_token` (`alipay.open.auth.token.app`). Every call the ISV signs with its
own key and that carries the token as the common parameter `app_auth_token` then runs as the
merchant's app: the trades, refunds and the money are the merchant's.

Lifetimes, as Alipay states them: an app_auth_code is single use and expires 24 hours after it
was issued ("app_auth_code使用一次后失效,一天(从生成app_auth_code开始的24小时)未被使用自动过期").
Tokens: Alipay's answers show `expires_in` 31,536,000 (365 days) and `re_expires_in`
32,140,800 (372 days) (python-alipay-sdk's documented answer). A refresh replaces the pair: the
old token stops working at once. The merchant can revoke an authorisation in the portal.

The redirect rule is user OAuth's (domain/user_oauth.py): paybao has no per-app list of
callback addresses (Alipay's 授权回调地址), so redirect_uri must be an absolute http(s) URL on the
origin of the ISV merchant's notify_url.
"""

from __future__ import annotations

import secrets
from typing import Final

from paybao.domain.errors import InvalidInput

CODE_TTL_S: Final = 24 * 3600
TOKEN_TTL_S: Final = 365 * 86_400
REFRESH_TOKEN_TTL_S: Final = 372 * 86_400
# Wire secrets we accept at all: anything longer is nobody's, without a database read.
SECRET_LENGTH_MAX: Final = 64
# Alipay's look: 201708BB28623ce3d10f4f62875e9ef5cbeebX07 (issue month, "BB", hex).
TOKEN_MARK: Final = "BB"  # noqa: S105 (a marker, not a secret)


def new_code() -> str:
    return secrets.token_hex(16)


def new_token(year_month: str) -> str:
    """`year_month` is the issue month, yyyyMM (the caller's clock)."""
    assert len(year_month) == 6 and year_month.isdigit()
    return f"{year_month}{TOKEN_MARK}{secrets.token_hex(20)}"


def usable_secret(secret: str) -> bool:
    return 0 < len(secret) <= SECRET_LENGTH_MAX


def check_apps(isv_app_id: str, auth_app_id: str) -> None:
    """An app cannot act for itself through a token: its own key already does."""
    if isv_app_id == auth_app_id:
        raise InvalidInput("an app cannot authorise itself", code="app_auth_self")


def seconds_left(until_us: int, now_us: int) -> int:
    """Whole seconds until `until_us` (0 once past)."""
    return max(0, (until_us - now_us) // 1_000_000)
