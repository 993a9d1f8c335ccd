"""User OAuth pages: the authorize page (what Alipay's
`https://openauth.alipay.com/oauth2/publicAppAuthorize.htm` is) and the wallet's list of
authorised apps (已授权的应用).

Authorize (`GET /oauth2/publicAppAuthorize.htm?app_id&scope&redirect_uri[&state]`, phone-sized):
the parameters are checked first (services/user_oauth.py; a bad app or redirect_uri shows an
error here and never redirects); a user who is not signed in signs in on the page
(pages_user.sign_in_and_return) and comes back to it; scope auth_base, or an authorisation that
already covers the scopes, redirects at once; auth_user shows the merchant's name and what will
be shared, and the user agrees or declines. Agreeing redirects (303) to
`redirect_uri?app_id=..&source=alipay_wallet&scope=..&auth_code=..[&state=..]`.

Every POST checks CSRF; a DomainError re-renders the page with the message for its code.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.user_oauth import redirect_with
from paybao.services.user_oauth import AuthorizeRequest, UserOAuthService
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, form_of, render, sign_in_and_return
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
AUTHORIZE_PATH = "/oauth2/publicAppAuthorize.htm"
QUERY_LENGTH_MAX = 2048
SOURCE = "alipay_wallet"  # what Alipay's redirect says the user came from

ERRORS: dict[str, dict[str, str]] = {
    "oauth_app_invalid": {"zh": "应用不存在或已停用", "en": "No such app, or it is disabled"},
    "oauth_scope_invalid": {
        "zh": "授权范围（scope）须为 auth_user 或 auth_base",
        "en": "scope must be auth_user or auth_base",
    },
    "oauth_redirect_invalid": {
        "zh": "回调地址（redirect_uri）须与应用的通知地址同域（协议、域名、端口相同）",
        "en": "redirect_uri must be on the same origin as the app's notify_url",
    },
    "oauth_state_invalid": {
        "zh": "state 最长 100 位，且只能是英文字母、数字和符号",
        "en": "state is at most 100 printable ASCII characters",
    },
    "oauth_grant_not_found": {"zh": "该授权不存在或已取消", "en": "No such authorisation"},
    "account_frozen": {"zh": "账户已冻结，暂不能授权", "en": "The account is frozen"},
}
SCOPE_TEXTS = {
    "auth_base": {"zh": "获取你的用户 ID", "en": "Know your user id"},
    "auth_user": {
        "zh": "获取你的公开信息（用户 ID、姓名中隐去姓的昵称、是否实名）",
        "en": "Read your public profile (user id, name with the surname hidden, verified or not)",
    },
}


def _oauth(request: Request) -> UserOAuthService:
    service: UserOAuthService = platform_of(request).services["user_oauth"]
    return service


def _scope_lines(request: Request, scope_values: list[str]) -> list[str]:
    lang = lang_of(request)
    return [SCOPE_TEXTS[value][lang] for value in scope_values if value in SCOPE_TEXTS]


def _page(
    request: Request,
    params: dict[str, str],
    status_code: int = 200,
    *,
    asked: AuthorizeRequest | None = None,
    **extra: Any,
) -> Response:
    if asked is None and "error" not in extra:
        try:
            asked = _check(request, params)
        except DomainError as error:
            return _page(request, params, 400, **_error(request, error))
    scopes = sorted(scope.value for scope in asked.scopes) if asked is not None else []
    title = "授权登录" if lang_of(request) == "zh" else "Authorise"
    query = _query(params)
    return render(
        request,
        "oauth/authorize.html",
        status_code,
        title=title,
        asked=asked,
        params=params,
        scope_lines=_scope_lines(request, scopes),
        user_id=current_user_id(request),
        login_action=f"{AUTHORIZE_PATH}/login?{query}",
        **extra,
    )


def _error(request: Request, error: DomainError) -> dict[str, Any]:
    return page_error(request, error, ERRORS)


def _params(values: Any) -> dict[str, str]:
    keys = ("app_id", "scope", "redirect_uri", "state")
    return {key: str(values.get(key, ""))[:QUERY_LENGTH_MAX] for key in keys}


def _query(params: dict[str, str]) -> str:
    return urllib.parse.urlencode({key: value for key, value in params.items() if value})


def _check(request: Request, params: dict[str, str]) -> AuthorizeRequest:
    return _oauth(request).check_request(
        params["app_id"], params["scope"], params["redirect_uri"], params["state"]
    )


def _redirect_back(request: AuthorizeRequest, code: str) -> RedirectResponse:
    fields = {
        "app_id": request.app_id,
        "source": SOURCE,
        "scope": request.scope,
        "auth_code": code,
    }
    if request.state:
        fields["state"] = request.state
    return RedirectResponse(redirect_with(request.redirect_uri, fields), status_code=303)


@router.get(AUTHORIZE_PATH)
def authorize_page(request: Request) -> Response:
    params = _params(request.query_params)
    try:
        asked = _check(request, params)
    except DomainError as error:
        return _page(request, params, 400, **_error(request, error))
    user_id = current_user_id(request)
    oauth = _oauth(request)
    if user_id is not None and not oauth.needs_consent(user_id, asked):
        try:
            return _redirect_back(asked, oauth.authorize(user_id, asked, consented=False))
        except DomainError as error:
            return _page(request, params, 400, asked=asked, **_error(request, error))
    return _page(request, params, asked=asked)


@router.post(f"{AUTHORIZE_PATH}/login")
async def authorize_login(request: Request) -> Response:
    params = _params(request.query_params)
    try:
        _check(request, params)
    except DomainError as error:
        return _page(request, params, 400, **_error(request, error))
    try:
        return await sign_in_and_return(request, f"{AUTHORIZE_PATH}?{_query(params)}")
    except DomainError as error:
        return _page(request, params, 400, **_error(request, error))


@router.post(AUTHORIZE_PATH, dependencies=CSRF)
async def authorize(request: Request) -> Response:
    form = await form_of(request)
    params = _params(form)
    try:
        asked = _check(request, params)
    except DomainError as error:
        return _page(request, params, 400, **_error(request, error))
    user_id = current_user_id(request)
    if user_id is None:
        return RedirectResponse(f"{AUTHORIZE_PATH}?{_query(params)}", status_code=303)
    if form.get("decision") != "agree":
        declined = "你已拒绝授权" if lang_of(request) == "zh" else "You declined"
        return _page(request, params, asked=asked, declined=True, notice=declined)
    try:
        code = _oauth(request).authorize(user_id, asked, consented=True)
    except DomainError as error:
        return _page(request, params, 400, asked=asked, **_error(request, error))
    return _redirect_back(asked, code)


# Wallet: 已授权的应用 ---------------------------------------------------------------------------


@router.get("/wallet/authorized-apps")
def grants_page(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    return _grants_page(request, user_id)


def _grants_page(request: Request, user_id: int, status_code: int = 200, **extra: Any) -> Response:
    zh = lang_of(request) == "zh"
    rows = [
        {
            "view": view,
            "scope_lines": _scope_lines(request, sorted(s.value for s in view.grant.scopes)),
        }
        for view in _oauth(request).grants_of(user_id)
    ]
    notice = ""
    if request.query_params.get("done") == "revoked":
        notice = "已取消授权" if zh else "Authorisation removed"
    extra.setdefault("notice", notice)
    title = "已授权的应用" if zh else "Authorised apps"
    return render(request, "oauth/grants.html", status_code, title=title, rows=rows, **extra)


@router.post("/wallet/authorized-apps/{grant_id}/revoke", dependencies=CSRF)
def revoke(request: Request, grant_id: int) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        _oauth(request).revoke(user_id, grant_id)
    except DomainError as error:
        return _grants_page(request, user_id, 404, **_error(request, error))
    return RedirectResponse("/wallet/authorized-apps?done=revoked", status_code=303)


def install(app: Any) -> None:
    """Before the wallet pages: their `/wallet/{kind}` would shadow `/wallet/authorized-apps`."""
    app.include_router(router)
