from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.errors import InvalidAmount, InvalidState
from paybao.domain.withdrawal import (
    TransferArrival,
    WithdrawalArrival,
    WithdrawalFee,
    WithdrawalFeePolicy,
    check_transfer_cancellable,
    transfer_cancellable,
    transfer_due_at,
    withdrawal_due_at,
    withdrawal_fee,
)

QUOTA_FEN = 2_000_000
NOW = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


def test_within_quota_is_free() -> None:
    assert withdrawal_fee(500_000, 0) == WithdrawalFee(
        fee_fen=0, quota_used_fen=500_000, quota_used_after_fen=500_000, charged_fen=0
    )


def test_exactly_the_quota_is_free() -> None:
    fee = withdrawal_fee(QUOTA_FEN, 0)
    assert fee.fee_fen == 0 and fee.quota_used_after_fen == QUOTA_FEN


def test_straddling_charges_the_excess_only() -> None:
    # 19,000 used, withdraw 5,000: 1,000 free, 4,000 charged at 0.1% = 4.00.
    fee = withdrawal_fee(500_000, 1_900_000)
    assert fee == WithdrawalFee(
        fee_fen=400, quota_used_fen=100_000, quota_used_after_fen=QUOTA_FEN, charged_fen=400_000
    )


def test_after_quota_the_rate_applies_to_everything() -> None:
    fee = withdrawal_fee(1_000_000, QUOTA_FEN)
    assert (fee.fee_fen, fee.quota_used_fen, fee.charged_fen) == (1_000, 0, 1_000_000)


@pytest.mark.parametrize(
    ("amount_fen", "fee_fen"),
    [
        (1, 10),  # 0.01 yuan still pays the 0.10 minimum
        (9_999, 10),  # 0.1% = 9.999 fen -> 10
        (10_000, 10),
        (10_499, 10),  # 10.499 -> 10
        (10_500, 11),  # 10.5 -> 11: half up (half even would give 10)
        (11_499, 11),
        (11_500, 12),
        (123_456, 123),
    ],
)
def test_minimum_and_half_up_rounding(amount_fen: int, fee_fen: int) -> None:
    assert withdrawal_fee(amount_fen, QUOTA_FEN).fee_fen == fee_fen


def test_a_straddle_with_a_tiny_excess_pays_the_minimum() -> None:
    fee = withdrawal_fee(100_001, QUOTA_FEN - 100_000)
    assert (fee.charged_fen, fee.fee_fen) == (1, 10)


def test_quota_used_above_quota_is_treated_as_exhausted() -> None:
    assert withdrawal_fee(100_000, QUOTA_FEN + 5).fee_fen == 100


def test_fee_numbers_are_parameters() -> None:
    policy = WithdrawalFeePolicy(free_quota_fen=100_000, rate=Decimal("0.002"), fee_min_fen=1)
    fee = withdrawal_fee(200_000, 0, policy)
    assert (fee.fee_fen, fee.quota_used_fen) == (200, 100_000)


@pytest.mark.parametrize("amount_fen", [0, -100])
def test_amount_must_be_positive(amount_fen: int) -> None:
    with pytest.raises(InvalidAmount):
        withdrawal_fee(amount_fen, 0)


@given(
    st.integers(min_value=1, max_value=100_000_000_00),
    st.integers(min_value=0, max_value=3_000_000),
)
def test_fee_invariants(amount_fen: int, quota_used_before_fen: int) -> None:
    fee = withdrawal_fee(amount_fen, quota_used_before_fen)
    assert fee.quota_used_fen + fee.charged_fen == amount_fen
    assert fee.quota_used_after_fen <= max(QUOTA_FEN, quota_used_before_fen)
    if fee.charged_fen == 0:
        assert fee.fee_fen == 0
    else:
        exact_fee_thousandths = fee.charged_fen  # 0.1% of charged, in thousandths of a fen
        if exact_fee_thousandths < 9_500:
            assert fee.fee_fen == 10
        else:
            assert abs(fee.fee_fen * 1000 - exact_fee_thousandths) <= 500


@given(st.lists(st.integers(min_value=1, max_value=1_000_000), max_size=30))
def test_the_quota_is_never_granted_twice(amounts_fen: list[int]) -> None:
    used_fen = 0
    free_total_fen = 0
    for amount_fen in amounts_fen:
        fee = withdrawal_fee(amount_fen, used_fen)
        free_total_fen += fee.quota_used_fen
        used_fen = fee.quota_used_after_fen
    assert free_total_fen == min(sum(amounts_fen), QUOTA_FEN)


@pytest.mark.parametrize(
    ("arrival", "delay"),
    [
        (TransferArrival.INSTANT, timedelta(0)),
        (TransferArrival.DELAY_2H, timedelta(hours=2)),
        (TransferArrival.DELAY_24H, timedelta(hours=24)),
    ],
)
def test_transfer_due_at(arrival: TransferArrival, delay: timedelta) -> None:
    assert transfer_due_at(arrival, NOW) == NOW + delay


def test_withdrawal_due_at() -> None:
    assert withdrawal_due_at(WithdrawalArrival.INSTANT, NOW) == NOW
    assert withdrawal_due_at(WithdrawalArrival.NEXT_DAY, NOW) == NOW + timedelta(days=1)


def test_delayed_transfer_cancellable_until_it_lands() -> None:
    due = NOW + timedelta(hours=2)
    assert transfer_cancellable(TransferArrival.DELAY_2H, NOW, due - timedelta(seconds=1))
    assert not transfer_cancellable(TransferArrival.DELAY_2H, NOW, due)
    check_transfer_cancellable(TransferArrival.DELAY_24H, NOW, NOW + timedelta(hours=23))


def test_instant_transfer_never_cancellable() -> None:
    assert not transfer_cancellable(TransferArrival.INSTANT, NOW, NOW)
    with pytest.raises(InvalidState) as excinfo:
        check_transfer_cancellable(TransferArrival.INSTANT, NOW, NOW - timedelta(seconds=1))
    assert excinfo.value.code == "transfer_not_cancellable"


def test_landed_transfer_not_cancellable() -> None:
    with pytest.raises(InvalidState) as excinfo:
        check_transfer_cancellable(TransferArrival.DELAY_2H, NOW, NOW + timedelta(hours=3))
    assert excinfo.value.code == "transfer_not_cancellable"
