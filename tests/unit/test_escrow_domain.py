"""Escrow rules: every arrow, every refusal code, timer arithmetic, the money split."""

from __future__ import annotations

import pytest

from paybao.domain.errors import InvalidInput, InvalidState
from paybao.domain.escrow import (
    EXTEND_S_MAX,
    TRANSITIONS,
    US_PER_S,
    ConfirmTimer,
    EscrowEvent,
    EscrowExtendTooLong,
    EscrowRefundExceedsHeld,
    EscrowStatus,
    extend_timer,
    next_status,
    pause_timer,
    refund_event,
    resolve,
    resume_timer,
    start_timer,
)

S = EscrowStatus
E = EscrowEvent

ARROWS = [
    (S.WAIT_BUYER_PAY, E.PAY, S.WAIT_SELLER_SEND_GOODS),
    (S.WAIT_BUYER_PAY, E.CLOSE, S.TRADE_CLOSED),
    (S.WAIT_SELLER_SEND_GOODS, E.CANCEL, S.TRADE_CLOSED),
    (S.WAIT_SELLER_SEND_GOODS, E.SHIP, S.WAIT_BUYER_CONFIRM_GOODS),
    (S.WAIT_BUYER_CONFIRM_GOODS, E.EXTEND, S.WAIT_BUYER_CONFIRM_GOODS),
    (S.WAIT_BUYER_CONFIRM_GOODS, E.CONFIRM, S.TRADE_FINISHED),
    (S.WAIT_BUYER_CONFIRM_GOODS, E.REQUEST_REFUND, S.REFUNDING),
    (S.REFUNDING, E.WITHDRAW_REFUND, S.WAIT_BUYER_CONFIRM_GOODS),
    (S.REFUNDING, E.AGREE_REFUND_ALL, S.TRADE_CLOSED),
    (S.REFUNDING, E.AGREE_REFUND_PART, S.TRADE_FINISHED),
    (S.REFUNDING, E.REFUSE_REFUND, S.REFUND_REFUSED),
    (S.REFUND_REFUSED, E.WITHDRAW_REFUND, S.WAIT_BUYER_CONFIRM_GOODS),
    (S.REFUND_REFUSED, E.LAPSE, S.WAIT_BUYER_CONFIRM_GOODS),
    (S.REFUND_REFUSED, E.ESCALATE, S.DISPUTE),
    (S.DISPUTE, E.RULE_REFUND_ALL, S.TRADE_CLOSED),
    (S.DISPUTE, E.RULE_REFUND_PART, S.TRADE_FINISHED),
    (S.DISPUTE, E.RULE_RELEASE, S.TRADE_FINISHED),
]


@pytest.mark.parametrize(("status", "event", "target"), ARROWS)
def test_every_arrow(status: S, event: E, target: S) -> None:
    assert next_status(status, event) is target


def test_the_table_is_exactly_the_listed_arrows() -> None:
    assert {(s, e): t for s, e, t in ARROWS} == TRANSITIONS


@pytest.mark.parametrize(
    ("status", "event", "code"),
    [
        (S.WAIT_SELLER_SEND_GOODS, E.CONFIRM, "escrow_not_shipped"),  # confirm before ship
        (S.WAIT_SELLER_SEND_GOODS, E.EXTEND, "escrow_not_shipped"),
        (S.WAIT_SELLER_SEND_GOODS, E.REQUEST_REFUND, "escrow_not_shipped"),
        (S.TRADE_CLOSED, E.SHIP, "escrow_closed"),  # ship after a full refund
        (S.TRADE_FINISHED, E.CONFIRM, "escrow_already_finished"),  # double confirm
        (S.WAIT_BUYER_PAY, E.SHIP, "escrow_not_paid"),
        (S.WAIT_BUYER_PAY, E.CANCEL, "escrow_not_paid"),
        (S.WAIT_BUYER_CONFIRM_GOODS, E.SHIP, "escrow_already_shipped"),
        (S.REFUNDING, E.SHIP, "escrow_already_shipped"),
        (S.REFUNDING, E.CONFIRM, "escrow_refund_open"),
        (S.DISPUTE, E.EXTEND, "escrow_refund_open"),
        (S.REFUND_REFUSED, E.REQUEST_REFUND, "escrow_refund_open"),
        (S.WAIT_BUYER_CONFIRM_GOODS, E.ESCALATE, "escrow_no_refund_open"),
        (S.WAIT_BUYER_CONFIRM_GOODS, E.RULE_RELEASE, "escrow_no_refund_open"),
        (S.REFUNDING, E.ESCALATE, "escrow_no_refund_open"),
        (S.WAIT_BUYER_CONFIRM_GOODS, E.PAY, "escrow_status_error"),
    ],
)
def test_refusals_have_stable_codes(status: S, event: E, code: str) -> None:
    with pytest.raises(InvalidState) as refused:
        next_status(status, event)
    assert refused.value.code == code


def test_every_missing_arrow_is_refused() -> None:
    for status in S:
        for event in E:
            if (status, event) not in TRANSITIONS:
                with pytest.raises(InvalidState):
                    next_status(status, event)


def test_pause_keeps_the_remaining_time_and_resume_restarts_from_it() -> None:
    timer = start_timer(1_000, 10 * 86_400)
    assert timer.due_at_us == 1_000 + 10 * 86_400 * US_PER_S
    paused = pause_timer(timer, 1_000 + 3 * 86_400 * US_PER_S)
    assert paused == ConfirmTimer(None, 7 * 86_400 * US_PER_S)
    resumed = resume_timer(paused, 50 * 86_400 * US_PER_S)
    assert resumed == ConfirmTimer(57 * 86_400 * US_PER_S, None)


def test_an_overdue_timer_pauses_at_zero() -> None:
    paused = pause_timer(ConfirmTimer(100, None), 250)
    assert paused.remaining_us == 0
    assert resume_timer(paused, 900).due_at_us == 900


def test_extension_moves_a_running_or_paused_timer_and_is_capped() -> None:
    assert extend_timer(ConfirmTimer(5, None), 2, 0) == ConfirmTimer(5 + 2 * US_PER_S, None)
    assert extend_timer(ConfirmTimer(None, 7), 3, 0) == ConfirmTimer(None, 7 + 3 * US_PER_S)
    with pytest.raises(EscrowExtendTooLong):
        extend_timer(ConfirmTimer(5, None), 1, EXTEND_S_MAX)
    with pytest.raises(InvalidInput):
        extend_timer(ConfirmTimer(5, None), 0, 0)


def test_resolution_splits_the_hold_with_the_gateway_fee_rule() -> None:
    full = resolve(100_00, 0, 6000)
    assert (full.refund_fen, full.seller_fen, full.fee_fen) == (0, 100_00, 60)
    part = resolve(100_00, 30_00, 6000)
    assert (part.refund_fen, part.seller_fen, part.fee_fen, part.payee_net_fen) == (
        30_00,
        70_00,
        42,
        69_58,
    )
    back = resolve(100_00, 100_00, 6000)
    assert (back.seller_fen, back.fee_fen) == (0, 0)


def test_refund_more_than_held_is_refused() -> None:
    with pytest.raises(EscrowRefundExceedsHeld) as refused:
        refund_event(100, 101, ruling=False)
    assert refused.value.code == "escrow_refund_exceeds_held"
    assert refund_event(100, 100, ruling=False) is E.AGREE_REFUND_ALL
    assert refund_event(100, 1, ruling=True) is E.RULE_REFUND_PART
