"""Profit sharing's pure rules: the cap (rounded down, on what was not refunded), the parts of a
settle, when a settle may go ahead, and what is left to settle."""

from __future__ import annotations

import pytest

from paybao.domain.royalty import (
    PARTS_MAX,
    Part,
    RoyaltyFinished,
    RoyaltyRequestInvalid,
    ShareExceeded,
    TradeNotSettleable,
    check_parts,
    check_settle,
    share_cap_fen,
    unsettled_fen,
)


def test_the_cap_is_a_share_of_what_was_not_refunded_rounded_down() -> None:
    assert share_cap_fen(100_00, 0, 30) == 30_00
    assert share_cap_fen(100_00, 50_00, 30) == 15_00
    assert share_cap_fen(1, 0, 30) == 0  # 0.3 fen: nothing may be shared
    assert share_cap_fen(333, 0, 30) == 99  # 99.9 fen rounds down
    assert share_cap_fen(100_00, 100_00, 30) == 0
    assert share_cap_fen(100_00, 0, 100) == 100_00


def test_a_settle_names_each_receiver_once_and_something_unless_it_finishes() -> None:
    assert check_parts([Part(1, 5_00), Part(2, 1)], finish=False) == 5_01
    assert check_parts([], finish=True) == 0
    with pytest.raises(RoyaltyRequestInvalid):
        check_parts([], finish=False)
    with pytest.raises(RoyaltyRequestInvalid):
        check_parts([Part(1, 1), Part(1, 2)], finish=False)
    with pytest.raises(RoyaltyRequestInvalid):
        check_parts([Part(n, 1) for n in range(1, PARTS_MAX + 2)], finish=False)


def test_a_settle_goes_ahead_up_to_the_cap_exactly() -> None:
    check_settle(
        settleable=True, finished=False, settled_fen=20_00, amount_fen=10_00, cap_fen=30_00
    )
    with pytest.raises(ShareExceeded):
        check_settle(
            settleable=True, finished=False, settled_fen=20_00, amount_fen=10_01, cap_fen=30_00
        )
    with pytest.raises(RoyaltyFinished):
        check_settle(settleable=True, finished=True, settled_fen=0, amount_fen=1, cap_fen=30_00)
    with pytest.raises(TradeNotSettleable):
        check_settle(settleable=False, finished=False, settled_fen=0, amount_fen=1, cap_fen=30_00)


def test_what_is_left_never_goes_below_zero() -> None:
    assert unsettled_fen(settleable=True, finished=False, settled_fen=10_00, cap_fen=30_00) == (
        20_00
    )
    # A refund after settling may leave more settled than the new cap allows.
    assert unsettled_fen(settleable=True, finished=False, settled_fen=30_00, cap_fen=15_00) == 0
    assert unsettled_fen(settleable=True, finished=True, settled_fen=0, cap_fen=30_00) == 0
    assert unsettled_fen(settleable=False, finished=False, settled_fen=0, cap_fen=30_00) == 0
