"""Portal keys and notification log.

Keys: the merchant's apps with their public keys, each app's platform public key to configure
(its generation, services/platform_keys.py), an upload that replaces an app's public key (an
unparseable key is refused, the old one stays) and, once the platform has a newer key, that key
and a switch to it (confirmed: from then on the merchant's code must verify with it; audited).
Notifications: the newest notifications with every delivery attempt and a resend button, which
schedules one more delivery now with the same notify_id.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.errors import DomainError, InvalidInput, InvalidState, NotFound
from paybao.web import pages_merchant as portal
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

NOTIFICATIONS_SHOWN_MAX = 50
KEY_TEXT_LENGTH_MAX = 8192

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_texts(
    {
        "upload_key": {"zh": "更换应用公钥", "en": "Replace the app public key"},
        "key_replaced": {"zh": "应用公钥已更换", "en": "App public key replaced"},
        "save": {"zh": "保存", "en": "Save"},
        "app_status": {"zh": "应用状态", "en": "App status"},
        "notify_id": {"zh": "通知 ID", "en": "Notify ID"},
        "event": {"zh": "事件", "en": "Event"},
        "attempts": {"zh": "推送记录", "en": "Attempts"},
        "delivery": {"zh": "推送状态", "en": "Delivery"},
        "http_status": {"zh": "HTTP 状态", "en": "HTTP status"},
        "duration": {"zh": "耗时(ms)", "en": "Time (ms)"},
        "detail": {"zh": "详情", "en": "Detail"},
        "resend": {"zh": "重新推送", "en": "Resend"},
        "resent": {"zh": "已安排重新推送", "en": "Delivery scheduled again"},
        "no_notifications": {"zh": "暂无通知", "en": "No notifications yet"},
        "notify_pending": {"zh": "待推送", "en": "Pending"},
        "notify_delivered": {"zh": "已送达", "en": "Delivered"},
        "notify_failed": {"zh": "已放弃", "en": "Given up"},
        "platform_key_generation": {"zh": "平台密钥版本", "en": "Platform key generation"},
        "newer_platform_key": {"zh": "新版平台公钥", "en": "New platform public key"},
        "newer_platform_key_hint": {
            "zh": "平台已启用新的密钥。请先在您的代码中配置下方新公钥,再切换:"
            "切换后,本应用的响应和通知都将用新密钥签名,只能用新公钥验签。",
            "en": "The platform has a new key. Configure the public key below in your code "
            "first, then switch: from then on this app's responses and notifications are "
            "signed with the new key and verify only with the new public key.",
        },
        "switch_platform_key_confirm": {
            "zh": "我的代码已改用新平台公钥验签",
            "en": "My code now verifies with the new platform public key",
        },
        "switch_platform_key": {"zh": "切换到新平台密钥", "en": "Switch to the new platform key"},
        "platform_key_switched": {
            "zh": "已切换到新平台密钥",
            "en": "Switched to the new platform key",
        },
    }
)
portal.MERCHANT_ERRORS.update(
    {
        "app_not_found": {"zh": "应用不存在", "en": "No such app"},
        "notification_not_found": {"zh": "通知不存在", "en": "No such notification"},
        "platform_key_not_confirmed": {
            "zh": "请先确认您的代码已改用新平台公钥",
            "en": "Confirm first that your code verifies with the new platform public key",
        },
        "platform_key_not_newest": {
            "zh": "平台密钥已更新,请刷新页面后重试",
            "en": "The platform key changed meanwhile; reload the page and try again",
        },
        "platform_key_retired": {"zh": "该平台密钥已停用", "en": "That platform key is retired"},
        "platform_key_not_found": {"zh": "平台密钥不存在", "en": "No such platform key"},
    }
)


# Keys --------------------------------------------------------------------------------------


def _render_keys(
    request: Request, merchant_id: int, status_code: int = 200, **extra: object
) -> HTMLResponse:
    services = portal.services(request)
    apps = services["merchants"].apps_of(merchant_id)
    return portal.render(
        request,
        "merchant/keys.html",
        status_code,
        title=portal.merchant_text(lang_of(request), "nav_keys"),
        apps=apps,
        platform_keys={app.app_id: services["platform_keys"].keys_of(app) for app in apps},
        **extra,
    )


@router.get("/keys")
def keys_page(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    notice = ""
    if request.query_params.get("replaced"):
        notice = portal.merchant_text(lang_of(request), "key_replaced")
    if request.query_params.get("switched"):
        notice = portal.merchant_text(lang_of(request), "platform_key_switched")
    return _render_keys(request, merchant_id, notice=notice)


@router.post("/keys/{app_id}", dependencies=portal.CSRF)
async def replace_key(
    request: Request, app_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    merchants = portal.services(request)["merchants"]
    own = {app.app_id for app in merchants.apps_of(merchant_id)}
    if app_id not in own:
        error = NotFound("no such app", code="app_not_found")
        return _render_keys(request, merchant_id, 404, **portal.merchant_error(request, error))
    form = await portal.form_of(request)
    try:
        merchants.replace_app_key(app_id, form.get("public_key", "")[:KEY_TEXT_LENGTH_MAX])
    except DomainError as error:
        context = portal.merchant_error(request, error)
        return _render_keys(request, merchant_id, status_for(error), failed_app=app_id, **context)
    return RedirectResponse("/merchant/keys?replaced=1", status_code=303)


@router.post("/keys/{app_id}/platform-key", dependencies=portal.CSRF)
async def switch_platform_key(
    request: Request, app_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    """Move the app to the generation the page offered (the newest), once confirmed."""
    services = portal.services(request)
    own = {app.app_id for app in services["merchants"].apps_of(merchant_id)}
    form = await portal.form_of(request)
    try:
        if app_id not in own:
            raise NotFound("no such app", code="app_not_found")
        generation = _offered_generation(form, services["platform_keys"].newest())
        services["platform_keys"].switch(app_id, generation, actor=f"merchant:{merchant_id}")
    except DomainError as error:
        context = portal.merchant_error(request, error)
        status = status_for(error)
        return _render_keys(request, merchant_id, status, failed_app=app_id, **context)
    return RedirectResponse("/merchant/keys?switched=1", status_code=303)


def _offered_generation(form: dict[str, str], newest: int) -> int:
    """The generation the merchant confirmed: the newest one, as shown (a page left open
    while another generation was made must be reloaded, so the key it shows is the one)."""
    if form.get("confirm") != "1":
        raise InvalidInput("confirm the new key first", code="platform_key_not_confirmed")
    if form.get("generation", "") != str(newest):
        raise InvalidState("the platform key changed meanwhile", code="platform_key_not_newest")
    return newest


# Notifications -----------------------------------------------------------------------------


@router.get("/notifications")
def notifications_page(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    notify = portal.services(request)["notify"]
    rows = notify.notifications_of(merchant_id, NOTIFICATIONS_SHOWN_MAX)
    attempts = {row.id: notify.attempts_of(row.id) for row in rows}
    notice = ""
    if request.query_params.get("resent"):
        notice = portal.merchant_text(lang_of(request), "resent")
    return portal.render(
        request,
        "merchant/notifications.html",
        title=portal.merchant_text(lang_of(request), "nav_notifications"),
        notifications=rows,
        attempts=attempts,
        notice=notice,
    )


@router.post("/notifications/{notify_id}/resend", dependencies=portal.CSRF)
def resend(
    request: Request, notify_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        portal.services(request)["notify"].resend(merchant_id, notify_id[:64])
    except DomainError as error:
        context = portal.merchant_error(request, error)
        return portal.render(request, "merchant/message.html", status_for(error), **context)
    return RedirectResponse(f"/merchant/notifications?resent={notify_id[:64]}", status_code=303)
