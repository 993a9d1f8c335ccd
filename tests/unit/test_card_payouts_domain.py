"""The card payout rules on their own (domain/card_payouts.py): which cards a transfer or a
repayment may go to, payee names, the fees on their free quotas, the China month, reminders."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.bins import CardType
from paybao.domain.card_payouts import (
    PAYOUT_DELAY_S,
    REPAYMENT_FEE_POLICY_DEFAULT,
    PayoutArrival,
    PayoutKind,
    check_memo,
    check_remind_day,
    holder_name,
    next_reminder_at,
    payout_card,
    quota_month,
    repayment_fee,
    transfer_fee,
)
from paybao.domain.cards import generate_card_number, luhn_check_digit
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.withdrawal import WITHDRAWAL_FEE_POLICY_DEFAULT, WithdrawalFeePolicy

RNG = random.Random(7)
DEBIT = generate_card_number(RNG, "CMB")  # 16 digits
CREDIT = generate_card_number(RNG, "ICBC", card_type=CardType.CREDIT)


def code_of(call: object) -> str:
    with pytest.raises(DomainError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_a_transfer_goes_to_a_debit_card_and_a_repayment_to_a_credit_card() -> None:
    card = payout_card(" ".join([DEBIT[:4], DEBIT[4:8], DEBIT[8:]]), PayoutKind.TRANSFER)
    assert (card.number, card.bank.code, card.card_type) == (DEBIT, "CMB", CardType.DEBIT)
    assert payout_card(CREDIT, PayoutKind.REPAYMENT).bank.name_zh == "中国工商银行"
    assert code_of(lambda: payout_card(CREDIT, PayoutKind.TRANSFER)) == "card_not_debit"
    assert code_of(lambda: payout_card(DEBIT, PayoutKind.REPAYMENT)) == "card_not_credit"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "card_number_invalid"),
        ("6222abcd12345678", "card_number_invalid"),
        (DEBIT[:-1] + str((int(DEBIT[-1]) + 1) % 10), "card_number_invalid"),  # Luhn
        ("4111111111111111", "card_bin_unknown"),
        # A CMB debit BIN issues 16 digits: a Luhn-valid 19-digit number on it is a typo.
        (DEBIT[:-1] + "000" + luhn_check_digit(DEBIT[:-1] + "000"), "card_number_invalid"),
    ],
)
def test_a_card_number_that_cannot_be_paid_is_refused(text: str, code: str) -> None:
    assert code_of(lambda: payout_card(text, PayoutKind.TRANSFER)) == code


def test_payee_names_and_memos() -> None:
    assert holder_name(" 欧阳 娜娜 ".replace(" ", "")) == "欧阳娜娜"
    assert holder_name("买买提•艾力") == "买买提·艾力"
    assert holder_name("  john   SMITH ") == "john SMITH"
    for bad in ("", "张3", "x" * 61, "<b>"):
        assert code_of(lambda bad=bad: holder_name(bad)) == "holder_name_invalid"
    assert check_memo(" 房租 ") == "房租"
    assert code_of(lambda: check_memo("x" * 33)) == "memo_too_long"
    assert code_of(lambda: check_memo("a\x00b")) == "invalid_memo"


def test_a_transfer_costs_what_a_withdrawal_would() -> None:
    policy = WITHDRAWAL_FEE_POLICY_DEFAULT
    assert transfer_fee(5_000_00, 0, policy).fee_fen == 0
    straddling = transfer_fee(5_000_00, 19_000_00, policy)  # 1,000 free, 4,000 at 0.1%
    assert (straddling.fee_fen, straddling.quota_used_fen) == (4_00, 1_000_00)
    assert transfer_fee(1_00, 20_000_00, policy).fee_fen == 10  # at least 0.10


def test_repayments_are_free_to_2000_a_month_then_one_per_mille_at_least_a_dime() -> None:
    assert REPAYMENT_FEE_POLICY_DEFAULT.free_quota_fen == 2_000_00
    assert repayment_fee(2_000_00, 0).fee_fen == 0
    over = repayment_fee(2_500_00, 0)
    assert (over.fee_fen, over.quota_used_fen, over.quota_used_after_fen) == (
        50,
        2_000_00,
        2_000_00,
    )
    assert repayment_fee(100_00, 1_950_00).fee_fen == 10  # 50.00 charged: 0.05 -> the minimum
    assert repayment_fee(10_000_00, 2_000_00).fee_fen == 10_00
    assert repayment_fee(1_234_56, 2_000_00).fee_fen == 1_23  # 1.23456 rounds half up to 1.23
    # A month of a policy lowered later: nothing is free, nothing goes negative.
    assert repayment_fee(100_00, 3_000_00).quota_used_fen == 0


@given(
    amount_fen=st.integers(1, 100_000_000_00),
    used_fen=st.integers(0, 5_000_00),
    free_fen=st.integers(0, 5_000_00),
)
def test_fee_rule_properties(amount_fen: int, used_fen: int, free_fen: int) -> None:
    policy = WithdrawalFeePolicy(free_quota_fen=free_fen)
    fee = repayment_fee(amount_fen, used_fen, policy)
    assert fee.quota_used_fen + fee.charged_fen == amount_fen
    assert fee.quota_used_after_fen <= max(free_fen, used_fen)
    assert 0 <= fee.fee_fen <= max(10, fee.charged_fen // 1000 + 1)
    assert (fee.fee_fen == 0) == (fee.charged_fen == 0)


def test_the_quota_month_is_the_month_in_china() -> None:
    # 2026-11-30 16:30 UTC is already 2026-12-01 00:30 in China.
    assert quota_month(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == "2026-11"
    assert quota_month(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == "2026-12"
    assert quota_month(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027-01"


def test_arrivals_and_reminder_days() -> None:
    assert PAYOUT_DELAY_S == {
        PayoutArrival.INSTANT: 0,
        PayoutArrival.DELAY_2H: 7200,
        PayoutArrival.NEXT_DAY: 86_400,
    }
    assert check_remind_day(None) is None and check_remind_day(28) == 28
    for bad in (0, 29, 31):
        with pytest.raises(InvalidInput):
            check_remind_day(bad)


def test_the_next_reminder_is_9_in_the_morning_china_time() -> None:
    # 2026-01-10 08:00 China: today's 09:00 is still to come.
    early = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
    assert next_reminder_at(early, 10).isoformat() == "2026-01-10T09:00:00+08:00"
    # 09:00 has passed (and the 5th too): next month.
    assert next_reminder_at(datetime(2026, 1, 10, 1, 0, tzinfo=UTC), 10).month == 2
    assert next_reminder_at(early, 5).isoformat() == "2026-02-05T09:00:00+08:00"
    # Over the year's end.
    assert next_reminder_at(datetime(2026, 12, 20, tzinfo=UTC), 3).isoformat() == (
        "2027-01-03T09:00:00+08:00"
    )
