"""City services on the test database: bills paid from the balance into the biller merchant's
settlement account (held, then posted on the sandbox biller's confirmation), refused or lost
confirmations, prepaid electricity, mobile top-ups, the class limit, saved accounts and their
reminders, disabled billers, and the reconcile checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from tests.integration.billpay_support import (
    PAID_UP_ACCOUNT,
    UNKNOWN_ACCOUNT,
    WATER_ACCOUNT,
    City,
    assert_clean,
    billpay,
    make_billers,
    owed_fen,
    payer,
    sandbox,
    settlement_fen,
)
from tests.integration.gateway_support import PAYMENT_PASSWORD, wallet_balance

from paybao.adapters.db.tables.billpay import billpay_payments, billpay_sandbox_payments
from paybao.adapters.db.user_store import SqlUserStore
from paybao.bootstrap import Platform, build_platform
from paybao.domain.billpay import LEDGER_CODE_BILL_PAYMENT, PaymentStatus
from paybao.domain.errors import DomainError
from paybao.services.billpay_accounts import SavedAccountService
from paybao.services.wallet_statement import ENTRY_KINDS, StatementQuery
from paybao.settings import Settings


@pytest.fixture
def city(platform: Platform) -> City:
    return make_billers(platform)


def code_of(attempt: object) -> str:
    assert callable(attempt)
    with pytest.raises(DomainError) as refused:
        attempt()
    return refused.value.code


def accounts_of(platform: Platform) -> SavedAccountService:
    service: SavedAccountService = platform.services["bill_accounts"]
    return service


def kinds(platform: Platform, user_id: int) -> list[str]:
    entries = platform.services["wallet"].statement(user_id, StatementQuery(limit=10))
    return [entry.kind for entry in entries]


def sandbox_rows(platform: Platform) -> list[tuple[str, str, int]]:
    p = billpay_sandbox_payments
    with platform.engine.connect() as connection:
        rows = connection.execute(select(p.c.request_id, p.c.status, p.c.amount_fen))
        return [tuple(row) for row in rows]  # type: ignore[misc]


# Paying a bill ----------------------------------------------------------------------------------


def test_a_bill_is_held_then_posted_to_the_billers_settlement_account(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    assert 15_00 <= owed <= 200_00
    inquiry = billpay(platform).inquire(city.water.id, " 3100-1234 567 ")
    assert (inquiry.account_no, inquiry.outstanding_fen, inquiry.exact) == (
        WATER_ACCOUNT,
        owed,
        True,
    )
    assert inquiry.holder_masked.startswith("*") and len(inquiry.holder_masked) >= 2

    receipt = billpay(platform).pay_bill(
        user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
    )
    payment = receipt.payment
    assert (payment.status, payment.amount_fen, payment.outstanding_fen) == (
        PaymentStatus.PAID,
        owed,
        owed,
    )
    assert payment.holder_masked == inquiry.holder_masked and payment.failure_code is None
    assert payment.bill_key == f"{city.water.id}:{WATER_ACCOUNT}:{payment.period}"
    assert wallet_balance(platform, user_id) == 5_000_00 - owed
    assert settlement_fen(platform, city.water) == owed
    assert sandbox_rows(platform) == [(f"billpay:{payment.id}", "confirmed", owed)]
    assert kinds(platform, user_id)[0] == "bill_payment"
    assert ENTRY_KINDS[LEDGER_CODE_BILL_PAYMENT] == "bill_payment"
    # Paid: the biller owes nothing now, and the same bill cannot be paid again.
    assert billpay(platform).inquire(city.water.id, WATER_ACCOUNT).outstanding_fen == 0
    again = code_of(
        lambda: billpay(platform).pay_bill(
            user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
        )
    )
    assert again == "bill_nothing_due"
    assert platform.jobs.next_due_at_us() is None  # the confirmation job was cancelled
    assert_clean(platform)


def test_refusals_move_nothing(platform: Platform, city: City) -> None:
    user_id = payer(platform, balance_fen=10_00)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    pay = billpay(platform).pay_bill
    cases = {
        "bill_amount_mismatch": lambda: pay(
            user_id, city.water.id, WATER_ACCOUNT, owed + 1, PAYMENT_PASSWORD
        ),
        "bill_account_not_found": lambda: pay(
            user_id, city.water.id, UNKNOWN_ACCOUNT, 10_00, PAYMENT_PASSWORD
        ),
        "bill_nothing_due": lambda: pay(
            user_id, city.water.id, PAID_UP_ACCOUNT, 10_00, PAYMENT_PASSWORD
        ),
        "bill_account_no_invalid": lambda: pay(
            user_id, city.water.id, "12345", 10_00, PAYMENT_PASSWORD
        ),
        "payment_password_wrong": lambda: pay(
            user_id, city.water.id, WATER_ACCOUNT, owed, "000000"
        ),
        "insufficient_funds": lambda: pay(
            user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
        ),
        "biller_not_found": lambda: pay(
            user_id, city.cmcc.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
        ),
    }
    for expected, attempt in cases.items():
        assert code_of(attempt) == expected
    assert wallet_balance(platform, user_id) == 10_00
    assert sandbox_rows(platform) == []
    with platform.engine.connect() as connection:
        assert connection.execute(select(billpay_payments)).first() is None
    assert_clean(platform)


def test_a_declined_confirmation_gives_the_money_back_and_frees_the_bill(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    sandbox(platform).script.append("decline")
    failed = billpay(platform).pay_bill(
        user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
    )
    assert (failed.payment.status, failed.payment.failure_code) == ("failed", "biller_declined")
    assert failed.payment.bill_key is None  # given up: the bill may be paid again
    assert wallet_balance(platform, user_id) == 5_000_00
    assert platform.services["wallet"].holds(user_id) == []
    assert settlement_fen(platform, city.water) == 0
    assert kinds(platform, user_id) == ["topup"]  # a voided hold is no statement entry

    paid = billpay(platform).pay_bill(user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD)
    assert paid.payment.status == "paid" and paid.payment.id != failed.payment.id
    assert wallet_balance(platform, user_id) == 5_000_00 - owed
    assert_clean(platform)


def test_a_lost_answer_is_asked_again_with_the_same_request_id(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    sandbox(platform).script.append("timeout")  # the biller records it, the answer is lost
    pending = billpay(platform).pay_bill(
        user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
    )
    assert pending.payment.status == "processing"
    balance_fen, available_fen = platform.services["wallet"].balance(user_id)
    assert (balance_fen, available_fen) == (5_000_00, 5_000_00 - owed)  # held, not gone
    [hold] = platform.services["wallet"].holds(user_id)
    assert (hold.kind, hold.amount_fen, hold.reference) == (
        "bill_payment",
        owed,
        f"billpay:{pending.payment.id}",
    )
    assert_clean(platform)

    platform.sandbox_clock.advance(60)  # the confirmation job asks again
    done = billpay(platform).receipt(user_id, pending.payment.id)
    assert done.payment.status == "paid"
    assert wallet_balance(platform, user_id) == 5_000_00 - owed
    assert len(sandbox_rows(platform)) == 1  # answered from the biller's record: paid once
    assert_clean(platform)


def test_a_request_the_biller_never_got_is_sent_again(platform: Platform, city: City) -> None:
    user_id = payer(platform)
    sandbox(platform).script.extend(["timeout_lost", "timeout_lost"])
    receipt = billpay(platform).top_up(user_id, "13800138000", 100_00, PAYMENT_PASSWORD)
    assert receipt.payment.status == "processing" and sandbox_rows(platform) == []
    platform.sandbox_clock.advance(31)  # first retry: lost again
    assert billpay(platform).receipt(user_id, receipt.payment.id).payment.status == "processing"
    platform.sandbox_clock.advance(120)  # second retry (60 s later) gets through
    assert billpay(platform).receipt(user_id, receipt.payment.id).payment.status == "paid"
    assert sandbox_rows(platform) == [(f"billpay:{receipt.payment.id}", "confirmed", 100_00)]
    assert wallet_balance(platform, user_id) == 4_900_00
    assert_clean(platform)


def test_a_biller_that_never_answers_gets_its_hold_back_after_the_wait(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    sandbox(platform).script.extend(["timeout_lost"] * 200)
    pending = billpay(platform).pay_bill(
        user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
    )
    platform.sandbox_clock.advance(2 * 86_400)
    assert billpay(platform).receipt(user_id, pending.payment.id).payment.status == "processing"
    platform.sandbox_clock.advance(2 * 86_400)  # past the 3 days' wait
    gave_up = billpay(platform).receipt(user_id, pending.payment.id).payment
    assert (gave_up.status, gave_up.failure_code) == ("failed", "biller_no_answer")
    assert wallet_balance(platform, user_id) == 5_000_00
    assert platform.services["wallet"].balance(user_id) == (5_000_00, 5_000_00)
    sandbox(platform).script.clear()
    assert_clean(platform)


@pytest.fixture
def slow_platform(settings: Settings) -> Iterator[Platform]:
    slow = settings.model_copy(
        update={"billpay_biller_timeout_s": 0.05, "billpay_sandbox_latency_ms": 400}
    )
    built = build_platform(slow)
    built.ledger.open_platform_accounts()
    yield built
    built.close()


def test_a_slow_biller_times_out_and_nothing_moves(slow_platform: Platform) -> None:
    city = make_billers(slow_platform)
    user_id = payer(slow_platform)
    started = slow_platform.clock.now()
    assert code_of(lambda: billpay(slow_platform).inquire(city.water.id, WATER_ACCOUNT)) == (
        "biller_unavailable"
    )
    refused = code_of(
        lambda: billpay(slow_platform).pay_bill(
            user_id, city.water.id, WATER_ACCOUNT, 50_00, PAYMENT_PASSWORD
        )
    )
    assert refused == "biller_unavailable"
    assert slow_platform.clock.now() - started < timedelta(seconds=3)  # waited 0.05 s, not 0.4
    assert wallet_balance(slow_platform, user_id) == 5_000_00


# Prepaid electricity, mobile top-up, the class limit --------------------------------------------


def test_electricity_may_be_prepaid_within_the_cap(platform: Platform, city: City) -> None:
    user_id = payer(platform, balance_fen=20_000_00)
    owed = owed_fen(platform, city.power, WATER_ACCOUNT)
    inquiry = billpay(platform).inquire(city.power.id, WATER_ACCOUNT)
    assert (inquiry.exact, inquiry.min_fen, inquiry.max_fen) == (False, owed, owed + 5_000_00)
    pay = billpay(platform).pay_bill
    less = code_of(lambda: pay(user_id, city.power.id, WATER_ACCOUNT, owed - 1, PAYMENT_PASSWORD))
    over = code_of(
        lambda: pay(user_id, city.power.id, WATER_ACCOUNT, owed + 5_000_01, PAYMENT_PASSWORD)
    )
    assert less == over == "bill_amount_mismatch"
    paid = pay(user_id, city.power.id, WATER_ACCOUNT, owed + 100_00, PAYMENT_PASSWORD)
    assert paid.payment.status == "paid" and paid.payment.amount_fen == owed + 100_00
    # Nothing owed (paid up this month): a prepayment of at least 1.00 CNY, as often as wanted.
    assert code_of(lambda: pay(user_id, city.power.id, PAID_UP_ACCOUNT, 99, PAYMENT_PASSWORD)) == (
        "bill_amount_mismatch"
    )
    for _ in range(2):
        prepaid = pay(user_id, city.power.id, PAID_UP_ACCOUNT, 50_00, PAYMENT_PASSWORD)
        assert prepaid.payment.status == "paid" and prepaid.payment.bill_key is None
    assert settlement_fen(platform, city.power) == owed + 200_00
    assert_clean(platform)


def test_mobile_top_up_by_carrier_and_denomination(platform: Platform, city: City) -> None:
    user_id = payer(platform)
    service = billpay(platform)
    mobile = service.top_up(user_id, "+86 138-0013-8000", 50_00, PAYMENT_PASSWORD)
    assert (mobile.biller.code, mobile.payment.status, mobile.payment.account_no) == (
        "cmcc",
        "paid",
        "13800138000",
    )
    assert mobile.payment.holder_masked == "138****8000"
    telecom = service.top_up(user_id, "18912345678", 100_00, PAYMENT_PASSWORD)
    assert telecom.biller.code == "ctcc" and telecom.payment.status == "paid"
    assert settlement_fen(platform, city.cmcc) == 50_00
    assert settlement_fen(platform, city.ctcc) == 100_00
    refusals = {
        "topup_amount_invalid": lambda: service.top_up(
            user_id, "13800138000", 40_00, PAYMENT_PASSWORD
        ),
        "topup_carrier_unsupported": lambda: service.top_up(
            user_id, "17012345678", 50_00, PAYMENT_PASSWORD
        ),
        "topup_carrier_unavailable": lambda: service.top_up(  # China Unicom has no biller here
            user_id, "13012345678", 50_00, PAYMENT_PASSWORD
        ),
        "invalid_phone": lambda: service.top_up(user_id, "12345", 50_00, PAYMENT_PASSWORD),
    }
    for expected, attempt in refusals.items():
        assert code_of(attempt) == expected
    # A number not in service: the carrier declines and the money goes back at once.
    failed = service.top_up(user_id, "13900000000", 20_00, PAYMENT_PASSWORD)
    assert (failed.payment.status, failed.payment.failure_code) == (
        "failed",
        "topup_number_not_in_service",
    )
    assert wallet_balance(platform, user_id) == 5_000_00 - 150_00
    assert kinds(platform, user_id)[:2] == ["mobile_topup", "mobile_topup"]
    assert_clean(platform)


def test_the_account_class_limit_applies_as_to_any_balance_payment(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform, balance_fen=2_000_00)
    platform.db.run(lambda tx: SqlUserStore().update(tx, user_id, account_class="I"))
    service = billpay(platform)
    for _ in range(2):  # 1,000.00 CNY in all since opening for class I
        paid = service.top_up(user_id, "13800138000", 500_00, PAYMENT_PASSWORD)
        assert paid.payment.status == "paid"
    refused = code_of(lambda: service.top_up(user_id, "13800138000", 10_00, PAYMENT_PASSWORD))
    assert refused == "balance_payment_limit_exceeded"
    assert wallet_balance(platform, user_id) == 1_000_00
    platform.db.run(lambda tx: SqlUserStore().update(tx, user_id, status="frozen"))
    frozen = code_of(lambda: service.top_up(user_id, "13800138000", 10_00, PAYMENT_PASSWORD))
    assert frozen == "account_frozen"


# Saved accounts and reminders -------------------------------------------------------------------


def test_saved_accounts_remind_until_paid_and_again_next_month(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform)
    accounts = accounts_of(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    saved = accounts.save(user_id, city.water.id, WATER_ACCOUNT, " 家里 水费 ")
    assert (saved.saved.nickname, saved.saved.outstanding_fen) == ("家里 水费", owed)
    assert accounts.save(user_id, city.water.id, WATER_ACCOUNT, "老家").saved.id == saved.saved.id
    accounts.save(user_id, city.gas.id, PAID_UP_ACCOUNT)
    assert code_of(lambda: accounts.save(user_id, city.water.id, UNKNOWN_ACCOUNT)) == (
        "bill_account_not_found"
    )
    assert code_of(lambda: accounts.save(user_id, city.water.id, "31001234568", "x" * 21)) == (
        "bill_nickname_invalid"
    )
    assert [line.saved.nickname for line in accounts.accounts(user_id)] == ["老家", ""]
    [reminder] = accounts.reminders(user_id)
    assert (reminder.saved.account_no, reminder.saved.outstanding_fen) == (WATER_ACCOUNT, owed)

    billpay(platform).pay_bill(user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD)
    assert accounts.reminders(user_id) == []  # paid: no reminder, without asking the biller

    # A month later the biller has a new bill; the sweep looks again at day-old accounts.
    platform.sandbox_clock.advance(31 * 86_400)
    [again] = accounts.reminders(user_id)
    assert again.saved.outstanding_fen == owed_fen(platform, city.water, WATER_ACCOUNT)
    assert again.saved.period != saved.saved.period

    other = payer(platform, "13800138501")
    assert code_of(lambda: accounts.delete(other, saved.saved.id)) == (
        "bill_saved_account_not_found"
    )
    accounts.delete(user_id, saved.saved.id)
    assert [line.biller.code for line in accounts.accounts(user_id)] == ["bj_gas"]


@pytest.fixture
def few_saved(settings: Settings) -> Iterator[Platform]:
    built = build_platform(settings.model_copy(update={"billpay_saved_accounts_max": 2}))
    built.ledger.open_platform_accounts()
    yield built
    built.close()


def test_at_most_so_many_saved_accounts(few_saved: Platform) -> None:
    city = make_billers(few_saved)
    user_id = payer(few_saved)
    accounts = accounts_of(few_saved)
    accounts.save(user_id, city.water.id, "31001234561")
    accounts.save(user_id, city.water.id, "31001234562")
    refused = code_of(lambda: accounts.save(user_id, city.water.id, "31001234563"))
    assert refused == "bill_saved_accounts_limit"
    accounts.save(user_id, city.water.id, "31001234562", "renamed")  # a rename is no new one
    assert len(accounts.accounts(user_id)) == 2


def test_a_disabled_biller_is_not_offered_and_its_payments_still_finish(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    accounts_of(platform).save(user_id, city.water.id, WATER_ACCOUNT)
    sandbox(platform).script.append("timeout")
    pending = billpay(platform).pay_bill(
        user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
    )
    billers = platform.services["billers"]
    billers.set_active(city.water.id, False, actor="test")
    assert [b.code for b in billers.of_city("shanghai", "water")] == []
    assert "water" not in billers.served()["shanghai"]
    assert accounts_of(platform).accounts(user_id) == []
    assert code_of(lambda: billpay(platform).inquire(city.water.id, WATER_ACCOUNT)) == (
        "biller_not_found"
    )
    platform.sandbox_clock.advance(60)
    assert billpay(platform).receipt(user_id, pending.payment.id).payment.status == "paid"
    billers.set_active(city.water.id, True, actor="test")
    assert len(accounts_of(platform).accounts(user_id)) == 1
    assert_clean(platform)


# Reconciliation ---------------------------------------------------------------------------------


def test_reconcile_catches_a_payment_out_of_step_with_its_hold(
    platform: Platform, city: City
) -> None:
    user_id = payer(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    paid = billpay(platform).pay_bill(user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD)
    assert_clean(platform)
    with platform.engine.begin() as connection:
        connection.execute(
            update(billpay_payments)
            .where(billpay_payments.c.id == paid.payment.id)
            .values(status="processing")
        )
    report = platform.reconcile.run()
    [difference] = [d for d in report.differences if d.kind == "billpay_hold"]
    assert difference.subject == f"payment {paid.payment.id} processing"
    assert "hold pending" in difference.expected and "hold posted" in difference.actual
    with platform.engine.begin() as connection:
        connection.execute(text("DELETE FROM billpay_payments"))
    orphans = [d for d in platform.reconcile.run().differences if d.kind == "billpay_orphan"]
    assert {d.subject for d in orphans} == {
        f"transfer billpay:{paid.payment.id}",
        f"transfer post:billpay:{paid.payment.id}",
    }
