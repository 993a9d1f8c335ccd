"""Wallet rules at the service layer on the test database (SQLite, or PostgreSQL by URL)."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from sqlalchemy import select

from paybao.adapters.db.ledger_checks import LEDGER_CHECKS
from paybao.adapters.db.tables.wallet import sms_outbox
from paybao.bootstrap import Platform
from paybao.domain.cards import generate_card_number
from paybao.domain.errors import DomainError
from paybao.domain.identity import generate_id_number
from paybao.domain.withdrawal import TransferArrival

PIN = "470253"


def code_for(platform: Platform, phone: str) -> str:
    with platform.engine.connect() as connection:
        text = connection.execute(
            select(sms_outbox.c.text)
            .where(sms_outbox.c.phone == phone)
            .order_by(sms_outbox.c.id.desc())
            .limit(1)
        ).scalar_one()
    return str(text).split("验证码 ")[1][:6]


def open_user(platform: Platform, phone: str, name: str = "王小明") -> tuple[int, int]:
    registration = platform.services["registration"]
    rng = random.Random(phone)
    user_id = registration.start(phone, "abc12345")
    registration.verify_phone(user_id, code_for(platform, phone))
    registration.set_payment_password(user_id, PIN)
    registration.verify_identity(user_id, name, generate_id_number(rng))
    card_id = registration.add_card(user_id, generate_card_number(rng, "ICBC"), name, phone)
    registration.confirm_card(user_id, card_id, code_for(platform, phone))
    return user_id, card_id


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def ledger_clean(platform: Platform) -> bool:
    with platform.db.read() as tx:
        return all(not check(tx, platform.clock.now_us()) for _, check in LEDGER_CHECKS)


def test_bad_inputs_are_refused_with_their_codes(platform: Platform) -> None:
    registration = platform.services["registration"]
    assert code_of(lambda: registration.start("12345", "abc12345")) == "invalid_phone"
    assert code_of(lambda: registration.start("13900000009", "abcdef")) == "invalid_login_password"
    user_id = registration.start("13900000009", "abc12345")
    assert (
        code_of(
            lambda: registration.verify_phone(
                user_id, "000000" if code_for(platform, "13900000009") != "000000" else "111111"
            )
        )
        == "sms_code_wrong"
    )
    registration.verify_phone(user_id, code_for(platform, "13900000009"))
    assert (
        code_of(lambda: registration.set_payment_password(user_id, "123456"))
        == "weak_payment_password"
    )
    registration.set_payment_password(user_id, PIN)
    assert code_of(
        lambda: registration.verify_identity(user_id, "王小明", "11010119900307123X")
    ) in ("id_checksum_mismatch",)
    registration.verify_identity(user_id, "王小明", generate_id_number(random.Random(1)))
    assert (
        code_of(
            lambda: registration.add_card(user_id, "6222020000000000001", "王小明", "13900000009")
        )
        == "card_checksum_mismatch"
    )
    card = generate_card_number(random.Random(2), "ICBC")
    assert (
        code_of(lambda: registration.add_card(user_id, card, "李四", "13900000009"))
        == "card_holder_name_mismatch"
    )


def test_sms_code_burns_after_five_wrong_tries_and_expires(platform: Platform) -> None:
    registration = platform.services["registration"]
    user_id = registration.start("13900000010", "abc12345")
    right = code_for(platform, "13900000010")
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert code_of(lambda: registration.verify_phone(user_id, wrong)) == "sms_code_wrong"
    assert code_of(lambda: registration.verify_phone(user_id, right)) == "sms_code_burned"
    platform.sandbox_clock.advance(301)
    registration.resend_phone_code(user_id)
    platform.sandbox_clock.advance(301)
    assert (
        code_of(lambda: registration.verify_phone(user_id, code_for(platform, "13900000010")))
        == "sms_code_expired"
    )


def test_payment_password_locks_after_five_wrong(platform: Platform) -> None:
    user_id, card_id = open_user(platform, "13900000011")
    wallet = platform.services["wallet"]
    codes = [code_of(lambda: wallet.top_up(user_id, card_id, 100, "000001")) for _ in range(5)]
    assert codes == ["payment_password_wrong"] * 4 + ["payment_password_locked"]
    assert code_of(lambda: wallet.top_up(user_id, card_id, 100, PIN)) == "payment_password_locked"
    platform.sandbox_clock.advance(3 * 3600 + 1)
    assert wallet.top_up(user_id, card_id, 100, PIN).status == "succeeded"


def test_limits_funds_and_freeze(platform: Platform) -> None:
    payer, card = open_user(platform, "13900000012")
    open_user(platform, "13900000013", "李四")
    wallet = platform.services["wallet"]
    assert code_of(lambda: wallet.transfer(payer, "13900000013", 1, PIN)) == "insufficient_funds"
    wallet.top_up(payer, card, 2_000_00, PIN)
    # Class I: 1,000 CNY of balance payments since opening.
    assert (
        code_of(lambda: wallet.transfer(payer, "13900000013", 1_000_01, PIN))
        == "balance_payment_limit_exceeded"
    )
    wallet.transfer(payer, "13900000013", 1_000_00, PIN)
    assert (
        code_of(lambda: wallet.transfer(payer, "13900000013", 1, PIN))
        == "balance_payment_limit_exceeded"
    )
    operators = platform.services["operators"]
    operators.set_user_status(None, payer, "frozen", "test")
    assert code_of(lambda: wallet.withdraw(payer, card, 100, PIN)) == "account_frozen"
    assert ledger_clean(platform)


def test_bank_timeout_then_late_success_and_failure(platform: Platform) -> None:
    user_id, card_id = open_user(platform, "13900000014")
    wallet, bank = platform.services["wallet"], platform.services["bank"]
    bank.script.extend(["timeout", "timeout_lost"])
    late = wallet.top_up(user_id, card_id, 50_00, PIN)
    lost = wallet.top_up(user_id, card_id, 70_00, PIN)
    assert (late.status, lost.status) == ("processing", "processing")
    assert wallet.balance(user_id) == (0, 0)
    platform.sandbox_clock.advance(60)
    assert wallet.movement("topup", late.id).status == "succeeded"
    assert wallet.movement("topup", lost.id).status == "failed"
    assert wallet.balance(user_id) == (50_00, 50_00)
    # A withdrawal whose answer is lost stays held until the query settles it.
    bank.script.append("timeout")
    held = wallet.withdraw(user_id, card_id, 20_00, PIN)
    assert held.status == "sent"
    assert wallet.balance(user_id) == (50_00, 30_00)
    platform.sandbox_clock.advance(60)
    assert wallet.movement("withdrawal", held.id).status == "succeeded"
    bank.script.append("fail")
    assert wallet.withdraw(user_id, card_id, 10_00, PIN).status == "failed"
    assert wallet.balance(user_id) == (30_00, 30_00)
    assert ledger_clean(platform)


def test_delayed_transfer_lands_or_is_cancelled(platform: Platform) -> None:
    payer, card = open_user(platform, "13900000015")
    payee, _ = open_user(platform, "13900000016", "李四")
    wallet = platform.services["wallet"]
    wallet.top_up(payer, card, 100_00, PIN)
    landing = wallet.transfer(payer, "13900000016", 10_00, PIN, arrival=TransferArrival.DELAY_2H)
    cancelled = wallet.transfer(payer, "13900000016", 20_00, PIN, arrival=TransferArrival.DELAY_24H)
    assert wallet.cancel_transfer(payer, cancelled.id).status == "cancelled"
    platform.sandbox_clock.advance(2 * 3600 + 1)
    assert wallet.movement("transfer", landing.id).status == "succeeded"
    assert code_of(lambda: wallet.cancel_transfer(payer, landing.id)) == "transfer_not_cancellable"
    assert wallet.balance(payee) == (10_00, 10_00)
    assert wallet.balance(payer) == (90_00, 90_00)


def test_withdrawal_fee_above_the_free_quota(platform: Platform) -> None:
    user_id, card_id = open_user(platform, "13900000017")
    wallet = platform.services["wallet"]
    wallet.top_up(user_id, card_id, 9_000_00, PIN)
    wallet.fee_policy = type(wallet.fee_policy)(free_quota_fen=100_00)
    done = wallet.withdraw(user_id, card_id, 200_00, PIN)
    assert (done.status, done.fee_fen) == ("succeeded", 10)  # 0.1% of 100 = 0.10, the minimum
    assert wallet.balance(user_id)[0] == 9_000_00 - 200_00 - 10


def test_concurrent_spends_never_overdraw(platform: Platform) -> None:
    payer, card = open_user(platform, "13900000018")
    open_user(platform, "13900000019", "李四")
    wallet, users = platform.services["wallet"], platform.services["users"]
    wallet.top_up(payer, card, 500_00, PIN)
    results: list[str] = []

    def spend() -> None:
        try:
            # Skip argon2 in the race: the point is the ledger and the limit counters.
            platform.db.run(
                lambda tx: wallet.transfers._transfer_in(
                    tx,
                    payer,
                    users.find_by_phone("13900000019").id,
                    100_00,
                    TransferArrival.INSTANT,
                    "",
                )
            )
            results.append("ok")
        except DomainError as error:
            results.append(error.code)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results.count("ok") == 5
    assert wallet.balance(payer) == (0, 0)
    assert ledger_clean(platform)
