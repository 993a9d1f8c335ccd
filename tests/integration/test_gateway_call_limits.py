"""Call limits through the real gateway: a signed 40005 answer, nothing written, the allowance
back after a pause; the score query limited on its own; a forged request spends nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from gateway_support import call, make_shop, other_keys
from score_support import BRIEF_GET, brief, person, switched_on
from test_score_gateway import admissions

from paybao.adapters.alipay.call_limits import CallLimits, Rate
from paybao.bootstrap import Platform


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> int:
        return round(self.now_s * 1_000_000_000)


def tighten(platform: Platform) -> FakeMonotonic:
    clock = FakeMonotonic()
    limits = CallLimits(Rate(1, 4), {BRIEF_GET: Rate(0.5, 2)}, monotonic_ns=clock)
    platform.services["alipay_gateway"].call_limits = limits
    return clock


def test_an_app_over_its_limit_gets_a_signed_40005_and_nothing_is_written(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    alice = switched_on(platform, person(platform, "13800000301", "王小明", 1_00))
    clock = tighten(platform)

    first = call(client, BRIEF_GET, brief("tx_1", alice))
    second = call(client, BRIEF_GET, brief("tx_2", alice))
    limited = call(client, BRIEF_GET, brief("tx_3", alice))  # `call` checks the signature
    assert (first["code"], second["code"]) == ("10000", "10000")
    assert (limited["code"], limited["msg"], limited["sub_code"]) == (
        "40005",
        "Call Limited",
        "isv.method-call-limited",
    )
    assert admissions(platform) == 2

    # Other methods still have the app's allowance (4 - 2 spent), then the app is limited.
    queried = [call(client, "alipay.trade.query", {"out_trade_no": f"n{i}"}) for i in range(3)]
    assert [q["code"] for q in queried] == ["40004", "40004", "40005"]
    assert queried[2]["sub_code"] == "isv.app-call-limited"

    clock.now_s += 2.0  # one more score query (0.5/s), and the app has tokens again
    assert call(client, BRIEF_GET, brief("tx_3", alice))["code"] == "10000"
    assert admissions(platform) == 3


def test_a_forged_request_spends_none_of_the_apps_allowance(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    tighten(platform)
    for i in range(10):
        forged = call(client, "alipay.trade.query", {"out_trade_no": f"f{i}"}, keys=other_keys())
        assert forged["sub_code"] == "isv.invalid-signature"
    assert call(client, "alipay.trade.query", {"out_trade_no": "x"})["sub_code"] != (
        "isv.app-call-limited"
    )
