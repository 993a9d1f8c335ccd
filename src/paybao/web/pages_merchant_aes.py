"""Portal AES key (接口内容加密方式): per app, its AES key for the SDKs' `encrypt_key`, set and
reset from a page of its own (the keys page links to it: templates/merchant/aes_section.html).

The key is shown only on this page, not on the keys page every visit opens. Setting makes the
app's first key (128-bit, as Alipay's console does); resetting replaces it at once, so the form
asks the merchant to confirm that its code will switch. Both are forms (CSRF), audited with the
actor `merchant:<id>` (services/app_aes_keys.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError, InvalidInput, NotFound
from paybao.web import pages_merchant as portal
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_texts(
    {
        "aes_key": {"zh": "接口内容加密方式(AES密钥)", "en": "Content encryption (AES key)"},
        "aes_key_hint": {
            "zh": "在 SDK 中设置 encrypt_type=AES 和下方密钥(encrypt_key)即可加密"
            "请求和响应的业务内容;未加密的请求照常可用。",
            "en": "Set encrypt_type=AES and this key (encrypt_key) in your SDK to encrypt the "
            "business content of requests and answers; plain requests keep working.",
        },
        "aes_key_none": {"zh": "尚未设置AES密钥", "en": "No AES key yet"},
        "aes_key_manage": {"zh": "查看或设置AES密钥", "en": "View or set the AES key"},
        "aes_key_set": {"zh": "设置AES密钥", "en": "Set an AES key"},
        "aes_key_reset": {"zh": "重置AES密钥", "en": "Reset the AES key"},
        "aes_key_reset_confirm": {
            "zh": "重置后旧密钥立即失效,我的代码将改用新密钥",
            "en": "The old key stops working at once; my code will use the new key",
        },
        "aes_key_made": {"zh": "AES密钥已设置", "en": "The AES key is set"},
        "aes_key_replaced": {"zh": "AES密钥已重置", "en": "The AES key was reset"},
    }
)
portal.MERCHANT_ERRORS.setdefault(
    "aes_reset_not_confirmed",
    {
        "zh": "请先确认您的代码将改用新密钥",
        "en": "Confirm first that your code will use the new key",
    },
)


def _check_own_app(request: Request, merchant_id: int, app_id: str) -> None:
    """Another merchant's app is not found, like one that does not exist."""
    apps = portal.services(request)["merchants"].apps_of(merchant_id)
    if all(app.app_id != app_id for app in apps):
        raise NotFound("no such app", code="app_not_found")


def _render(
    request: Request, merchant_id: int, app_id: str, status_code: int = 200, **extra: object
) -> HTMLResponse:
    lang = lang_of(request)
    return portal.render(
        request,
        "merchant/aes_key.html",
        status_code,
        title=portal.merchant_text(lang, "aes_key"),
        app_id=app_id,
        key=portal.services(request)["app_aes_keys"].show(app_id),
        **extra,
    )


@router.get("/keys/{app_id}/aes")
def aes_page(
    request: Request, app_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    try:
        _check_own_app(request, merchant_id, app_id)
    except DomainError as error:
        context = portal.merchant_error(request, error)
        return portal.render(request, "merchant/aes_key.html", 404, app_id=None, **context)
    done = request.query_params.get("done", "")
    notice = ""
    if done in ("made", "replaced"):
        notice = portal.merchant_text(lang_of(request), f"aes_key_{done}")
    return _render(request, merchant_id, app_id, notice=notice)


@router.post("/keys/{app_id}/aes", dependencies=portal.CSRF)
async def set_aes_key(
    request: Request, app_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    form = await portal.form_of(request)
    reset = form.get("reset") == "1"
    try:
        _check_own_app(request, merchant_id, app_id)
        if reset and form.get("confirm") != "1":
            raise InvalidInput("confirm the reset first", code="aes_reset_not_confirmed")
        keys = portal.services(request)["app_aes_keys"]
        keys.set(app_id, reset=reset, actor=f"merchant:{merchant_id}")
    except DomainError as error:
        context = portal.merchant_error(request, error)
        if error.code == "app_not_found":
            return portal.render(request, "merchant/aes_key.html", 404, app_id=None, **context)
        return _render(request, merchant_id, app_id, status_for(error), **context)
    done = "replaced" if reset else "made"
    return RedirectResponse(f"/merchant/keys/{app_id}/aes?done={done}", status_code=303)
