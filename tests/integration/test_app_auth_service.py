"""Third-party app authorisation's service on a migrated database (SQLite and PostgreSQL): an
app_auth_code is single use, bound to its ISV and dies after 24 hours; a refresh replaces the
pair (the old token and refresh token stop working); a token expires; revoking deletes the
codes and the pair; what is stored is hashes only."""

from __future__ import annotations

import hashlib

import pytest
from app_auth_support import (
    CALLBACK,
    ISV_APP,
    OTHER_ISV_APP,
    SECOND_SHOP_APP,
    SHOP_APP,
    code_for,
    jump_clock,
    make_isv,
    make_merchant,
)
from sqlalchemy import select
from tests.support.races import race_outcomes

from paybao.adapters.db.tables.app_auth import app_auth_codes, app_auth_tokens, app_auths
from paybao.bootstrap import Platform
from paybao.domain.app_auth import CODE_TTL_S, REFRESH_TOKEN_TTL_S, TOKEN_TTL_S
from paybao.domain.errors import DomainError
from paybao.services.app_auth import AppAuthService


@pytest.fixture
def service(platform: Platform) -> AppAuthService:
    make_isv(platform)
    make_isv(platform, OTHER_ISV_APP, name="另一家服务商")
    return platform.services["app_auth"]  # type: ignore[no-any-return]


def _refused(call: object, code: str) -> None:
    with pytest.raises(DomainError) as raised:
        call()  # type: ignore[operator]
    assert raised.value.code == code


def test_a_code_is_single_use_bound_to_its_isv_and_short_lived(
    platform: Platform, service: AppAuthService
) -> None:
    shop = make_merchant(platform)
    code = code_for(platform, shop.merchant.id, SHOP_APP)

    # Another ISV's try is refused like an unknown code and leaves it usable.
    _refused(lambda: service.exchange_code(OTHER_ISV_APP, code), "app_auth_code_invalid")
    issued = service.exchange_code(ISV_APP, code)
    assert (issued.auth_app_id, issued.merchant_id) == (SHOP_APP, shop.merchant.id)
    assert (issued.expires_in_s, issued.re_expires_in_s) == (TOKEN_TTL_S, REFRESH_TOKEN_TTL_S)
    _refused(lambda: service.exchange_code(ISV_APP, code), "app_auth_code_invalid")
    _refused(lambda: service.exchange_code(ISV_APP, "x" * 65), "app_auth_code_invalid")

    late = code_for(platform, shop.merchant.id, SHOP_APP)
    platform.sandbox_clock.advance(CODE_TTL_S + 1)
    _refused(lambda: service.exchange_code(ISV_APP, late), "app_auth_code_invalid")


def test_refresh_replaces_the_pair_and_the_old_token_stops(
    platform: Platform, service: AppAuthService
) -> None:
    shop = make_merchant(platform)
    first = service.exchange_code(ISV_APP, code_for(platform, shop.merchant.id, SHOP_APP))
    assert service.holder(ISV_APP, first.app_auth_token).auth_app_id == SHOP_APP

    _refused(
        lambda: service.refresh(OTHER_ISV_APP, first.app_refresh_token),
        "app_refresh_token_invalid",
    )
    second = service.refresh(ISV_APP, first.app_refresh_token)
    assert second.app_auth_token != first.app_auth_token
    assert service.holder(ISV_APP, second.app_auth_token).merchant_id == shop.merchant.id
    _refused(lambda: service.holder(ISV_APP, first.app_auth_token), "app_auth_token_invalid")
    _refused(lambda: service.refresh(ISV_APP, first.app_refresh_token), "app_refresh_token_invalid")
    # A new code for the same authorisation replaces the pair too.
    third = service.exchange_code(ISV_APP, code_for(platform, shop.merchant.id, SHOP_APP))
    _refused(lambda: service.holder(ISV_APP, second.app_auth_token), "app_auth_token_invalid")
    assert service.holder(ISV_APP, third.app_auth_token).auth_app_id == SHOP_APP


def test_a_token_is_its_isvs_only_and_expires(platform: Platform, service: AppAuthService) -> None:
    shop = make_merchant(platform)
    issued = service.exchange_code(ISV_APP, code_for(platform, shop.merchant.id, SHOP_APP))
    _refused(lambda: service.holder(OTHER_ISV_APP, issued.app_auth_token), "app_auth_token_invalid")
    _refused(lambda: service.holder(SHOP_APP, issued.app_auth_token), "app_auth_token_invalid")

    jump_clock(platform, TOKEN_TTL_S + 1)
    _refused(lambda: service.holder(ISV_APP, issued.app_auth_token), "app_auth_token_expired")
    status = service.status(ISV_APP, issued.app_auth_token)
    assert (status.valid, status.auth_app_id) == (False, SHOP_APP)
    # The refresh token outlives it by a week: a refresh brings the authorisation back.
    renewed = service.refresh(ISV_APP, issued.app_refresh_token)
    assert service.holder(ISV_APP, renewed.app_auth_token).auth_app_id == SHOP_APP
    jump_clock(platform, REFRESH_TOKEN_TTL_S + 1)
    _refused(
        lambda: service.refresh(ISV_APP, renewed.app_refresh_token), "app_refresh_token_expired"
    )


