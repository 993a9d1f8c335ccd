"""The pure rules of pre-authorisation: payments and unfreezes never take more than is left,
COMPLETE gives the rest back, how an order ends, which refusal each state gives, and cancel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.preauth import (
    TIMEOUT_S_MAX,
    CancelAction,
    ConfirmMode,
    OrderStatus,
    Totals,
    cancel_action,
    check_authorized,
    check_out_no,
    check_timeout_s,
    confirm_deadline_us,
    pay_step,
    status_after,
    unfreeze_step,
)

S = OrderStatus


def test_a_payment_keeps_or_gives_back_the_rest_by_its_mode() -> None:
    totals = Totals(300_00, paid_fen=20_00)
    kept = pay_step(totals, 100_00, ConfirmMode.NOT_COMPLETE)
    assert (kept.pay_fen, kept.unfreeze_fen, kept.rest_fen) == (100_00, 0, 180_00)
    assert kept.after == Totals(300_00, 120_00, 0)
    done = pay_step(totals, 100_00, ConfirmMode.COMPLETE)
    assert (done.pay_fen, done.unfreeze_fen, done.rest_fen) == (100_00, 180_00, 0)
    assert status_after(done.after) is S.FINISH


def test_nothing_takes_more_than_is_left() -> None:
    totals = Totals(100_00, paid_fen=30_00, unfrozen_fen=20_00)
    assert pay_step(totals, 50_00, ConfirmMode.NOT_COMPLETE).rest_fen == 0
    for step in (
        lambda: pay_step(totals, 50_01, ConfirmMode.COMPLETE),
        lambda: unfreeze_step(totals, 50_01),
    ):
        with pytest.raises(DomainError) as refused:
            step()
        assert refused.value.code == "preauth_amount_exceeds_rest"
    for amount in (0, -1):
        with pytest.raises(InvalidInput):
            unfreeze_step(totals, amount)


def test_an_order_ends_finished_if_anything_was_paid_else_closed() -> None:
    assert status_after(Totals(100, 0, 40)) is S.AUTHORIZED
    assert status_after(Totals(100, 1, 99)) is S.FINISH
    assert status_after(Totals(100, 0, 100)) is S.CLOSED
    with pytest.raises(AssertionError):
        Totals(100, 60, 41)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (S.INIT, "preauth_not_authorized"),
        (S.FINISH, "preauth_order_finished"),
        (S.CLOSED, "preauth_order_closed"),
    ],
)
def test_each_state_refuses_money_operations_in_its_own_words(status: S, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_authorized(status)
    assert refused.value.code == code
    check_authorized(S.AUTHORIZED)


def test_cancel_closes_an_unconfirmed_order_and_unfreezes_an_untouched_one() -> None:
    assert cancel_action(S.INIT, Totals(0)) is CancelAction.CLOSE
    assert cancel_action(S.AUTHORIZED, Totals(100, 0, 30)) is CancelAction.UNFREEZE
    with pytest.raises(DomainError) as refused:
        cancel_action(S.AUTHORIZED, Totals(100, 1, 0))
    assert refused.value.code == "preauth_cancel_not_allowed"
    with pytest.raises(DomainError) as ended:
        cancel_action(S.CLOSED, Totals(100, 0, 100))
    assert ended.value.code == "preauth_order_closed"


def test_requests_are_checked() -> None:
    assert check_out_no("o-1", field="out_order_no") == "o-1"
    for bad in ("", "x" * 65, "tab\there"):
        with pytest.raises(InvalidInput) as refused:
            check_out_no(bad, field="out_request_no")
        assert refused.value.code == "invalid_out_request_no"
    assert check_timeout_s(60) == 60 and check_timeout_s(TIMEOUT_S_MAX) == TIMEOUT_S_MAX
    for seconds in (59, TIMEOUT_S_MAX + 1):
        with pytest.raises(InvalidInput):
            check_timeout_s(seconds)
    # An app order waits for its user, but never past its own end.
    assert confirm_deadline_us(0, 900, 10**12) == 900_000_000
    assert confirm_deadline_us(0, 900, 60_000_000) == 60_000_000


operations = st.lists(
    st.tuples(st.sampled_from(["pay", "pay_complete", "unfreeze"]), st.integers(1, 150_00)),
    max_size=12,
)


@given(frozen_fen=st.integers(1, 100_00), steps=operations)
def test_whatever_happens_frozen_is_paid_plus_unfrozen_plus_rest(
    frozen_fen: int, steps: list[tuple[str, int]]
) -> None:
    totals = Totals(frozen_fen)
    for kind, amount in steps:
        if status_after(totals) is not S.AUTHORIZED:
            break
        try:
            if kind == "unfreeze":
                step = unfreeze_step(totals, amount)
            else:
                mode = ConfirmMode.COMPLETE if kind == "pay_complete" else ConfirmMode.NOT_COMPLETE
                step = pay_step(totals, amount, mode)
        except DomainError:
            assert amount > totals.rest_fen  # refused only when it asked for too much
            continue
        assert step.pay_fen + step.unfreeze_fen <= totals.rest_fen
        totals = step.after
        assert totals.paid_fen + totals.unfrozen_fen + totals.rest_fen == frozen_fen
        assert totals.rest_fen >= 0
