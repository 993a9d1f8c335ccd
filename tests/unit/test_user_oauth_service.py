"""User OAuth: the pure rules (scopes, state, the redirect rule, the redirect itself) and
UserOAuthService on an in-memory SQLite database (the real OAuth and audit stores; merchants and
users are fakes): consent, widening scopes, codes single use and bound to their app, refresh
rotation, the cap on token pairs, revoking, a frozen user."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import StaticPool

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.adapters.db.database import SqlDatabase
from paybao.adapters.db.tables import metadata
from paybao.adapters.db.tables.user_oauth import oauth_tokens
from paybao.adapters.db.tables.wallet import audit_log
from paybao.adapters.db.user_oauth_store import SqlUserOAuthStore
from paybao.domain.errors import DomainError
from paybao.domain.user_oauth import (
    CODE_TTL_S,
    Scope,
    check_redirect_uri,
    check_state,
    parse_scopes,
    redirect_with,
    scopes_text,
    secret_hash,
)
from paybao.services.audit import AuditTrail
from paybao.services.clock import ManualClock
from paybao.services.merchants import App, Merchant
from paybao.services.user_oauth import TOKENS_PER_GRANT_MAX, UserOAuthService
from paybao.services.users import UserView

APP, OTHER, NOTIFY = "2021000000000001", "2021000000000002", "https://shop.example/notify"
ALICE, BOB = 11, 12


def code_of(error: pytest.ExceptionInfo[DomainError]) -> str:
    return error.value.code


# Pure rules ---------------------------------------------------------------------------------


def test_scopes_are_auth_user_and_auth_base_only() -> None:
    assert parse_scopes("auth_user") == {Scope.AUTH_USER}
    assert parse_scopes("auth_user, auth_base") == {Scope.AUTH_USER, Scope.AUTH_BASE}
    assert scopes_text(parse_scopes("auth_user,auth_base")) == "auth_base,auth_user"
    for bad in ("", "auth_ecard", "auth_user,", "x" * 65):
        with pytest.raises(DomainError) as error:
            parse_scopes(bad)
        assert code_of(error) == "oauth_scope_invalid"


def test_state_is_short_printable_ascii() -> None:
    assert check_state("") == ""
    assert check_state("a-b_c.1~!") == "a-b_c.1~!"
    for bad in ("x" * 101, "中文", "a b", "a\nb"):
        with pytest.raises(DomainError):
            check_state(bad)


def test_the_redirect_uri_shares_the_notify_urls_origin() -> None:
    assert check_redirect_uri("https://shop.example/cb?x=1", NOTIFY)
    assert check_redirect_uri("https://SHOP.example:443/cb", NOTIFY)  # default port, any case
    assert check_redirect_uri("http://127.0.0.1:9000/cb", "http://127.0.0.1:9000/notify")
    refused = [
        ("https://shop.example.evil/cb", NOTIFY),
        ("https://evil@other.example/cb", NOTIFY),
        ("http://shop.example/cb", NOTIFY),
        ("https://shop.example:8443/cb", NOTIFY),
        ("https://shop.example/cb#x", NOTIFY),
        ("//shop.example/cb", NOTIFY),
        ("ftp://shop.example/cb", NOTIFY),
        ("https://shop.example/cb", None),
        ("https://shop.example:99999/cb", NOTIFY),
        ("https://shop.example/" + "x" * 1100, NOTIFY),
    ]
    for redirect_uri, notify_url in refused:
        with pytest.raises(DomainError) as error:
            check_redirect_uri(redirect_uri, notify_url)
        assert code_of(error) == "oauth_redirect_invalid", redirect_uri


def test_the_redirect_keeps_the_merchants_query() -> None:
    assert redirect_with("https://s.example/cb", {"a": "1", "b": "x y"}) == (
        "https://s.example/cb?a=1&b=x+y"
    )
    assert redirect_with("https://s.example/cb?from=p", {"a": "&"}) == (
        "https://s.example/cb?from=p&a=%26"
    )


def test_secrets_are_stored_as_sha256() -> None:
    assert secret_hash("abc") == hashlib.sha256(b"abc").hexdigest()


# The service --------------------------------------------------------------------------------


@dataclass
class Merchants:
    notify_url: str | None = NOTIFY
    apps: dict[str, App] = field(
        default_factory=lambda: {
            APP: App(APP, 1, "", "active"),
            OTHER: App(OTHER, 2, "", "active"),
        }
    )

    def find_app(self, app_id: str) -> App | None:
        return self.apps.get(app_id)

    def merchant(self, merchant_id: int) -> Merchant:
        name = f"商户{merchant_id}"
        return Merchant(merchant_id, name, self.notify_url, 0, 0, None, "active", 0)


@dataclass
class Users:
    frozen: set[int] = field(default_factory=set)

    def get(self, user_id: int) -> UserView:
        status = "frozen" if user_id in self.frozen else "active"
        return UserView(user_id, "138****0000", "*三", status, "III", 1)


@dataclass
class World:
    oauth: UserOAuthService
    db: SqlDatabase
    clock: ManualClock
    merchants: Merchants
    users: Users


@pytest.fixture
def world() -> Iterator[World]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    db = SqlDatabase(engine)
    clock = ManualClock(1_800_000_000_000_000)
    merchants, users = Merchants(), Users()
    oauth = UserOAuthService(
        db=db,
        store=SqlUserOAuthStore("sqlite"),
        clock=clock,
        merchants=merchants,  # type: ignore[arg-type]
        users=users,  # type: ignore[arg-type]
        audit=AuditTrail(db, SqlAdminStore(), clock),
    )
    yield World(oauth, db, clock, merchants, users)
    engine.dispose()


def ask(world: World, scope: str = "auth_user", app_id: str = APP) -> Any:
    return world.oauth.check_request(app_id, scope, "https://shop.example/cb", "st")


def count(world: World, table: Any) -> int:
    with world.db.read() as tx:
        return int(tx.execute(select(func.count()).select_from(table)).scalar_one())


def test_auth_user_needs_consent_once_and_auth_base_never(world: World) -> None:
    oauth = world.oauth
    user, base = ask(world), ask(world, "auth_base")
    assert (user.merchant_name, user.scope, user.state) == ("商户1", "auth_user", "st")
    assert oauth.needs_consent(ALICE, user) and not oauth.needs_consent(ALICE, base)
    with pytest.raises(DomainError) as error:
        oauth.authorize(ALICE, user, consented=False)
    assert code_of(error) == "oauth_consent_required"
    oauth.authorize(ALICE, base, consented=False)  # auth_base: silently
    assert oauth.needs_consent(ALICE, user)  # auth_base did not grant auth_user
    oauth.authorize(ALICE, user, consented=True)
    assert not oauth.needs_consent(ALICE, user)
    (view,) = oauth.grants_of(ALICE)
    assert view.grant.scopes == {Scope.AUTH_BASE, Scope.AUTH_USER}  # widened, one row
    assert view.merchant_name == "商户1"
    assert oauth.grants_of(BOB) == []
    with world.db.read() as tx:
        actions = list(tx.execute(select(audit_log.c.action)).scalars())
    assert actions == ["oauth.granted", "oauth.granted"]


def test_requests_for_unknown_or_disabled_apps_are_refused(world: World) -> None:
    world.merchants.apps[OTHER] = replace(world.merchants.apps[OTHER], status="disabled")
    for app_id in ("2021000000000404", OTHER, "x" * 100):
        with pytest.raises(DomainError) as error:
            ask(world, app_id=app_id)
        assert code_of(error) == "oauth_app_invalid"


def test_a_code_is_used_once_by_its_own_app_before_it_expires(world: World) -> None:
    oauth = world.oauth
    code = oauth.authorize(ALICE, ask(world), consented=True)
    with pytest.raises(DomainError) as error:
        oauth.exchange_code(OTHER, code)
    assert code_of(error) == "oauth_code_invalid"
    issued = oauth.exchange_code(APP, code)
    assert issued.user_id == ALICE and issued.scopes == {Scope.AUTH_USER}
    with pytest.raises(DomainError):
        oauth.exchange_code(APP, code)
    late = oauth.authorize(ALICE, ask(world), consented=True)
    world.clock.advance(CODE_TTL_S)
    with pytest.raises(DomainError) as error:
        oauth.exchange_code(APP, late)
    assert code_of(error) == "oauth_code_invalid"
    for junk in ("", "x" * 65):
        with pytest.raises(DomainError):
            oauth.exchange_code(APP, junk)


def test_refresh_rotates_and_the_holder_is_the_user(world: World) -> None:
    oauth = world.oauth
    first = oauth.exchange_code(APP, oauth.authorize(ALICE, ask(world), consented=True))
    holder = oauth.holder(APP, first.access_token)
    assert (holder.user_id, holder.scopes) == (ALICE, {Scope.AUTH_USER})
    with pytest.raises(DomainError) as error:
        oauth.holder(OTHER, first.access_token)
    assert code_of(error) == "oauth_token_invalid"
    second = oauth.refresh(APP, first.refresh_token)
    assert oauth.holder(APP, second.access_token).user_id == ALICE
    with pytest.raises(DomainError) as error:
        oauth.holder(APP, first.access_token)
    assert code_of(error) == "oauth_token_invalid"
    with pytest.raises(DomainError) as error:
        oauth.refresh(APP, first.refresh_token)
    assert code_of(error) == "oauth_refresh_token_invalid"
    assert count(world, oauth_tokens) == 1  # rotated in place


def test_an_authorisation_keeps_a_bounded_number_of_token_pairs(world: World) -> None:
    oauth = world.oauth
    tokens = [
        oauth.exchange_code(APP, oauth.authorize(ALICE, ask(world), consented=True))
        for _ in range(TOKENS_PER_GRANT_MAX + 3)
    ]
    assert count(world, oauth_tokens) == TOKENS_PER_GRANT_MAX
    with pytest.raises(DomainError):
        oauth.holder(APP, tokens[0].access_token)  # the oldest pairs were dropped
    assert oauth.holder(APP, tokens[-1].access_token).user_id == ALICE


def test_revoking_ends_every_code_and_token_and_only_the_owner_may(world: World) -> None:
    oauth = world.oauth
    token = oauth.exchange_code(APP, oauth.authorize(ALICE, ask(world), consented=True))
    pending = oauth.authorize(ALICE, ask(world), consented=True)
    (view,) = oauth.grants_of(ALICE)
    with pytest.raises(DomainError) as error:
        oauth.revoke(BOB, view.grant.id)
    assert code_of(error) == "oauth_grant_not_found"
    oauth.revoke(ALICE, view.grant.id)
    assert oauth.grants_of(ALICE) == []
    for attempt in (
        lambda: oauth.holder(APP, token.access_token),
        lambda: oauth.refresh(APP, token.refresh_token),
        lambda: oauth.exchange_code(APP, pending),
    ):
        with pytest.raises(DomainError):
            attempt()
    with pytest.raises(DomainError):
        oauth.revoke(ALICE, view.grant.id)
    # Authorising again starts over: consent is asked again.
    assert oauth.needs_consent(ALICE, ask(world))


def test_a_frozen_user_cannot_authorise(world: World) -> None:
    world.users.frozen.add(ALICE)
    with pytest.raises(DomainError) as error:
        world.oauth.authorize(ALICE, ask(world, "auth_base"), consented=False)
    assert code_of(error) == "account_frozen"
