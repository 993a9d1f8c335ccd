"""A crash between the business commit and storing the idempotent answer must not let the
client's retry apply the request twice: the claim was marked in the business transaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from paybao.bootstrap import Platform
from paybao.services.idempotency import fingerprint
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer, wallet_balance


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs in that request."""


def test_retry_after_a_crash_before_the_answer_is_stored_applies_once(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    payer = make_buyer(platform, phone="13600000001", balance_fen=50_00)
    make_buyer(platform, phone="13600000002", balance_fen=0)
    idempotency, wallet = platform.services["idempotency"], platform.services["wallet"]
    request_sha256 = fingerprint("POST", "/api/v1/wallet/transfers", "body")

    def work() -> tuple[int, str]:
        movement = wallet.transfer(payer, "13600000002", 10_00, PAYMENT_PASSWORD)
        return 200, json.dumps({"kind": movement.kind, "id": movement.id})

    def crash(*_args: Any) -> None:
        raise Crash

    original_answer = idempotency.store.answer
    monkeypatch.setattr(idempotency.store, "answer", crash)
    with pytest.raises(Crash):
        idempotency.run(f"user:{payer}", "crash-1", request_sha256, work)
    assert wallet_balance(platform, payer) == 40_00  # the transfer itself committed
    monkeypatch.setattr(idempotency.store, "answer", original_answer)
    # Long enough for an unmarked claim to count as abandoned and be taken over.
    platform.sandbox_clock.advance(180)

    status_code, body = idempotency.run(f"user:{payer}", "crash-1", request_sha256, work)
    assert status_code == 200
    answer = json.loads(body)
    assert answer["kind"] == "transfer"
    assert wallet_balance(platform, payer) == 40_00  # not twice
    with platform.engine.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM wallet_transfers")).scalar()
    assert count == 1
    again = idempotency.run(f"user:{payer}", "crash-1", request_sha256, work)
    assert again == (status_code, body)
    assert platform.reconcile.run().clean
