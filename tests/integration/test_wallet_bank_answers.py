"""The sandbox bank's requests and the wallet's answers to them, after both were made cheaper.

The sandbox bank records a plain request (no name to check, not refused) before moving the
card's balance, and reads the card only when the balance does not suffice: every outcome and
failure code must stay what it was, a repeated request id must move nothing. The wallet moves
a top-up's or withdrawal's row out of flight compare-and-set before it moves money: a second
answer (the query job's, a late one) must change nothing.
"""

from __future__ import annotations

import random

from sqlalchemy import select
from tests.integration.test_wallet_rules import PIN, ledger_clean, open_user

from paybao.adapters.banks.sandbox import SandboxBank
from paybao.adapters.db.tables.bank import bank_requests
from paybao.bootstrap import Platform
from paybao.domain.cards import generate_card_number
from paybao.services.banking import BankOutcome, BankResult

HOLDER = "王小明"


def _card(bank: SandboxBank, balance_fen: int, seed: int = 1) -> str:
    number = generate_card_number(random.Random(seed), "ICBC")
    bank.open_card(number, "ICBC", HOLDER, "110101199003077777", "13900000099", balance_fen)
    return number


def _record(platform: Platform, request_id: str) -> tuple[str, str | None]:
    with platform.db.read() as tx:
        row = tx.execute(
            select(bank_requests.c.status, bank_requests.c.failure_code).where(
                bank_requests.c.request_id == request_id
            )
        ).one()
    return row.status, row.failure_code


def test_plain_requests_move_once_and_fail_with_their_codes(platform: Platform) -> None:
    bank: SandboxBank = platform.services["bank"]
    number = _card(bank, 100_00)
    assert bank.debit("t:1", number, 30_00) == BankResult(BankOutcome.SUCCEEDED)
    assert bank.debit("t:1", number, 30_00) == BankResult(BankOutcome.SUCCEEDED)  # a repeat
    assert bank.card_balance_fen(number) == 70_00
    too_much = bank.debit("t:2", number, 70_01)
    assert too_much == BankResult(BankOutcome.FAILED, "card_insufficient_balance")
    assert _record(platform, "t:2") == ("failed", "card_insufficient_balance")
    assert bank.debit("t:2", number, 1) == too_much  # answered from its record
    assert bank.credit("w:1", number, 5_00) == BankResult(BankOutcome.SUCCEEDED)
    assert bank.card_balance_fen(number) == 75_00
    assert bank.debit("t:3", "6222020000000000000", 1) == BankResult(
        BankOutcome.FAILED, "card_not_found"
    )
    assert bank.query("t:1") == BankResult(BankOutcome.SUCCEEDED)
    assert bank.query("t:3") == BankResult(BankOutcome.FAILED, "card_not_found")
    assert bank.query("t:4") == BankResult(BankOutcome.NOT_FOUND)


def test_refused_and_named_requests_keep_their_codes(platform: Platform) -> None:
    bank: SandboxBank = platform.services["bank"]
    number = _card(bank, 100_00)
    bank.script.append("fail")
    assert bank.debit("t:1", number, 1_00) == BankResult(BankOutcome.FAILED, "bank_declined")
    assert bank.debit("t:1", number, 1_00) == BankResult(BankOutcome.FAILED, "bank_declined")
    assert bank.credit("w:1", number, 1_00, holder_name="李四") == BankResult(
        BankOutcome.FAILED, "holder_name_mismatch"
    )
    assert bank.credit("w:2", number, 1_00, holder_name=HOLDER) == BankResult(BankOutcome.SUCCEEDED)
    assert bank.credit("w:2", number, 1_00, holder_name=HOLDER).outcome is BankOutcome.SUCCEEDED
    assert bank.card_balance_fen(number) == 101_00
    assert _record(platform, "w:1") == ("failed", "holder_name_mismatch")


def test_a_second_answer_changes_nothing(platform: Platform) -> None:
    user_id, card_id = open_user(platform, "13900000031")
    wallet = platform.services["wallet"]
    topped = wallet.top_up(user_id, card_id, 50_00, PIN)
    withdrawn = wallet.withdraw(user_id, card_id, 20_00, PIN)
    assert (topped.status, withdrawn.status) == ("succeeded", "succeeded")
    failed = BankResult(BankOutcome.FAILED, "bank_declined")
    ok = BankResult(BankOutcome.SUCCEEDED)
    rows = wallet.payouts.rows["withdraw"]
    for answer in (failed, ok):
        platform.db.run(lambda tx, a=answer: wallet._finish_topup_in(tx, topped.id, a))
        platform.db.run(lambda tx, a=answer: wallet.payouts.finish_in(tx, rows, withdrawn.id, a))
    assert wallet.movement("topup", topped.id).status == "succeeded"
    assert wallet.movement("withdrawal", withdrawn.id).status == "succeeded"
    assert wallet.balance(user_id) == (30_00, 30_00)
    assert ledger_clean(platform)


def test_a_failed_withdrawal_gives_the_quota_back_once(platform: Platform) -> None:
    user_id, card_id = open_user(platform, "13900000032")
    wallet, users = platform.services["wallet"], platform.services["users"]
    wallet.top_up(user_id, card_id, 50_00, PIN)
    wallet.bank.script.append("timeout_lost")
    lost = wallet.withdraw(user_id, card_id, 20_00, PIN)
    assert lost.status == "sent"
    assert users.record(user_id).withdraw_quota_used_fen == 20_00
    platform.sandbox_clock.advance(60)  # the query job: the bank never got it
    assert wallet.movement("withdrawal", lost.id).failure_code == "bank_not_received"
    rows = wallet.payouts.rows["withdraw"]
    late = BankResult(BankOutcome.FAILED, "bank_declined")
    platform.db.run(lambda tx: wallet.payouts.finish_in(tx, rows, lost.id, late))
    assert users.record(user_id).withdraw_quota_used_fen == 0
    assert wallet.balance(user_id) == (50_00, 50_00)
    assert ledger_clean(platform)
