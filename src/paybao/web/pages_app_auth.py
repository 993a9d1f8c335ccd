"""Third-party app authorisation pages (第三方应用授权): what Alipay's
`https://openauth.alipay.com/oauth2/appToAppAuth.htm` is, and the portal's list of the ISV apps
a merchant has authorised (第三方应用授权管理).

Authorise (`GET /oauth2/appToAppAuth.htm?app_id=<ISV app>&redirect_uri=<url>[&state=..]`; the
newer `/oauth2/appToAppBatchAuth.htm` is the same page): the parameters are checked first
(services/app_auth.py; a bad app or redirect_uri shows an error here and never redirects); a
merchant not signed in to the portal signs in on the page (merchant id and portal password) and
comes back to it; signed in, the page names the ISV and lets the merchant pick which of its apps
to authorise (the only one is preselected) and agree or decline. Agreeing redirects (303) to
`redirect_uri?app_id=<ISV app>&source=alipay_app_auth&app_auth_code=..[&state=..]`, the
redirect_uri's own query kept.

Portal: `/merchant/app-auths` lists the live authorisations (which ISV, for which app, since
when) and revokes one, after which its token stops working at once.

Every POST checks CSRF; a DomainError re-renders the page with the message for its code.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.user_oauth import redirect_with
from paybao.services.app_auth import AppAuthService, AuthRequest
from paybao.web import pages_merchant
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of
from paybao.web.session import current_user_id, sign_in

router = APIRouter(include_in_schema=False)
AUTHORIZE_PATH = "/oauth2/appToAppAuth.htm"
BATCH_AUTHORIZE_PATH = "/oauth2/appToAppBatchAuth.htm"
LIST_PATH = "/merchant/app-auths"
QUERY_LENGTH_MAX = 2048
SOURCE = "alipay_app_auth"  # what Alipay's redirect says the code came from

pages_merchant.add_nav("nav_app_auths", LIST_PATH)
pages_merchant.add_texts(
    {
        "nav_app_auths": {"zh": "第三方应用授权", "en": "Third-party apps"},
        "app_auth_title": {"zh": "第三方应用授权", "en": "Authorise a third-party app"},
        "app_auth_asks": {
            "zh": "申请代你的应用调用开放接口：以你的应用收款、退款、查询交易等，"
            "款项进入你的账户。",
            "en": "asks to call the open API for your app: take payments, refund and query "
            "trades as your app; the money goes to your account.",
        },
        "app_auth_isv_app": {"zh": "第三方应用 ID", "en": "Third-party app id"},
        "app_auth_pick": {"zh": "选择要授权的应用", "en": "Which of your apps"},
        "app_auth_agree": {"zh": "确认授权", "en": "Authorise"},
        "app_auth_decline": {"zh": "取消", "en": "Decline"},
        "app_auth_declined": {"zh": "你已取消授权", "en": "You declined"},
        "app_auth_back": {"zh": "返回", "en": "Back"},
        "app_auth_no_apps": {
            "zh": "你没有可授权的应用。",
            "en": "You have no app to authorise.",
        },
        "app_auth_sign_in": {
            "zh": "请登录商家中心后继续",
            "en": "Sign in to the merchant portal to continue",
        },
        "app_auth_revoke_hint": {
            "zh": "授权后可在「第三方应用授权」中随时解除。",
            "en": "You can take this back at any time under Third-party apps.",
        },
        "app_auth_list_empty": {
            "zh": "还没有授权过第三方应用。服务商会发给你授权链接。",
            "en": "No third-party app yet. A service provider sends you its authorisation link.",
        },
        "app_auth_for_app": {"zh": "授权的应用", "en": "Your app"},
        "app_auth_isv": {"zh": "第三方", "en": "Third party"},
        "app_auth_since": {"zh": "授权时间", "en": "Since"},
        "app_auth_revoke": {"zh": "解除授权", "en": "Revoke"},
        "app_auth_revoked": {"zh": "已解除授权", "en": "Authorisation revoked"},
    }
)
ERRORS: dict[str, dict[str, str]] = {
    "app_auth_app_invalid": {"zh": "应用不存在或已停用", "en": "No such app, or it is disabled"},
    "oauth_redirect_invalid": {
        "zh": "回调地址（redirect_uri）须为 http(s) 地址，且与第三方应用的通知地址同域",
        "en": "redirect_uri must be an http(s) URL on the origin of the app's notify_url",
    },
    "oauth_state_invalid": {
        "zh": "state 最长 100 位，且只能是英文字母、数字和符号",
        "en": "state is at most 100 printable ASCII characters",
    },
    "app_auth_self": {"zh": "应用不能授权给自己", "en": "An app cannot authorise itself"},
    "app_auth_not_found": {"zh": "该授权不存在或已解除", "en": "No such authorisation"},
    "merchant_frozen": {"zh": "商户已冻结，暂不能授权", "en": "The merchant is frozen"},
}
pages_merchant.MERCHANT_ERRORS.update(
    {key: value for key, value in ERRORS.items() if key not in pages_merchant.MERCHANT_ERRORS}
)


def _service(request: Request) -> AppAuthService:
    service: AppAuthService = platform_of(request).services["app_auth"]
    return service


def _params(values: Any) -> dict[str, str]:
    keys = ("app_id", "redirect_uri", "state")
    return {key: str(values.get(key, ""))[:QUERY_LENGTH_MAX] for key in keys}


def _query(params: dict[str, str]) -> str:
    return urllib.parse.urlencode({key: value for key, value in params.items() if value})


def _check(request: Request, params: dict[str, str]) -> AuthRequest:
    return _service(request).check_request(
        params["app_id"], params["redirect_uri"], params["state"]
    )


def _page(
    request: Request,
    path: str,
    params: dict[str, str],
    status_code: int = 200,
    *,
    asked: AuthRequest | None = None,
    **extra: Any,
) -> Response:
    merchant_id = current_user_id(request, kind=pages_merchant.KIND)
    apps = (
        _service(request).apps_to_authorise(merchant_id, asked)
        if asked is not None and merchant_id is not None
        else []
    )
    query = _query(params)
    return pages_merchant.render(
        request,
        "merchant/app_auth.html",
        status_code,
        title=pages_merchant.merchant_text(lang_of(request), "app_auth_title"),
        asked=asked,
        params=params,
        apps=apps,
        signed_in=merchant_id is not None,
        action=path,
        login_action=f"{path}/login?{query}",
        **extra,
    )


def _failed(request: Request, path: str, params: dict[str, str], error: DomainError) -> Response:
    context: dict[str, Any] = dict(pages_merchant.merchant_error(request, error))
    return _page(request, path, params, 400, **context)


def _authorize_page(request: Request, path: str) -> Response:
    params = _params(request.query_params)
    try:
        asked = _check(request, params)
    except DomainError as error:
        return _failed(request, path, params, error)
    return _page(request, path, params, asked=asked)


async def _login(request: Request, path: str) -> Response:
    params = _params(request.query_params)
    try:
        asked = _check(request, params)
    except DomainError as error:
        return _failed(request, path, params, error)
    form = await pages_merchant.form_of(request)
    merchant_ref = form.get("merchant_id", "").strip()
    try:
        merchant_id = pages_merchant.services(request)["merchant_accounts"].authenticate(
            merchant_ref, form.get("password", "")
        )
    except DomainError as error:
        context = pages_merchant.merchant_error(request, error)
        return _page(
            request,
            path,
            params,
            status_for(error),
            asked=asked,
            merchant_ref=merchant_ref,
            **context,
        )
    response = RedirectResponse(f"{path}?{_query(params)}", status_code=303)
    sign_in(response, request, merchant_id, kind=pages_merchant.KIND)
    return response


async def _consent(request: Request, path: str) -> Response:
    form = await pages_merchant.form_of(request)
    params = _params(form)
    try:
        asked = _check(request, params)
    except DomainError as error:
        return _failed(request, path, params, error)
    merchant_id = current_user_id(request, kind=pages_merchant.KIND)
    if merchant_id is None:
        return RedirectResponse(f"{path}?{_query(params)}", status_code=303)
    if form.get("decision") != "agree":
        declined = pages_merchant.merchant_text(lang_of(request), "app_auth_declined")
        return _page(request, path, params, asked=asked, declined=True, notice=declined)
    try:
        code = _service(request).authorize(merchant_id, asked, form.get("auth_app_id", ""))
    except DomainError as error:
        context = pages_merchant.merchant_error(request, error)
        return _page(request, path, params, 400, asked=asked, **context)
    fields = {"app_id": asked.isv_app_id, "source": SOURCE, "app_auth_code": code}
    if asked.state:
        fields["state"] = asked.state
    return RedirectResponse(redirect_with(asked.redirect_uri, fields), status_code=303)


@router.get(AUTHORIZE_PATH)
def authorize_page(request: Request) -> Response:
    return _authorize_page(request, AUTHORIZE_PATH)


@router.get(BATCH_AUTHORIZE_PATH)
def batch_authorize_page(request: Request) -> Response:
    return _authorize_page(request, BATCH_AUTHORIZE_PATH)


@router.post(f"{AUTHORIZE_PATH}/login", dependencies=pages_merchant.CSRF)
async def authorize_login(request: Request) -> Response:
    return await _login(request, AUTHORIZE_PATH)


@router.post(f"{BATCH_AUTHORIZE_PATH}/login", dependencies=pages_merchant.CSRF)
async def batch_authorize_login(request: Request) -> Response:
    return await _login(request, BATCH_AUTHORIZE_PATH)


@router.post(AUTHORIZE_PATH, dependencies=pages_merchant.CSRF)
async def authorize(request: Request) -> Response:
    return await _consent(request, AUTHORIZE_PATH)


@router.post(BATCH_AUTHORIZE_PATH, dependencies=pages_merchant.CSRF)
async def batch_authorize(request: Request) -> Response:
    return await _consent(request, BATCH_AUTHORIZE_PATH)


# Portal: 第三方应用授权管理 ---------------------------------------------------------------------


def _list_page(
    request: Request, merchant_id: int, status_code: int = 200, **extra: Any
) -> Response:
    rows = _service(request).authorisations_of(merchant_id)
    if request.query_params.get("done") == "revoked":
        extra.setdefault(
            "notice", pages_merchant.merchant_text(lang_of(request), "app_auth_revoked")
        )
    return pages_merchant.render(
        request,
        "merchant/app_auths.html",
        status_code,
        title=pages_merchant.merchant_text(lang_of(request), "nav_app_auths"),
        rows=rows,
        **extra,
    )


@router.get(LIST_PATH)
def authorisations(
    request: Request, merchant_id: int = Depends(pages_merchant.require_merchant)
) -> Response:
    return _list_page(request, merchant_id)


@router.post(f"{LIST_PATH}/{{auth_id}}/revoke", dependencies=pages_merchant.CSRF)
def revoke(
    request: Request,
    auth_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)],
    merchant_id: int = Depends(pages_merchant.require_merchant),
) -> Response:
    try:
        _service(request).revoke(merchant_id, auth_id)
    except DomainError as error:
        return _list_page(
            request, merchant_id, 404, **pages_merchant.merchant_error(request, error)
        )
    return RedirectResponse(f"{LIST_PATH}?done=revoked", status_code=303)


def install(app: Any) -> None:
    app.include_router(router)
