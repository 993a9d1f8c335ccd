"""Device confirmation ("fingerprint pay") through the REST API on the test database, with
real Ed25519 keys: registration proven by the payment password, wallet operations confirmed
by the device's signature over the exact request, and every way a confirmation is refused
leaving the money where it was."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from tests.integration.test_wallet_api import ledger_clean, post, register

from paybao.bootstrap import Platform
from paybao.domain.devices import (
    HEADER_DEVICE_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    request_digest,
    signed_message,
)

PIN = "135790"


def public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def add_device(client: TestClient, token: str, key: Ed25519PrivateKey, pin: str = PIN) -> Any:
    return client.post(
        "/api/v1/devices",
        json={"name": "Mate 60", "public_key": public_b64(key), "payment_password": pin},
        headers={"Authorization": f"Bearer {token}"},
    )


def signed_post(
    client: TestClient,
    platform: Platform,
    path: str,
    body: dict[str, Any],
    token: str,
    device_id: str,
    key: Ed25519PrivateKey,
    *,
    idempotency_key: str = "",
    skew_s: int = 0,
    signed_body: dict[str, Any] | None = None,
) -> Any:
    """POST as the app does: the body bytes it sends are the bytes it signs."""
    full_path = f"/api/v1/wallet{path}"
    idempotency_key = idempotency_key or uuid.uuid4().hex
    raw = json.dumps(body).encode()
    signed_raw = raw if signed_body is None else json.dumps(signed_body).encode()
    timestamp_s = platform.clock.now_us() // 1_000_000 + skew_s
    digest = request_digest("POST", full_path, idempotency_key, signed_raw)
    signature = key.sign(signed_message(device_id, timestamp_s, digest))
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
        HEADER_DEVICE_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp_s),
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
    return client.post(full_path, content=raw, headers=headers)


def balance_fen(client: TestClient, token: str) -> int:
    me = client.get("/api/v1/wallet/me", headers={"Authorization": f"Bearer {token}"})
    return int(me.json()["balance_fen"])


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def pair(client: TestClient, platform: Platform) -> dict[str, Any]:
    token_a, card_a = register(client, platform, "13911120001", "王小明")
    token_b, _ = register(client, platform, "13911120002", "李四")
    topup = {"card_id": card_a, "amount_fen": 500_00, "payment_password": PIN}
    assert post(client, "/topups", topup, token_a).json()["status"] == "succeeded"
    key = Ed25519PrivateKey.generate()
    added = add_device(client, token_a, key)
    assert added.status_code == 201, added.text
    return {
        "token_a": token_a,
        "card_a": card_a,
        "token_b": token_b,
        "key": key,
        "device_id": added.json()["device_id"],
    }


def transfer_body(amount_fen: int = 30_00) -> dict[str, Any]:
    return {"payee_phone": "13911120002", "amount_fen": amount_fen}


def test_device_confirms_transfer_top_up_and_withdrawal(
    client: TestClient, platform: Platform, pair: dict[str, Any]
) -> None:
    args = (pair["token_a"], pair["device_id"], pair["key"])
    sent = signed_post(client, platform, "/transfers", transfer_body(), *args)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "succeeded"
    topup = {"card_id": pair["card_a"], "amount_fen": 20_00}
    assert signed_post(client, platform, "/topups", topup, *args).json()["status"] == "succeeded"
    withdrawal = {"card_id": pair["card_a"], "amount_fen": 10_00, "arrival": "instant"}
    answer = signed_post(client, platform, "/withdrawals", withdrawal, *args)
    assert answer.status_code == 200, answer.text
    assert balance_fen(client, pair["token_a"]) == 500_00 - 30_00 + 20_00 - 10_00
    assert balance_fen(client, pair["token_b"]) == 30_00
    assert ledger_clean(platform)


def test_replayed_request_moves_money_once(
    client: TestClient, platform: Platform, pair: dict[str, Any]
) -> None:
    args = (pair["token_a"], pair["device_id"], pair["key"])
    first = signed_post(
        client, platform, "/transfers", transfer_body(), *args, idempotency_key="r1"
    )
    again = signed_post(
        client, platform, "/transfers", transfer_body(), *args, idempotency_key="r1"
    )
    assert first.json() == again.json()
    assert balance_fen(client, pair["token_b"]) == 30_00


def test_signature_over_another_request_is_refused_and_nothing_moves(
    client: TestClient, platform: Platform, pair: dict[str, Any]
) -> None:
    args = (pair["token_a"], pair["device_id"], pair["key"])
    # Signed for 1.00, sent for 300.00: the digest covers the body.
    forged = signed_post(
        client,
        platform,
        "/transfers",
        transfer_body(300_00),
        *args,
        signed_body=transfer_body(1_00),
    )
    assert forged.status_code == 403
    assert error_code(forged) == "device_signature_wrong"
    other_key = Ed25519PrivateKey.generate()
    wrong_key = signed_post(
        client,
        platform,
        "/transfers",
        transfer_body(),
        pair["token_a"],
        pair["device_id"],
        other_key,
    )
    assert error_code(wrong_key) == "device_signature_wrong"
    stale = signed_post(client, platform, "/transfers", transfer_body(), *args, skew_s=-301)
    assert error_code(stale) == "device_signature_expired"
    too_much = signed_post(client, platform, "/transfers", transfer_body(2_000_01), *args)
    assert error_code(too_much) == "device_amount_above_limit"
    unknown = signed_post(
        client, platform, "/transfers", transfer_body(), pair["token_a"], "dev_nope", pair["key"]
    )
    assert error_code(unknown) == "device_not_registered"
    # Another user cannot use this device, even holding its key.
    token_b = pair["token_b"]
    theirs = signed_post(
        client,
        platform,
        "/transfers",
        {"payee_phone": "13911120001", "amount_fen": 1_00},
        token_b,
        pair["device_id"],
        pair["key"],
    )
    assert error_code(theirs) == "device_not_registered"
    assert balance_fen(client, pair["token_a"]) == 500_00
    assert balance_fen(client, token_b) == 0
    assert ledger_clean(platform)


def test_malformed_or_missing_confirmation_is_a_clear_400(
    client: TestClient, platform: Platform, pair: dict[str, Any]
) -> None:
    missing = post(client, "/transfers", transfer_body(), pair["token_a"])
    assert missing.status_code == 400
    assert error_code(missing) == "confirmation_required"
    headers = {
        "Authorization": f"Bearer {pair['token_a']}",
        "Idempotency-Key": "m1",
        HEADER_DEVICE_ID: pair["device_id"],
        HEADER_TIMESTAMP: "soon",
        HEADER_SIGNATURE: "AAAA",
    }
    bad_time = client.post("/api/v1/wallet/transfers", json=transfer_body(), headers=headers)
    assert error_code(bad_time) == "invalid_device_timestamp"
    headers[HEADER_TIMESTAMP] = "1700000000"
    short = client.post("/api/v1/wallet/transfers", json=transfer_body(), headers=headers)
    assert short.status_code == 400
    assert error_code(short) == "invalid_device_signature"
    assert balance_fen(client, pair["token_a"]) == 500_00


def test_revoked_device_confirms_nothing_and_its_key_cannot_return(
    client: TestClient, platform: Platform, pair: dict[str, Any]
) -> None:
    auth = {"Authorization": f"Bearer {pair['token_a']}"}
    listed = client.get("/api/v1/devices", headers=auth).json()["devices"]
    assert [d["device_id"] for d in listed] == [pair["device_id"]]
    assert client.delete(f"/api/v1/devices/{pair['device_id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/devices/{pair['device_id']}", headers=auth).status_code == 404
    args = (pair["token_a"], pair["device_id"], pair["key"])
    refused = signed_post(client, platform, "/transfers", transfer_body(), *args)
    assert error_code(refused) == "device_not_registered"
    assert error_code(add_device(client, pair["token_a"], pair["key"])) == "device_key_revoked"
    assert client.get("/api/v1/devices", headers=auth).json()["devices"] == []


def test_registration_needs_the_payment_password_and_is_bounded(
    client: TestClient, platform: Platform, pair: dict[str, Any]
) -> None:
    token = pair["token_a"]
    wrong = add_device(client, token, Ed25519PrivateKey.generate(), pin="000000")
    assert error_code(wrong) == "payment_password_wrong"
    again = add_device(client, token, pair["key"])  # the same key: the same device
    assert again.json()["device_id"] == pair["device_id"]
    for _ in range(4):
        assert add_device(client, token, Ed25519PrivateKey.generate()).status_code == 201
    sixth = add_device(client, token, Ed25519PrivateKey.generate())
    assert sixth.status_code == 403
    assert error_code(sixth) == "device_limit_reached"
    bad_key = client.post(
        "/api/v1/devices",
        json={"name": "x", "public_key": "AAAA", "payment_password": PIN},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert error_code(bad_key) == "invalid_device_key"


def test_payment_password_lock_also_stops_the_device(
    client: TestClient, platform: Platform, pair: dict[str, Any]
) -> None:
    for _ in range(5):
        wrong = post(
            client, "/transfers", {**transfer_body(), "payment_password": "000000"}, pair["token_a"]
        )
        assert wrong.status_code == 403
    args = (pair["token_a"], pair["device_id"], pair["key"])
    locked = signed_post(client, platform, "/transfers", transfer_body(), *args)
    assert error_code(locked) == "payment_password_locked"
    assert balance_fen(client, pair["token_b"]) == 0
