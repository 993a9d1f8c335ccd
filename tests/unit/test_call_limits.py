"""Gateway call limits: token buckets per app and per (app, method), on a fake monotonic clock."""

from __future__ import annotations

import pytest

from paybao.adapters.alipay.call_limits import CallLimits, Rate
from paybao.adapters.alipay.errors import WireError

SCORE = "zhima.credit.score.brief.get"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> int:
        return round(self.now_s * 1_000_000_000)


def limits(clock: FakeMonotonic) -> CallLimits:
    return CallLimits(Rate(10, 20), {SCORE: Rate(1, 3)}, monotonic_ns=clock)


def refused(limits: CallLimits, app_id: str, method: str) -> str | None:
    try:
        limits.take(app_id, method)
    except WireError as error:
        assert error.gateway_code == "40005"
        return error.sub_code
    return None


def test_an_app_spends_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeMonotonic()
    gate = limits(clock)
    assert [refused(gate, "a", "alipay.trade.query") for _ in range(20)] == [None] * 20
    assert refused(gate, "a", "alipay.trade.query") == "isv.app-call-limited"
    assert refused(gate, "b", "alipay.trade.query") is None  # another app has its own bucket
    clock.now_s += 0.25  # 2.5 tokens: two calls, not three
    assert [refused(gate, "a", "alipay.trade.pay") for _ in range(3)] == [
        None,
        None,
        "isv.app-call-limited",
    ]
    clock.now_s += 3600  # a long pause refills to the burst, no further
    results = [refused(gate, "a", "alipay.trade.query") for _ in range(21)]
    assert results.count(None) == 20


def test_a_limited_method_has_its_own_smaller_bucket_and_spends_nothing_when_refused() -> None:
    clock = FakeMonotonic()
    gate = limits(clock)
    assert [refused(gate, "a", SCORE) for _ in range(4)] == [
        None,
        None,
        None,
        "isv.method-call-limited",
    ]
    # The refused score query did not spend an app token: 20 - 3 calls remain for the rest.
    assert [refused(gate, "a", "alipay.trade.query") for _ in range(17)] == [None] * 17
    assert refused(gate, "a", "alipay.trade.query") == "isv.app-call-limited"
    clock.now_s += 1.0
    assert refused(gate, "a", SCORE) is None  # one second, one score query
    assert refused(gate, "a", SCORE) == "isv.method-call-limited"


def test_rates_must_be_positive() -> None:
    with pytest.raises(AssertionError):
        Rate(0, 1)
    with pytest.raises(AssertionError):
        Rate(1, 0)
