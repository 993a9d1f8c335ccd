"""忘记密码 over REST on the test database (SQLite, or PostgreSQL by URL): the signed-out login
password reset and the signed-in payment password reset, their statuses and stable codes."""

from __future__ import annotations

import random
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.test_wallet_rules import PIN, code_for, code_of, open_user

from paybao.bootstrap import Platform
from paybao.domain.identity import generate_id_number

NEW = "fresh2468"
NEW_PIN = "860314"


def id_number_of(platform: Platform, user_id: int) -> str:
    return str(platform.services["users"].record(user_id).id_number)


def sign_in(client: TestClient, phone: str, password: str) -> Any:
    return client.post("/api/v1/wallet/sessions", json={"phone": phone, "login_password": password})


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_the_login_password_is_reset_over_rest_and_the_old_tokens_end(
    client: TestClient, platform: Platform
) -> None:
    phone = "13912341001"
    user_id, _ = open_user(platform, phone)
    token = sign_in(client, phone, "abc12345").json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/wallet/me", headers=bearer).status_code == 200

    started = client.post("/api/v1/password-resets", json={"phone": phone})
    assert (started.status_code, started.json()) == (202, {"status": "code_sent_if_registered"})
    again = client.post("/api/v1/password-resets", json={"phone": phone})
    assert error_of(again) == (429, "sms_resend_too_soon")

    body = {"phone": phone, "sms_code": code_for(platform, phone), "new_login_password": NEW}
    assert error_of(client.post("/api/v1/password-resets/confirm", json=body)) == (
        400,
        "reset_proof_wrong",
    )  # verified: the ID number is needed (and that try is spent)
    body["id_number"] = id_number_of(platform, user_id)
    done = client.post("/api/v1/password-resets/confirm", json=body)
    assert (done.status_code, done.json()) == (200, {"status": "reset"})
    assert error_of(client.post("/api/v1/password-resets/confirm", json=body)) == (
        400,
        "sms_code_used",
    )

    assert error_of(client.get("/api/v1/wallet/me", headers=bearer)) == (401, "bad_token")
    assert error_of(sign_in(client, phone, "abc12345")) == (401, "bad_credentials")
    assert sign_in(client, phone, NEW).status_code == 200


def test_an_unknown_phone_gets_the_same_answers(client: TestClient, platform: Platform) -> None:
    known, unknown = "13912341002", "13912341102"
    user_id, _ = open_user(platform, known)
    answers = []
    for phone in (known, unknown):
        first = client.post("/api/v1/password-resets", json={"phone": phone})
        second = client.post("/api/v1/password-resets", json={"phone": phone})
        confirm = client.post(
            "/api/v1/password-resets/confirm",
            json={
                "phone": phone,
                "sms_code": "000000" if code_for(platform, known) != "000000" else "111111",
                "id_number": id_number_of(platform, user_id),
                "new_login_password": NEW,
            },
        )
        answers.append(
            [(r.status_code, r.json()) for r in (first, second, confirm)]
            + [second.headers.get("retry-after")]
        )
    assert answers[0] == answers[1]
    assert answers[1][2] == (
        400,
        {"error": {"code": "reset_proof_wrong", "message": "the code or the ID number is wrong"}},
    )
    bad = client.post("/api/v1/password-resets", json={"phone": "12345"})
    assert error_of(bad) == (400, "invalid_phone")
    weak = client.post(
        "/api/v1/password-resets/confirm",
        json={"phone": known, "sms_code": "123456", "new_login_password": "short"},
    )
    assert error_of(weak) == (400, "invalid_login_password")


def test_the_payment_password_is_reset_over_rest(client: TestClient, platform: Platform) -> None:
    phone = "13912341003"
    user_id, _ = open_user(platform, phone)
    bearer = {"Authorization": f"Bearer {sign_in(client, phone, 'abc12345').json()['token']}"}
    users = platform.services["users"]
    for _ in range(users.policy.lockout.failures_max):
        code_of(lambda: users.verify_payment_password(user_id, "999111"))

    sent = client.post("/api/v1/wallet/payment-password/reset-code", headers=bearer)
    assert (sent.status_code, sent.json()) == (202, {"phone_masked": "139****1003"})
    code = code_for(platform, phone)
    someone_else = generate_id_number(random.Random(99))
    body = {"sms_code": code, "id_number": someone_else, "new_payment_password": NEW_PIN}
    assert error_of(
        client.post("/api/v1/wallet/payment-password/reset", json=body, headers=bearer)
    ) == (400, "reset_proof_wrong")
    body["id_number"] = id_number_of(platform, user_id)
    body["new_payment_password"] = "111111"
    assert error_of(
        client.post("/api/v1/wallet/payment-password/reset", json=body, headers=bearer)
    ) == (400, "weak_payment_password")
    body["new_payment_password"] = NEW_PIN
    done = client.post("/api/v1/wallet/payment-password/reset", json=body, headers=bearer)
    assert (done.status_code, done.json()) == (200, {"status": "reset"})
    users.verify_payment_password(user_id, NEW_PIN)  # lock lifted, new password
    assert (
        client.post("/api/v1/wallet/payment-password/reset", json=body, headers=bearer).json()[
            "error"
        ]["code"]
        == "sms_code_used"
    )

    anonymous = client.post("/api/v1/wallet/payment-password/reset-code")
    assert anonymous.status_code == 401


def test_an_unverified_user_cannot_reset_the_payment_password_over_rest(
    client: TestClient, platform: Platform
) -> None:
    phone = "13912341004"
    registration = platform.services["registration"]
    user_id = registration.start(phone, "abc12345")
    registration.verify_phone(user_id, code_for(platform, phone))
    registration.set_payment_password(user_id, PIN)
    bearer = {"Authorization": f"Bearer {sign_in(client, phone, 'abc12345').json()['token']}"}
    refused = client.post("/api/v1/wallet/payment-password/reset-code", headers=bearer)
    assert error_of(refused) == (403, "registration_incomplete")


def test_the_openapi_document_lists_the_reset_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/password-resets",
        "/api/v1/password-resets/confirm",
        "/api/v1/wallet/payment-password/reset-code",
        "/api/v1/wallet/payment-password/reset",
    ):
        assert "post" in paths[path]
