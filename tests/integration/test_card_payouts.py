"""Card payouts on the test database (SQLite, or PostgreSQL by URL): transfers to anyone's debit
card and repayments of one's own credit card through the sandbox bank, the fee rules and
their free quotas, the bank's name check, faults and timeouts, arrival times on the sandbox
clock, risk control, saved cards with reminders, and the reconcile checks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from tests.integration.admin_support import create_operator
from tests.integration.card_payout_support import (
    PIN,
    Funded,
    bound_card_number,
    card_balance,
    china_now,
    code_of,
    credit_card,
    funded_user,
    month_end,
    move_to,
    quota_used,
    unknown_debit_card,
)

from paybao.adapters.db.tables.card_payouts import card_payouts
from paybao.adapters.db.tables.wallet import sms_outbox, users
from paybao.bootstrap import Platform
from paybao.domain.card_payouts import PayoutArrival, PayoutKind
from paybao.domain.risk import RiskRules
from paybao.services.wallet_statement import StatementQuery


def pair(platform: Platform, balance_fen: int = 10_000_00) -> tuple[Funded, Funded, str]:
    """A payer with money and a payee with a bound debit card (its number)."""
    payer = funded_user(platform, "13900139101", "王五", balance_fen)
    payee = funded_user(platform, "13900139102", "赵六")
    return payer, payee, bound_card_number(platform, payee)


def kinds(platform: Platform, user_id: int) -> list[str]:
    entries = platform.services["wallet"].statement(user_id, StatementQuery(limit=20))
    return [entry.kind for entry in entries]


def test_a_transfer_to_another_persons_card_arrives_at_once(platform: Platform) -> None:
    payer, _, card = pair(platform)
    payouts, wallet = platform.services["card_payouts"], platform.services["wallet"]
    before = card_balance(platform, card)
    assert before is not None
    done = payouts.transfer(payer.user_id, card, "赵六", 1_500_00, PIN, memo="房租")
    assert (done.status, done.fee_fen, done.failure_code) == ("succeeded", 0, None)
    assert (done.kind, done.bank_code, done.card_tail) == ("transfer", "ICBC", card[-4:])
    assert done.holder_name_masked == "*六" and done.memo == "房租"
    assert card_balance(platform, card) == before + 1_500_00
    assert wallet.balance(payer.user_id) == (8_500_00, 8_500_00)
    # The lifetime free quota of withdrawals paid for it.
    assert quota_used(platform, payer.user_id) == 1_500_00
    assert kinds(platform, payer.user_id) == ["card_transfer", "topup"]
    assert platform.reconcile.run().differences == []


def test_a_wrong_holder_name_fails_and_gives_back_money_fee_and_quota(platform: Platform) -> None:
    payer, _, card = pair(platform)
    payouts, wallet = platform.services["card_payouts"], platform.services["wallet"]
    wallet.fee_policy = type(wallet.fee_policy)(free_quota_fen=500_00)
    before = card_balance(platform, card)
    failed = payouts.transfer(payer.user_id, card, "赵七", 1_000_00, PIN)
    # 500.00 of it was free, 0.1% of the other 500.00 is 0.50: held, then voided with the rest.
    assert (failed.status, failed.failure_code, failed.fee_fen) == (
        "failed",
        "holder_name_mismatch",
        50,
    )
    assert wallet.balance(payer.user_id) == (10_000_00, 10_000_00)
    assert quota_used(platform, payer.user_id) == 0
    assert card_balance(platform, card) == before
    assert kinds(platform, payer.user_id) == ["topup"]
    # Names are compared as names: spacing and case of a Latin name do not matter.
    payouts.transfer(payer.user_id, card, " 赵六 ", 100_00, PIN)
    assert card_balance(platform, card) == before + 100_00
    assert platform.reconcile.run().differences == []


def test_a_failed_transfer_gives_back_its_class_limit_usage(platform: Platform) -> None:
    payer, _, card = pair(platform)
    users, payouts = platform.services["users"], platform.services["card_payouts"]
    # Class I: 1,000.00 of balance payments since opening, transfers to cards included.
    platform.db.run(lambda tx: users.store.update(tx, payer.user_id, account_class="I"))
    assert payouts.transfer(payer.user_id, card, "赵七", 600_00, PIN).status == "failed"
    assert payouts.transfer(payer.user_id, card, "赵六", 900_00, PIN).status == "succeeded"
    assert code_of(lambda: payouts.transfer(payer.user_id, card, "赵六", 100_01, PIN)) == (
        "balance_payment_limit_exceeded"
    )
    # A repayment to one's own card is not a balance payment of the class limit.
    own = credit_card(platform, "王五", "cc-class-i")
    assert payouts.repay(payer.user_id, own, 500_00, PIN).status == "succeeded"


def test_a_transfer_pays_the_withdrawal_fee_on_the_shared_lifetime_quota(
    platform: Platform,
) -> None:
    payer, _, card = pair(platform)
    payouts, wallet = platform.services["card_payouts"], platform.services["wallet"]
    wallet.fee_policy = type(wallet.fee_policy)(free_quota_fen=300_00)
    assert wallet.withdraw(payer.user_id, payer.card_id, 200_00, PIN).fee_fen == 0
    preview = payouts.preview(payer.user_id, PayoutKind.TRANSFER, card, 200_00)
    assert (preview.quota_left_fen, preview.fee_fen, preview.total_fen) == (100_00, 10, 200_10)
    assert (preview.bank_code, preview.card_type) == ("ICBC", "DC")
    done = payouts.transfer(payer.user_id, card, "赵六", 200_00, PIN)
    assert (done.status, done.fee_fen) == ("succeeded", 10)  # 0.1% of 100.00, the minimum
    assert payouts.transfer(payer.user_id, card, "赵六", 1_000_00, PIN).fee_fen == 1_00
    # The quota is spent for withdrawals too now.
    assert wallet.withdraw(payer.user_id, payer.card_id, 100_00, PIN).fee_fen == 10
    assert quota_used(platform, payer.user_id) == 300_00
    assert kinds(platform, payer.user_id)[:4] == ["fee", "withdrawal", "fee", "card_transfer"]
    assert wallet.balance(payer.user_id)[0] == 10_000_00 - 1_500_00 - 10 - 1_00 - 10
    assert platform.reconcile.run().differences == []


def test_refusals_name_what_is_wrong_and_move_nothing(platform: Platform) -> None:
    payer, _, card = pair(platform, 100_00)
    payouts, operators = platform.services["card_payouts"], platform.services["operators"]
    credit = credit_card(platform, "王五", "cc-refusals")
    transfer = payouts.transfer
    user = payer.user_id
    assert code_of(lambda: transfer(user, card[:-1] + "0", "赵六", 1, PIN)) in (
        "card_number_invalid"
    )
    assert code_of(lambda: transfer(user, "6222", "赵六", 1, PIN)) == "card_number_invalid"
    assert code_of(lambda: transfer(user, "4111111111111111", "赵六", 1, PIN)) == (
        "card_bin_unknown"
    )
    assert code_of(lambda: transfer(user, credit, "王五", 1, PIN)) == "card_not_debit"
    assert code_of(lambda: payouts.repay(user, card, 1, PIN)) == "card_not_credit"
    assert code_of(lambda: transfer(user, card, "Zhao 6", 1, PIN)) == "holder_name_invalid"
    assert code_of(lambda: transfer(user, card, "赵六", 1, "000000")) == "payment_password_wrong"
    assert code_of(lambda: transfer(user, card, "赵六", 100_00, PIN, memo="x" * 33)) == (
        "memo_too_long"
    )
    assert code_of(lambda: transfer(user, card, "赵六", 50_000_01, PIN)) == (
        "card_payout_amount_over_max"
    )
    assert code_of(lambda: transfer(user, card, "赵六", 100_01, PIN)) == "insufficient_funds"
    operators.set_user_status(None, user, "frozen", "test")
    assert code_of(lambda: transfer(user, card, "赵六", 1_00, PIN)) == "account_frozen"
    assert code_of(lambda: payouts.repay(user, credit, 1_00, PIN)) == "account_frozen"
    assert payouts.payouts(user) == []
    assert platform.services["wallet"].balance(user) == (100_00, 100_00)


def test_bank_failures_and_lost_answers_settle_once(platform: Platform) -> None:
    payer, _, card = pair(platform)
    payouts, wallet, bank = (
        platform.services["card_payouts"],
        platform.services["wallet"],
        platform.services["bank"],
    )
    bank.script.append("fail")
    declined = payouts.transfer(payer.user_id, card, "赵六", 100_00, PIN)
    assert (declined.status, declined.failure_code) == ("failed", "bank_declined")
    nowhere = payouts.transfer(payer.user_id, unknown_debit_card("nowhere"), "孙七", 100_00, PIN)
    assert (nowhere.status, nowhere.failure_code) == ("failed", "card_not_found")
    assert wallet.balance(payer.user_id) == (10_000_00, 10_000_00)
    # The bank acted but its answer was lost: held until the query job hears it succeeded.
    bank.script.extend(["timeout", "timeout_lost"])
    late = payouts.transfer(payer.user_id, card, "赵六", 200_00, PIN)
    lost = payouts.transfer(payer.user_id, card, "赵六", 300_00, PIN)
    assert (late.status, lost.status) == ("sent", "sent")
    assert wallet.balance(payer.user_id) == (10_000_00, 9_500_00)
    holds = wallet.holds(payer.user_id)
    assert sorted(h.kind for h in holds) == ["card_transfer", "card_transfer"]
    platform.sandbox_clock.advance(60)
    assert payouts.payout(payer.user_id, late.id).status == "succeeded"
    lost_now = payouts.payout(payer.user_id, lost.id)
    assert (lost_now.status, lost_now.failure_code) == ("failed", "bank_not_received")
    assert wallet.balance(payer.user_id) == (9_800_00, 9_800_00)
    assert quota_used(platform, payer.user_id) == 200_00  # the failures gave theirs back
    assert platform.reconcile.run().differences == []


def test_later_arrivals_wait_held_and_can_be_cancelled_until_sent(platform: Platform) -> None:
    payer, _, card = pair(platform)
    payouts, wallet = platform.services["card_payouts"], platform.services["wallet"]
    two_hours = payouts.transfer(
        payer.user_id, card, "赵六", 100_00, PIN, arrival=PayoutArrival.DELAY_2H
    )
    next_day = payouts.transfer(
        payer.user_id, card, "赵六", 200_00, PIN, arrival=PayoutArrival.NEXT_DAY
    )
    assert (two_hours.status, next_day.status) == ("held", "held")
    assert next_day.due_at_us - next_day.created_at_us == 86_400 * 1_000_000
    assert wallet.balance(payer.user_id) == (10_000_00, 9_700_00)
    assert quota_used(platform, payer.user_id) == 300_00
    platform.sandbox_clock.advance(2 * 3600 + 1)
    assert payouts.payout(payer.user_id, two_hours.id).status == "succeeded"
    cancelled = payouts.cancel(payer.user_id, next_day.id)
    assert cancelled.status == "cancelled"
    assert wallet.balance(payer.user_id) == (9_900_00, 9_900_00)
    assert quota_used(platform, payer.user_id) == 100_00
    assert code_of(lambda: payouts.cancel(payer.user_id, two_hours.id)) == (
        "card_payout_not_cancellable"
    )
    other = funded_user(platform, "13900139103", "孙七")
    assert code_of(lambda: payouts.cancel(other.user_id, two_hours.id)) == "card_payout_not_found"
    assert platform.reconcile.run().differences == []


def test_repayments_are_free_to_2000_a_month_and_the_quota_resets_on_the_1st(
    platform: Platform,
) -> None:
    payer = funded_user(platform, "13900139111", "王五", 20_000_00)
    payouts, wallet = platform.services["card_payouts"], platform.services["wallet"]
    own = credit_card(platform, "王五", "cc-own")
    theirs = credit_card(platform, "李四", "cc-theirs")
    move_to(platform, month_end(platform, 22))
    month = china_now(platform).strftime("%Y-%m")
    first = payouts.repay(payer.user_id, own, 1_500_00, PIN)
    assert (first.status, first.fee_fen) == ("succeeded", 0)
    # Someone else's credit card: the bank refuses the name, the quota stays unused.
    refused = payouts.repay(payer.user_id, theirs, 400_00, PIN)
    assert (refused.status, refused.failure_code) == ("failed", "holder_name_mismatch")
    preview = payouts.preview(payer.user_id, PayoutKind.REPAYMENT, own, 1_000_00)
    assert (preview.quota_month, preview.quota_left_fen, preview.fee_fen) == (month, 500_00, 50)
    second = payouts.repay(payer.user_id, own, 1_000_00, PIN)
    assert second.fee_fen == 50  # 500.00 free, 0.1% of 500.00
    assert payouts.quota(payer.user_id, PayoutKind.REPAYMENT)[1] == 0
    assert payouts.repay(payer.user_id, own, 50_00, PIN).fee_fen == 10  # the minimum 0.10
    assert card_balance(platform, own) == 2_550_00
    # Past midnight on the 1st (China time) the month's 2,000 are free again, none carried.
    move_to(platform, china_now(platform).replace(hour=0, minute=30) + timedelta(days=1))
    assert china_now(platform).day == 1
    free, left, new_month = payouts.quota(payer.user_id, PayoutKind.REPAYMENT)
    assert (free, left) == (2_000_00, 2_000_00) and new_month != month
    assert payouts.repay(payer.user_id, own, 2_000_00, PIN).fee_fen == 0
    assert payouts.repay(payer.user_id, own, 1_00, PIN).fee_fen == 10
    # Repayments do not touch the lifetime quota of withdrawals and transfers.
    assert quota_used(platform, payer.user_id) == 0
    assert wallet.balance(payer.user_id)[0] == 20_000_00 - 4_551_00 - 50 - 10 - 10
    assert kinds(platform, payer.user_id)[:2] == ["fee", "card_repayment"]
    assert platform.reconcile.run().differences == []


def test_risk_holds_a_large_transfer_to_a_new_card_for_review(platform: Platform) -> None:
    payer, _, card = pair(platform, 50_000_00)
    payouts, risk = platform.services["card_payouts"], platform.services["risk"]
    held = payouts.transfer(payer.user_id, card, "赵六", 6_000_00, PIN)
    assert (held.status, held.arrival, held.risk_held) == ("held", "delay_2h", True)
    decision = risk.decisions(unreviewed=True)[0]
    assert (decision.action, decision.decision, decision.reference) == (
        "card_transfer",
        "delay",
        f"cardpayout:{held.id}",
    )
    assert "new_payee" in decision.reasons
    operator, _ = create_operator(platform)
    risk.review(decision.id, "released", operator)
    platform.services["wallet"].payouts.send_due()  # the sweep sends it at once
    assert payouts.payout(payer.user_id, held.id).status == "succeeded"
    # Paid before: the next one to the same card passes at once.
    assert payouts.transfer(payer.user_id, card, "赵六", 6_000_00, PIN).status == "succeeded"
    # A new card, cancelled by the operator: money and quota come back.
    other = funded_user(platform, "13900139104", "孙七")
    second = payouts.transfer(
        payer.user_id, bound_card_number(platform, other), "孙七", 5_500_00, PIN
    )
    assert second.risk_held
    risk.review(risk.decisions(unreviewed=True)[0].id, "cancelled", operator)
    assert payouts.payout(payer.user_id, second.id).status == "cancelled"
    assert platform.services["wallet"].balance(payer.user_id) == (38_000_00, 38_000_00)
    assert quota_used(platform, payer.user_id) == 12_000_00
    assert platform.reconcile.run().differences == []


def test_risk_refuses_a_card_of_a_blacklisted_account_and_fast_series(platform: Platform) -> None:
    payer, payee, card = pair(platform)
    payouts, risk = platform.services["card_payouts"], platform.services["risk"]
    risk.blacklist_add(payee.phone, "fraud reports", None)
    assert code_of(lambda: payouts.transfer(payer.user_id, card, "赵六", 10_00, PIN)) == (
        "risk_rejected"
    )
    refusal = risk.decisions()[0]
    assert (refusal.action, refusal.decision, refusal.reasons) == (
        "card_transfer",
        "reject",
        ("blacklisted_payee",),
    )
    # Card payouts count in the hourly velocity with withdrawals and transfers.
    risk.rules = RiskRules(ops_per_hour_max=3)
    own = credit_card(platform, "王五", "cc-velocity")
    payouts.repay(payer.user_id, own, 10_00, PIN)
    platform.services["wallet"].withdraw(payer.user_id, payer.card_id, 10_00, PIN)
    payouts.transfer(payer.user_id, unknown_debit_card("v"), "孙七", 10_00, PIN)  # fails at bank
    assert code_of(lambda: payouts.repay(payer.user_id, own, 10_00, PIN)) == "risk_rejected"
    assert risk.decisions()[0].reasons == ("velocity",)


def test_a_repayment_to_ones_own_card_is_never_delayed(platform: Platform) -> None:
    payer = funded_user(platform, "13900139121", "王五", 50_000_00)
    payouts = platform.services["card_payouts"]
    own = credit_card(platform, "王五", "cc-large")
    done = payouts.repay(payer.user_id, own, 30_000_00, PIN)  # anomalous, but to oneself
    assert (done.status, done.risk_held) == ("succeeded", False)


def test_saved_cards_are_reminded_on_their_day(platform: Platform) -> None:
    payer = funded_user(platform, "13900139131", "王五", 1_000_00)
    cards = platform.services["repayment_cards"]
    own = credit_card(platform, "王五", "cc-saved")
    now = china_now(platform)
    day = (now + timedelta(days=3)).day if (now + timedelta(days=3)).day <= 28 else 1
    saved = cards.save_card(payer.user_id, own, day)
    assert (saved.remind_day, saved.card_tail, saved.bank_code) == (day, own[-4:], "CMB")
    assert cards.save_card(payer.user_id, own, day).id == saved.id  # saved once
    assert cards.card_number_of(payer.user_id, saved.id) == own
    assert code_of(lambda: cards.save_card(payer.user_id, own, 29)) == "remind_day_invalid"
    debit = bound_card_number(platform, payer)
    assert code_of(lambda: cards.save_card(payer.user_id, debit)) == "card_not_credit"
    platform.sandbox_clock.advance(35 * 86_400)  # a month and more: at least one reminder
    texts = reminders(platform, payer.phone)
    assert texts and all(own[-4:] in text and "招商银行" in text for text in texts)
    assert "还可免费还款 2000.00 元" in texts[0]
    count = len(texts)
    # Another day: only the new day's reminders; removed: no more.
    cards.save_card(payer.user_id, own, None)
    platform.sandbox_clock.advance(40 * 86_400)
    assert len(reminders(platform, payer.phone)) == count
    cards.save_card(payer.user_id, own, day)
    cards.remove_card(payer.user_id, saved.id)
    platform.sandbox_clock.advance(40 * 86_400)
    assert len(reminders(platform, payer.phone)) == count
    assert cards.cards(payer.user_id) == []
    for seed in range(10):
        cards.save_card(payer.user_id, credit_card(platform, "王五", f"cc-{seed}"))
    assert code_of(lambda: cards.save_card(payer.user_id, own)) == ("repayment_cards_limit_reached")


def reminders(platform: Platform, phone: str) -> list[str]:
    with platform.db.read() as tx:
        rows = tx.execute(
            select(sms_outbox.c.text).where(sms_outbox.c.phone == phone).order_by(sms_outbox.c.id)
        ).scalars()
        return [text for text in rows if "还款提醒" in text]


def test_reconcile_finds_a_tampered_payout_and_quota(platform: Platform) -> None:
    payer, _, card = pair(platform)
    payouts = platform.services["card_payouts"]
    done = payouts.transfer(payer.user_id, card, "赵六", 100_00, PIN)
    assert platform.reconcile.run().differences == []
    with platform.engine.begin() as connection:
        connection.execute(
            update(card_payouts).where(card_payouts.c.id == done.id).values(amount_fen=101_00)
        )
        connection.execute(
            update(users).where(users.c.id == payer.user_id).values(withdraw_quota_used_fen=0)
        )
    found = {d.kind for d in platform.reconcile.run().differences}
    assert {"card_payout_journal", "withdraw_quota_mismatch"} <= found
