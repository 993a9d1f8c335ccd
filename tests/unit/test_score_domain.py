"""The credit score's pure rules: the total stays in 350–950 whatever the facts, never falls when
a good fact grows nor rises when a bad fact grows, carries the §8 weights (35/25/20/15/5), the
bands, each dimension's reasons and the tips, the periods (the 6th, China time), Huabei bills as
credit history, and admission (consent first, then the risk checks, then the threshold)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.errors import DomainError
from paybao.domain.score import (
    POINTS_MAX,
    SCORE_MAX,
    SCORE_MIN,
    WEIGHTS_PCT,
    AdmissionReason,
    Band,
    BillRecord,
    Candidate,
    Dimension,
    Outcome,
    Score,
    ScoreFacts,
    band_of,
    classify_bill,
    compute,
    decide_admission,
    ladder,
    month_windows,
    next_period,
    period_of,
    purpose_of,
    run_date,
    tips_for,
    total_of,
)

GOOD_COUNTS = (
    "account_age_days",
    "payments",
    "transfers",
    "balance_fen",
    "fund_fen",
    "inflows_fen",
    "bills_on_time",
    "withholding_honoured",
    "counterparties",
)
BAD_COUNTS = ("bills_late", "bills_overdue", "risk_refusals")

facts_strategy = st.builds(
    ScoreFacts,
    account_class=st.sampled_from([None, "I", "II", "III"]),
    account_age_days=st.integers(0, 5000),
    payments=st.integers(0, 1000),
    transfers=st.integers(0, 500),
    months_active=st.integers(0, 12),
    balance_fen=st.integers(0, 10**11),
    fund_fen=st.integers(0, 10**11),
    inflows_fen=st.integers(0, 10**11),
    credit_line=st.booleans(),
    bills_on_time=st.integers(0, 40),
    withholding_honoured=st.integers(0, 200),
    counterparties=st.integers(0, 300),
    bills_late=st.integers(0, 20),
    bills_overdue=st.integers(0, 10),
    risk_refusals=st.integers(0, 20),
    blacklisted=st.booleans(),
    frozen=st.booleans(),
)

STRONG = ScoreFacts(
    account_class="III",
    account_age_days=2000,
    payments=300,
    transfers=80,
    months_active=12,
    balance_fen=200_000_00,
    fund_fen=50_000_00,
    inflows_fen=300_000_00,
    credit_line=True,
    bills_on_time=24,
    withholding_honoured=40,
    counterparties=80,
)


@given(facts_strategy)
def test_the_total_stays_in_range_and_each_dimension_in_its_points(facts: ScoreFacts) -> None:
    score = compute(facts)
    assert SCORE_MIN <= score.total <= SCORE_MAX
    assert score.band is band_of(score.total)
    assert [d.dimension for d in score.dimensions] == list(Dimension)
    for dimension in score.dimensions:
        assert 0 <= dimension.points <= POINTS_MAX
        assert len(dimension.reasons) <= 3
    assert compute(facts) == score  # deterministic


@given(facts_strategy, st.sampled_from(GOOD_COUNTS), st.integers(1, 10**9))
def test_more_of_a_good_fact_never_lowers_anything(facts: ScoreFacts, name: str, more: int) -> None:
    better = dataclasses.replace(facts, **{name: getattr(facts, name) + more})
    _at_least(compute(better), compute(facts))


@given(facts_strategy, st.integers(0, 12))
def test_more_months_active_never_lowers_anything(facts: ScoreFacts, months: int) -> None:
    better = dataclasses.replace(facts, months_active=max(months, facts.months_active))
    _at_least(compute(better), compute(facts))


@given(facts_strategy)
def test_a_higher_class_and_a_credit_line_never_lower_anything(facts: ScoreFacts) -> None:
    _at_least(compute(dataclasses.replace(facts, account_class="III")), compute(facts))
    _at_least(compute(dataclasses.replace(facts, credit_line=True)), compute(facts))


@given(facts_strategy, st.sampled_from(BAD_COUNTS), st.integers(1, 50))
def test_more_of_a_bad_fact_never_raises_anything(facts: ScoreFacts, name: str, more: int) -> None:
    worse = dataclasses.replace(facts, **{name: getattr(facts, name) + more})
    _at_least(compute(facts), compute(worse))


@given(facts_strategy)
def test_blacklisted_or_frozen_never_raises_anything(facts: ScoreFacts) -> None:
    _at_least(compute(facts), compute(dataclasses.replace(facts, blacklisted=True)))
    _at_least(compute(facts), compute(dataclasses.replace(facts, frozen=True)))


def _at_least(high: Score, low: Score) -> None:
    assert high.total >= low.total
    for better, worse in zip(high.dimensions, low.dimensions, strict=True):
        assert better.points >= worse.points, (better, worse)


def test_the_weights_are_the_commonly_quoted_ones() -> None:
    assert WEIGHTS_PCT == {
        Dimension.CREDIT: 35,
        Dimension.CAPACITY: 25,
        Dimension.BEHAVIOUR: 20,
        Dimension.IDENTITY: 15,
        Dimension.SOCIAL: 5,
    }
    nothing = dict.fromkeys(Dimension, 0)
    assert total_of(nothing) == SCORE_MIN
    assert total_of(dict.fromkeys(Dimension, POINTS_MAX)) == SCORE_MAX
    # A full dimension alone is worth its weight of the 600-point span.
    for dimension, weight in WEIGHTS_PCT.items():
        assert total_of({**nothing, dimension: POINTS_MAX}) == SCORE_MIN + 6 * weight


def test_the_extremes_reach_both_ends() -> None:
    worst = ScoreFacts(bills_overdue=3, risk_refusals=9, blacklisted=True, frozen=True)
    assert compute(worst).total == SCORE_MIN
    strong = compute(STRONG)
    assert strong.total == SCORE_MAX
    assert strong.band is Band.EXCELLENT and strong.tips == ()


def test_a_new_verified_user_is_poor_and_told_what_helps() -> None:
    score = compute(ScoreFacts(account_class="I"))
    # identity 300 x 15% + credit 300 x 35% + social 300 x 5% = 165 of 1000 -> 350 + 99.
    assert score.total == 449 and score.band is Band.POOR
    assert score.points(Dimension.CREDIT) == 300
    # Worth most first: Huabei on time (35% x 550), money kept (25% x 500), then paying with
    # the wallet (20% x 400; "use_monthly" ties and sorts after it).
    assert score.tips == ("repay_on_time", "keep_balance", "pay_with_wallet")


def test_reasons_name_the_facts_strongest_first() -> None:
    facts = ScoreFacts(
        account_class="II", bills_on_time=3, bills_late=1, credit_line=True, payments=10
    )
    score = compute(facts)
    credit = score.dimensions[0]
    assert credit.dimension is Dimension.CREDIT
    assert [(r.code, r.value, r.points) for r in credit.reasons] == [
        ("bills_on_time", 3, 300),
        ("credit_base", 0, 300),
        ("bills_late", 1, -120),
    ]
    assert credit.points == 300 + 50 + 300 - 120
    behaviour = score.points(Dimension.BEHAVIOUR)
    assert behaviour == 220  # 10 payments, no transfers, no active months counted


def test_what_stops_trust_comes_first_among_the_tips() -> None:
    assert tips_for(ScoreFacts(account_class="III", bills_overdue=1))[0] == "repay_overdue"
    assert tips_for(ScoreFacts(account_class="III", frozen=True))[0] == "contact_support"
    both = tips_for(dataclasses.replace(STRONG, bills_overdue=1, blacklisted=True))
    assert both == ("repay_overdue", "contact_support")


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (350, Band.POOR),
        (549, Band.POOR),
        (550, Band.FAIR),
        (599, Band.FAIR),
        (600, Band.GOOD),
        (649, Band.GOOD),
        (650, Band.VERY_GOOD),
        (699, Band.VERY_GOOD),
        (700, Band.EXCELLENT),
        (950, Band.EXCELLENT),
    ],
)
def test_bands(total: int, band: Band) -> None:
    assert band_of(total) is band


def test_ladders_are_linear_between_corners_and_saturate() -> None:
    corners = ((0, 0), (10, 100), (20, 150))
    assert [ladder(v, corners) for v in (0, 5, 10, 15, 20, 1000)] == [0, 50, 100, 125, 150, 150]


def test_periods_turn_on_the_sixth() -> None:
    assert period_of(date(2026, 12, 5)) == "2026-11"
    assert period_of(date(2026, 12, 6)) == "2026-12"
    assert period_of(date(2027, 1, 1)) == "2026-12"
    assert next_period("2026-12") == "2027-01"
    assert run_date("2027-01") == date(2027, 1, 6)
    with pytest.raises(DomainError) as caught:
        run_date("2027-13")
    assert caught.value.code == "score_period_invalid"
    windows = month_windows(date(2026, 3, 15), 2)
    assert windows == [(date(2026, 3, 1), date(2026, 4, 1)), (date(2026, 2, 1), date(2026, 3, 1))]


def test_huabei_bills_as_credit_history() -> None:
    due_end_us = 1_000
    assert classify_bill("paid", due_end_us, 999) is BillRecord.ON_TIME
    assert classify_bill("paid", due_end_us, 1_000) is BillRecord.LATE
    assert classify_bill("overdue", due_end_us, None) is BillRecord.OVERDUE
    assert classify_bill("billed", due_end_us, None) is BillRecord.OPEN
    assert classify_bill("min_paid", due_end_us, None) is BillRecord.ON_TIME


def test_purposes_are_the_two_switches() -> None:
    assert purpose_of("score").value == "score"
    with pytest.raises(DomainError) as caught:
        purpose_of("marketing")
    assert caught.value.code == "score_purpose_invalid"


def _candidate(user_id: int = 1, **values: object) -> Candidate:
    base = Candidate(
        user_id, consented=True, total=700, frozen=False, blacklisted=False, credit_overdue=False
    )
    return dataclasses.replace(base, **values)


def test_admission_is_consent_then_risk_then_threshold() -> None:
    admitted = decide_admission(650, [_candidate()])
    assert (admitted.outcome, admitted.reasons, admitted.user_id) == (Outcome.ADMITTED, (), 1)
    below = decide_admission(701, [_candidate()])
    assert below.outcome is Outcome.REFUSED
    assert below.reasons == (AdmissionReason.BELOW_THRESHOLD,)
    flagged = decide_admission(600, [_candidate(frozen=True, credit_overdue=True)])
    assert flagged.outcome is Outcome.REFUSED
    assert flagged.reasons == (AdmissionReason.ACCOUNT_FROZEN, AdmissionReason.CREDIT_OVERDUE)
    unknown = decide_admission(600, [])
    assert (unknown.outcome, unknown.reasons) == (
        Outcome.UNKNOWN,
        (AdmissionReason.NOT_AUTHORISED,),
    )
    # No consent hides everything, flags included: the merchant learns nothing.
    silent = decide_admission(600, [_candidate(consented=False, total=None, blacklisted=True)])
    assert silent.outcome is Outcome.UNKNOWN


def test_admission_looks_at_every_account_of_the_person() -> None:
    good, flagged = _candidate(1, total=720), _candidate(2, consented=False, blacklisted=True)
    assert decide_admission(600, [good, flagged]).reasons == (AdmissionReason.BLACKLISTED,)
    best = decide_admission(700, [_candidate(1, total=650), _candidate(2, total=720)])
    assert (best.outcome, best.user_id) == (Outcome.ADMITTED, 2)


@pytest.mark.parametrize("threshold", [349, 951, 0])
def test_admission_thresholds_are_350_to_950(threshold: int) -> None:
    with pytest.raises(DomainError) as caught:
        decide_admission(threshold, [_candidate()])
    assert caught.value.code == "score_threshold_invalid"
