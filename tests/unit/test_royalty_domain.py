"""Profit sharing's pure rules: the cap (rounded down, on what was not refunded), the parts of a
settle, when a settle may go ahead, what is left to settle, and what receivers may give back in
a refund (退分账)."""

from __future__ import annotations

import pytest

from paybao.domain.royalty import (
    ASYNC_PARTS_MAX,
    ASYNC_SETTLES_PER_TRADE_MAX,
    PARTS_MAX,
    BackExceeded,
    BackPayeeInvalid,
    Part,
    Received,
    ReceiverNotBound,
    RoyaltyFinished,
    RoyaltyRequestInvalid,
    SettlesExceeded,
    ShareExceeded,
    TradeNotSettleable,
    check_async_settle,
    check_back,
    check_back_parts,
    check_back_payee,
    check_parts,
    check_settle,
    part_refusal,
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


def test_a_refund_gives_back_named_receivers_once_each_within_the_refund() -> None:
    assert check_back_parts([Part(1, 5_00), Part(2, 1)], refund_fen=5_01) == 5_01
    with pytest.raises(BackExceeded):
        check_back_parts([Part(1, 5_00), Part(2, 2)], refund_fen=5_01)
    with pytest.raises(RoyaltyRequestInvalid):
        check_back_parts([], refund_fen=1_00)
    with pytest.raises(RoyaltyRequestInvalid):
        check_back_parts([Part(1, 1), Part(1, 2)], refund_fen=1_00)
    assert check_back_parts([Part(n, 1) for n in range(1, PARTS_MAX + 1)], refund_fen=1_00) == 20
    with pytest.raises(RoyaltyRequestInvalid):
        check_back_parts([Part(n, 1) for n in range(1, PARTS_MAX + 2)], refund_fen=1_00)


def test_a_receiver_gives_back_at_most_what_it_has_left_of_its_shares() -> None:
    received = {1: Received(20_00, 5_00), 2: Received(3_00, 3_00)}
    check_back([Part(1, 15_00)], received)  # exactly what is left
    with pytest.raises(BackExceeded):
        check_back([Part(1, 15_01)], received)
    with pytest.raises(BackExceeded):
        check_back([Part(2, 1)], received)  # gave all of it back already
    with pytest.raises(BackExceeded):
        check_back([Part(3, 1)], received)  # got nothing on this trade
    assert Received(1_00, 2_00).returnable_fen == 0


def test_money_given_back_goes_to_the_merchant_only() -> None:
    check_back_payee("", "2088900000000001")  # omitted
    check_back_payee("2088900000000001", "2088900000000001")
    with pytest.raises(BackPayeeInvalid):
        check_back_payee("2088000000000002", "2088900000000001")


def test_an_async_settle_takes_up_to_50_receivers_and_a_sync_one_20() -> None:
    parts = [Part(n, 1) for n in range(1, ASYNC_PARTS_MAX + 1)]
    assert check_parts(parts, finish=False, parts_max=ASYNC_PARTS_MAX) == ASYNC_PARTS_MAX
    with pytest.raises(RoyaltyRequestInvalid):
        check_parts([*parts, Part(99, 1)], finish=False, parts_max=ASYNC_PARTS_MAX)
    with pytest.raises(RoyaltyRequestInvalid):
        check_parts(parts[: PARTS_MAX + 1], finish=False)


def test_a_trade_accepts_async_settles_until_it_had_300() -> None:
    check_async_settle(settles=ASYNC_SETTLES_PER_TRADE_MAX - 1)
    with pytest.raises(SettlesExceeded):
        check_async_settle(settles=ASYNC_SETTLES_PER_TRADE_MAX)


def _refusal(
    *, settled_fen: int, bound: bool = True, settleable: bool = True, finished: bool = False
) -> object:
    return part_refusal(
        bound=bound,
        settleable=settleable,
        finished=finished,
        settled_fen=settled_fen,
        amount_fen=10_00,
        cap_fen=30_00,
    )


def test_an_async_part_is_checked_on_the_trade_as_it_is_when_it_runs() -> None:
    assert _refusal(settled_fen=20_00) is None
    assert isinstance(_refusal(settled_fen=20_01), ShareExceeded)
    assert isinstance(_refusal(settled_fen=0, bound=False), ReceiverNotBound)
    assert isinstance(_refusal(settled_fen=0, finished=True), RoyaltyFinished)
    assert isinstance(_refusal(settled_fen=0, settleable=False), TradeNotSettleable)
