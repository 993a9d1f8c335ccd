"""Helpers for user OAuth tests: a shop whose notify_url fixes the allowed origin, a user, the
authorize page walked as a browser would, and signed gateway calls whose answer may come under
`error_response` (alipay.system.oauth.token's refusals)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from fastapi.testclient import TestClient
from gateway_support import LOGIN_PASSWORD, Shop, make_buyer, make_shop, signed_params
from tests.integration.admin_support import csrf_of

from paybao.adapters.alipay.signing import verify_content
from paybao.adapters.db.user_store import SqlUserStore
from paybao.bootstrap import Platform

TOKEN = "alipay.system.oauth.token"
INFO = "alipay.user.info.share"
SHOP_ORIGIN = "https://shop.example"
CALLBACK = f"{SHOP_ORIGIN}/oauth/back?from=paybao"
AUTHORIZE = "/oauth2/publicAppAuthorize.htm"


def oauth_shop(platform: Platform, app_id: str = "2021000000000777") -> Shop:
    return make_shop(platform, notify_url=f"{SHOP_ORIGIN}/notify", app_id=app_id)


def oauth_user(platform: Platform, phone: str, real_name: str | None = "王小明") -> int:
    user_id = make_buyer(platform, phone=phone, balance_fen=0)
    if real_name is not None:
        platform.db.run(lambda tx: SqlUserStore().update(tx, user_id, real_name=real_name))
    return user_id


def authorize_url(
    app_id: str, scope: str = "auth_user", redirect_uri: str = CALLBACK, state: str = "s1"
) -> str:
    params = {"app_id": app_id, "scope": scope, "redirect_uri": redirect_uri}
    if state:
        params["state"] = state
    return f"{AUTHORIZE}?{urllib.parse.urlencode(params)}"


def sign_in(client: TestClient, url: str, phone: str) -> None:
    """Sign in on the authorize page's own form; it comes back to the page."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    query = url.split("?", 1)[1]
    form = {"csrf_token": csrf_of(page.text), "phone": phone, "password": LOGIN_PASSWORD}
    back = client.post(f"{AUTHORIZE}/login?{query}", data=form, follow_redirects=False)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == url


def agree(client: TestClient, url: str, decision: str = "agree") -> Any:
    page = client.get(url, follow_redirects=False)
    assert page.status_code == 200, page.text
    assert 'id="consent"' in page.text and 'id="agree"' in page.text
    query = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))
    form = {"csrf_token": csrf_of(page.text), "decision": decision, **query}
    return client.post(AUTHORIZE, data=form, follow_redirects=False)


def redirected_params(response: Any) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"{SHOP_ORIGIN}/oauth/back?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def code_for(platform: Platform, user_id: int, app_id: str, scope: str = "auth_user") -> str:
    """A code the quick way (the pages are tested on their own)."""
    oauth = platform.services["user_oauth"]
    asked = oauth.check_request(app_id, scope, CALLBACK, "")
    return str(oauth.authorize(user_id, asked, consented=True))


def gateway(
    client: TestClient, method: str, *, biz: dict[str, Any] | None = None, **params: str
) -> tuple[str, dict[str, Any]]:
    """A signed call: (the key its answer came under, the answer), its signature checked."""
    response = client.post("/gateway.do", data=signed_params(method, biz, **params))
    assert response.status_code == 200
    body = response.content.decode("utf-8")
    envelope = json.loads(body)
    key = next(iter(envelope))
    start = body.index("{", body.index(f'"{key}"'))
    end = body.rindex(',"sign":"')
    signature = body[end + len(',"sign":"') : -2]
    public_pem = client.app.state.platform.services["platform_key"].public_pem  # type: ignore[attr-defined]
    assert verify_content(body[start:end].encode(), signature, public_pem, "RSA2")
    return key, dict(envelope[key])


def exchange(client: TestClient, code: str, **params: str) -> tuple[str, dict[str, Any]]:
    return gateway(client, TOKEN, grant_type="authorization_code", code=code, **params)


def refresh(client: TestClient, token: str, **params: str) -> tuple[str, dict[str, Any]]:
    return gateway(client, TOKEN, grant_type="refresh_token", refresh_token=token, **params)


def info(client: TestClient, token: str, **params: str) -> tuple[str, dict[str, Any]]:
    return gateway(client, INFO, auth_token=token, **params)
