"""The merchant portal at /merchant: sign-in, sign-up, the page frame and the navigation
registry that every portal page plugs into.

How to add a portal page (the receive-money poster, bills, daily summaries, ...), in your own
module, say `web/pages_merchant_bills.py`:

    from fastapi import APIRouter, Depends, Request
    from paybao.web import pages_merchant

    router = APIRouter(prefix="/merchant", include_in_schema=False)
    pages_merchant.add_nav("nav_bills", "/merchant/bills")    # idempotent; at import time
    pages_merchant.add_texts({"nav_bills": {"zh": "账单", "en": "Bills"}})

    @router.get("/bills")
    def bills(request: Request, merchant_id: int = Depends(pages_merchant.require_merchant)):
        return pages_merchant.render(request, "merchant/bills.html", title=..., rows=...)

    @router.post("/bills/x", dependencies=pages_merchant.CSRF)
    async def act(request: Request, merchant_id: int = Depends(pages_merchant.require_merchant)):
        ...

    def install(app): app.include_router(router)        # and one line in web/app.py

- `require_merchant` returns the signed-in merchant's id; without a valid merchant cookie it
  raises `MerchantSignInRequired`, which the portal answers with a redirect to the sign-in page.
  Every query a page makes must be scoped by that id: another merchant's object is a 404.
- Templates extend "merchant/layout.html" and fill `{% block content %}`; every form carries
  `<input type="hidden" name="csrf_token" value="{{ csrf }}">` and its POST route depends on
  `pages_merchant.CSRF`. `t(key)` looks the key up in MERCHANT_TEXTS (zh/en), then the wallet's
  texts, else shows the key itself.
- Helpers in the context: `yuan(fen)`, `when(at_us)` (China time), `csrf`, `lang`,
  `merchant` (the signed-in `Merchant`, or None). `merchant_error(request, error)` gives the
  `error`/`error_code` context of a failed form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from paybao.domain.errors import DomainError, Unauthenticated
from paybao.web.console import Console
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.session import check_csrf, current_user_id

KIND = "merchant"
CSRF = [Depends(check_csrf)]

# (label, path) of every portal page, in menu order. Labels are MERCHANT_TEXTS keys or plain
# text. Append through `add_nav` so that a module imported twice does not add twice.
MERCHANT_NAV: list[tuple[str, str]] = [
    ("nav_trades", "/merchant/trades"),
    ("nav_notifications", "/merchant/notifications"),
    ("nav_keys", "/merchant/keys"),
]

MERCHANT_TEXTS: dict[str, dict[str, str]] = {
    "merchant_brand": {"zh": "paybao 商家中心", "en": "paybao merchant portal"},
    "merchant_login": {"zh": "商家登录", "en": "Merchant sign-in"},
    "merchant_id": {"zh": "商户号", "en": "Merchant ID"},
    "merchant_password": {"zh": "登录密码", "en": "Password"},
    "merchant_name": {"zh": "商户名称", "en": "Merchant name"},
    "notify_url": {"zh": "异步通知地址(可选)", "en": "Notify URL (optional)"},
    "merchant_contact": {"zh": "联系邮箱或手机号", "en": "Contact e-mail or mobile number"},
    "signup_retry_in": {
        "zh": "请约 {minutes} 分钟后再试",
        "en": "Try again in about {minutes} minutes",
    },
    "signup": {"zh": "商家入驻", "en": "Merchant sign-up"},
    "signup_hint": {
        "zh": "密码8位以上,需同时包含字母和数字",
        "en": "Password: at least 8 characters with letters and digits",
    },
    "signup_link": {"zh": "还没有商户号?立即入驻", "en": "No merchant account? Sign up"},
    "login_link": {"zh": "已有商户号?登录", "en": "Have a merchant ID? Sign in"},
    "signup_done": {"zh": "入驻成功", "en": "You are signed up"},
    "private_key_once": {
        "zh": "应用私钥只显示这一次,请立即保存;平台不保存它。",
        "en": "The app private key is shown only this once; save it now. We do not keep it.",
    },
    "app_id": {"zh": "应用 APPID", "en": "App ID"},
    "app_private_key": {"zh": "应用私钥(PKCS#1)", "en": "App private key (PKCS#1)"},
    "app_public_key": {"zh": "应用公钥", "en": "App public key"},
    "platform_public_key": {"zh": "平台公钥(alipay_public_key)", "en": "Platform public key"},
    "go_portal": {"zh": "进入商家中心", "en": "Open the portal"},
    "nav_trades": {"zh": "交易", "en": "Trades"},
    "nav_notifications": {"zh": "通知记录", "en": "Notifications"},
    "nav_keys": {"zh": "密钥", "en": "Keys"},
    "overview": {"zh": "概览", "en": "Overview"},
    "fee_rate": {"zh": "费率", "en": "Fee rate"},
}

MERCHANT_ERRORS: dict[str, dict[str, str]] = {
    "bad_credentials": {"zh": "商户号或密码错误", "en": "Wrong merchant ID or password"},
    "login_locked": {
        "zh": "失败次数过多,请15分钟后再试",
        "en": "Too many failed sign-ins; try again in 15 minutes",
    },
    "invalid_merchant_password": {
        "zh": "密码需8位以上,同时包含字母和数字",
        "en": "Password: at least 8 characters with letters and digits",
    },
    "invalid_name": {"zh": "请填写商户名称(1-128字)", "en": "Enter a name (1-128 characters)"},
    "invalid_url": {
        "zh": "通知地址须以 http:// 或 https:// 开头",
        "en": "The URL must start with http:// or https://",
    },
    "invalid_key": {"zh": "不是有效的 RSA 公钥", "en": "Not a valid RSA public key"},
    "invalid_contact": {
        "zh": "请填写有效的邮箱或中国大陆手机号",
        "en": "Enter an e-mail address or a mainland China mobile number",
    },
    "signup_rate_limited": {
        "zh": "该网络或该邮箱/手机号的入驻申请过于频繁,已暂停受理",
        "en": "Too many sign-ups from this network or with this e-mail or phone number",
    },
}


class MerchantSignInRequired(Unauthenticated):
    """No valid merchant session; the portal redirects to the sign-in page."""

    code = "merchant_sign_in_required"


def add_texts(texts: dict[str, dict[str, str]]) -> None:
    """Register a page's zh/en texts (keys must not clash with existing ones)."""
    for key, entry in texts.items():
        assert MERCHANT_TEXTS.get(key, entry) == entry, f"text {key} already means something"
        MERCHANT_TEXTS[key] = entry


