"""Stored idempotency fingerprints must not give a payment password away: a digest over a
6-digit PIN is reversed with 10^6 guesses, so passwords are left out of what is hashed."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import text

from paybao.bootstrap import Platform
from paybao.services.idempotency import fingerprint
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer


def test_no_stored_fingerprint_depends_on_the_payment_password(
    platform: Platform, client: TestClient
) -> None:
    payer = make_buyer(platform, phone="13500000001", balance_fen=50_00)
    make_buyer(platform, phone="13500000002", balance_fen=0)
    token = platform.services["operators"].issue_token(payer)
    body = {"payee_phone": "13500000002", "amount_fen": 1_00, "payment_password": PAYMENT_PASSWORD}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "fp-1"}
    assert client.post("/api/v1/wallet/transfers", json=body, headers=headers).status_code == 200
    with platform.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT request_sha256 FROM idempotency_keys WHERE key = 'fp-1'")
        ).scalar_one()
    path = "/api/v1/wallet/transfers"
    # What is stored is a digest of the request WITHOUT the password: nothing to search for.
    public = {k: v for k, v in body.items() if k != "payment_password"}
    assert stored == fingerprint("POST", path, json.dumps(public, sort_keys=True))
    # The same request with another password is a replay of the first (same answer, no 409).
    again = dict(body, payment_password="999999")
    replay = client.post("/api/v1/wallet/transfers", json=again, headers=headers)
    assert replay.status_code == 200
