"""The admin REST API's users (SQLite, or PostgreSQL by URL): look-up by phone or id masked as
the console masks, one user's detail, freeze and unfreeze with a reason audited under the
token's operator, and the refusals that change nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.api_admin_support import audit_rows, error_code, token_operator
from tests.integration.risk_support import PIN, funded_user

from paybao.bootstrap import Platform
from paybao.domain.cards import mask_card_number
from paybao.domain.identity import mask_id_number

PHONE = "13900139501"


def full_numbers(platform: Platform, user_id: int) -> tuple[str, str]:
    record = platform.services["users"].record(user_id)
    with platform.db.read() as tx:
        (card,) = platform.services["wallet"].cards.of_user(tx, user_id)
    return str(record.id_number), str(card.card_number)


def test_a_user_is_found_by_phone_or_id_masked_as_the_console_masks(
    platform: Platform, client: TestClient
) -> None:
    user = funded_user(platform, PHONE, "王小明", 300_00)
    viewer = token_operator(platform, "viewer")
    id_number, card_number = full_numbers(platform, user.user_id)

    by_phone = client.get(
        "/api/v1/admin/users", params={"q": "139 0013 95"}, headers=viewer.headers
    )
    by_id = client.get(
        "/api/v1/admin/users", params={"q": str(user.user_id)}, headers=viewer.headers
    )

    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.json() == by_id.json()
    (found,) = by_phone.json()["users"]
    assert found == {
        "user_id": user.user_id,
        "phone_masked": "139****9501",
        "real_name_masked": "*小明",
        "id_number_masked": mask_id_number(id_number),
        "account_class": "III",
        "status": "active",
        "registration_step": found["registration_step"],
        "cards_masked": [mask_card_number(card_number)],
    }
    assert by_phone.json()["next_before"] is None
    for secret in (PHONE, id_number, card_number, "王小明"):
        assert secret not in by_phone.text and secret not in by_id.text
    nobody = client.get("/api/v1/admin/users", params={"q": "13800"}, headers=viewer.headers)
    assert nobody.json() == {"users": [], "next_before": None}


def test_one_users_detail_has_limit_balance_and_cards_masked(
    platform: Platform, client: TestClient
) -> None:
    user = funded_user(platform, PHONE, "王小明", 300_00)
    viewer = token_operator(platform, "viewer")
    id_number, card_number = full_numbers(platform, user.user_id)

    detail = client.get(f"/api/v1/admin/users/{user.user_id}", headers=viewer.headers)

    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["balance"]["balance_fen"] == 300_00
    assert body["balance"]["available_fen"] == 300_00
    assert body["limit_fen"] is not None and body["limit_used_fen"] == 0
    assert body["cards"] == [
        {"card_masked": mask_card_number(card_number), "bank_code": "ICBC", "status": "bound"}
    ]
    assert body["id_number_masked"] == mask_id_number(id_number)
    for secret in (PHONE, id_number, card_number, "王小明"):
        assert secret not in detail.text
    missing = client.get("/api/v1/admin/users/999999", headers=viewer.headers)
    assert (missing.status_code, error_code(missing)) == (404, "user_not_found")


def test_support_freezes_and_unfreezes_with_a_reason_audited_under_its_operator(
    platform: Platform, client: TestClient
) -> None:
    user = funded_user(platform, PHONE, "王小明", 300_00)
    payee = funded_user(platform, "13900139502", "赵六")
    support = token_operator(platform, "support")
    path = f"/api/v1/admin/users/{user.user_id}/status"

    frozen = client.post(
        path, json={"action": "freeze", "reason": "  police   notice 7 "}, headers=support.headers
    )

    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["status"] == "frozen"
    (row,) = audit_rows(platform, "user.freeze")
    assert (row.operator_id, row.subject, row.detail) == (
        support.operator_id,
        f"user:{user.user_id}",
        "police notice 7",
    )
    refused = client.post(
        "/api/v1/wallet/transfers",
        json={"payee_phone": payee.phone, "amount_fen": 1_00, "payment_password": PIN},
        headers={"Idempotency-Key": "frozen-1", **_user_headers(platform, user.user_id)},
    )
    assert refused.status_code == 403, refused.text

    thawed = client.post(
        path, json={"action": "unfreeze", "reason": "cleared"}, headers=support.headers
    )

    assert thawed.json()["status"] == "active"
    assert [r.detail for r in audit_rows(platform, "user.unfreeze")] == ["cleared"]


def test_a_blank_reason_a_bad_action_or_no_such_user_change_nothing(
    platform: Platform, client: TestClient
) -> None:
    user = funded_user(platform, PHONE, "王小明")
    support = token_operator(platform, "support")
    path = f"/api/v1/admin/users/{user.user_id}/status"
    before = len(audit_rows(platform))

    blank = client.post(path, json={"action": "freeze", "reason": "   "}, headers=support.headers)
    bad = client.post(path, json={"action": "close", "reason": "x"}, headers=support.headers)
    missing = client.post(
        "/api/v1/admin/users/999999/status",
        json={"action": "freeze", "reason": "x"},
        headers=support.headers,
    )
    anonymous = client.post(path, json={"action": "freeze", "reason": "x"})

    assert (blank.status_code, error_code(blank)) == (400, "reason_required")
    assert (bad.status_code, error_code(bad)) == (422, "invalid_request")
    assert (missing.status_code, error_code(missing)) == (404, "user_not_found")
    assert anonymous.status_code == 401
    assert platform.services["users"].record(user.user_id).status == "active"
    assert len(audit_rows(platform)) == before


def _user_headers(platform: Platform, user_id: int) -> dict[str, str]:
    token = platform.services["operators"].issue_token(user_id)
    return {"Authorization": f"Bearer {token}"}
