"""Card payouts under concurrent attack (SQLite, or PostgreSQL by URL): many payouts at once
go for one balance, one month's free repayment quota, one lifetime free quota shared with
withdrawals, and one Idempotency-Key; exactly what is allowed moves, once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from tests.integration.card_payout_support import (
    PIN,
    bound_card_number,
    credit_card,
    funded_user,
    quota_used,
)
from tests.reliability.test_double_spend import storm

from paybao.bootstrap import Platform
from paybao.domain.card_payouts import PayoutArrival, PayoutKind
from paybao.wiring.card_payouts import payout_answer

CLIENTS = 12


def test_payouts_at_once_never_spend_the_balance_twice(platform: Platform) -> None:
    payer = funded_user(platform, "13900139201", "王五", 1_000_00)
    payee = funded_user(platform, "13900139202", "赵六")
    payouts, wallet = platform.services["card_payouts"], platform.services["wallet"]
    card = bound_card_number(platform, payee)
    own = credit_card(platform, "王五", "race-own")

    def transfer() -> Any:
        return payouts.transfer(payer.user_id, card, "赵六", 200_00, PIN)

    def repay() -> Any:
        return payouts.repay(payer.user_id, own, 200_00, PIN)

    def withdraw() -> Any:
        return wallet.withdraw(payer.user_id, payer.card_id, 200_00, PIN)

    attempts = [transfer, repay, withdraw] * (CLIENTS // 3)
    outcomes = storm(attempts)
    assert outcomes == Counter(ok=5, insufficient_funds=CLIENTS - 5), outcomes
    assert wallet.balance(payer.user_id) == (0, 0)
    paid_out = [p for p in payouts.payouts(payer.user_id) if p.status == "succeeded"]
    withdrawn = [
        w for w in wallet.statements.recent("withdrawals", payer.user_id) if w.status == "succeeded"
    ]
    assert len(paid_out) + len(withdrawn) == 5
    assert platform.reconcile.run().differences == []


def test_repayments_at_once_share_one_months_free_quota(platform: Platform) -> None:
    payer = funded_user(platform, "13900139211", "王五", 9_000_00)
    payouts = platform.services["card_payouts"]
    own = credit_card(platform, "王五", "race-month")
    outcomes = storm([lambda: payouts.repay(payer.user_id, own, 500_00, PIN)] * 10)
    assert outcomes == Counter(ok=10), outcomes
    repaid = payouts.payouts(payer.user_id, PayoutKind.REPAYMENT)
    # 2,000.00 free this month: four of them free, six charged 0.1% (0.50) on all of theirs.
    assert sorted(p.fee_fen for p in repaid) == [0] * 4 + [50] * 6
    assert payouts.quota(payer.user_id, PayoutKind.REPAYMENT)[1] == 0
    assert platform.services["wallet"].balance(payer.user_id)[0] == 9_000_00 - 5_000_00 - 3_00
    assert platform.reconcile.run().differences == []


def test_transfers_and_withdrawals_at_once_share_the_lifetime_quota(platform: Platform) -> None:
    payer = funded_user(platform, "13900139221", "王五", 9_000_00)
    payee = funded_user(platform, "13900139222", "赵六")
    payouts, wallet = platform.services["card_payouts"], platform.services["wallet"]
    wallet.fee_policy = type(wallet.fee_policy)(free_quota_fen=1_000_00)
    card = bound_card_number(platform, payee)
    attempts = [
        lambda: payouts.transfer(payer.user_id, card, "赵六", 300_00, PIN),
        lambda: wallet.withdraw(payer.user_id, payer.card_id, 300_00, PIN),
    ] * (CLIENTS // 2)
    assert storm(attempts) == Counter(ok=CLIENTS)
    assert quota_used(platform, payer.user_id) == 1_000_00  # exactly the quota, no more
    fees = [p.fee_fen for p in payouts.payouts(payer.user_id)]
    fees += [row.fee_fen for row in wallet.statements.recent("withdrawals", payer.user_id)]
    # 3,600.00 paid out, 1,000.00 of it free: 0.1% of the other 2,600.00, per payout rounded.
    assert sum(fees) == 2_60 and sorted(fees)[:3] == [0, 0, 0]
    assert platform.reconcile.run().differences == []


def test_one_idempotency_key_sent_many_times_at_once_pays_once(platform: Platform) -> None:
    payer = funded_user(platform, "13900139231", "王五", 1_000_00)
    payee = funded_user(platform, "13900139232", "赵六")
    payouts = platform.services["card_payouts"]
    idempotency = platform.services["idempotency"]
    card = bound_card_number(platform, payee)

    def send() -> Any:
        def work() -> tuple[int, str]:
            payout = payouts.transfer(payer.user_id, card, "赵六", 100_00, PIN)
            return 200, json.dumps({"id": payout.id})

        return idempotency.run(f"user:{payer.user_id}", "same-key", "same-body", work)

    outcomes = storm([send] * 8)
    # One ran; the others got its answer or were told it is still running (retry later).
    assert outcomes["ok"] >= 1 and set(outcomes) <= {"ok", "idempotency_key_in_use"}, outcomes
    assert len(payouts.payouts(payer.user_id)) == 1
    assert platform.services["wallet"].balance(payer.user_id) == (900_00, 900_00)


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs in that request."""


def test_a_retry_after_a_crash_before_the_answer_was_stored_pays_once(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    payer = funded_user(platform, "13900139241", "王五", 1_000_00)
    payee = funded_user(platform, "13900139242", "赵六")
    payouts, idempotency = platform.services["card_payouts"], platform.services["idempotency"]
    card = bound_card_number(platform, payee)

    def work() -> tuple[int, str]:
        payout = payouts.transfer(
            payer.user_id, card, "赵六", 100_00, PIN, arrival=PayoutArrival.NEXT_DAY
        )
        return payout_answer(payout)

    def crash(*_args: Any) -> None:
        raise Crash

    original = idempotency.store.answer
    monkeypatch.setattr(idempotency.store, "answer", crash)
    with pytest.raises(Crash):
        idempotency.run(f"user:{payer.user_id}", "crash-1", "body", work)
    monkeypatch.setattr(idempotency.store, "answer", original)
    platform.sandbox_clock.advance(180)  # an unmarked claim would count as abandoned by now
    status_code, body = idempotency.run(f"user:{payer.user_id}", "crash-1", "body", work)
    # The answer is rendered from the payout the first attempt committed, not a second one.
    assert (status_code, json.loads(body)["status"]) == (200, "held")
    assert len(payouts.payouts(payer.user_id)) == 1
    assert platform.services["wallet"].balance(payer.user_id) == (1_000_00, 900_00)
