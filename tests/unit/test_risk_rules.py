"""The risk rules (`domain/risk.py`) on their own: which signals lead to which decision."""

from __future__ import annotations

import pytest

from paybao.domain.risk import (
    Action,
    Decision,
    Reason,
    RiskPasswordRequired,
    RiskRejected,
    RiskRules,
    Signals,
    decide,
    is_anomalous,
    refusal,
)

RULES = RiskRules()


def signals(**changes: object) -> Signals:
    base: dict[str, object] = {
        "action": Action.TRANSFER,
        "amount_fen": 100_00,
        "by_device": False,
        "ops_last_hour": 0,
        "largest_recent_fen": 500_00,
        "new_payee": False,
    }
    base.update(changes)
    return Signals(**base)  # type: ignore[arg-type]


def test_an_ordinary_transfer_passes() -> None:
    assessment = decide(signals(), RULES)
    assert assessment.decision is Decision.PASS and assessment.reasons == ()
    assert not assessment.refused


def test_a_blacklisted_payee_is_refused_whatever_else() -> None:
    assessment = decide(signals(payee_blacklisted=True, by_device=True, amount_fen=1), RULES)
    assert assessment.decision is Decision.REJECT
    assert assessment.reasons == (Reason.BLACKLISTED_PAYEE,)
    assert isinstance(refusal(assessment), RiskRejected)


@pytest.mark.parametrize(("ops", "decision"), [(29, Decision.PASS), (30, Decision.REJECT)])
def test_velocity_refuses_from_the_hourly_maximum(ops: int, decision: Decision) -> None:
    for action in set(Action) - {Action.CODE_PAY}:
        assert decide(signals(action=action, ops_last_hour=ops), RULES).decision is decision


@pytest.mark.parametrize(
    ("ops", "amount_fen", "largest_fen", "decision", "reasons"),
    [
        (19, 50_00, 30_00, Decision.PASS, ()),
        (20, 50_00, 30_00, Decision.CHALLENGE, (Reason.VELOCITY,)),
        (0, 200_00, 30_00, Decision.CHALLENGE, (Reason.AMOUNT_ANOMALY,)),  # over 5 x 30 CNY
        (0, 150_00, 30_00, Decision.PASS, ()),  # exactly 5 x: not above
        (0, 199_99, 10_00, Decision.PASS, ()),  # under the code-pay floor
        (0, 900_00, None, Decision.PASS, ()),  # no history: nothing to stand out from
        (25, 900_00, 10_00, Decision.CHALLENGE, (Reason.VELOCITY, Reason.AMOUNT_ANOMALY)),
    ],
)
def test_a_password_free_code_payment_is_challenged_never_refused(
    ops: int,
    amount_fen: int,
    largest_fen: int | None,
    decision: Decision,
    reasons: tuple[Reason, ...],
) -> None:
    unusual = signals(
        action=Action.CODE_PAY,
        by_device=True,
        ops_last_hour=ops,
        amount_fen=amount_fen,
        largest_recent_fen=largest_fen,
        payee_blacklisted=False,
    )
    assessment = decide(unusual, RULES)
    assert (assessment.decision, assessment.reasons) == (decision, reasons)


def test_a_large_instant_transfer_to_a_new_payee_is_delayed_not_refused() -> None:
    at_threshold = signals(
        new_payee=True, amount_fen=RULES.new_payee_delay_fen, largest_recent_fen=None
    )
    assert decide(at_threshold, RULES).decision is Decision.DELAY
    below = signals(
        new_payee=True, amount_fen=RULES.new_payee_delay_fen - 1, largest_recent_fen=4_000_00
    )
    assert decide(below, RULES).decision is Decision.PASS
    usual_amount = {"amount_fen": RULES.new_payee_delay_fen, "largest_recent_fen": 4_000_00}
    assert decide(signals(new_payee=False, **usual_amount), RULES).decision is Decision.PASS
    # The same amount, five times more than anything before: an anomaly, also held.
    unusual = signals(new_payee=False, amount_fen=RULES.new_payee_delay_fen)
    assert decide(unusual, RULES).reasons == (Reason.AMOUNT_ANOMALY,)


def test_a_transfer_the_user_already_delayed_is_not_delayed_again() -> None:
    chosen = signals(new_payee=True, amount_fen=9_000_00, delayed_already=True)
    assert decide(chosen, RULES).decision is Decision.PASS


def test_a_withdrawal_is_never_delayed() -> None:
    big = signals(action=Action.WITHDRAWAL, amount_fen=50_000_00, new_payee=True)
    assert decide(big, RULES).decision is Decision.PASS  # password-proven, own card


def test_a_device_confirmation_of_something_unusual_asks_for_the_password() -> None:
    new_payee = signals(by_device=True, new_payee=True, amount_fen=RULES.device_new_payee_fen)
    assessment = decide(new_payee, RULES)
    assert assessment.decision is Decision.CHALLENGE
    assert assessment.reasons == (Reason.NEW_PAYEE,)
    assert isinstance(refusal(assessment), RiskPasswordRequired)
    withdrawal = signals(
        action=Action.WITHDRAWAL, by_device=True, amount_fen=3_000_00, largest_recent_fen=100_00
    )
    assert decide(withdrawal, RULES).reasons == (Reason.AMOUNT_ANOMALY,)
    usual = signals(by_device=True, new_payee=True, amount_fen=RULES.device_new_payee_fen - 1)
    assert decide(usual, RULES).decision is Decision.PASS


def test_the_strongest_decision_wins_and_keeps_only_its_reasons() -> None:
    both = signals(by_device=True, new_payee=True, amount_fen=6_000_00, largest_recent_fen=None)
    assessment = decide(both, RULES)
    assert assessment.decision is Decision.CHALLENGE
    assert set(assessment.reasons) == {Reason.NEW_PAYEE, Reason.AMOUNT_ANOMALY}
    worse = decide(
        signals(by_device=True, new_payee=True, amount_fen=6_000_00, ops_last_hour=99), RULES
    )
    assert worse.decision is Decision.REJECT and worse.reasons == (Reason.VELOCITY,)


@pytest.mark.parametrize(
    ("amount_fen", "largest_fen", "anomalous"),
    [
        (1_999_99, None, False),  # below the floor, even with no history
        (2_000_00, None, True),  # at the floor with no history
        (2_500_00, 500_00, False),  # exactly 5x the largest is not above it
        (2_500_01, 500_00, True),
        (10_000_00, 3_000_00, False),
    ],
)
def test_amount_anomaly(amount_fen: int, largest_fen: int | None, anomalous: bool) -> None:
    assert is_anomalous(amount_fen, largest_fen, RULES) is anomalous
