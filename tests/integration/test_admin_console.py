"""Admin console pages: users and search, freeze/unfreeze and its effect on paying, the audit
log, masking of personal data in every page, health and the ledger explorer."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import create_operator, csrf_of, sign_in
from tests.integration.test_wallet_rules import PIN, code_of, open_user

from paybao.adapters.db.tables.wallet import audit_log, user_cards, users
from paybao.bootstrap import Platform
from paybao.wiring.wallet_demo import DEMO_PAYMENT_PASSWORD, DEMO_PHONE, seed_demo_user


@pytest.fixture
def admin(platform: Platform, client: TestClient) -> TestClient:
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    return client


@pytest.fixture
def demo_user_id(platform: Platform) -> int:
    list(seed_demo_user(platform))
    found = platform.services["users"].find_by_phone(DEMO_PHONE)
    assert found is not None
    return int(found.id)


def set_status(admin: TestClient, user_id: int, action: str, reason: str) -> object:
    page = admin.get(f"/admin/users/{user_id}")
    return admin.post(
        f"/admin/users/{user_id}/status",
        data={"csrf_token": csrf_of(page.text), "action": action, "reason": reason},
        follow_redirects=False,
    )


def audit_rows(platform: Platform) -> list[tuple[int | None, str, str, str]]:
    with platform.engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.operator_id, r.action, r.subject, r.detail) for r in rows]


def test_users_list_finds_by_phone_with_class_limit_and_masked_card(
    admin: TestClient, demo_user_id: int
) -> None:
    page = admin.get("/admin/users?q=138 0000 0000")
    assert page.status_code == 200
    assert f'data-user-id="{demo_user_id}"' in page.text
    assert "138****0000" in page.text
    assert "<td>I</td>" in page.text  # class I: one verification channel (the bank card)
    assert "0.00 / 1000.00" in page.text  # top-ups from a card do not use the balance limit
    assert re.search(r"\d{4} \*\*\*\* \*\*\*\* \d{4}", page.text)
    assert admin.get("/admin/users?q=139").text.count('class="user"') == 0


def test_frozen_user_cannot_pay_but_still_receives(
    platform: Platform, admin: TestClient, demo_user_id: int
) -> None:
    wallet = platform.services["wallet"]
    other_id, _ = open_user(platform, "13911112222")
    response = set_status(admin, demo_user_id, "freeze", "suspected account takeover")
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = admin.get(f"/admin/users/{demo_user_id}")
    assert 'data-status="frozen"' in page.text

    pay = lambda: wallet.transfer(demo_user_id, "13911112222", 1_00, DEMO_PAYMENT_PASSWORD)  # noqa: E731
    assert code_of(pay) == "account_frozen"
    card_id = platform.services["operators"].users_page(DEMO_PHONE)[1][0].id
    assert code_of(lambda: wallet.withdraw(demo_user_id, card_id, 1_00, DEMO_PAYMENT_PASSWORD)) == (
        "account_frozen"
    )
    before_fen, _ = wallet.balance(demo_user_id)
    wallet.top_up(other_id, _card_of(platform, other_id), 50_00, PIN)
    wallet.transfer(other_id, DEMO_PHONE, 20_00, PIN)  # receiving still works
    assert wallet.balance(demo_user_id)[0] == before_fen + 20_00

    assert set_status(admin, demo_user_id, "unfreeze", "owner verified by phone").status_code == 303  # type: ignore[attr-defined]
    assert wallet.transfer(demo_user_id, "13911112222", 1_00, DEMO_PAYMENT_PASSWORD).status == (
        "succeeded"
    )


def _card_of(platform: Platform, user_id: int) -> int:
    with platform.engine.connect() as connection:
        return int(
            connection.execute(
                select(user_cards.c.id).where(user_cards.c.user_id == user_id)
            ).scalar_one()
        )


def test_every_operator_action_writes_an_audit_row(
    platform: Platform, admin: TestClient, demo_user_id: int
) -> None:
    set_status(admin, demo_user_id, "freeze", "chargeback ring")
    set_status(admin, demo_user_id, "unfreeze", "cleared")
    rows = audit_rows(platform)
    operator_id = rows[0][2].split(":")[1]
    assert [(r[1], r[2]) for r in rows] == [
        ("operator.create", f"operator:{operator_id}"),
        ("operator.sign_in", f"operator:{operator_id}"),
        ("user.freeze", f"user:{demo_user_id}"),
        ("user.unfreeze", f"user:{demo_user_id}"),
    ]
    assert rows[2][0] == int(operator_id)
    assert rows[2][3] == "chargeback ring"
    page = admin.get("/admin/audit")
    assert page.text.count('class="audit"') == 4
    assert "ops.alice" in page.text
    assert "chargeback ring" in page.text


def test_freeze_needs_a_reason_and_writes_nothing_without_one(
    platform: Platform, admin: TestClient, demo_user_id: int
) -> None:
    response = set_status(admin, demo_user_id, "freeze", "   ")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert 'data-code="reason_required"' in response.text  # type: ignore[attr-defined]
    assert platform.services["users"].get(demo_user_id).status == "active"
    assert [r[1] for r in audit_rows(platform)] == ["operator.create", "operator.sign_in"]


def test_freeze_without_csrf_token_is_refused(admin: TestClient, demo_user_id: int) -> None:
    response = admin.post(
        f"/admin/users/{demo_user_id}/status", data={"action": "freeze", "reason": "x"}
    )
    assert response.status_code == 403


def test_freeze_without_a_session_changes_nothing(
    platform: Platform, client: TestClient, demo_user_id: int
) -> None:
    page = client.get("/admin/login")
    response = client.post(
        f"/admin/users/{demo_user_id}/status",
        data={"csrf_token": csrf_of(page.text), "action": "freeze", "reason": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")
    assert platform.services["users"].get(demo_user_id).status == "active"


def test_audit_log_pages_by_cursor(platform: Platform, admin: TestClient) -> None:
    operators = platform.services["operators"]
    with platform.db.write() as tx:
        for index in range(60):
            operators.store.audit(tx, None, "test.action", f"thing:{index}", "", index + 1)
    first = admin.get("/admin/audit")
    assert first.text.count('class="audit"') == 50
    older = re.search(r'href="/admin/audit\?before=(\d+)"', first.text)
    assert older
    second = admin.get(f"/admin/audit?before={older.group(1)}")
    assert second.text.count('class="audit"') == 62 - 50  # 60 + create + sign-in


def test_no_admin_page_shows_a_full_id_or_card_number(
    platform: Platform, admin: TestClient, demo_user_id: int
) -> None:
    with platform.engine.connect() as connection:
        user = connection.execute(select(users).where(users.c.id == demo_user_id)).one()
        cards = connection.execute(select(user_cards.c.card_number)).scalars().all()
    set_status(admin, demo_user_id, "freeze", f"id {user.id_number[:4]} check")
    pages = [
        "/admin",
        "/admin/users",
        f"/admin/users?q={DEMO_PHONE}",
        f"/admin/users/{demo_user_id}",
        "/admin/audit",
        "/admin/health",
        f"/admin/ledger?account={user.wallet_account_id}",
    ]
    for path in pages:
        html = admin.get(path).text
        assert user.id_number not in html, path
        typed = html.replace(f'value="{DEMO_PHONE}"', "")  # the search box echoes the query
        assert user.phone not in typed, path
        assert user.real_name not in html, path
        for number in cards:
            assert number not in html, path


def test_user_page_shows_class_limits_balance_and_cards(
    admin: TestClient, demo_user_id: int
) -> None:
    page = admin.get(f"/admin/users/{demo_user_id}")
    assert page.status_code == 200
    assert '<dd id="kyc-class">I</dd>' in page.text
    assert "1000.00" in page.text  # the demo balance
    assert re.search(r"\d{4}\*{10}\d{3}[\dX]", page.text)  # masked ID number
    assert admin.get("/admin/users/999999").status_code == 404


def test_health_page_reports_database_jobs_and_a_clean_ledger(
    platform: Platform, admin: TestClient, demo_user_id: int
) -> None:
    page = admin.get("/admin/health")
    assert page.status_code == 200
    assert 'data-ok="true"' in page.text
    assert 'id="health-reconcile" data-clean="true"' in page.text
    assert 'id="jobs-dead"><span class="tag good">0</span>' in page.text


def test_ledger_explorer_shows_counters_and_transfers(
    platform: Platform, admin: TestClient, demo_user_id: int
) -> None:
    account_id = platform.services["users"].get(demo_user_id).wallet_account_id
    page = admin.get(f"/admin/ledger?account={account_id}")
    assert page.status_code == 200
    assert f'data-account-id="{account_id}"' in page.text
    assert page.text.count('class="transfer"') == 1  # the demo top-up
    assert "+1000.00" in page.text
    by_key = admin.get("/admin/ledger?account=platform:paybao:bank_clearing:CNY")
    assert by_key.status_code == 200
    assert "-1000.00" in by_key.text
    assert admin.get("/admin/ledger?account=nope").status_code == 404


def test_pages_follow_the_language_switch(admin: TestClient) -> None:
    admin.cookies.set("lang", "en")
    assert "Audit log" in admin.get("/admin/users").text
    admin.cookies.set("lang", "zh")
    assert "操作日志" in admin.get("/admin/users").text
