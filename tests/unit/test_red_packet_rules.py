"""The red packet split and rules (domain/red_packets.py), without a database."""

from __future__ import annotations

import random
from typing import Any

import pytest

from paybao.domain.errors import DomainError
from paybao.domain.red_packets import (
    GREETING_DEFAULT,
    Kind,
    RedPacketPolicy,
    best_luck_seq,
    greeting_of,
    lucky_split,
    split_shares,
)

POLICY = RedPacketPolicy()


@pytest.mark.parametrize(
    ("total_fen", "count"),
    [(1, 1), (3, 3), (10_00, 3), (100_00, 10), (20_000_00, 100), (19_999_99, 100), (201, 1)],
)
def test_a_lucky_split_adds_up_and_keeps_every_share_in_bounds(total_fen: int, count: int) -> None:
    draw = random.Random(f"{total_fen}/{count}").randrange
    for _ in range(200):
        shares = lucky_split(total_fen, count, 200_00, draw)
        assert len(shares) == count and sum(shares) == total_fen
        assert all(1 <= share <= 200_00 for share in shares), shares


def test_each_lucky_share_is_drawn_in_one_fen_to_twice_the_mean_of_the_rest() -> None:
    # The largest draw each time: 2 x remaining / left, but leaving 0.01 for each share after.
    shares = lucky_split(100_00, 4, 200_00, lambda n: n - 1)
    assert shares == [50_00, 33_33, 16_66, 1]
    assert lucky_split(100_00, 4, 200_00, lambda n: 0) == [1, 1, 1, 100_00 - 3]


def test_a_lucky_split_respects_the_share_ceiling_near_the_top() -> None:
    # 399.99 in 2 shares: the first cannot go below 199.99, or the second would pass 200.00.
    for pick in (lambda n: 0, lambda n: n - 1):
        shares = lucky_split(399_99, 2, 200_00, pick)
        assert sum(shares) == 399_99 and max(shares) <= 200_00


def test_the_split_uses_secrets_by_default() -> None:
    shares = split_shares(Kind.LUCKY, 10, POLICY, total_fen=100_00)
    assert sum(shares) == 100_00 and len(shares) == 10


def test_equal_and_single_packets() -> None:
    assert split_shares(Kind.EQUAL, 3, POLICY, share_fen=2_00) == [2_00] * 3
    assert split_shares(Kind.SINGLE, 1, POLICY, total_fen=200_00) == [200_00]


@pytest.mark.parametrize(
    ("kind", "count", "fields", "code"),
    [
        (Kind.EQUAL, 1, {"share_fen": 200_01}, "red_packet_share_too_large"),
        (Kind.SINGLE, 1, {"total_fen": 200_01}, "red_packet_share_too_large"),
        (Kind.LUCKY, 3, {"total_fen": 600_01}, "red_packet_share_too_large"),
        (Kind.LUCKY, 0, {"total_fen": 1_00}, "red_packet_count_invalid"),
        (Kind.EQUAL, 101, {"share_fen": 1}, "red_packet_count_invalid"),
        (Kind.SINGLE, 2, {"total_fen": 1_00}, "red_packet_count_invalid"),
        (Kind.LUCKY, 3, {"total_fen": 2}, "red_packet_total_too_small"),
        (Kind.EQUAL, 2, {"total_fen": 2_00}, "invalid_amount"),
        (Kind.LUCKY, 2, {"total_fen": 0}, "invalid_amount"),
    ],
)
def test_bad_packets_are_refused_with_their_codes(
    kind: Kind, count: int, fields: dict[str, Any], code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        split_shares(kind, count, POLICY, **fields)
    assert refused.value.code == code


def test_greetings() -> None:
    assert greeting_of("  ", POLICY) == GREETING_DEFAULT
    assert greeting_of(" 新年快乐 ", POLICY) == "新年快乐"
    assert greeting_of("福" * 24, POLICY) == "福" * 24
    for bad, code in (
        ("福" * 25, "red_packet_greeting_too_long"),
        ("a\x00b", "red_packet_greeting_invalid"),
    ):
        with pytest.raises(DomainError) as refused:
            greeting_of(bad, POLICY)
        assert refused.value.code == code


def test_best_luck_is_the_first_largest_of_a_fully_claimed_lucky_packet() -> None:
    assert best_luck_seq(Kind.LUCKY, [3, 7, 7, 1], 4) == 1
    assert best_luck_seq(Kind.LUCKY, [3, 7, 7, 1], 3) is None
    assert best_luck_seq(Kind.EQUAL, [5, 5], 2) is None
