"""Parking auto-pay in Chromium on a phone-sized screen (390 px): the user signs in, opens 停车
from the wallet home, binds a new-energy plate, turns on auto-pay with the payment password and
a lower per-payment cap; a car park then reports the entry and exit and takes the fee by plate
through the gateway; the wallet's parking page shows the order (lot, entry, exit, duration,
amount, status); and the car park's merchant portal page. Screenshots:
test-artifacts/parking-*.png."""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
    parse_verified,
    signed_params,
)

from paybao.adapters.alipay import wire
from paybao.bootstrap import Platform
from paybao.domain.parking import Caps

pytestmark = pytest.mark.browser
__all__ = ["server"]  # the fixture that serves the app
PHONE = "13700137031"
VIEWPORT = {"width": 390, "height": 844}
PREFIX = "alipay.eco.mycar.parking."


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"parking-{name}.png"), full_page=True)


def _fits_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]


def _click(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _lot_call(platform: Platform, method: str, biz: dict[str, Any]) -> dict[str, Any]:
    """The car park's system calling the gateway."""
    query = urllib.parse.urlencode(signed_params(PREFIX + method, biz)).encode()
    reply = platform.services["alipay_gateway"].handle(query, b"", None)
    answer = parse_verified(reply.body, platform, PREFIX + method)
    assert answer["code"] == "10000", answer
    return answer


def _beijing(now: datetime, minutes_ago: int) -> str:
    # From one `now` per test: times read from the clock call by call drift by the seconds the
    # calls take, and a stay of 135 minutes then reads as 2小时16分钟 (minutes started count).
    at = now - timedelta(minutes=minutes_ago)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _now() -> datetime:
    return datetime.now(wire.BEIJING_TZ).replace(microsecond=0)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_bind_a_plate_enable_auto_pay_and_see_the_parking_order(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    now = _now()
    make_shop(platform)
    make_buyer(platform, PHONE, balance_fen=200_00)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        _click(page, "#submit")

        _click(page, "#nav-parking")
        assert page.locator("#no-orders").count() == 1
        page.fill("#plate", "粤b d12345")
        _click(page, "#bind")
        assert page.inner_text("#bound-plate") == "粤BD12345"
        assert page.locator("#plate-card").get_attribute("data-auto-pay") == "off"
        page.fill("#single-cap-input", "50")
        page.fill("#month-cap-input", "500")
        page.fill("#auto-pay-password", PAYMENT_PASSWORD)
        _fits_phone(page)
        _shot(page, "1-bound")
        _click(page, "#enable-auto-pay")
        assert page.locator("#plate-card").get_attribute("data-auto-pay") == "on"
        assert page.inner_text("#single-cap") == "¥50.00"
        assert page.inner_text("#month-cap") == "¥500.00"
        _fits_phone(page)
        _shot(page, "2-enabled")

        # The car park: register, the car enters (auto-pay: yes), leaves, pays by plate.
        lot = _lot_call(
            platform,
            "parkinglotinfo.create",
            {
                "out_parking_id": "SZ-01",
                "parking_name": "深圳湾万象城停车场",
                "parking_address": "深圳",
            },
        )
        entry = _lot_call(
            platform,
            "enterinfo.sync",
            {
                "parking_id": lot["parking_id"],
                "car_number": "粤BD12345",
                "in_time": _beijing(now, 135),
                "out_serial_no": "IN-0001",
            },
        )
        assert entry["car_status"] == "NON-SENSE-PAY"
        where = {"parking_id": lot["parking_id"], "car_number": "粤BD12345"}
        _lot_call(
            platform,
            "exitinfo.sync",
            {**where, "out_time": _beijing(now, 0), "serial_no": entry["serial_no"]},
        )
        _lot_call(
            platform,
            "order.pay",
            {
                **where,
                "serial_no": entry["serial_no"],
                "out_trade_no": "EXIT-1",
                "total_fee": "18.00",
            },
        )

        page.reload()
        order = page.locator(f"li.order[data-serial-no='{entry['serial_no']}']")
        assert order.get_attribute("data-status") == "PAID"
        assert "深圳湾万象城停车场" in order.inner_text()
        assert "¥18.00" in order.inner_text()
        assert "2小时15分钟" in order.inner_text()
        assert "已无感支付" in order.inner_text()
        _fits_phone(page)
        _shot(page, "3-order")
        browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_the_car_park_merchant_sees_its_lots_and_stays_in_the_portal(
    platform: Platform, server: str
) -> None:
    """The car park's portal at 390 px: sign in, open 停车场 from the portal's menu, see the
    lot and its configuration, the stays (paid by plate, parked, paid at the exit) and filter
    to the parked ones. Screenshot: test-artifacts/parking-4-portal.png."""
    from playwright.sync_api import sync_playwright

    now = _now()
    shop = make_shop(platform)
    platform.services["merchant_accounts"].set_password(shop.merchant.id, "shop-pass-2024")
    drivers = []
    for n, plate in enumerate(("粤BD12345", "京A12345")):
        user_id = make_buyer(platform, f"1370013704{n}", balance_fen=200_00)
        platform.services["parking"].bind(user_id, plate)
        drivers.append((user_id, plate))
    platform.services["parking"].enable_auto_pay(drivers[0][0], PAYMENT_PASSWORD, Caps())
    lot = _lot_call(
        platform,
        "parkinglotinfo.create",
        {
            "out_parking_id": "SZ-01",
            "parking_name": "深圳湾万象城停车场",
            "parking_address": "深圳",
        },
    )
    _lot_call(
        platform,
        "config.set",
        {
            "merchant_name": "万象城停车",
            "merchant_service_phone": "0755-86001234",
            "account_no": "parking@example.com",
            "interface_info_list": [
                {
                    "interface_name": "alipay.eco.mycar.parking.userpage.query",
                    "interface_type": "interface_page",
                    "interface_url": "https://lot.example.com/carlife/query.do",
                }
            ],
        },
    )
    where = {"parking_id": lot["parking_id"], "car_number": "粤BD12345"}
    paid = _lot_call(
        platform, "enterinfo.sync", {**where, "in_time": _beijing(now, 95), "out_serial_no": "IN-1"}
    )
    _lot_call(
        platform,
        "exitinfo.sync",
        {**where, "out_time": _beijing(now, 0), "serial_no": paid["serial_no"]},
    )
    _lot_call(
        platform,
        "order.pay",
        {**where, "serial_no": paid["serial_no"], "out_trade_no": "EXIT-1", "total_fee": "15.00"},
    )
    cash = {"parking_id": lot["parking_id"], "car_number": "京A12345"}
    cashed = _lot_call(
        platform, "enterinfo.sync", {**cash, "in_time": _beijing(now, 50), "out_serial_no": "IN-2"}
    )
    _lot_call(
        platform,
        "order.sync",
        {
            **cash,
            "out_order_no": "CASH-1",
            "pay_money": "6.00",
            "pay_time": _beijing(now, 1),
            "order_status": "0",
            "parking_record_id": cashed["serial_no"],
            "out_time": _beijing(now, 1),
        },
    )
    parked = _lot_call(
        platform, "enterinfo.sync", {**where, "in_time": _beijing(now, 10), "out_serial_no": "IN-3"}
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
        page.goto(f"{server}/merchant/login")
        page.fill("input[name=merchant_id]", str(shop.merchant.id))
        page.fill("input[name=password]", "shop-pass-2024")
        _click(page, "#submit")
        _click(page, "nav.portal-nav a[href='/merchant/parking']")
        assert page.locator(f"li.lot[data-parking-id='{lot['parking_id']}']").count() == 1
        assert "0755-86001234" in page.inner_text(f"#config-{shop.app.app_id}")
        rows = page.locator("tr.stay")
        assert rows.count() == 3
        status = {
            rows.nth(i).get_attribute("data-serial-no"): rows.nth(i).get_attribute("data-status")
            for i in range(3)
        }
        assert status == {
            paid["serial_no"]: "PAID",
            cashed["serial_no"]: "PAID_OTHER",
            parked["serial_no"]: "PARKED",
        }
        assert "15.00" in page.inner_text(f"tr.stay[data-serial-no='{paid['serial_no']}']")
        _fits_phone(page)
        _shot(page, "4-portal")
        _click(page, "#stay-filters a[data-status='PARKED']")
        assert page.locator("tr.stay").count() == 1
        assert page.locator("tr.stay").get_attribute("data-serial-no") == parked["serial_no"]
        _fits_phone(page)
        browser.close()
