"""The dashboard's pure rules: its window of Beijing days, rates rounded half up, scenes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from paybao.domain.dashboard import DashboardDaysInvalid, Scene, rate, scene_of, window_of

# 2026-05-10 00:30 Beijing time is still 05-09 in UTC (16:30).
HALF_PAST_MIDNIGHT_US = 1_778_344_200 * 1_000_000


def test_the_window_ends_at_the_beijing_midnight_after_today() -> None:
    window = window_of(HALF_PAST_MIDNIGHT_US, 3)

    assert (window.first_day, window.last_day) == (date(2026, 5, 8), date(2026, 5, 10))
    assert window.start_us == (1_778_344_200 - 1_800 - 2 * 86_400) * 1_000_000
    assert window.end_us - window.start_us == 3 * 86_400 * 1_000_000
    assert window.day(2) == date(2026, 5, 10)


@pytest.mark.parametrize("days", [0, 91])
def test_a_window_is_one_to_ninety_days(days: int) -> None:
    with pytest.raises(DashboardDaysInvalid):
        window_of(HALF_PAST_MIDNIGHT_US, days)


def test_rates_round_half_up_to_a_hundredth_of_a_percent() -> None:
    assert rate(1, 8) == Decimal("0.1250")
    assert rate(1, 20_000) == Decimal("0.0001")  # 0.00005: half up
    assert rate(1, 20_001) == Decimal("0.0000")
    assert rate(5, 0) == Decimal(0)


def test_a_trade_named_by_another_feature_takes_that_scene_first() -> None:
    assert scene_of("pay", transit=False, parking=False, preauth=False) is Scene.TILL
    assert scene_of("pay", transit=False, parking=False, preauth=True) is Scene.PREAUTH
    withholding = "GENERAL_WITHHOLDING"
    assert scene_of(withholding, transit=True, parking=False, preauth=False) is Scene.TRANSIT
    assert scene_of(withholding, transit=False, parking=True, preauth=False) is Scene.PARKING
    assert scene_of(withholding, transit=False, parking=False, preauth=False) is (Scene.WITHHOLDING)
    assert scene_of("static_code", transit=False, parking=False, preauth=False) is Scene.QR
    assert scene_of("new.thing", transit=False, parking=False, preauth=False) is Scene.OTHER
