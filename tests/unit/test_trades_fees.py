"""Fee rounding and proportional fee refunds (domain/trades.py): half-up to the fen, and
refunds in any split give back exactly the whole fee once the whole amount is refunded."""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.errors import InvalidInput
from paybao.domain.trades import (
    FEE_RATE_PPM_MAX,
    RefundExceedsPaid,
    TradeClosed,
    TradeFinished,
    TradeStatus,
    TradeStatusError,
    check_fee_rate_ppm,
    fee_back_fen,
    fee_fen_for,
    plan_refund,
)

amounts = st.integers(min_value=1, max_value=100_000_000_00)
rates = st.integers(min_value=0, max_value=FEE_RATE_PPM_MAX)


def decimal_fee(amount_fen: int, rate_ppm: int) -> int:
    exact = Decimal(amount_fen) * Decimal(rate_ppm) / Decimal(1_000_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("amount_fen", "rate_ppm", "fee"),
    [
        (100, 6000, 1),  # 0.6 fen rounds up
        (83, 6000, 0),  # 0.498 fen rounds down
        (84, 6000, 1),  # 0.504 fen rounds up
        (25_00, 6000, 15),  # 15.0 exactly
        (250, 2000, 1),  # exactly half a fen rounds up (四舍五入)
        (750, 2000, 2),  # 1.5 -> 2
        (1250, 2000, 3),  # 2.5 -> 3 (banker's rounding would give 2)
        (100_000_000_00, 6000, 60_000_000),
        (1, 0, 0),
        (1, FEE_RATE_PPM_MAX, 0),  # 0.1 fen
        (5, FEE_RATE_PPM_MAX, 1),  # 0.5 fen rounds up
    ],
)
def test_fee_examples_round_half_up(amount_fen: int, rate_ppm: int, fee: int) -> None:
    assert fee_fen_for(amount_fen, rate_ppm) == fee


@given(amounts, rates)
def test_fee_matches_decimal_half_up_and_never_exceeds_the_amount(
    amount_fen: int, rate_ppm: int
) -> None:
    fee = fee_fen_for(amount_fen, rate_ppm)
    assert fee == decimal_fee(amount_fen, rate_ppm)
    assert 0 <= fee <= amount_fen


@given(amounts, rates)
def test_fee_grows_with_the_amount(amount_fen: int, rate_ppm: int) -> None:
    assert fee_fen_for(amount_fen, rate_ppm) <= fee_fen_for(amount_fen + 1, rate_ppm)


def test_fee_rate_bounds() -> None:
    assert check_fee_rate_ppm(0) == 0 and check_fee_rate_ppm(FEE_RATE_PPM_MAX) == FEE_RATE_PPM_MAX
    for bad in (-1, FEE_RATE_PPM_MAX + 1):
        with pytest.raises(InvalidInput) as caught:
            check_fee_rate_ppm(bad)
        assert caught.value.code == "invalid_fee_rate"


@st.composite
def split_refunds(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    """A paid trade (total, fee) and a split of its whole amount into 1..30 refunds."""
    total_fen = draw(st.integers(min_value=1, max_value=10_000_000))
    fee_fen = fee_fen_for(total_fen, draw(rates))
    cuts = (
        draw(st.lists(st.integers(1, total_fen - 1), max_size=29, unique=True))
        if total_fen > 1
        else []
    )
    points = [0, *sorted(cuts), total_fen]
    return total_fen, fee_fen, [b - a for a, b in itertools.pairwise(points)]


@given(split_refunds())
def test_refunds_in_any_split_give_back_exactly_the_whole_fee(
    case: tuple[int, int, list[int]],
) -> None:
    total_fen, fee_fen, parts = case
    refunded_fen, fee_back_total = 0, 0
    for part in parts:
        back = fee_back_fen(fee_fen, total_fen, refunded_fen, part)
        assert 0 <= back <= fee_fen - fee_back_total
        refunded_fen += part
        fee_back_total += back
    assert refunded_fen == total_fen
    assert fee_back_total == fee_fen


@given(split_refunds())
def test_plan_refund_walks_a_split_to_closed_with_the_whole_fee_back(
    case: tuple[int, int, list[int]],
) -> None:
    total_fen, fee_fen, parts = case
    status, refunded_fen, fee_back_total = TradeStatus.TRADE_SUCCESS, 0, 0
    for index, part in enumerate(parts):
        plan = plan_refund(
            status=status,
            total_fen=total_fen,
            fee_fen=fee_fen,
            refunded_fen=refunded_fen,
            refund_fen=part,
            window_open=True,
        )
        last = index == len(parts) - 1
        assert plan.status_after is (
            TradeStatus.TRADE_CLOSED if last else TradeStatus.TRADE_SUCCESS
        )
        assert plan.refunded_after_fen == refunded_fen + part and plan.refund_fen == part
        status, refunded_fen = plan.status_after, plan.refunded_after_fen
        fee_back_total += plan.fee_back_fen
    assert (refunded_fen, fee_back_total) == (total_fen, fee_fen)


@given(st.integers(1, 10_000_000), rates, st.data())
def test_fee_back_is_the_same_however_a_refunded_sum_was_reached(
    total_fen: int, rate_ppm: int, data: st.DataObject
) -> None:
    """The fee given back so far depends only on the cumulative refunded amount."""
    fee_fen = fee_fen_for(total_fen, rate_ppm)
    refunded = data.draw(st.integers(1, total_fen))
    first = data.draw(st.integers(1, refunded))
    one_go = fee_back_fen(fee_fen, total_fen, 0, refunded)
    two_steps = fee_back_fen(fee_fen, total_fen, 0, first)
    if refunded > first:
        two_steps += fee_back_fen(fee_fen, total_fen, first, refunded - first)
    assert one_go == two_steps


def base(**changes: object) -> dict[str, object]:
    plan = {
        "status": TradeStatus.TRADE_SUCCESS,
        "total_fen": 10_00,
        "fee_fen": 6,
        "refunded_fen": 0,
        "refund_fen": 1_00,
        "window_open": True,
    }
    plan.update(changes)
    return plan


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"refund_fen": 0}, "invalid_amount"),
        ({"refund_fen": -1}, "invalid_amount"),
        ({"refund_fen": 10_01}, RefundExceedsPaid.code),
        ({"refunded_fen": 9_50, "refund_fen": 51}, RefundExceedsPaid.code),
        ({"window_open": False}, TradeFinished.code),
        ({"status": TradeStatus.WAIT_BUYER_PAY}, TradeStatusError.code),
        ({"status": TradeStatus.TRADE_CLOSED}, TradeClosed.code),
        ({"status": TradeStatus.TRADE_FINISHED}, TradeFinished.code),
    ],
)
def test_plan_refund_refusals(changes: dict[str, object], code: str) -> None:
    with pytest.raises(Exception) as caught:
        plan_refund(**base(**changes))  # type: ignore[arg-type]
    assert getattr(caught.value, "code", None) == code


def test_plan_refund_examples() -> None:
    part = plan_refund(**base(refund_fen=3_33))  # type: ignore[arg-type]
    assert (part.fee_back_fen, part.status_after) == (2, TradeStatus.TRADE_SUCCESS)  # 1.998 -> 2
    rest = plan_refund(**base(refunded_fen=3_33, refund_fen=6_67))  # type: ignore[arg-type]
    assert (rest.fee_back_fen, rest.status_after) == (4, TradeStatus.TRADE_CLOSED)
