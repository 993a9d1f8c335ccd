"""Plate-bound parking, the second part, on the real platform (SQLite, and PostgreSQL when
configured): a car park app's service configuration (config.set / config.query), car ids
issued from the wallet and answered by vehicle.query, order.sync naming a trade another stay
already reported, and the merchant portal's and the console's parking pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from admin_support import create_operator
from admin_support import sign_in as admin_sign_in
from fastapi.testclient import TestClient
from gateway_support import APP_ID, call, count_rows, make_shop
from merchant_portal_support import MERCHANT_PASSWORD, sign_in
from parking_support import PLATE, PREFIX, beijing, enter, leave, make_driver, make_lot, pay
from preauth_support import csrf_of, wallet_login

import paybao.web.pages_parking_portal as pages
from paybao.wiring.parking import HOLDER_APP_ID

PHONE = "13800138000"
OTHER_APP_ID = "2021000000000778"
USERPAGE = "https://lot.example.com/carlife/query.do"


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "merchant_name": "国贸停车",
        "merchant_service_phone": "021-25413215",
        "account_no": "parking@example.com",
        "interface_info_list": [
            {
                "interface_name": "alipay.eco.mycar.parking.userpage.query",
                "interface_type": "interface_page",
                "interface_url": "https%3A%2F%2Flot.example.com%2Fcarlife%2Fquery.do",
            },
            {
                "interface_name": "alipay.eco.mycar.parking.isv.homepage",
                "interface_type": "interface_page",
                "interface_url": "2018000000000000|pages/queryFee/queryFeeInfo",
            },
        ],
        **extra,
    }


def test_config_set_then_query_and_bad_configurations(client: TestClient) -> None:
    platform = client.app.state.platform
    make_lot(client)
    none = call(client, PREFIX + "config.query", {})
    assert none["sub_code"] == "PAYBAO.PARKING_CONFIG_NOT_EXIST", none
    assert call(client, PREFIX + "config.set", _config())["code"] == "10000"
    again = call(client, PREFIX + "config.set", _config(merchant_service_phone="400-800-1234"))
    assert again["code"] == "10000"  # a set: the later one wins, still one row
    answer = call(client, PREFIX + "config.query", {})
    assert answer["code"] == "10000", answer
    assert (answer["merchant_name"], answer["merchant_service_phone"]) == (
        "国贸停车",
        "400-800-1234",
    )
    shown = answer["interface_info_list"]  # one object: the driver's page (see the SDK)
    assert shown["interface_name"] == "alipay.eco.mycar.parking.userpage.query"
    assert shown["interface_url"] == USERPAGE  # stored decoded
    assert count_rows(platform, "parking_configs") == 1
    # Bad input: a clear INVALID_PARAMETER, and nothing changes.
    for bad in (
        _config(merchant_service_phone="call us"),
        _config(interface_info_list=[]),
        _config(interface_info_list="not json"),
        _config(
            interface_info_list=[
                {"interface_name": "x.y", "interface_type": "interface_page", "interface_url": "a"}
            ]
        ),
        _config(
            interface_info_list=[
                {
                    "interface_name": "alipay.eco.mycar.parking.userpage.query",
                    "interface_type": "interface_page",
                    "interface_url": "javascript:alert(1)",
                }
            ]
        ),
        {k: v for k, v in _config().items() if k != "account_no"},
    ):
        refused = call(client, PREFIX + "config.set", bad)
        assert (refused["code"], refused["sub_code"]) == ("40004", "INVALID_PARAMETER"), bad
    assert call(client, PREFIX + "config.query", {})["merchant_service_phone"] == "400-800-1234"


def test_a_car_id_from_the_wallet_names_the_plate_for_that_app_only(client: TestClient) -> None:
    platform = client.app.state.platform
    parking_id = make_lot(client)
    make_shop(platform, app_id=OTHER_APP_ID)
    assert call(client, PREFIX + "config.set", _config())["code"] == "10000"
    user_id = make_driver(platform, PHONE)
    enter(client, parking_id, "IN-1")  # the wallet offers the car parks the driver used
    wallet_login(client, PHONE)
    page = client.get("/wallet/parking")
    assert f'data-app-id="{APP_ID}"' in page.text and "021-25413215" in page.text
    csrf = csrf_of(page.text)
    opened = client.post(
        f"/wallet/parking/services/{APP_ID}", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert opened.status_code == 303
    target = urlsplit(opened.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == USERPAGE
    car_id = parse_qs(target.query)["car_id"][0]
    again = client.post(
        f"/wallet/parking/services/{APP_ID}", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert again.headers["location"] == opened.headers["location"]  # one id per app and plate
    answer = call(client, PREFIX + "vehicle.query", {"car_id": car_id})
    assert (answer["code"], answer["car_number"]) == ("10000", PLATE), answer
    # Another app, an unknown id, no id: refused.
    other = call(client, PREFIX + "vehicle.query", {"car_id": car_id}, app_id=OTHER_APP_ID)
    assert other["sub_code"] == "PAYBAO.PARKING_CAR_NOT_EXIST", other
    unknown = call(client, PREFIX + "vehicle.query", {"car_id": "CAR" + "0" * 24})
    assert unknown["sub_code"] == "PAYBAO.PARKING_CAR_NOT_EXIST"
    assert call(client, PREFIX + "vehicle.query", {})["sub_code"] == "INVALID_PARAMETER"
    # An app without a driver page cannot be opened.
    closed = client.post(f"/wallet/parking/services/{OTHER_APP_ID}", data={"csrf_token": csrf})
    assert closed.status_code == 400 and "未提供缴费页面" in closed.text
    # Unbinding ends the id; binding again (even the same plate) makes a new one.
    platform.services["parking"].unbind(user_id)
    gone = call(client, PREFIX + "vehicle.query", {"car_id": car_id})
    assert gone["sub_code"] == "PAYBAO.PARKING_CAR_NOT_EXIST"
    platform.services["parking"].bind(user_id, PLATE)
    fresh = platform.services["parking_configs"].open_service(user_id, APP_ID)
    assert car_id not in fresh
    new_id = parse_qs(urlsplit(fresh).query)["car_id"][0]
    assert call(client, PREFIX + "vehicle.query", {"car_id": new_id})["car_number"] == PLATE
    assert call(client, PREFIX + "vehicle.query", {"car_id": car_id})["sub_code"] == (
        "PAYBAO.PARKING_CAR_NOT_EXIST"
    )


def _code_payment(client: TestClient, user_id: int, out_trade_no: str, amount: str) -> str:
    code = client.app.state.platform.services["trades"].issue_auth_code(user_id)
    till = {
        "out_trade_no": out_trade_no,
        "scene": "bar_code",
        "auth_code": code,
        "subject": "停车费",
        "total_amount": amount,
    }
    scanned = call(client, "alipay.trade.pay", till)
    assert scanned["code"] == "10000", scanned
    return str(scanned["trade_no"])


def test_order_sync_with_a_trade_another_stay_reported_is_a_clear_error(
    client: TestClient,
) -> None:
    platform = client.app.state.platform
    parking_id = make_lot(client)
    user_id = make_driver(platform, PHONE, auto_pay=False)
    first = enter(client, parking_id, "IN-1")["serial_no"]
    trade_no = _code_payment(client, user_id, "CODE-1", "12.00")
    sync = {
        "parking_id": parking_id,
        "car_number": PLATE,
        "out_order_no": "SYNC-1",
        "order_no": trade_no,
        "pay_money": "12.00",
        "pay_time": beijing(),
        "order_status": "0",
        "parking_record_id": first,
    }
    assert call(client, PREFIX + "order.sync", sync)["code"] == "10000"
    second = enter(client, parking_id, "IN-2")["serial_no"]
    twice = {**sync, "out_order_no": "SYNC-2", "parking_record_id": second}
    refused = call(client, PREFIX + "order.sync", twice)
    assert (refused["code"], refused["sub_code"]) == ("40004", "PAYBAO.PARKING_TRADE_LINKED")
    assert first in refused["sub_msg"]
    # Without parking_record_id: the plate's open stay, the same answer.
    refused = call(client, PREFIX + "order.sync", {**twice, "parking_record_id": ""})
    assert refused["sub_code"] == "PAYBAO.PARKING_TRADE_LINKED", refused
    # Nothing was written: the second stay is still unpaid.
    stays = platform.services["parking_views"].page(None).stays
    assert {s.order.serial_no: s.order.pay_status.value for s in stays} == {
        first: "PAID_OTHER",
        second: "UNPAID",
    }


def _stays(client: TestClient, parking_id: str, user_id: int, count: int) -> list[str]:
    serials = []
    for n in range(count):
        serial_no = enter(client, parking_id, f"IN-{n}")["serial_no"]
        leave(client, parking_id, serial_no)
        assert pay(client, parking_id, f"PAY-{n}", serial_no=serial_no)["code"] == "10000"
        serials.append(serial_no)
    return serials


def test_the_portal_and_console_pages_list_lots_and_stays(client: TestClient) -> None:
    platform = client.app.state.platform
    parking_id = make_lot(client)
    merchant_id = platform.services["merchants"].app(APP_ID).merchant_id
    platform.services["merchant_accounts"].set_password(merchant_id, MERCHANT_PASSWORD)
    user_id = make_driver(platform, PHONE, balance_fen=5000_00)
    serials = _stays(client, parking_id, user_id, 3)
    parked = enter(client, parking_id, "IN-P")["serial_no"]
    # Another merchant's lot and stay never show on this merchant's page.
    make_shop(platform, app_id=OTHER_APP_ID)
    other = call(
        client,
        PREFIX + "parkinglotinfo.create",
        {"out_parking_id": "O-1", "parking_name": "别家车场", "parking_address": "上海"},
        app_id=OTHER_APP_ID,
    )["parking_id"]
    other_entry = {
        "parking_id": other,
        "car_number": PLATE,
        "in_time": beijing(5),
        "out_serial_no": "OTHER-1",
    }
    other_stay = call(client, PREFIX + "enterinfo.sync", other_entry, app_id=OTHER_APP_ID)
    other_stay_no = other_stay["serial_no"]
    assert sign_in(client, merchant_id).status_code == 303
    page = client.get("/merchant/parking")
    assert page.status_code == 200
    assert f'data-parking-id="{parking_id}"' in page.text and "国贸地下停车场" in page.text
    assert f'data-parking-id="{other}"' not in page.text and "别家车场" not in page.text
    assert other_stay_no not in page.text
    assert 'id="no-config"' in page.text
    for serial_no in serials:
        assert f'data-serial-no="{serial_no}" data-status="PAID"' in page.text
    assert f'data-serial-no="{parked}" data-status="PARKED"' in page.text
    assert "15.00" in page.text
    only_parked = client.get("/merchant/parking?status=PARKED")
    assert parked in only_parked.text and serials[0] not in only_parked.text
    # Paged by id: a small page size shows the older ones on the next page.
    size, pages.PAGE_SIZE = pages.PAGE_SIZE, 2
    try:
        first = client.get("/merchant/parking")
        assert parked in first.text and serials[2] in first.text and serials[1] not in first.text
        link = first.text.split('id="older"')[0].rsplit('href="', 1)[1].split('"')[0]
        older = client.get(link.replace("&amp;", "&"))
        assert serials[1] in older.text and serials[0] in older.text and parked not in older.text
    finally:
        pages.PAGE_SIZE = size
    # Signed out: the sign-in page.
    client.cookies.clear()
    assert client.get("/merchant/parking", follow_redirects=False).status_code == 303
    # The console: every merchant's lots, the holder named once, read-only.
    _operator_id, secret = create_operator(platform)
    assert admin_sign_in(client, secret).status_code == 303
    console = client.get("/admin/parking")
    assert console.status_code == 200
    assert parking_id in console.text and other in console.text
    assert f'data-app-id="{HOLDER_APP_ID}"' in console.text
    assert other_stay_no in console.text and parked in console.text
    assert 'method="post"' not in console.text.split('id="holder"')[1]  # read-only
    holder = platform.services["merchants"].app(HOLDER_APP_ID).merchant_id
    assert f"<td>{holder}</td>" not in console.text  # the holder owns no stay
