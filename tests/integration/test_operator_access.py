"""Operator access on SQLite and PostgreSQL: disabling an operator (sessions, sign-in, tokens,
the last enabled admin, races) and personal admin API tokens (stored as a hash, shown once,
listed, revoked, expired on the test clock, audited under the operator). The role of each new
route is walked in test_operator_roles.py."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import OPERATOR_PASSWORD, csrf_of, sign_in
from tests.integration.operator_access_support import undelivered_notification
from tests.integration.test_operator_roles import ROOT, audit_rows, snapshot

from paybao.adapters.db.tables.operator_access import operator_tokens
from paybao.adapters.db.tables.wallet import operators
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.operator_access import TOKENS_LIVE_PER_OPERATOR_MAX
from paybao.services.operators import NewOperator

BOB = "ops.bob"
CAROL = "ops.carol"
DAY_S = 86_400


def create(platform: Platform, name: str, role: str | None = None) -> NewOperator:
    created: NewOperator = platform.services["operators"].create(name, OPERATOR_PASSWORD, role)
    return created


def signed_in(client: TestClient, created: NewOperator, steps_ahead: int = 0) -> TestClient:
    response: Any = sign_in(client, created.totp_secret, name=created.name, steps_ahead=steps_ahead)
    assert response.status_code == 303, response.text
    return client


def post(client: TestClient, page: str, action: str, data: dict[str, str] | None = None) -> Any:
    csrf = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf_token": csrf, **(data or {})}, follow_redirects=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_rows(platform: Platform) -> list[Any]:
    with platform.engine.connect() as connection:
        query = select(operator_tokens).order_by(operator_tokens.c.id)
        return list(connection.execute(query).all())


def disabled_at(platform: Platform, name: str) -> int | None:
    with platform.engine.connect() as connection:
        query = select(operators.c.disabled_at_us).where(operators.c.name == name)
        value = connection.execute(query).scalar()
    return int(value) if value is not None else None


# Disabling -----------------------------------------------------------------------------------


def test_an_admin_disables_an_operator_whose_session_and_tokens_stop_at_once(
    platform: Platform, client: TestClient
) -> None:
    root = create(platform, ROOT)
    bob = create(platform, BOB, "support")
    admin = signed_in(TestClient(client.app), root)
    bobs = signed_in(TestClient(client.app), bob)
    token = platform.services["operator_tokens"].create(bob.id, bob.id, "laptop").token
    assert bobs.get("/admin/users").status_code == 200
    assert client.get("/api/v1/admin/me", headers=bearer(token)).json()["name"] == BOB

    response = post(
        admin,
        "/admin/operators",
        f"/admin/operators/{bob.id}/disable",
        {"reason": "left the company"},
    )

    assert response.status_code == 303
    assert disabled_at(platform, BOB) is not None
    # The live session: sent to the sign-in page at its very next request, GET or POST.
    page = bobs.get("/admin/users", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/admin/login")
    assert "Max-Age=0" in page.headers["set-cookie"]  # the dead session cookie is dropped
    # The token: refused, and revoked for good.
    refused = client.get("/api/v1/admin/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "admin_token_invalid"
    assert [row.revoked_at_us is not None for row in token_rows(platform)] == [True]
    disabled = audit_rows(platform)[-1]
    assert (disabled.operator_id, disabled.action, disabled.subject, disabled.outcome) == (
        root.id,
        "operator.disable",
        f"operator:{bob.id}",
        "ok",
    )
    assert disabled.detail == f"{BOB} role=support tokens_revoked=1: left the company"
    listing = admin.get("/admin/operators").text
    assert f'data-operator-id="{bob.id}" data-role="support" data-status="disabled"' in listing


def test_a_disabled_operator_cannot_sign_in_until_enabled_and_its_tokens_stay_revoked(
    platform: Platform, client: TestClient
) -> None:
    root = create(platform, ROOT)
    bob = create(platform, BOB, "finance")
    tokens = platform.services["operator_tokens"]
    token = tokens.create(None, bob.id, "reports").token
    platform.services["operators"].disable(root.id, bob.id)

    refused: Any = sign_in(TestClient(client.app), bob.totp_secret, name=BOB)
    assert refused.status_code == 401
    assert 'data-code="operator_disabled"' in refused.text
    attempt = audit_rows(platform)[-1]
    assert (attempt.operator_id, attempt.action, attempt.outcome) == (
        bob.id,
        "operator.sign_in",
        "operator_disabled",
    )
    # A wrong password still says only "wrong credentials": a guesser learns nothing.
    guessed: Any = sign_in(
        TestClient(client.app), bob.totp_secret, name=BOB, password="not the password"
    )
    assert 'data-code="bad_credentials"' in guessed.text
    # Minting for a disabled operator is refused too.
    with pytest.raises(DomainError) as caught:
        tokens.create(root.id, bob.id, "again")
    assert caught.value.code == "operator_disabled"

    admin = signed_in(TestClient(client.app), root)
    response = post(admin, "/admin/operators", f"/admin/operators/{bob.id}/enable")
    assert response.status_code == 303
    assert disabled_at(platform, BOB) is None
    enabled = audit_rows(platform)[-1]
    assert (enabled.operator_id, enabled.action, enabled.detail) == (
        root.id,
        "operator.enable",
        f"{BOB} role=finance",
    )
    again = signed_in(TestClient(client.app), bob, steps_ahead=1)
    assert again.get("/admin/users").status_code == 200
    assert client.get("/api/v1/admin/me", headers=bearer(token)).status_code == 401


def test_enabling_again_does_not_revive_the_sessions_from_before_the_disable(
    platform: Platform, client: TestClient
) -> None:
    root = create(platform, ROOT)
    bob = create(platform, BOB, "support")
    old = signed_in(TestClient(client.app), bob)
    assert old.get("/admin/users").status_code == 200
    time.sleep(1.1)  # sessions are stamped in whole seconds
    platform.services["operators"].disable(root.id, bob.id)
    platform.services["operators"].enable(root.id, bob.id)

    refused = old.get("/admin/users", follow_redirects=False)

    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/admin/login")
    fresh = signed_in(TestClient(client.app), bob, steps_ahead=1)
    assert fresh.get("/admin/users").status_code == 200


def test_the_last_enabled_admin_cannot_be_disabled_nor_can_anyone_disable_themself(
    platform: Platform, client: TestClient
) -> None:
    operators_service = platform.services["operators"]
    root = create(platform, ROOT)
    second = create(platform, BOB, "admin")
    admin = signed_in(TestClient(client.app), root)

    itself = post(admin, "/admin/operators", f"/admin/operators/{root.id}/disable")
    assert itself.status_code == 409
    assert 'data-code="operator_self_disable"' in itself.text
    huge = post(admin, "/admin/operators", f"/admin/operators/{2**64}/disable")
    assert huge.status_code == 422  # no such row id: refused before any look-up
    missing = post(admin, "/admin/operators", "/admin/operators/424242/disable")
    assert missing.status_code == 404
    assert 'data-code="operator_not_found"' in missing.text
    own_form = f'action="/admin/operators/{root.id}/disable"'
    assert own_form not in admin.get("/admin/operators").text

    disabled = post(admin, "/admin/operators", f"/admin/operators/{second.id}/disable")
    assert disabled.status_code == 303
    # Now root is the last enabled admin (the disabled one counts for nothing): the CLI cannot
    # disable it, and no one can demote it.
    before = snapshot(platform)
    with pytest.raises(DomainError) as caught:
        operators_service.disable(None, root.id)
    assert caught.value.code == "operator_last_admin"
    with pytest.raises(DomainError) as caught:
        operators_service.set_role(None, root.id, "viewer")
    assert caught.value.code == "operator_last_admin"
    assert snapshot(platform) == before
    refusals = [(r.action, r.outcome) for r in audit_rows(platform) if r.outcome != "ok"]
    assert refusals == [
        ("operator.disable", "operator_self_disable"),
        ("operator.disable", "operator_last_admin"),
        ("operator.set_role", "operator_last_admin"),
    ]
    # The disabled admin may lose its role: that takes power from no one.
    assert operators_service.set_role(root.id, second.id, "viewer") == "admin"
    # Disabling twice changes nothing the second time.
    assert operators_service.disable(root.id, second.id) is False


def test_two_admins_disabling_each_other_at_once_leave_one_enabled_admin(
    platform: Platform,
) -> None:
    service = platform.services["operators"]
    first = create(platform, ROOT)
    second = create(platform, BOB, "admin")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def disable(by: int, target: int) -> None:
        barrier.wait()
        try:
            service.disable(by, target)
            outcomes.append("ok")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [
        threading.Thread(target=disable, args=(first.id, second.id)),
        threading.Thread(target=disable, args=(second.id, first.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok", "operator_last_admin"]
    assert sorted(disabled_at(platform, name) is None for name in (ROOT, BOB)) == [False, True]


def test_a_demotion_racing_a_disable_leaves_an_enabled_admin(platform: Platform) -> None:
    service = platform.services["operators"]
    first = create(platform, ROOT)
    second = create(platform, BOB, "admin")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(work: Any) -> None:
        barrier.wait()
        try:
            work()
            outcomes.append("ok")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [
        threading.Thread(target=run, args=(lambda: service.disable(second.id, first.id),)),
        threading.Thread(
            target=run, args=(lambda: service.set_role(first.id, second.id, "viewer"),)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok", "operator_last_admin"]
    with platform.engine.connect() as connection:
        query = select(operators.c.id).where(
            operators.c.role == "admin", operators.c.disabled_at_us.is_(None)
        )
        assert len(connection.execute(query).all()) == 1


# Personal tokens ----------------------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_hash_is_stored(
    platform: Platform, client: TestClient
) -> None:
    create(platform, ROOT)
    bob = create(platform, BOB, "viewer")
    bobs = signed_in(TestClient(client.app), bob)

    page = post(bobs, "/admin/tokens", "/admin/tokens", {"name": "grafana", "expires_days": "90"})

    assert page.status_code == 200
    token = re.search(r'<code id="new-token" class="secret">([^<]+)</code>', page.text).group(1)  # type: ignore[union-attr]
    assert token.startswith("pbo_") and len(token) == 47
    [row] = token_rows(platform)
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    # The token itself is nowhere in the database.
    assert not any(token in repr(row) for rows in snapshot(platform).values() for row in rows)
    assert not any(token in (r.detail + r.subject) for r in audit_rows(platform))
    assert (row.operator_id, row.name, row.created_by_operator_id) == (bob.id, "grafana", bob.id)
    assert row.expires_at_us == row.created_at_us + 90 * DAY_S * 1_000_000
    listing = bobs.get("/admin/tokens").text
    assert token not in listing
    assert f'data-token-id="{row.id}" data-state="live"' in listing
    created = audit_rows(platform)[-1]
    assert (created.operator_id, created.action, created.subject) == (
        bob.id,
        "own_token.create",
        f"operator:{bob.id}",
    )
    # It works, with its operator's role, and the list shows when it was last used.
    me = client.get("/api/v1/admin/me", headers=bearer(token)).json()
    assert me == {
        "operator_id": bob.id,
        "name": BOB,
        "role": "viewer",
        "token_id": row.id,
        "actor": "token:grafana",
    }
    assert token_rows(platform)[0].last_used_at_us is not None
    assert bobs.get("/admin/tokens").text.count("<td>-</td>") == 0  # last used now shown


def test_a_token_expires_on_the_test_clock(platform: Platform, client: TestClient) -> None:
    root = create(platform, ROOT)
    minted = platform.services["operator_tokens"].create(root.id, root.id, "ci", expires_days=1)
    assert client.get("/api/v1/admin/me", headers=bearer(minted.token)).status_code == 200
    platform.sandbox_clock.advance(DAY_S - 60)
    assert client.get("/api/v1/admin/me", headers=bearer(minted.token)).status_code == 200
    platform.sandbox_clock.advance(60)
    refused = client.get("/api/v1/admin/me", headers=bearer(minted.token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "admin_token_invalid"
    [listed] = platform.services["operator_tokens"].tokens_of(root.id)
    assert listed.state == "expired"


def test_revoked_and_unknown_tokens_are_refused_and_the_shared_token_still_works(
    platform: Platform, client: TestClient, admin_headers: dict[str, str]
) -> None:
    root = create(platform, ROOT)
    admin = signed_in(TestClient(client.app), root)
    tokens = platform.services["operator_tokens"]
    minted = tokens.create(root.id, root.id, "deploy")
    assert client.get("/api/v1/admin/me", headers=bearer(minted.token)).status_code == 200

    response = post(admin, "/admin/tokens", f"/admin/tokens/{minted.id}/revoke")

    assert response.status_code == 303
    assert client.get("/api/v1/admin/me", headers=bearer(minted.token)).status_code == 401
    revoked = audit_rows(platform)[-1]
    assert (revoked.operator_id, revoked.action, revoked.detail) == (
        root.id,
        "own_token.revoke",
        f"token {minted.id} 'deploy'",
    )
    forged = "pbo_" + "A" * 43
    assert client.get("/api/v1/admin/me", headers=bearer(forged)).status_code == 401
    assert client.get("/api/v1/admin/me", headers={"Authorization": "Basic x"}).status_code == 401
    # PAYBAO_ADMIN_TOKEN keeps working beside the personal tokens.
    shared = client.get("/api/v1/admin/me", headers=admin_headers).json()
    assert shared == {
        "operator_id": None,
        "name": "admin_token",
        "role": "admin",
        "token_id": None,
        "actor": "admin_token",
    }
    # The name is free again once the old token is revoked.
    assert tokens.create(root.id, root.id, "deploy").name == "deploy"


def test_token_names_limits_and_other_operators_tokens(
    platform: Platform, client: TestClient
) -> None:
    root = create(platform, ROOT)
    bob = create(platform, BOB, "support")
    tokens = platform.services["operator_tokens"]
    tokens.create(None, bob.id, "ci")
    with pytest.raises(DomainError) as caught:
        tokens.create(None, bob.id, " ci ")
    assert caught.value.code == "operator_token_exists"
    for number in range(1, TOKENS_LIVE_PER_OPERATOR_MAX):
        tokens.create(None, bob.id, f"script {number}")
    with pytest.raises(DomainError) as caught:
        tokens.create(None, bob.id, "one too many")
    assert caught.value.code == "operator_token_limit"

    # Bob cannot revoke Root's token through his own route: not found, nothing changed.
    roots = tokens.create(root.id, root.id, "root's")
    bobs = signed_in(TestClient(client.app), bob)
    before = snapshot(platform)
    answer = post(bobs, "/admin/tokens", f"/admin/tokens/{roots.id}/revoke")
    assert answer.status_code == 404
    assert 'data-code="operator_token_not_found"' in answer.text
    assert snapshot(platform) == before

    # An admin mints for Bob from Bob's page (audited as the admin's act on Bob).
    admin = signed_in(TestClient(client.app), root)
    page = post(
        admin,
        f"/admin/operators/{bob.id}/tokens",
        f"/admin/operators/{bob.id}/tokens",
        {"name": "handed over", "expires_days": ""},
    )
    assert page.status_code == 403  # Bob holds 20 live tokens already
    assert 'data-code="operator_token_limit"' in page.text
    tokens.revoke(None, bob.id, tokens.tokens_of(bob.id)[0].id)
    page = post(
        admin,
        f"/admin/operators/{bob.id}/tokens",
        f"/admin/operators/{bob.id}/tokens",
        {"name": "handed over", "expires_days": ""},
    )
    assert page.status_code == 200, page.text
    assert 'id="new-token"' in page.text
    minted = audit_rows(platform)[-1]
    assert (minted.operator_id, minted.action, minted.subject) == (
        root.id,
        "operator.token_create",
        f"operator:{bob.id}",
    )
    assert minted.detail.endswith("'handed over', expires never")
    assert tokens.tokens_of(bob.id)[0].expires_at_us is None
    # A non-admin sees Bob's token list but none of the forms.
    carol = create(platform, CAROL, "finance")
    carols = signed_in(TestClient(client.app), carol)
    listing = carols.get(f"/admin/operators/{bob.id}/tokens").text
    assert 'class="token"' in listing
    assert "revoke-form" not in listing and 'id="create-token"' not in listing


def test_a_personal_token_resend_is_audited_under_its_operator(
    platform: Platform, client: TestClient
) -> None:
    root = create(platform, ROOT)
    finn = create(platform, "ops.finn", "finance")
    token = platform.services["operator_tokens"].create(None, finn.id, "payments-bot").token
    notify_id = undelivered_notification(platform)

    response = client.post(f"/api/v1/admin/notifications/{notify_id}/resend", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {"notify_id": notify_id, "scheduled": True}
    resent = audit_rows(platform)[-1]
    assert (resent.operator_id, resent.actor, resent.action, resent.subject, resent.outcome) == (
        finn.id,
        "token:payments-bot",
        "notify.resend",
        f"notify:{notify_id}",
        "ok",
    )
    # The same again before the delivery ran: nothing more is scheduled.
    again = client.post(f"/api/v1/admin/notifications/{notify_id}/resend", headers=bearer(token))
    assert again.json()["scheduled"] is False
    assert audit_rows(platform)[-1].outcome == "already_scheduled"
    # The audit page names the operator and the token it used.
    page = signed_in(TestClient(client.app), root).get("/admin/audit").text
    assert 'ops.finn <span class="tag">token:payments-bot</span>' in page
    assert f'<a href="/admin/notifications/{notify_id}">' in page
    missing = client.post("/api/v1/admin/notifications/nope/resend", headers=bearer(token))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "notification_not_found"
