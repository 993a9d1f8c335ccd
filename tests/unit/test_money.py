from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.errors import InvalidAmount
from paybao.domain.money import AMOUNT_FEN_MAX, apply_rate, format_yuan, parse_yuan


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.01", 1), ("1", 100), ("12.3", 1230), ("12.34", 1234), ("100000000.00", AMOUNT_FEN_MAX)],
)
def test_parses_valid_yuan(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.00",
        "-1",
        "1.001",
        "100000000.01",
        "1e3",
        " 1",
        "1,00",
        "",
        ".5",
        "01.00",
        "NaN",
        "1.",
        "+1",
        "１２",
    ],
)
def test_refuses_invalid_yuan(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text)
    assert caught.value.code == "invalid_amount"


def test_zero_only_when_allowed() -> None:
    assert parse_yuan("0.00", allow_zero=True) == 0


@given(st.integers(min_value=1, max_value=AMOUNT_FEN_MAX))
def test_format_then_parse_round_trips(fen: int) -> None:
    assert parse_yuan(format_yuan(fen)) == fen


def test_format_negative_and_zero() -> None:
    assert format_yuan(0) == "0.00"
    assert format_yuan(-150) == "-1.50"


def test_rate_rounding_is_explicit() -> None:
    assert apply_rate(1000, Decimal("0.006")) == 6
    assert apply_rate(83, Decimal("0.006")) == 0  # 0.498 rounds half-up to 0
    assert apply_rate(84, Decimal("0.006")) == 1  # 0.504 -> 1
    assert apply_rate(84, Decimal("0.006"), rounding=ROUND_DOWN) == 0
