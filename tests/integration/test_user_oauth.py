"""User OAuth end to end on a migrated database (SQLite and PostgreSQL): the authorize page
(sign in, consent, redirect), alipay.system.oauth.token (codes single use, short-lived, bound to
their app; refresh rotates the pair) and alipay.user.info.share (scopes, expiry), the user's list
of authorised apps and revoking, and what is stored (hashes, never the secrets)."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from gateway_support import APP_ID, make_shop
from oauth_support import (
    CALLBACK,
    SHOP_ORIGIN,
    TOKEN,
    agree,
    authorize_url,
    code_for,
    exchange,
    gateway,
    info,
    oauth_shop,
    oauth_user,
    redirected_params,
    refresh,
    sign_in,
)
from sqlalchemy import select
from tests.integration.admin_support import csrf_of
from tests.support.races import race_outcomes

from paybao.adapters.alipay.methods import user_wire_id
from paybao.adapters.db.tables.user_oauth import oauth_codes, oauth_grants, oauth_tokens
from paybao.bootstrap import Platform
from paybao.domain.user_oauth import ACCESS_TOKEN_TTL_S, CODE_TTL_S, REFRESH_TOKEN_TTL_S

OTHER_APP = "2021000000000778"


def test_the_authorize_page_signs_in_asks_and_redirects_with_a_code(
    platform: Platform, client: TestClient
) -> None:
    oauth_shop(platform)
    user_id = oauth_user(platform, "13800000601")
    url = authorize_url(APP_ID, "auth_user", state="xyz-1")

    # Not signed in: the merchant's name, what is shared, and the wallet's sign-in form.
    page = client.get(url)
    assert page.status_code == 200
    assert "测试商户" in page.text and 'id="login"' in page.text
    assert "获取你的公开信息" in page.text
    sign_in(client, url, "13800000601")

    back = redirected_params(agree(client, url))
    assert back["from"] == "paybao"  # the merchant's own query is kept
    assert (back["app_id"], back["source"], back["scope"], back["state"]) == (
        APP_ID,
        "alipay_wallet",
        "auth_user",
        "xyz-1",
    )
    key, token = exchange(client, back["auth_code"])
    assert key == "alipay_system_oauth_token_response"
    assert token["code"] == "10000"
    assert token["user_id"] == user_wire_id(user_id)
    assert (token["expires_in"], token["re_expires_in"]) == (
        ACCESS_TOKEN_TTL_S,
        REFRESH_TOKEN_TTL_S,
    )
    assert token["access_token"].startswith("authusrB") and len(token["auth_start"]) == 19

    key, profile = info(client, token["access_token"])
    assert key == "alipay_user_info_share_response"
    assert profile == {
        "code": "10000",
        "msg": "Success",
        "user_id": user_wire_id(user_id),
        "nick_name": "*小明",
        "is_certified": "T",
        "is_blocked": "F",
        "user_type": "2",
    }

    # Authorised once, the next auth_user request goes straight back (no consent page).
    again = client.get(url, follow_redirects=False)
    assert again.status_code == 303 and "auth_code=" in again.headers["location"]


def test_declining_issues_nothing_and_auth_base_is_silent_and_cannot_read_the_profile(
    platform: Platform, client: TestClient
) -> None:
    oauth_shop(platform)
    user_id = oauth_user(platform, "13800000602", real_name=None)
    url = authorize_url(APP_ID, "auth_user", state="")
    sign_in(client, url, "13800000602")
    declined = agree(client, url, decision="deny")
    assert declined.status_code == 200 and 'id="back"' in declined.text
    with platform.db.read() as tx:
        assert tx.execute(select(oauth_codes)).first() is None

    silent = client.get(authorize_url(APP_ID, "auth_base", state=""), follow_redirects=False)
    back = redirected_params(silent)
    assert back["scope"] == "auth_base" and "state" not in back
    _, token = exchange(client, back["auth_code"])
    assert token["user_id"] == user_wire_id(user_id)
    key, refused = info(client, token["access_token"])
    assert key == "alipay_user_info_share_response"
    assert (refused["code"], refused["sub_code"]) == ("40006", "isv.insufficient-user-permissions")


def test_a_code_is_single_use_short_lived_and_bound_to_its_app(
    platform: Platform, client: TestClient
) -> None:
    oauth_shop(platform)
    make_shop(platform, notify_url=f"{SHOP_ORIGIN}/notify", app_id=OTHER_APP)
    user_id = oauth_user(platform, "13800000603")

    code = code_for(platform, user_id, APP_ID)
    key, stolen = exchange(client, code, app_id=OTHER_APP)
    assert key == "error_response"
    assert stolen == {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.code-invalid",
        "sub_msg": "授权码code无效",
    }
    key, first = exchange(client, code)  # another app's attempt did not spend it
    assert key == "alipay_system_oauth_token_response" and first["code"] == "10000"
    key, second = exchange(client, code)
    assert (key, second["sub_code"]) == ("error_response", "isv.code-invalid")
    assert exchange(client, "f" * 32)[1]["sub_code"] == "isv.code-invalid"
    assert exchange(client, "")[1]["sub_code"] == "isv.code-invalid"

    late = code_for(platform, user_id, APP_ID)
    platform.sandbox_clock.advance(CODE_TTL_S + 1)
    assert exchange(client, late)[1]["sub_code"] == "isv.code-invalid"


def test_grant_type_is_a_top_level_parameter(platform: Platform, client: TestClient) -> None:
    oauth_shop(platform)
    user_id = oauth_user(platform, "13800000604")
    code = code_for(platform, user_id, APP_ID)
    inside = {"grant_type": "authorization_code", "code": code}
    key, refused = gateway(client, TOKEN, biz=inside)
    assert (key, refused["sub_code"]) == ("error_response", "isv.grant-type-invalid")
    assert gateway(client, TOKEN, grant_type="password")[1]["sub_code"] == "isv.grant-type-invalid"
    assert exchange(client, code)[1]["code"] == "10000"  # the refusals did not spend it


def test_refresh_rotates_the_pair_and_tokens_expire(platform: Platform, client: TestClient) -> None:
    oauth_shop(platform)
    user_id = oauth_user(platform, "13800000605")
    _, first = exchange(client, code_for(platform, user_id, APP_ID))

    key, second = refresh(client, first["refresh_token"])
    assert key == "alipay_system_oauth_token_response" and second["code"] == "10000"
    assert second["user_id"] == user_wire_id(user_id)
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    # The old pair stops working at once; the new one works.
    assert info(client, first["access_token"])[1]["sub_code"] == "aop.invalid-auth-token"
    old = refresh(client, first["refresh_token"])
    assert old == (
        "error_response",
        {
            "code": "40002",
            "msg": "Invalid Arguments",
            "sub_code": "isv.refresh-token-invalid",
            "sub_msg": "刷新令牌refresh_token无效",
        },
    )
    assert info(client, second["access_token"])[1]["code"] == "10000"
    # Another app cannot use this app's refresh token.
    make_shop(platform, notify_url=f"{SHOP_ORIGIN}/notify", app_id=OTHER_APP)
    foreign = refresh(client, second["refresh_token"], app_id=OTHER_APP)
    assert foreign[1]["sub_code"] == "isv.refresh-token-invalid"

    platform.sandbox_clock.advance(ACCESS_TOKEN_TTL_S + 1)
    expired = info(client, second["access_token"])[1]
    assert (expired["code"], expired["sub_code"]) == ("20001", "aop.auth-token-time-out")
    _, third = refresh(client, second["refresh_token"])  # the refresh token lives longer
    assert info(client, third["access_token"])[1]["code"] == "10000"

    platform.sandbox_clock.advance(REFRESH_TOKEN_TTL_S + 1)
    assert refresh(client, third["refresh_token"])[1]["sub_code"] == "isv.refresh-token-time-out"


def test_the_user_sees_and_revokes_an_authorisation(platform: Platform, client: TestClient) -> None:
    oauth_shop(platform)
    user_id = oauth_user(platform, "13800000606")
    url = authorize_url(APP_ID)
    sign_in(client, url, "13800000606")
    code = redirected_params(agree(client, url))["auth_code"]
    _, token = exchange(client, code)
    pending = code_for(platform, user_id, APP_ID)

    page = client.get("/wallet/authorized-apps")
    assert page.status_code == 200 and "测试商户" in page.text
    with platform.db.read() as tx:
        grant_id = tx.execute(select(oauth_grants.c.id)).scalar_one()
    assert f'data-grant-id="{grant_id}"' in page.text
    done = client.post(
        f"/wallet/authorized-apps/{grant_id}/revoke",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303

    assert info(client, token["access_token"])[1]["sub_code"] == "aop.invalid-auth-token"
    assert refresh(client, token["refresh_token"])[1]["sub_code"] == "isv.refresh-token-invalid"
    assert exchange(client, pending)[1]["sub_code"] == "isv.code-invalid"
    after = client.get("/wallet/authorized-apps?done=revoked")
    assert 'id="no-grants"' in after.text and "已取消授权" in after.text
    # Revoking twice, or someone else's authorisation: not found.
    again = client.post(
        f"/wallet/authorized-apps/{grant_id}/revoke", data={"csrf_token": csrf_of(after.text)}
    )
    assert again.status_code == 404
    # After revoking, auth_user asks again.
    assert client.get(url, follow_redirects=False).status_code == 200


def test_the_redirect_uri_must_share_the_notify_urls_origin(
    platform: Platform, client: TestClient
) -> None:
    oauth_shop(platform)
    make_shop(platform, notify_url=None, app_id=OTHER_APP)
    oauth_user(platform, "13800000607")
    refused = {
        "https://evil.example/steal": "oauth_redirect_invalid",
        "http://shop.example/oauth/back": "oauth_redirect_invalid",  # scheme differs
        "https://shop.example:8443/back": "oauth_redirect_invalid",  # port differs
        "javascript:alert(1)": "oauth_redirect_invalid",
        f"{SHOP_ORIGIN}/back#frag": "oauth_redirect_invalid",
    }
    for redirect_uri, code in refused.items():
        page = client.get(authorize_url(APP_ID, redirect_uri=redirect_uri), follow_redirects=False)
        assert page.status_code == 400, redirect_uri
        assert f'data-code="{code}"' in page.text
    no_notify = client.get(authorize_url(OTHER_APP), follow_redirects=False)
    assert 'data-code="oauth_redirect_invalid"' in no_notify.text
    unknown = client.get(authorize_url("2021000000009999"), follow_redirects=False)
    assert 'data-code="oauth_app_invalid"' in unknown.text
    scope = client.get(authorize_url(APP_ID, scope="auth_ecard"), follow_redirects=False)
    assert 'data-code="oauth_scope_invalid"' in scope.text
    state = client.get(authorize_url(APP_ID, state="x" * 101), follow_redirects=False)
    assert 'data-code="oauth_state_invalid"' in state.text
    # Signed in, a bad redirect still never redirects.
    url = authorize_url(APP_ID, redirect_uri="https://evil.example/steal")
    good = authorize_url(APP_ID)
    sign_in(client, good, "13800000607")
    assert client.get(url, follow_redirects=False).status_code == 400
    assert client.get(authorize_url(APP_ID, redirect_uri=CALLBACK + "&x=1")).status_code == 200


def test_only_hashes_are_stored(platform: Platform, client: TestClient) -> None:
    oauth_shop(platform)
    user_id = oauth_user(platform, "13800000608")
    code = code_for(platform, user_id, APP_ID)
    _, token = exchange(client, code)
    with platform.db.read() as tx:
        stored = tx.execute(select(oauth_tokens)).mappings().one()
        code_row = tx.execute(select(oauth_codes)).mappings().one()
    sha = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    assert stored["access_hash"] == sha(token["access_token"])
    assert stored["refresh_hash"] == sha(token["refresh_token"])
    assert code_row["code_hash"] == sha(code)
    assert token["access_token"] not in str(dict(stored)) and code not in str(dict(code_row))


def test_a_code_exchanged_at_once_by_many_gives_one_token(
    platform: Platform, client: TestClient
) -> None:
    oauth_shop(platform)
    user_id = oauth_user(platform, "13800000609")
    code = code_for(platform, user_id, APP_ID)
    oauth = platform.services["user_oauth"]
    outcomes = race_outcomes(4, lambda _i: oauth.exchange_code(APP_ID, code))
    assert outcomes == ["oauth_code_invalid"] * 3 + ["ok"]
    with platform.db.read() as tx:
        assert len(tx.execute(select(oauth_tokens)).all()) == 1
