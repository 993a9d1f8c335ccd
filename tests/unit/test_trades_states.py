"""The trade state machine (domain/trades.py): every allowed arrow, and every refused one with
the error a merchant expects for that state."""

from __future__ import annotations

import itertools

import pytest

from paybao.domain.errors import InvalidState
from paybao.domain.trades import (
    TRANSITIONS,
    TradeAlreadyPaid,
    TradeClosed,
    TradeEvent,
    TradeFinished,
    TradeStatus,
    TradeStatusError,
    next_status,
)

W, S, C, F = (
    TradeStatus.WAIT_BUYER_PAY,
    TradeStatus.TRADE_SUCCESS,
    TradeStatus.TRADE_CLOSED,
    TradeStatus.TRADE_FINISHED,
)
ALLOWED = {
    (W, TradeEvent.PAY): S,
    (W, TradeEvent.CLOSE): C,
    (S, TradeEvent.REFUND_PART): S,
    (S, TradeEvent.REFUND_ALL): C,
    (S, TradeEvent.FINISH): F,
}
ALL_PAIRS = list(itertools.product(TradeStatus, TradeEvent))
REFUSED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def test_the_table_is_exactly_the_documented_arrows() -> None:
    assert TRANSITIONS == ALLOWED
    assert len(REFUSED) == len(TradeStatus) * len(TradeEvent) - len(ALLOWED) == 15


@pytest.mark.parametrize(("status", "event"), list(ALLOWED))
def test_every_allowed_arrow(status: TradeStatus, event: TradeEvent) -> None:
    assert next_status(status, event) is ALLOWED[(status, event)]


def expected_refusal(status: TradeStatus, event: TradeEvent) -> type[InvalidState]:
    if (status, event) == (S, TradeEvent.PAY):
        return TradeAlreadyPaid
    if status is C:
        return TradeClosed
    if status is F:
        return TradeFinished
    return TradeStatusError


@pytest.mark.parametrize(("status", "event"), REFUSED)
def test_every_refused_arrow_names_its_reason(status: TradeStatus, event: TradeEvent) -> None:
    with pytest.raises(InvalidState) as caught:
        next_status(status, event)
    expected = expected_refusal(status, event)
    assert type(caught.value) is expected
    assert caught.value.code == expected.code


def test_refusal_codes_are_the_stable_ones() -> None:
    codes = {
        TradeAlreadyPaid.code: "trade_has_success",
        TradeClosed.code: "trade_has_close",
        TradeFinished.code: "trade_has_finished",
        TradeStatusError.code: "trade_status_error",
    }
    assert all(key == value for key, value in codes.items())


def test_closed_and_finished_are_terminal() -> None:
    for status in (C, F):
        assert not any(s is status for s, _ in TRANSITIONS)


def test_every_state_is_reachable_from_wait_buyer_pay() -> None:
    reached, frontier = {W}, [W]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(TradeStatus)
