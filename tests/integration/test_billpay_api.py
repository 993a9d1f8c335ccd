"""City services' REST API on the test database (`/api/v1/billpay/...`): the catalogue, the
inquiry, paying with an Idempotency-Key and the payment password or a registered device, stable
error codes and statuses, receipts, top-ups, saved accounts and reminders."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from tests.integration.billpay_support import (
    PAID_UP_ACCOUNT,
    UNKNOWN_ACCOUNT,
    WATER_ACCOUNT,
    City,
    assert_clean,
    make_billers,
    owed_fen,
    payer,
    sandbox,
)
from tests.integration.gateway_support import PAYMENT_PASSWORD, wallet_balance
from tests.integration.test_device_confirm import add_device

from paybao.bootstrap import Platform
from paybao.domain.devices import (
    HEADER_DEVICE_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    request_digest,
    signed_message,
)

API = "/api/v1/billpay"


@pytest.fixture
def city(platform: Platform) -> City:
    return make_billers(platform)


@pytest.fixture
def user(platform: Platform) -> dict[str, Any]:
    user_id = payer(platform, "13800138700")
    token = platform.services["operators"].issue_token(user_id)
    return {"id": user_id, "auth": {"Authorization": f"Bearer {token}"}, "token": token}


def post(
    client: TestClient, path: str, body: dict[str, Any], user: dict[str, Any], key: str = ""
) -> Any:
    headers = {**user["auth"], "Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(f"{API}{path}", json=body, headers=headers)


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_catalogue_and_inquiry(client: TestClient, city: City, user: dict[str, Any]) -> None:
    assert client.get(f"{API}/cities").status_code == 401
    cities = client.get(f"{API}/cities", headers=user["auth"]).json()["cities"]
    assert {c["code"]: c["categories"] for c in cities} == {
        "beijing": ["gas"],
        "national": ["mobile"],
        "shanghai": ["water", "electricity"],
    }
    assert cities[-1]["name"] == "上海"
    billers = client.get(
        f"{API}/billers", params={"city": "shanghai", "category": "water"}, headers=user["auth"]
    ).json()["billers"]
    assert [(b["code"], b["name"], b["city_name"]) for b in billers] == [
        ("sh_water", "上海城投水务", "上海")
    ]
    bad_city = client.get(
        f"{API}/billers", params={"city": "atlantis", "category": "water"}, headers=user["auth"]
    )
    assert (bad_city.status_code, code_of(bad_city)) == (400, "biller_city_invalid")

    found = client.get(
        f"{API}/inquiry",
        params={"biller_id": city.water.id, "account_no": WATER_ACCOUNT},
        headers=user["auth"],
    ).json()
    owed = owed_fen(client.app.state.platform, city.water, WATER_ACCOUNT)  # type: ignore[attr-defined]
    assert (found["outstanding_fen"], found["amount_rule"]) == (
        owed,
        {"exact": True, "min_fen": owed, "max_fen": owed},
    )
    assert found["holder_masked"].startswith("*") and found["biller"]["code"] == "sh_water"
    cases = [
        (
            {"biller_id": city.water.id, "account_no": UNKNOWN_ACCOUNT},
            404,
            "bill_account_not_found",
        ),
        ({"biller_id": city.water.id, "account_no": "12ab"}, 400, "bill_account_no_invalid"),
        ({"biller_id": 999_999, "account_no": WATER_ACCOUNT}, 404, "biller_not_found"),
        ({"biller_id": city.cmcc.id, "account_no": WATER_ACCOUNT}, 404, "biller_not_found"),
    ]
    for params, status, code in cases:
        answer = client.get(f"{API}/inquiry", params=params, headers=user["auth"])
        assert (answer.status_code, code_of(answer)) == (status, code), params


def test_pay_once_per_key_with_stable_errors(
    platform: Platform, client: TestClient, city: City, user: dict[str, Any]
) -> None:
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    body = {
        "biller_id": city.water.id,
        "account_no": WATER_ACCOUNT,
        "amount_fen": owed,
        "payment_password": PAYMENT_PASSWORD,
    }
    no_key = client.post(f"{API}/payments", json=body, headers=user["auth"])
    assert (no_key.status_code, code_of(no_key)) == (400, "idempotency_key_missing")
    no_proof = post(client, "/payments", {**body, "payment_password": None}, user)
    assert (no_proof.status_code, code_of(no_proof)) == (400, "confirmation_required")
    wrong = post(client, "/payments", {**body, "payment_password": "000000"}, user)
    assert (wrong.status_code, code_of(wrong)) == (403, "payment_password_wrong")
    more = post(client, "/payments", {**body, "amount_fen": owed + 1}, user)
    assert (more.status_code, code_of(more)) == (409, "bill_amount_mismatch")

    key = uuid.uuid4().hex
    paid = post(client, "/payments", body, user, key)
    assert paid.status_code == 200, paid.text
    receipt = paid.json()
    assert (receipt["status"], receipt["kind"], receipt["amount_fen"], receipt["amount"]) == (
        "paid",
        "bill",
        owed,
        f"{owed // 100}.{owed % 100:02d}",
    )
    assert receipt["biller"]["code"] == "sh_water" and receipt["account_no"] == WATER_ACCOUNT
    replay = post(client, "/payments", body, user, key)
    assert replay.json() == receipt  # the first answer again, nothing moved
    reused = post(client, "/payments", {**body, "amount_fen": owed + 1}, user, key)
    assert (reused.status_code, code_of(reused)) == (409, "idempotency_key_reused")
    nothing = post(client, "/payments", body, user)
    assert (nothing.status_code, code_of(nothing)) == (409, "bill_nothing_due")
    assert wallet_balance(platform, user["id"]) == 5_000_00 - owed

    listed = client.get(f"{API}/payments", headers=user["auth"]).json()
    assert [p["id"] for p in listed["payments"]] == [receipt["id"]]
    one = client.get(f"{API}/payments/{receipt['id']}", headers=user["auth"])
    assert one.json() == receipt
    other = payer(platform, "13800138701")
    other_auth = {"Authorization": f"Bearer {platform.services['operators'].issue_token(other)}"}
    hidden = client.get(f"{API}/payments/{receipt['id']}", headers=other_auth)
    assert (hidden.status_code, code_of(hidden)) == (404, "billpay_payment_not_found")
    statement = client.get(
        "/api/v1/wallet/statement", params={"kind": "bill_payment"}, headers=user["auth"]
    ).json()["entries"]
    assert [(e["kind"], e["amount_fen"], e["reference"]) for e in statement] == [
        ("bill_payment", -owed, f"billpay:{receipt['id']}")
    ]
    assert_clean(platform)


def test_a_failed_confirmation_answers_failed_and_refunds(
    platform: Platform, client: TestClient, city: City, user: dict[str, Any]
) -> None:
    sandbox(platform).script.append("decline")
    body = {"phone": "13800138000", "amount_fen": 100_00, "payment_password": PAYMENT_PASSWORD}
    failed = post(client, "/topups", body, user)
    assert failed.status_code == 200
    assert (failed.json()["status"], failed.json()["failure_code"]) == (
        "failed",
        "biller_declined",
    )
    assert wallet_balance(platform, user["id"]) == 5_000_00
    carrier = client.get(
        f"{API}/topups/carrier", params={"phone": "13800138000"}, headers=user["auth"]
    ).json()
    assert carrier["carrier"] == "cmcc" and carrier["denominations_fen"][0] == 10_00
    odd = post(client, "/topups", {**body, "amount_fen": 99_00}, user)
    assert (odd.status_code, code_of(odd)) == (400, "topup_amount_invalid")
    virtual = client.get(
        f"{API}/topups/carrier", params={"phone": "17012345678"}, headers=user["auth"]
    )
    assert (virtual.status_code, code_of(virtual)) == (400, "topup_carrier_unsupported")
    unicom = client.get(
        f"{API}/topups/carrier", params={"phone": "13012345678"}, headers=user["auth"]
    )
    assert (unicom.status_code, code_of(unicom)) == (404, "topup_carrier_unavailable")
    assert_clean(platform)


def test_a_registered_device_confirms_a_bill_payment(
    platform: Platform, client: TestClient, city: City, user: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    added = add_device(client, user["token"], key, pin=PAYMENT_PASSWORD)
    assert added.status_code == 201, added.text
    device_id = added.json()["device_id"]
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    path, idempotency_key = f"{API}/payments", uuid.uuid4().hex
    body = {"biller_id": city.water.id, "account_no": WATER_ACCOUNT, "amount_fen": owed}
    raw = json.dumps(body).encode()
    timestamp_s = platform.clock.now_us() // 1_000_000
    signature = key.sign(
        signed_message(device_id, timestamp_s, request_digest("POST", path, idempotency_key, raw))
    )
    headers = {
        **user["auth"],
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
        HEADER_DEVICE_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp_s),
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
    forged = client.post(
        path,
        content=json.dumps({**body, "amount_fen": owed + 1}).encode(),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert (forged.status_code, code_of(forged)) == (403, "device_signature_wrong")
    signed = client.post(path, content=raw, headers=headers)
    assert signed.status_code == 200 and signed.json()["status"] == "paid", signed.text
    assert wallet_balance(platform, user["id"]) == 5_000_00 - owed


def test_a_slow_biller_is_503_and_the_key_may_be_retried(
    platform: Platform, client: TestClient, city: City, user: dict[str, Any]
) -> None:
    channel = platform.services["billpay"].channel
    channel.timeout_s = 0.05
    sandbox(platform).faults.latency_ms = 300
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    body = {
        "biller_id": city.water.id,
        "account_no": WATER_ACCOUNT,
        "amount_fen": owed,
        "payment_password": PAYMENT_PASSWORD,
    }
    key = uuid.uuid4().hex
    slow = post(client, "/payments", body, user, key)
    assert (slow.status_code, code_of(slow)) == (503, "biller_unavailable")
    assert slow.headers["Retry-After"] == "1"
    sandbox(platform).faults.latency_ms = 0
    retried = post(client, "/payments", body, user, key)  # a 5xx released the key
    assert retried.status_code == 200 and retried.json()["status"] == "paid"


def test_saved_accounts_and_reminders(
    platform: Platform, client: TestClient, city: City, user: dict[str, Any]
) -> None:
    auth = user["auth"]
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    saved = client.post(
        f"{API}/accounts",
        json={"biller_id": city.water.id, "account_no": WATER_ACCOUNT, "nickname": "家里"},
        headers=auth,
    )
    assert saved.status_code == 200, saved.text
    assert (saved.json()["nickname"], saved.json()["outstanding_fen"]) == ("家里", owed)
    client.post(
        f"{API}/accounts",
        json={"biller_id": city.gas.id, "account_no": PAID_UP_ACCOUNT},
        headers=auth,
    )
    unknown = client.post(
        f"{API}/accounts",
        json={"biller_id": city.water.id, "account_no": UNKNOWN_ACCOUNT},
        headers=auth,
    )
    assert (unknown.status_code, code_of(unknown)) == (404, "bill_account_not_found")
    listed = client.get(f"{API}/accounts", headers=auth).json()["accounts"]
    assert [a["biller"]["code"] for a in listed] == ["sh_water", "bj_gas"]
    reminders = client.get(f"{API}/reminders", headers=auth).json()["reminders"]
    assert [(r["account_no"], r["outstanding_fen"]) for r in reminders] == [(WATER_ACCOUNT, owed)]
    body = {
        "biller_id": city.water.id,
        "account_no": WATER_ACCOUNT,
        "amount_fen": owed,
        "payment_password": PAYMENT_PASSWORD,
    }
    assert post(client, "/payments", body, user).json()["status"] == "paid"
    assert client.get(f"{API}/reminders", headers=auth).json()["reminders"] == []
    gone = client.delete(f"{API}/accounts/{saved.json()['id']}", headers=auth)
    assert gone.json() == {"deleted": saved.json()["id"]}
    again = client.delete(f"{API}/accounts/{saved.json()['id']}", headers=auth)
    assert (again.status_code, code_of(again)) == (404, "bill_saved_account_not_found")
