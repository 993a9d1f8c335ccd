"""The top-up channels' REST API under concurrent requests (SQLite, or PostgreSQL by URL): one
Idempotency-Key sent by several app threads at once makes one top-up (or one code); creates
with different keys at once never open more cash codes than the limit (the user row lock)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.topup_channel_support import funded_user

from paybao.bootstrap import Platform

API = "/api/v1/wallet"
CLIENTS = 8


def at_once(app: Any, requests: list[tuple[str, dict[str, Any], str]], token: str) -> list[Any]:
    """POST every (path, body, key) at the same instant, each from its own client thread."""
    answers: list[Any] = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def send(index: int, path: str, body: dict[str, Any], key: str) -> None:
        client = TestClient(app)
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        barrier.wait()
        answers[index] = client.post(f"{API}{path}", json=body, headers=headers)

    threads = [
        threading.Thread(target=send, args=(index, *request))
        for index, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(answer is not None for answer in answers), "a request hung"
    return answers


def outcome(response: Any) -> str:
    return "ok" if response.status_code == 200 else str(response.json()["error"]["code"])


@pytest.mark.parametrize(
    ("path", "body", "listing"),
    [
        ("/cash-codes", {"amount_fen": 100_00}, "codes"),
        ("/bank-pay-topups", {"bank_code": "ICBC", "amount_fen": 100_00}, "topups"),
    ],
)
def test_one_key_sent_at_once_by_several_threads_makes_one(
    platform: Platform, client: TestClient, path: str, body: dict[str, Any], listing: str
) -> None:
    person = funded_user(platform, "13900139601", "王五")
    token = platform.services["operators"].issue_token(person.user_id)
    answers = at_once(client.app, [(path, body, "same-key")] * CLIENTS, token)
    outcomes = Counter(outcome(a) for a in answers)
    # One ran; the others got its answer or were told it is still running (retry later).
    assert outcomes["ok"] >= 1 and set(outcomes) <= {"ok", "idempotency_key_in_use"}, outcomes
    ids = {a.json()["id"] for a in answers if a.status_code == 200}
    headers = {"Authorization": f"Bearer {token}"}
    made = client.get(f"{API}{path}?status=all", headers=headers).json()[listing]
    assert len(ids) == 1 and [m["id"] for m in made] == list(ids)


def test_creates_with_different_keys_at_once_open_three_codes_at_most(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, "13900139602", "王五")
    token = platform.services["operators"].issue_token(person.user_id)
    requests = [("/cash-codes", {"amount_fen": 20_00}, uuid.uuid4().hex)] * CLIENTS
    requests = [(p, b, uuid.uuid4().hex) for p, b, _ in requests]
    outcomes = Counter(outcome(a) for a in at_once(client.app, requests, token))
    assert outcomes == Counter(ok=3, cash_codes_open_max=CLIENTS - 3), outcomes
    opened = platform.services["cash_topups"].codes(person.user_id, 50, open_only=True)
    assert len(opened) == 3