def services(request: Request) -> dict[str, Any]:
    return platform_of(request).services


def _signed_in_merchant(request: Request) -> Any:
    merchant_id = current_user_id(request, kind=KIND)
    if merchant_id is None:
        return None
    try:
        return services(request)["merchants"].merchant(merchant_id)
    except DomainError:
        return None


def _identify(request: Request) -> dict[str, Any]:
    return {"merchant": _signed_in_merchant(request)}


CONSOLE = Console(
    kind=KIND,
    root="/merchant",
    nav=MERCHANT_NAV,
    texts=MERCHANT_TEXTS,
    errors=MERCHANT_ERRORS,
    brand_key="merchant_brand",
    sign_in_required=MerchantSignInRequired,
    identify=_identify,
)
# The names feature modules use (see the module docstring).
add_nav = CONSOLE.add_nav
merchant_text = CONSOLE.text
merchant_error = CONSOLE.error
safe_next = CONSOLE.safe_next
render = CONSOLE.render


def require_merchant(request: Request) -> int:
    """FastAPI dependency: the signed-in merchant's id."""
    return CONSOLE.require(request)


async def form_of(request: Request) -> dict[str, str]:
    return {key: str(value) for key, value in (await request.form()).items()}


# Sign-in -----------------------------------------------------------------------------------

router = APIRouter(prefix="/merchant", include_in_schema=False)


def login_form(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return CONSOLE.login_form(request, "merchant_login", status_code, **extra)


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return login_form(request)


@router.post("/login", dependencies=CSRF)
async def login(request: Request) -> Response:
    form = await form_of(request)
    merchant_ref = form.get("merchant_id", "").strip()
    try:
        merchant_id = services(request)["merchant_accounts"].authenticate(
            merchant_ref, form.get("password", "")
        )
    except DomainError as error:
        status = status_for(error)
        return login_form(
            request, status, merchant_ref=merchant_ref, **merchant_error(request, error)
        )
    return CONSOLE.signed_in_redirect(request, merchant_id)


@router.post("/logout", dependencies=CSRF)
def logout() -> Response:
    return CONSOLE.signed_out_redirect()


@router.get("")
@router.get("/")
def home(request: Request, merchant_id: int = Depends(require_merchant)) -> HTMLResponse:
    apps = services(request)["merchants"].apps_of(merchant_id)
    return render(request, "merchant/home.html", apps=apps)


async def on_sign_in_required(request: Request, _error: Exception) -> Response:
    """Pages answer a missing merchant session with the sign-in page, keeping where to return."""
    return CONSOLE.sign_in_redirect(request)


def install(app: Any) -> None:
    """Register the portal's pages. Call after pages_user.install (static files, CSRF cookie)."""
    from paybao.web import (
        pages_merchant_aes,
        pages_merchant_certs,
        pages_merchant_notify,
        pages_merchant_signup,
        pages_merchant_trades,
    )

    app.add_exception_handler(MerchantSignInRequired, on_sign_in_required)
    app.include_router(router)
    app.include_router(pages_merchant_signup.router)
    app.include_router(pages_merchant_trades.router)
    app.include_router(pages_merchant_notify.router)
    app.include_router(pages_merchant_aes.router)
    app.include_router(pages_merchant_certs.router)
