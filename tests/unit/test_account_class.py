from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.account_class import (
    CHINA_TZ,
    AccountClass,
    ClassPolicy,
    VerificationChannel,
    account_class_for,
    check_balance_payment,
    china_date,
    limit_summary,
    upgrade_hint,
    usage_window,
)
from paybao.domain.errors import InvalidAmount, InvalidInput, LimitExceeded

CHANNELS = list(VerificationChannel)


@pytest.mark.parametrize(
    ("channel_count", "face_to_face", "expected"),
    [
        (1, False, AccountClass.I),
        (2, False, AccountClass.I),
        (3, False, AccountClass.II),
        (4, False, AccountClass.II),
        (5, False, AccountClass.III),
        (6, False, AccountClass.III),
        (0, True, AccountClass.III),
        (1, True, AccountClass.III),
    ],
)
def test_class_from_channels(
    channel_count: int, face_to_face: bool, expected: AccountClass
) -> None:
    channels = CHANNELS[:channel_count]
    assert account_class_for(channels, face_to_face=face_to_face) is expected


def test_the_same_channel_twice_counts_once() -> None:
    channels = [VerificationChannel.ID_CHECK] * 3
    assert account_class_for(channels) is AccountClass.I


def test_no_channel_no_class() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        account_class_for([])
    assert excinfo.value.code == "identity_not_verified"


def test_channel_thresholds_are_parameters() -> None:
    policy = ClassPolicy(channels_for_ii=2, channels_for_iii=3)
    assert account_class_for(CHANNELS[:2], policy=policy) is AccountClass.II
    assert account_class_for(CHANNELS[:3], policy=policy) is AccountClass.III


@pytest.mark.parametrize(
    ("account_class", "limit_fen"),
    [(AccountClass.I, 100_000), (AccountClass.II, 10_000_000), (AccountClass.III, 20_000_000)],
)
def test_limits_exact_boundary(account_class: AccountClass, limit_fen: int) -> None:
    assert check_balance_payment(account_class, limit_fen - 500, 500) == 0
    with pytest.raises(LimitExceeded) as excinfo:
        check_balance_payment(account_class, limit_fen - 500, 501)
    error = excinfo.value
    assert error.code == "balance_payment_limit_exceeded"
    assert error.data == {"limit_fen": limit_fen, "used_fen": limit_fen - 500, "remaining_fen": 500}


def test_used_above_limit_leaves_nothing() -> None:
    # A class downgrade or a raised counter can leave used > limit: nothing more may be paid.
    with pytest.raises(LimitExceeded) as excinfo:
        check_balance_payment(AccountClass.I, 150_000, 1)
    assert excinfo.value.data["remaining_fen"] == 0


def test_limits_are_parameters() -> None:
    policy = ClassPolicy(class_i_lifetime_fen=100)
    assert check_balance_payment(AccountClass.I, 0, 100, policy) == 0
    with pytest.raises(LimitExceeded):
        check_balance_payment(AccountClass.I, 0, 101, policy)


@pytest.mark.parametrize("amount_fen", [0, -1])
def test_amount_must_be_positive(amount_fen: int) -> None:
    with pytest.raises(InvalidAmount):
        check_balance_payment(AccountClass.III, 0, amount_fen)


@given(
    st.sampled_from(list(AccountClass)),
    st.integers(min_value=0, max_value=30_000_000),
    st.integers(min_value=1, max_value=30_000_000),
)
def test_allowed_exactly_when_within_limit(
    account_class: AccountClass, used_fen: int, amount_fen: int
) -> None:
    limit_fen = ClassPolicy().limit_fen(account_class)
    try:
        remaining_fen = check_balance_payment(account_class, used_fen, amount_fen)
    except LimitExceeded:
        assert used_fen + amount_fen > limit_fen
    else:
        assert remaining_fen == limit_fen - used_fen - amount_fen >= 0


def test_class_i_window_is_lifetime() -> None:
    window = usage_window(AccountClass.I, date(2024, 6, 1))
    assert window.start is None and window.end is None
    assert window.contains(datetime(2001, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("account_class", [AccountClass.II, AccountClass.III])
def test_class_ii_iii_window_is_the_china_calendar_year(account_class: AccountClass) -> None:
    window = usage_window(account_class, date(2024, 6, 1))
    # New year in China is 16:00 UTC on 31 December.
    assert window.start == datetime(2023, 12, 31, 16, 0, tzinfo=UTC)
    assert window.end == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert window.contains(datetime(2023, 12, 31, 16, 0, tzinfo=UTC))
    assert not window.contains(datetime(2023, 12, 31, 15, 59, 59, tzinfo=UTC))
    assert not window.contains(datetime(2024, 12, 31, 16, 0, tzinfo=UTC))


def test_china_date() -> None:
    assert china_date(datetime(2023, 12, 31, 16, 0, tzinfo=UTC)) == date(2024, 1, 1)
    assert china_date(datetime(2023, 12, 31, 15, 59, tzinfo=UTC)) == date(2023, 12, 31)
    assert china_date(datetime(2024, 1, 1, 0, 0, tzinfo=CHINA_TZ)) == date(2024, 1, 1)
    with pytest.raises(AssertionError):
        china_date(datetime(2024, 1, 1))  # noqa: DTZ001


# Hypothesis takes naive bounds and attaches the timezone itself.
_BOUND_MIN = datetime(2000, 1, 1)  # noqa: DTZ001
_BOUND_MAX = datetime(2100, 1, 1)  # noqa: DTZ001


@given(st.datetimes(timezones=st.just(UTC), min_value=_BOUND_MIN, max_value=_BOUND_MAX))
def test_every_instant_is_in_the_window_of_its_own_china_date(at: datetime) -> None:
    window = usage_window(AccountClass.II, china_date(at))
    assert window.contains(at)
    assert window.start is not None and window.end is not None
    assert not window.contains(window.start - timedelta(microseconds=1))


def test_limit_summary() -> None:
    summary = limit_summary(AccountClass.I, 30_000)
    assert (summary.limit_fen, summary.used_fen, summary.remaining_fen) == (100_000, 30_000, 70_000)
    assert summary.lifetime
    assert not limit_summary(AccountClass.II, 0).lifetime
    assert limit_summary(AccountClass.I, 200_000).remaining_fen == 0


def test_upgrade_hint() -> None:
    channels = CHANNELS[:1]
    zh = upgrade_hint(AccountClass.I, channels)
    en = upgrade_hint(AccountClass.I, channels, lang="en")
    assert zh is not None and "再完成 2 项" in zh and "II 类" in zh
    assert en is not None and "2 more channel" in en and "class II" in en
    to_iii = upgrade_hint(AccountClass.II, CHANNELS[:3], lang="en")
    assert to_iii is not None and "2 more" in to_iii and "class III" in to_iii
    assert upgrade_hint(AccountClass.III, CHANNELS) is None