def test_revoke_deletes_codes_and_pair_and_only_the_owner_may(
    platform: Platform, service: AppAuthService
) -> None:
    shop = make_merchant(platform)
    other = make_merchant(platform, SECOND_SHOP_APP, name="别家店")
    issued = service.exchange_code(ISV_APP, code_for(platform, shop.merchant.id, SHOP_APP))
    pending = code_for(platform, shop.merchant.id, SHOP_APP)
    (view,) = service.authorisations_of(shop.merchant.id)
    assert (view.auth.isv_app_id, view.auth.auth_app_id, view.isv_name) == (
        ISV_APP,
        SHOP_APP,
        "收银云服务商",
    )
    assert service.authorisations_of(other.merchant.id) == []

    _refused(lambda: service.revoke(other.merchant.id, view.auth.id), "app_auth_not_found")
    service.revoke(shop.merchant.id, view.auth.id)
    _refused(lambda: service.holder(ISV_APP, issued.app_auth_token), "app_auth_token_invalid")
    _refused(lambda: service.status(ISV_APP, issued.app_auth_token), "app_auth_token_invalid")
    _refused(lambda: service.exchange_code(ISV_APP, pending), "app_auth_code_invalid")
    _refused(
        lambda: service.refresh(ISV_APP, issued.app_refresh_token), "app_refresh_token_invalid"
    )
    _refused(lambda: service.revoke(shop.merchant.id, view.auth.id), "app_auth_not_found")
    assert service.authorisations_of(shop.merchant.id) == []
    with platform.db.read() as tx:
        assert tx.execute(select(app_auth_codes)).first() is None
        assert tx.execute(select(app_auth_tokens)).first() is None
        assert tx.execute(select(app_auths.c.status)).scalar_one() == "revoked"

    # Authorising again starts afresh: the revoked token stays dead.
    again = service.exchange_code(ISV_APP, code_for(platform, shop.merchant.id, SHOP_APP))
    assert service.holder(ISV_APP, again.app_auth_token).auth_app_id == SHOP_APP
    _refused(lambda: service.holder(ISV_APP, issued.app_auth_token), "app_auth_token_invalid")


def test_only_own_active_apps_and_never_the_isv_itself(
    platform: Platform, service: AppAuthService
) -> None:
    shop = make_merchant(platform)
    other = make_merchant(platform, SECOND_SHOP_APP, name="别家店")
    asked = service.check_request(ISV_APP, CALLBACK, "st")
    assert [app.app_id for app in service.apps_to_authorise(shop.merchant.id, asked)] == [SHOP_APP]
    _refused(
        lambda: service.authorize(shop.merchant.id, asked, SECOND_SHOP_APP), "app_auth_app_invalid"
    )
    _refused(lambda: service.authorize(other.merchant.id, asked, SHOP_APP), "app_auth_app_invalid")
    isv_merchant = platform.services["merchants"].app(ISV_APP).merchant_id
    _refused(lambda: service.authorize(isv_merchant, asked, ISV_APP), "app_auth_self")
    assert service.apps_to_authorise(isv_merchant, asked) == []
    _refused(
        lambda: service.check_request("2021000000009999", CALLBACK, ""), "app_auth_app_invalid"
    )
    _refused(
        lambda: service.check_request(ISV_APP, "https://evil.example/cb", ""),
        "oauth_redirect_invalid",
    )
    _refused(
        lambda: service.check_request(ISV_APP, "javascript:alert(1)", ""), "oauth_redirect_invalid"
    )


def test_secrets_are_stored_hashed(platform: Platform, service: AppAuthService) -> None:
    shop = make_merchant(platform)
    code = code_for(platform, shop.merchant.id, SHOP_APP)
    issued = service.exchange_code(ISV_APP, code)

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    with platform.db.read() as tx:
        codes = [row._mapping for row in tx.execute(select(app_auth_codes))]
        tokens = [row._mapping for row in tx.execute(select(app_auth_tokens))]
    assert [row["code_hash"] for row in codes] == [sha(code)]
    assert [(row["token_hash"], row["refresh_hash"]) for row in tokens] == [
        (sha(issued.app_auth_token), sha(issued.app_refresh_token))
    ]
    stored = repr(codes) + repr(tokens)
    assert code not in stored and issued.app_auth_token not in stored
    assert issued.app_refresh_token not in stored


def test_racing_exchanges_of_one_code_and_refreshes_of_one_token_have_one_winner(
    platform: Platform, service: AppAuthService
) -> None:
    shop = make_merchant(platform)
    code = code_for(platform, shop.merchant.id, SHOP_APP)
    outcomes = race_outcomes(4, lambda _i: service.exchange_code(ISV_APP, code))
    assert outcomes == ["app_auth_code_invalid"] * 3 + ["ok"]

    # The winner's pair is only known hashed: a fresh one for the refresh race.
    issued = service.exchange_code(ISV_APP, code_for(platform, shop.merchant.id, SHOP_APP))
    outcomes = race_outcomes(4, lambda _i: service.refresh(ISV_APP, issued.app_refresh_token))
    assert outcomes == ["app_refresh_token_invalid"] * 3 + ["ok"]
    with platform.db.read() as tx:
        assert len(tx.execute(select(app_auth_tokens)).all()) == 1
