"""Helpers for third-party app authorisation tests: an ISV (its own merchant, app and key, its
notify_url fixing the allowed redirect origin), merchants with portal passwords, the
authorisation page walked as a browser would, and signed gateway calls checked against the
calling app's own generation of the platform key."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from gateway_support import Shop, app_keys, other_keys, signed_params
from tests.integration.admin_support import csrf_of

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.keys import KeyPair
from paybao.adapters.alipay.signing import verify_content
from paybao.bootstrap import Platform
from paybao.services.merchants import NewMerchant

ISV_APP = "2021000000005001"
OTHER_ISV_APP = "2021000000005002"
SHOP_APP = "2021000000005101"
SECOND_SHOP_APP = "2021000000005102"
ISV_ORIGIN = "https://pos.example"
CALLBACK = f"{ISV_ORIGIN}/alipay/auth?from=paybao"
AUTHORIZE = "/oauth2/appToAppAuth.htm"
TOKEN = "alipay.open.auth.token.app"
QUERY = "alipay.open.auth.token.app.query"
MERCHANT_PASSWORD = "shop-pass-2024"


@dataclass
class Isv:
    shop: Shop

    @property
    def app_id(self) -> str:
        return self.shop.app.app_id

    @property
    def keys(self) -> KeyPair:
        return self.shop.keys


def make_isv(platform: Platform, app_id: str = ISV_APP, name: str = "收银云服务商") -> Isv:
    """An ISV with its own key (other_keys), whose notify_url is on ISV_ORIGIN."""
    new = NewMerchant(name=name, notify_url=f"{ISV_ORIGIN}/notify", app_id=app_id)
    merchant, app = platform.services["merchants"].create(new, other_keys().public_pem_spki)
    return Isv(Shop(merchant, app, other_keys()))


def make_merchant(
    platform: Platform, app_id: str = SHOP_APP, name: str = "街角咖啡", **extra: Any
) -> Shop:
    """A merchant with a portal password (its app signs with app_keys)."""
    new = NewMerchant(name=name, app_id=app_id, **extra)
    merchant, app = platform.services["merchants"].create(new, app_keys().public_pem_spki)
    platform.services["merchant_accounts"].set_password(merchant.id, MERCHANT_PASSWORD)
    return Shop(merchant, app, app_keys())


def authorize_url(
    isv_app_id: str = ISV_APP, redirect_uri: str = CALLBACK, state: str = "", path: str = AUTHORIZE
) -> str:
    params = {"app_id": isv_app_id, "redirect_uri": redirect_uri}
    if state:
        params["state"] = state
    return f"{path}?{urllib.parse.urlencode(params)}"


def sign_in_on_page(
    client: TestClient, url: str, merchant_id: int, password: str = MERCHANT_PASSWORD
) -> Any:
    page = client.get(url)
    assert page.status_code == 200, page.text
    path, query = url.split("?", 1)
    form = {"csrf_token": csrf_of(page.text), "merchant_id": str(merchant_id), "password": password}
    return client.post(f"{path}/login?{query}", data=form, follow_redirects=False)


def consent(
    client: TestClient, url: str, auth_app_id: str | None = None, decision: str = "agree"
) -> Any:
    page = client.get(url)
    assert page.status_code == 200, page.text
    assert 'id="consent"' in page.text and 'id="agree"' in page.text, page.text
    path, query = url.split("?", 1)
    form = {"csrf_token": csrf_of(page.text), "decision": decision}
    form.update(urllib.parse.parse_qsl(query))
    if auth_app_id is not None:
        form["auth_app_id"] = auth_app_id
    return client.post(path, data=form, follow_redirects=False)


def redirected(response: Any) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"{ISV_ORIGIN}/alipay/auth?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def code_for(platform: Platform, merchant_id: int, auth_app_id: str, isv: str = ISV_APP) -> str:
    """A code the quick way (the page is tested on its own)."""
    service = platform.services["app_auth"]
    asked = service.check_request(isv, CALLBACK, "")
    return str(service.authorize(merchant_id, asked, auth_app_id))


def public_pem_of(platform: Platform, app_id: str) -> str:
    """The platform public key the app verifies with (its generation)."""
    app = platform.services["merchants"].app(app_id)
    return str(platform.services["platform_keys"].public_pem(app.platform_key_generation))


def isv_call(
    client: TestClient,
    isv: Isv,
    method: str,
    biz: dict[str, Any] | None = None,
    **params: str,
) -> dict[str, Any]:
    """A call signed with the ISV's key; its answer verified with the ISV's platform key."""
    signed = signed_params(method, biz, keys=isv.keys, app_id=isv.app_id, **params)
    response = client.post("/gateway.do", data=signed)
    assert response.status_code == 200
    platform = client.app.state.platform  # type: ignore[attr-defined]
    return verified(response.content, method, public_pem_of(platform, isv.app_id))


def verified(body: bytes, method: str, public_pem: str) -> dict[str, Any]:
    key = wire.response_key(method)
    text_body = body.decode("utf-8")
    start = text_body.index("{", text_body.index(f'"{key}"'))
    end = text_body.rindex(',"sign":"')
    signature = text_body[end + len(',"sign":"') : -2]
    assert verify_content(text_body[start:end].encode(), signature, public_pem, "RSA2")
    return dict(json.loads(text_body)[key])


def exchange(client: TestClient, isv: Isv, code: str) -> dict[str, Any]:
    return isv_call(client, isv, TOKEN, {"grant_type": "authorization_code", "code": code})


def refresh(client: TestClient, isv: Isv, refresh_token: str) -> dict[str, Any]:
    biz = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return isv_call(client, isv, TOKEN, biz)


def jump_clock(platform: Platform, seconds: int) -> None:
    """Platform time `seconds` later WITHOUT running the year of daily timers on the way
    (`sandbox_clock.advance` would: ~1 min of test time). Token expiry is only a comparison
    with now, and nothing else in these tests waits on a timer."""
    platform.clock.set_offset_us(platform.clock.offset_us(fresh=True) + seconds * 1_000_000)
