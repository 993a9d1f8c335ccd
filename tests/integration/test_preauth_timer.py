"""A pre-authorisation's time on the sandbox clock: a frozen order unfreezes what is left when its
time runs out (2 days by default, the request's timeout_express otherwise), an app order the
user never confirmed closes at its pay_timeout (15 minutes by default), and the merchant hears
of each as of any unfreeze. `paybao clock advance` runs exactly these timers."""

from __future__ import annotations

from agreement_support import receiver
from fastapi.testclient import TestClient
from gateway_support import make_buyer, make_shop
from preauth_support import (
    app_freeze_path,
    app_order,
    confirm_on,
    freeze,
    money_of,
    pay,
    query,
    reconcile_clean,
    sign_in_on,
    unfreeze,
)

from paybao.bootstrap import Platform

PHONE = "13800138000"
MINUTE_S = 60
DAY_S = 86_400


def advance(platform: Platform, seconds: int) -> None:
    platform.sandbox_clock.advance(seconds)


def test_a_frozen_order_unfreezes_the_rest_when_its_two_days_are_over(
    platform: Platform, client: TestClient
) -> None:
    with receiver() as endpoint:
        make_shop(platform, notify_url=endpoint.url)
        user_id = make_buyer(platform, PHONE, balance_fen=500_00)
        auth_no = freeze(client, user_id, "hotel-1", "300.00")["auth_no"]
        pay(client, auth_no, "minibar", "20.00")
        advance(platform, 2 * DAY_S - MINUTE_S)
        assert query(client, auth_no=auth_no)["order_status"] == "AUTHORIZED"
        assert money_of(platform, user_id) == (480_00, 280_00)

        advance(platform, 2 * MINUTE_S)
        order = query(client, auth_no=auth_no)
        assert (order["order_status"], order["rest_amount"]) == ("FINISH", "0.00")
        assert money_of(platform, user_id) == (480_00, 0)
        timed_out = query(client, auth_no=auth_no, operation_type="UNFREEZE", out_request_no="x")
        assert timed_out["sub_code"] == "AUTH_OPERATION_NOT_EXIST"  # the timer's has no number
        platform.jobs.run_due()
        (form,) = [f for f in endpoint.forms if f.get("notify_type") == "fund_auth_unfreeze"]
        assert (form["amount"], form["rest_amount"], form["total_pay_amount"]) == (
            "280.00",
            "0.00",
            "20.00",
        )
        assert "out_request_no" not in form  # paybao's own unfreeze: the merchant named none
        late = unfreeze(client, auth_no, "late", "1.00")
        assert late["sub_code"] == "ORDER_ALREADY_FINISH"
    reconcile_clean(platform)


def test_timeout_express_sets_the_life_and_nothing_paid_closes(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    short = freeze(client, user_id, "bank-1", "50.00", biz={"timeout_express": "3h"})["auth_no"]
    long = freeze(client, user_id, "bank-2", "20.00", biz={"timeout_express": "15d"})["auth_no"]
    advance(platform, 3 * 3600)
    assert query(client, auth_no=short)["order_status"] == "CLOSED"
    assert query(client, auth_no=long)["order_status"] == "AUTHORIZED"
    assert money_of(platform, user_id) == (100_00, 20_00)
    advance(platform, 15 * DAY_S)
    assert query(client, auth_no=long)["order_status"] == "CLOSED"
    assert money_of(platform, user_id) == (100_00, 0)
    reconcile_clean(platform)


def test_an_unconfirmed_app_order_closes_at_its_pay_timeout(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=800_00)
    default = app_freeze_path(client, app_order("car-1"))
    longer = app_freeze_path(client, app_order("car-2", pay_timeout="30m"))
    advance(platform, 15 * MINUTE_S)
    assert query(client, out_order_no="car-1")["order_status"] == "CLOSED"
    assert query(client, out_order_no="car-2")["order_status"] == "INIT"

    sign_in_on(client, longer, PHONE)
    late = confirm_on(client, default)
    assert late.status_code == 400 and "该预授权已关闭" in late.text
    assert confirm_on(client, longer).status_code == 303
    assert query(client, out_order_no="car-2")["order_status"] == "AUTHORIZED"
    assert money_of(platform, user_id) == (800_00, 500_00)
    # The order's own life runs from the merchant's request (2 days by default).
    advance(platform, 2 * DAY_S - 15 * MINUTE_S)
    assert query(client, out_order_no="car-2")["order_status"] == "CLOSED"
    assert money_of(platform, user_id) == (800_00, 0)
    reconcile_clean(platform)
