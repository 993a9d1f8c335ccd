"""The console shows statuses in words with the raw code beside them, muted (SQLite, or
PostgreSQL by URL): a ledger transfer's state, the audit log's outcomes (a refusal's code reads
as refused), a user's card, and the bank query of a payout."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.test_admin_payouts import sent_card_payout
from tests.integration.test_operator_roles import signed_in_as

from paybao.bootstrap import Platform
from paybao.domain.operator_roles import Role
from paybao.wiring.wallet_demo import DEMO_PHONE, seed_demo_user


def words(said: str, code: str) -> str:
    return f'{said} <span class="muted">{code}</span>'


def tagged(tag: str, said: str, code: str) -> str:
    return f'<span class="tag {tag}">{said}</span> <span class="muted">{code}</span>'


def demo_user(platform: Platform) -> tuple[int, int]:
    """The demo user (a bound card, a posted top-up): its id and wallet account."""
    list(seed_demo_user(platform))
    user = platform.services["users"].find_by_phone(DEMO_PHONE)
    assert user is not None and user.wallet_account_id is not None
    return int(user.id), int(user.wallet_account_id)


def test_ledger_card_and_audit_statuses_read_as_words(
    platform: Platform, client: TestClient
) -> None:
    user_id, account_id = demo_user(platform)
    viewer, _ = signed_in_as(platform, client, Role.VIEWER)
    client.cookies.set("lang", "zh")
    page = viewer.get(f"/admin/users/{user_id}")
    refused = viewer.post(  # a viewer may not freeze: refused, and the refusal audited
        f"/admin/users/{user_id}/status",
        data={"csrf_token": csrf_of(page.text), "action": "freeze", "reason": "test"},
    )
    assert refused.status_code == 403

    assert words("已绑定", "bound") in viewer.get(f"/admin/users/{user_id}").text
    assert words("已入账", "posted") in viewer.get(f"/admin/ledger?account={account_id}").text
    audit = viewer.get("/admin/audit").text
    assert tagged("bad", "已拒绝", "operator_role_forbidden") in audit
    assert tagged("good", "成功", "ok") in audit  # the sign-in
    client.cookies.set("lang", "en")
    assert words("Bound", "bound") in viewer.get(f"/admin/users/{user_id}").text
    assert tagged("bad", "Refused", "operator_role_forbidden") in viewer.get("/admin/audit").text


def test_a_payouts_bank_query_reads_as_words(platform: Platform, client: TestClient) -> None:
    sent_card_payout(platform)
    viewer, _ = signed_in_as(platform, client, Role.VIEWER)
    client.cookies.set("lang", "en")

    page = viewer.get("/admin/payouts?kind=cardpayout&status=sent")

    assert page.status_code == 200
    assert words("Waiting", "pending") in page.text
