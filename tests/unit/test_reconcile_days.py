"""Which day an operator may reconcile on demand (domain/reconcile_days.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from paybao.domain.errors import InvalidInput
from paybao.domain.reconcile_days import DAYS_BACK_MAX, day_to_reconcile

TODAY = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-02-28", date(2026, 2, 28)),
        (" 2026-03-01 ", TODAY),  # today may be run again: the day so far
        ((TODAY - timedelta(days=DAYS_BACK_MAX)).isoformat(), TODAY - timedelta(DAYS_BACK_MAX)),
    ],
)
def test_a_past_day_within_the_kept_history_is_reconciled(text: str, day: date) -> None:
    assert day_to_reconcile(text, TODAY) == day


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-02-30",
        "2026-03-02",  # tomorrow
        (TODAY - timedelta(days=DAYS_BACK_MAX + 1)).isoformat(),
    ],
)
def test_anything_else_is_invalid_date(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        day_to_reconcile(text, TODAY)
    assert raised.value.code == "invalid_date"
