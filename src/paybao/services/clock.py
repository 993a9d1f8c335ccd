"""Clocks. Platform time is the wall clock plus an offset that only sandbox mode may move."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from paybao.domain.errors import InvalidInput

US_PER_S = 1_000_000


def datetime_from_us(at_us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=at_us)


def us_from_datetime(at: datetime) -> int:
    assert at.tzinfo is not None
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000

    def now(self) -> datetime:
        return datetime_from_us(self.now_us())


class ManualClock:
    """A clock that moves only when told: for tests and simulations."""

    def __init__(self, start_us: int = 1_767_225_600 * US_PER_S) -> None:
        self._now_us = start_us

    def now_us(self) -> int:
        return self._now_us

    def now(self) -> datetime:
        return datetime_from_us(self._now_us)

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self._now_us += int(seconds * US_PER_S)

    def set_us(self, at_us: int) -> None:
        assert at_us >= self._now_us, "a clock never runs backwards"
        self._now_us = at_us


_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
DURATION_S_MAX = 400 * 86_400


def parse_duration_s(text: str) -> int:
    """'90s', '15m', '2h', '10d', '1w' -> seconds (whole, positive, at most 400 days)."""
    text = text.strip().lower()
    unit = text[-1:] if text[-1:] in _UNITS_S else "s"
    number = text[:-1] if text[-1:] in _UNITS_S else text
    if not number.isdigit():
        raise InvalidInput(f"duration {text!r} is not like 10d, 2h, 30m", code="invalid_duration")
    seconds = int(number) * _UNITS_S[unit]
    if not 0 < seconds <= DURATION_S_MAX:
        raise InvalidInput("duration must be between 1 s and 400 days", code="invalid_duration")
    return seconds
