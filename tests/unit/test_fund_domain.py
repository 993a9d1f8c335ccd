"""Yu'e Bao's pure rules: the 15:00 cut-off, weekends and holidays, T+1 confirmation, income
rounded down, the published figure's format, the 7-day yield, and the redemption checks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import DomainError
from paybao.domain.fund import (
    PER_10K_E4_MAX,
    FundAmountInvalid,
    FundFastRedeemQuotaExceeded,
    FundInsufficientShares,
    FundRateInvalid,
    FundSharesPending,
    TradingCalendar,
    check_fast_redeem,
    check_fund_amount_fen,
    check_redeemable,
    china_day,
    day_start_us,
    fast_redeem_left_fen,
    format_per_10k,
    income_fen,
    parse_holidays,
    parse_per_10k,
    seven_day_yield,
    yield_days,
)

# 2026-01-05 is a Monday.
MONDAY = date(2026, 1, 5)
US_PER_S = 1_000_000


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> int:
    """China wall time -> microseconds since the epoch."""
    moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=CHINA_TZ)
    return int(moment.timestamp()) * US_PER_S


def weekday(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


CALENDAR = TradingCalendar()


# The cut-off and the calendar ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hour", "minute", "second", "trade", "settle"),
    [
        # Monday before 15:00: T is Monday, confirmed Tuesday.
        (weekday(0), 9, 30, 0, weekday(0), weekday(1)),
        (weekday(0), 14, 59, 59, weekday(0), weekday(1)),
        # At 15:00 sharp and after: counts for Tuesday, confirmed Wednesday.
        (weekday(0), 15, 0, 0, weekday(1), weekday(2)),
        (weekday(0), 23, 59, 59, weekday(1), weekday(2)),
        # Just after midnight China time, Tuesday morning.
        (weekday(1), 0, 0, 0, weekday(1), weekday(2)),
        # Thursday after the cut-off: Friday, confirmed the next Monday.
        (weekday(3), 16, 0, 0, weekday(4), weekday(7)),
        # Friday before 15:00: confirmed Monday; after: counts for Monday, confirmed Tuesday.
        (weekday(4), 14, 0, 0, weekday(4), weekday(7)),
        (weekday(4), 15, 30, 0, weekday(7), weekday(8)),
        # The weekend, any hour: counts for Monday, confirmed Tuesday.
        (weekday(5), 10, 0, 0, weekday(7), weekday(8)),
        (weekday(6), 14, 0, 0, weekday(7), weekday(8)),
        (weekday(6), 23, 0, 0, weekday(7), weekday(8)),
    ],
)
def test_cut_off_weekends_and_t_plus_one(
    day: date, hour: int, minute: int, second: int, trade: date, settle: date
) -> None:
    at_us = at(day, hour, minute, second)
    assert CALENDAR.trade_date(at_us) == trade
    assert CALENDAR.settle_date(at_us) == settle


def test_the_day_is_china_time_not_utc() -> None:
    # Sunday 16:30 UTC is Monday 00:30 in Shanghai: a Monday trading day before the cut-off.
    sunday_utc = datetime(2026, 1, 4, 16, 30, tzinfo=CHINA_TZ.utc)
    at_us = int(sunday_utc.timestamp()) * US_PER_S
    assert china_day(at_us) == MONDAY
    assert CALENDAR.trade_date(at_us) == MONDAY
    assert day_start_us(MONDAY) == at(MONDAY, 0)


def test_holidays_are_not_trading_days() -> None:
    # National Day 2026: Thursday 1 October to Wednesday 7 October.
    holidays = parse_holidays(", ".join(f"2026-10-0{d}" for d in range(1, 8)))
    calendar = TradingCalendar(holidays=holidays)
    wednesday = date(2026, 9, 30)
    assert calendar.trade_date(at(wednesday, 10)) == wednesday
    assert calendar.settle_date(at(wednesday, 10)) == date(2026, 10, 8)
    # After the cut-off the eve of the holiday counts for the first day after it.
    assert calendar.trade_date(at(wednesday, 15, 1)) == date(2026, 10, 8)
    assert calendar.settle_date(at(wednesday, 15, 1)) == date(2026, 10, 9)
    # During the holiday (a Monday included): the first trading day after it.
    assert calendar.trade_date(at(date(2026, 10, 5), 11)) == date(2026, 10, 8)
    assert calendar.settle_date(at(date(2026, 10, 5), 11)) == date(2026, 10, 9)
    # A holiday Friday pushes Thursday's confirmation to Monday.
    friday_off = TradingCalendar(holidays=frozenset({weekday(4)}))
    assert friday_off.settle_date(at(weekday(3), 10)) == weekday(7)
    assert not friday_off.is_trading_day(weekday(4))


def test_a_cut_off_setting_moves_the_boundary() -> None:
    noon = TradingCalendar(cutoff_s=12 * 3600)
    assert noon.trade_date(at(MONDAY, 11, 59, 59)) == MONDAY
    assert noon.trade_date(at(MONDAY, 12)) == weekday(1)


def test_holiday_list_parsing() -> None:
    assert parse_holidays("") == frozenset()
    assert parse_holidays(" 2026-10-01,2026-10-02\n2026-10-03 ") == {
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 3),
    }
    for bad in ("2026-13-01", "tomorrow", "2026/10/01"):
        with pytest.raises(DomainError) as refused:
            parse_holidays(bad)
        assert refused.value.code == "fund_holidays_invalid"


def test_a_calendar_with_no_trading_day_in_sight_is_refused() -> None:
    everything = frozenset(MONDAY + timedelta(days=d) for d in range(100))
    with pytest.raises(DomainError) as refused:
        TradingCalendar(holidays=everything).settle_date(at(MONDAY, 10))
    assert refused.value.code == "fund_calendar_invalid"


# Income ---------------------------------------------------------------------------------------


def test_income_is_rounded_down_to_the_fen() -> None:
    assert income_fen(1_000_000, 6500) == 65  # 10,000.00 CNY at 0.6500: 0.65 CNY
    assert income_fen(2_000_000, 6500) == 130
    assert income_fen(153_846, 6500) == 9  # 9.99999 fen
    assert income_fen(15_384, 6500) == 0  # 0.99996 fen: nothing yet
    assert income_fen(15_385, 6500) == 1  # 1.000025 fen
    assert income_fen(1_000_000, 6549) == 65  # 65.49 fen
    assert income_fen(0, 6500) == 0
    assert income_fen(1_000_000, 0) == 0


@given(st.integers(0, 10**12), st.integers(0, PER_10K_E4_MAX))
def test_income_never_pays_more_than_owed_nor_a_fen_less(base_fen: int, per_10k_e4: int) -> None:
    paid = income_fen(base_fen, per_10k_e4)
    exact = base_fen * per_10k_e4  # in 10**-8 fen
    assert paid * 10**8 <= exact < (paid + 1) * 10**8


def test_the_published_figure_has_four_decimals() -> None:
    assert parse_per_10k("0.6500") == 6500
    assert parse_per_10k("0.65") == 6500
    assert parse_per_10k("1.2345") == 12345
    assert parse_per_10k("0") == 0
    assert format_per_10k(6500) == "0.6500"
    assert format_per_10k(12345) == "1.2345"
    for bad in ("0.65001", "-0.65", "abc", "", "1e-4", "11.0000", "0,65"):
        with pytest.raises(FundRateInvalid):
            parse_per_10k(bad)


def test_seven_day_yield_by_the_compound_formula() -> None:
    assert seven_day_yield([6500] * 7) == Decimal("2.4008")
    assert seven_day_yield([0] * 7) == Decimal("0.0000")
    # ((1.000065)^3 (1.00007)^4) ^ (365/7) - 1, in percent.
    expected = ((1.000065**3) * (1.00007**4)) ** (365 / 7) - 1
    assert abs(seven_day_yield([6500] * 3 + [7000] * 4) - Decimal(expected * 100)) < Decimal(
        "0.0001"
    )
    assert yield_days(date(2026, 1, 11)) == [date(2026, 1, d) for d in range(5, 12)]


# Amounts and redemptions ----------------------------------------------------------------------


def test_amounts_are_whole_fen_in_range() -> None:
    assert check_fund_amount_fen(1) == 1
    for bad in (0, -1, True, 10**11, "100"):
        with pytest.raises(FundAmountInvalid) as refused:
            check_fund_amount_fen(bad)
        assert refused.value.code == "fund_amount_invalid"


def test_only_confirmed_shares_leave_and_the_refusal_says_why() -> None:
    check_redeemable(100_00, confirmed_fen=100_00, pending_fen=0)
    with pytest.raises(FundSharesPending) as waiting:
        check_redeemable(150_00, confirmed_fen=100_00, pending_fen=50_00)
    assert waiting.value.code == "fund_shares_pending_confirmation"
    with pytest.raises(FundInsufficientShares) as short:
        check_redeemable(150_01, confirmed_fen=100_00, pending_fen=50_00)
    assert short.value.code == "fund_insufficient_shares"


def test_the_fast_quota_is_per_china_day() -> None:
    quota = 10_000_00
    assert fast_redeem_left_fen(quota, None, 0, MONDAY) == quota
    assert fast_redeem_left_fen(quota, MONDAY, 7_000_00, MONDAY) == 3_000_00
    assert fast_redeem_left_fen(quota, MONDAY, 7_000_00, weekday(1)) == quota  # a new day
    check_fast_redeem(3_000_00, 3_000_00, quota)
    with pytest.raises(FundFastRedeemQuotaExceeded) as over:
        check_fast_redeem(3_000_01, 3_000_00, quota)
    assert over.value.code == "fund_fast_redeem_quota_exceeded"
    assert over.value.data == {"quota_fen": quota, "left_fen": 3_000_00}
