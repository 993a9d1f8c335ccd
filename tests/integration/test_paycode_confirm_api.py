"""A till's payment above the password-free amount waits (10003); the buyer's app lists it and
confirms it through `/api/v1/paycode/confirmations`, by payment password or by a registered
device's signature, or declines it. Real Ed25519 keys, real gateway calls."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from gateway_support import PAYMENT_PASSWORD, call, make_buyer, make_shop, wallet_balance
from test_paycode_gateway import bind, code_of, pay

from paybao.bootstrap import Platform
from paybao.domain.devices import (
    HEADER_DEVICE_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    encode_b64,
    request_digest,
    signed_message,
)

BASE = "/api/v1/paycode/confirmations"


@pytest.fixture
def buyer(platform: Platform) -> dict[str, Any]:
    make_shop(platform)
    user_id = make_buyer(platform, balance_fen=3_000_00)
    key = Ed25519PrivateKey.generate()
    public = encode_b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    device = platform.services["devices"].register(user_id, "phone", public, PAYMENT_PASSWORD)
    return {
        "id": user_id,
        "token": platform.services["operators"].issue_token(user_id),
        "key": key,
        "device_id": device.device_id,
        "bound": bind(platform, user_id),
    }


def waiting(client: TestClient, buyer: dict[str, Any]) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {buyer['token']}"}
    found: list[dict[str, Any]] = client.get(BASE, headers=headers).json()["confirmations"]
    return found


def post(
    client: TestClient,
    platform: Platform,
    buyer: dict[str, Any],
    path: str,
    body: dict[str, Any],
    *,
    key: Ed25519PrivateKey | None = None,
) -> Any:
    idempotency_key = uuid.uuid4().hex
    raw = json.dumps(body).encode()
    headers = {
        "Authorization": f"Bearer {buyer['token']}",
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
    }
    if key is not None:
        timestamp_s = platform.clock.now_us() // 1_000_000
        digest = request_digest("POST", path, idempotency_key, raw)
        signature = key.sign(signed_message(buyer["device_id"], timestamp_s, digest))
        headers |= {
            HEADER_DEVICE_ID: buyer["device_id"],
            HEADER_TIMESTAMP: str(timestamp_s),
            HEADER_SIGNATURE: base64.b64encode(signature).decode(),
        }
    return client.post(path, content=raw, headers=headers)


def trade_status(client: TestClient, out_trade_no: str) -> str:
    return str(call(client, "alipay.trade.query", {"out_trade_no": out_trade_no})["trade_status"])


def test_the_app_confirms_a_waiting_payment_with_the_device(
    platform: Platform, client: TestClient, buyer: dict[str, Any]
) -> None:
    assert pay(client, code_of(platform, buyer["bound"]), "w-1", "1500.00")["code"] == "10003"
    [item] = waiting(client, buyer)
    assert (item["amount"], item["trade_no"] != "") == ("1500.00", True)
    path = f"{BASE}/{item['confirmation_id']}/confirm"
    impostor = post(client, platform, buyer, path, {}, key=Ed25519PrivateKey.generate())
    assert impostor.json()["error"]["code"] == "device_signature_wrong"
    assert trade_status(client, "w-1") == "WAIT_BUYER_PAY"
    confirmed = post(client, platform, buyer, path, {}, key=buyer["key"])
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["trade_status"] == "TRADE_SUCCESS"
    assert trade_status(client, "w-1") == "TRADE_SUCCESS"
    assert wallet_balance(platform, buyer["id"]) == 1_500_00
    assert waiting(client, buyer) == []
    again = post(client, platform, buyer, path, {}, key=buyer["key"])
    assert again.json()["error"]["code"] == "paycode_already_decided"


def test_the_app_confirms_with_the_password_or_declines(
    platform: Platform, client: TestClient, buyer: dict[str, Any]
) -> None:
    assert pay(client, code_of(platform, buyer["bound"], -60), "w-2", "1200.00")["code"] == "10003"
    assert pay(client, code_of(platform, buyer["bound"]), "w-3", "1100.00")["code"] == "10003"
    first, second = sorted(waiting(client, buyer), key=lambda item: item["confirmation_id"])
    missing = post(client, platform, buyer, f"{BASE}/{first['confirmation_id']}/confirm", {})
    assert missing.json()["error"]["code"] == "confirmation_required"
    body = {"payment_password": PAYMENT_PASSWORD}
    paid = post(client, platform, buyer, f"{BASE}/{first['confirmation_id']}/confirm", body)
    assert paid.json()["trade_status"] == "TRADE_SUCCESS"
    declined = post(client, platform, buyer, f"{BASE}/{second['confirmation_id']}/decline", {})
    assert declined.json()["trade_status"] == "TRADE_CLOSED"
    assert trade_status(client, "w-3") == "TRADE_CLOSED"
    assert wallet_balance(platform, buyer["id"]) == 3_000_00 - 1_200_00
    other = make_buyer(platform, "13800138999", balance_fen=0)
    stranger = {**buyer, "token": platform.services["operators"].issue_token(other)}
    assert waiting(client, stranger) == []
