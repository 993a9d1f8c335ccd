"""Red packets through the REST API on the test database: send (Idempotency-Key, payment
password or device), claim, the packet with its claims, the lists, error codes and statuses,
and one Idempotency-Key sent twice at once sending one packet."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from tests.integration.red_packet_support import (
    PAYMENT_PASSWORD,
    START_FEN,
    assert_clean,
    red_packets,
    sender,
    user,
    wallet_balance,
)
from tests.integration.test_device_confirm import add_device

from paybao.bootstrap import Platform
from paybao.domain.devices import (
    HEADER_DEVICE_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    request_digest,
    signed_message,
)

PATH = "/api/v1/red-packets"


def auth(platform: Platform, user_id: int) -> dict[str, str]:
    token = platform.services["operators"].issue_token(user_id)
    return {"Authorization": f"Bearer {token}"}


def post(
    client: TestClient, path: str, headers: dict[str, str], body: Any = None, key: str = ""
) -> Any:
    return client.post(
        path, json=body, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


def lucky(total_fen: int = 10_00, count: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "lucky",
        "total_fen": total_fen,
        "count": count,
        "payment_password": PAYMENT_PASSWORD,
        **extra,
    }


def test_send_claim_and_read_a_packet(platform: Platform, client: TestClient) -> None:
    alice_id = sender(platform)
    alice = auth(platform, alice_id)
    bob_id = user(platform, 1)
    bob = auth(platform, bob_id)
    key = uuid.uuid4().hex
    sent = post(client, PATH, alice, lucky(greeting="开工大吉"), key)
    assert sent.status_code == 200, sent.text
    packet = sent.json()
    assert set(packet) == {
        "id",
        "kind",
        "total_fen",
        "count",
        "greeting",
        "state",
        "expires_at_us",
        "share_url",
    }
    assert (packet["kind"], packet["greeting"], packet["state"]) == ("lucky", "开工大吉", "active")
    assert packet["share_url"] == f"http://testserver/red-packets/{packet['id']}"
    # A replay is the first answer; the key with another body is refused.
    assert post(client, PATH, alice, lucky(greeting="开工大吉"), key).json() == packet
    # After a crash between commit and answer, the retry is rendered in the same shape.
    render = platform.services["idempotency"].renderers["red_packet"]
    row_id = red_packets(platform).sent(alice_id).items[0].id
    assert json.loads(render(f"red_packet:{row_id}")[1]) == packet
    reused = post(client, PATH, alice, lucky(total_fen=11_00), key)
    assert (reused.status_code, code_of(reused)) == (409, "idempotency_key_reused")
    assert wallet_balance(platform, alice_id) == START_FEN - 10_00

    claim_key = uuid.uuid4().hex
    claimed = post(client, f"{PATH}/{packet['id']}/claim", bob, key=claim_key)
    assert claimed.status_code == 200, claimed.text
    got = claimed.json()
    assert got["packet_id"] == packet["id"] and 1 <= got["amount_fen"] <= 10_00 - 2
    assert post(client, f"{PATH}/{packet['id']}/claim", bob, key=claim_key).json() == got
    render_claim = platform.services["idempotency"].renderers["red_packet_claim"]
    assert json.loads(render_claim(f"red_packet_claim:{got['claim_id']}")[1]) == got
    again = post(client, f"{PATH}/{packet['id']}/claim", bob)
    assert (again.status_code, code_of(again)) == (409, "red_packet_claimed")
    assert wallet_balance(platform, bob_id) == got["amount_fen"]

    view = client.get(f"{PATH}/{packet['id']}", headers=bob).json()
    assert (view["claimed_count"], view["my_amount_fen"], view["claimable"]) == (
        1,
        got["amount_fen"],
        False,
    )
    assert [(c["amount_fen"], c["mine"], c["best_luck"]) for c in view["claims"]] == [
        (got["amount_fen"], True, False)
    ]
    assert view["claims"][0]["name_masked"] == "139****0001"
    assert client.get(f"{PATH}/{packet['id']}", headers=alice).json()["mine"] is True

    sent_list = client.get(PATH, params={"role": "sent"}, headers=alice).json()
    assert [p["id"] for p in sent_list["sent"]] == [packet["id"]]
    received = client.get(PATH, params={"role": "received"}, headers=bob).json()
    assert [(r["id"], r["amount_fen"]) for r in received["received"]] == [
        (packet["id"], got["amount_fen"])
    ]
    assert_clean(platform)


def test_lists_page_by_next_before(platform: Platform, client: TestClient) -> None:
    alice = auth(platform, sender(platform))
    ids = [
        post(client, PATH, alice, lucky(total_fen=100 + i, count=1)).json()["id"] for i in range(3)
    ]
    first = client.get(PATH, params={"role": "sent", "limit": 2}, headers=alice).json()
    assert [p["id"] for p in first["sent"]] == ids[::-1][:2] and first["next_before"]
    rest = client.get(
        PATH, params={"role": "sent", "limit": 2, "before": first["next_before"]}, headers=alice
    ).json()
    assert [p["id"] for p in rest["sent"]] == ids[:1] and rest["next_before"] is None
    whole = client.get(PATH, params={"role": "sent", "limit": 3}, headers=alice).json()
    assert len(whole["sent"]) == 3 and whole["next_before"] is None  # a full last page
    too_big = client.get(PATH, params={"role": "sent", "limit": 51}, headers=alice)
    assert too_big.status_code == 422


def test_a_single_packet_waits_for_its_recipient(platform: Platform, client: TestClient) -> None:
    alice = auth(platform, sender(platform))
    bob = auth(platform, user(platform, 1))
    carol = auth(platform, user(platform, 2))
    body = {
        "kind": "single",
        "total_fen": 88_00,
        "to_phone": "13900000001",
        "payment_password": PAYMENT_PASSWORD,
    }
    packet = post(client, PATH, alice, body).json()
    waiting = client.get(PATH, params={"role": "waiting"}, headers=bob).json()["waiting"]
    assert [(w["id"], w["total_fen"]) for w in waiting] == [(packet["id"], 88_00)]
    assert client.get(PATH, params={"role": "waiting"}, headers=carol).json()["waiting"] == []
    hidden = client.get(f"{PATH}/{packet['id']}", headers=carol)
    assert (hidden.status_code, code_of(hidden)) == (404, "red_packet_not_found")
    refused = post(client, f"{PATH}/{packet['id']}/claim", carol)
    assert (refused.status_code, code_of(refused)) == (403, "red_packet_not_for_you")
    assert post(client, f"{PATH}/{packet['id']}/claim", bob).json()["amount_fen"] == 88_00
    assert client.get(PATH, params={"role": "waiting"}, headers=bob).json()["waiting"] == []


def test_errors_have_their_codes_and_statuses(platform: Platform, client: TestClient) -> None:
    alice = auth(platform, sender(platform))
    bob = auth(platform, user(platform, 1))
    cases = [
        ({"kind": "equal", "share_fen": 200_01, "count": 2}, 400, "red_packet_share_too_large"),
        ({"kind": "equal", "share_fen": 1_00, "count": 101}, 400, "red_packet_count_invalid"),
        ({"kind": "lucky", "total_fen": 1, "count": 2}, 400, "red_packet_total_too_small"),
        ({"kind": "equal", "share_fen": 200_00, "count": 6}, 402, "insufficient_funds"),
        # Above the anomaly floor with no history: what would hold a transfer refuses a packet.
        ({"kind": "equal", "share_fen": 200_00, "count": 100}, 403, "risk_rejected"),
        ({"kind": "single", "total_fen": 1_00, "to_phone": "13911112222"}, 404, "payee_not_found"),
    ]
    for body, status, code in cases:
        answer = post(client, PATH, alice, {**body, "payment_password": PAYMENT_PASSWORD})
        assert (answer.status_code, code_of(answer)) == (status, code), body
    no_proof = post(client, PATH, alice, {"kind": "equal", "share_fen": 1_00, "count": 1})
    assert (no_proof.status_code, code_of(no_proof)) == (400, "confirmation_required")
    no_key = client.post(PATH, json=lucky(), headers=alice)
    assert (no_key.status_code, code_of(no_key)) == (400, "idempotency_key_missing")
    missing = post(client, f"{PATH}/nope/claim", bob)
    assert (missing.status_code, code_of(missing)) == (404, "red_packet_not_found")
    packet = post(client, PATH, alice, lucky(total_fen=2_00, count=1)).json()
    assert post(client, f"{PATH}/{packet['id']}/claim", bob).status_code == 200
    empty = post(client, f"{PATH}/{packet['id']}/claim", auth(platform, user(platform, 2)))
    assert (empty.status_code, code_of(empty)) == (409, "red_packet_empty")
    late = post(client, PATH, alice, lucky(total_fen=2_00, count=2)).json()
    platform.sandbox_clock.advance(86_400)
    expired = post(client, f"{PATH}/{late['id']}/claim", bob)
    assert (expired.status_code, code_of(expired)) == (410, "red_packet_expired")
    assert client.get(PATH, headers={}).status_code == 401
    assert_clean(platform)


def test_a_registered_device_confirms_a_send(platform: Platform, client: TestClient) -> None:
    alice_id = sender(platform)
    token = platform.services["operators"].issue_token(alice_id)
    key = Ed25519PrivateKey.generate()
    added = add_device(client, token, key, pin=PAYMENT_PASSWORD)
    assert added.status_code == 201, added.text
    device_id = added.json()["device_id"]
    idempotency_key = uuid.uuid4().hex
    raw = json.dumps({"kind": "equal", "share_fen": 5_00, "count": 2}).encode()
    timestamp_s = platform.clock.now_us() // 1_000_000
    digest = request_digest("POST", PATH, idempotency_key, raw)
    signature = key.sign(signed_message(device_id, timestamp_s, digest))
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
        HEADER_DEVICE_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp_s),
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
    signed = client.post(PATH, content=raw, headers=headers)
    assert signed.status_code == 200, signed.text
    forged = client.post(
        PATH,
        content=json.dumps({"kind": "equal", "share_fen": 50_00, "count": 2}).encode(),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert (forged.status_code, code_of(forged)) == (403, "device_signature_wrong")
    assert wallet_balance(platform, alice_id) == START_FEN - 10_00


def test_one_key_sent_twice_at_once_sends_one_packet(
    platform: Platform, client: TestClient
) -> None:
    alice_id = sender(platform)
    alice = auth(platform, alice_id)
    key = uuid.uuid4().hex
    start = threading.Barrier(4)
    answers: list[Any] = [None] * 4

    def run(i: int) -> None:
        start.wait()
        answers[i] = post(client, PATH, alice, lucky(), key)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    done = [a.json() for a in answers if a.status_code == 200]
    assert done and all(d == done[0] for d in done), [a.text for a in answers]
    assert {a.status_code for a in answers} <= {200, 409}
    assert all(code_of(a) == "idempotency_key_in_use" for a in answers if a.status_code == 409)
    assert len(red_packets(platform).sent(alice_id).items) == 1
    assert wallet_balance(platform, alice_id) == START_FEN - 10_00
    assert_clean(platform)
