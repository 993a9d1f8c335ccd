"""Wallet REST API end to end on the test database: registration, money, idempotency."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paybao.adapters.db.ledger_checks import LEDGER_CHECKS
from paybao.adapters.db.tables.wallet import sms_outbox
from paybao.bootstrap import Platform
from paybao.domain.cards import generate_card_number
from paybao.domain.identity import generate_id_number


def last_code(platform: Platform, phone: str) -> str:
    with platform.engine.connect() as connection:
        text = connection.execute(
            select(sms_outbox.c.text)
            .where(sms_outbox.c.phone == phone)
            .order_by(sms_outbox.c.id.desc())
            .limit(1)
        ).scalar_one()
    return text.split("验证码 ")[1][:6]


def ledger_clean(platform: Platform) -> bool:
    # Only the ledger's own checks: other features' checks are theirs to test.
    with platform.db.read() as tx:
        return all(not check(tx, platform.clock.now_us()) for _, check in LEDGER_CHECKS)


def post(
    client: TestClient, path: str, body: dict[str, Any], token: str = "", key: str = ""
) -> Any:
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(f"/api/v1/wallet{path}", json=body, headers=headers)


def register(client: TestClient, platform: Platform, phone: str, name: str) -> tuple[str, int]:
    rng = random.Random(phone)
    response = post(client, "/register", {"phone": phone, "login_password": "abc12345"})
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    assert (
        post(
            client, "/register/verify-phone", {"code": last_code(platform, phone)}, token
        ).status_code
        == 200
    )
    assert (
        post(
            client, "/register/payment-password", {"payment_password": "135790"}, token
        ).status_code
        == 200
    )
    body = {"real_name": name, "id_number": generate_id_number(rng)}
    assert post(client, "/register/identity", body, token).status_code == 200
    card = {
        "card_number": generate_card_number(rng, "CMB"),
        "holder_name": name,
        "reserved_phone": phone,
    }
    card_id = post(client, "/cards", card, token).json()["card_id"]
    confirmed = post(
        client, f"/cards/{card_id}/confirm", {"code": last_code(platform, phone)}, token
    )
    assert confirmed.json()["user"]["step"] == "active"
    return token, card_id


@pytest.fixture
def fast_platform(platform: Platform) -> Platform:
    return platform


def test_register_top_up_transfer_and_statement(client: TestClient, platform: Platform) -> None:
    token_a, card_a = register(client, platform, "13911110001", "王小明")
    token_b, _ = register(client, platform, "13911110002", "李四")
    topup = post(
        client,
        "/topups",
        {"card_id": card_a, "amount_fen": 500_00, "payment_password": "135790"},
        token_a,
    )
    assert topup.json()["status"] == "succeeded"
    payee = client.get(
        "/api/v1/wallet/transfers/payee?phone=13911110002",
        headers={"Authorization": f"Bearer {token_a}"},
    )
    assert payee.json() == {"payee_name_masked": "*四"}
    sent = post(
        client,
        "/transfers",
        {"payee_phone": "13911110002", "amount_fen": 120_00, "payment_password": "135790"},
        token_a,
    )
    assert sent.json()["status"] == "succeeded"
    me_b = client.get("/api/v1/wallet/me", headers={"Authorization": f"Bearer {token_b}"}).json()
    assert me_b["balance_fen"] == 120_00
    entries = client.get(
        "/api/v1/wallet/statement", headers={"Authorization": f"Bearer {token_a}"}
    ).json()["entries"]
    assert [(e["kind"], e["amount_fen"], e["balance_after_fen"]) for e in entries] == [
        ("transfer", -120_00, 380_00),
        ("topup", 500_00, 500_00),
    ]
    csv_text = client.get(
        "/api/v1/wallet/statement.csv", headers={"Authorization": f"Bearer {token_a}"}
    ).text
    assert csv_text.splitlines()[1].endswith("-120.00,380.00,p2p:1,,")  # no discount
    assert ledger_clean(platform)


def test_idempotency_key_replays_and_refuses_a_changed_body(
    client: TestClient, platform: Platform
) -> None:
    token, card = register(client, platform, "13911110003", "张三")
    body = {"card_id": card, "amount_fen": 10_00, "payment_password": "135790"}
    first = post(client, "/topups", body, token, key="k1")
    again = post(client, "/topups", body, token, key="k1")
    assert first.json() == again.json()
    assert (
        client.get("/api/v1/wallet/me", headers={"Authorization": f"Bearer {token}"}).json()[
            "balance_fen"
        ]
        == 10_00
    )
    changed = post(client, "/topups", {**body, "amount_fen": 11_00}, token, key="k1")
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    missing = client.post(
        "/api/v1/wallet/topups", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert missing.json()["error"]["code"] == "idempotency_key_missing"
