"""The plate's own per-deduction cap counts what the driver pays (buyer_pay, after the coupons
the deduction takes), as every withholding limit does, on the real database (SQLite and
PostgreSQL): a 105.00 fee with a 10.00 coupon passes a 100.00 cap (95.00 taken); a 115.00 fee
with the same coupon (105.00) is refused with `parking_over_single_cap` and charges nothing."""

from __future__ import annotations

from types import SimpleNamespace

from agreement_support import row_count
from fastapi.testclient import TestClient
from gateway_support import APP_ID, call, wallet_balance
from parking_support import PLATE, PREFIX, beijing, enter, make_driver, make_lot, pay
from sqlalchemy import text
from tests.integration.coupon_support import claim, shop_campaign
from tests.integration.credit_support import reconcile_clean

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponKind, CouponStatus
from paybao.domain.parking import Caps

PHONE = "13800138000"


def _driver_with_ten_off(client: TestClient) -> tuple[Platform, str, int]:
    """A lot, a driver with a 100.00 plate cap and 500.00, and the lot's 10.00 coupon."""
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    parking_id = make_lot(client)
    user_id = make_driver(platform, PHONE, caps=Caps(single_fen=100_00))
    lot_merchant_id = platform.services["merchants"].app(APP_ID).merchant_id
    lot = SimpleNamespace(merchant=SimpleNamespace(id=lot_merchant_id))  # what shop_campaign reads
    ten_off = {"name": "立减10元", "kind": CouponKind.FIXED, "face_fen": 10_00}
    ten_off.update(rate_permille=0, cap_fen=0)
    claim(platform, user_id, shop_campaign(platform, lot, **ten_off))  # type: ignore[arg-type]
    return platform, parking_id, user_id


def _stay(client: TestClient, parking_id: str, amount: str) -> str:
    entry = enter(client, parking_id, "IN-1")
    biz = {
        "parking_id": parking_id,
        "car_number": PLATE,
        "out_time": beijing(),
        "serial_no": entry["serial_no"],
        "actual_amount": amount,
    }
    assert call(client, PREFIX + "exitinfo.sync", biz)["code"] == "10000"
    return str(entry["serial_no"])


def test_a_fee_above_the_cap_passes_when_the_coupon_brings_it_under(client: TestClient) -> None:
    platform, parking_id, user_id = _driver_with_ten_off(client)
    serial_no = _stay(client, parking_id, "105.00")

    paid = pay(client, parking_id, "PAY-1", amount="105.00", serial_no=serial_no)

    assert paid["code"] == "10000", paid
    assert paid["fund_bill_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "95.00"},
        {"fund_channel": "MDISCOUNT", "amount": "10.00"},
    ]
    assert wallet_balance(platform, user_id) == 500_00 - 95_00
    assert row_count(platform, "SELECT amount_fen FROM agreement_deductions") == 95_00
    assert row_count(platform, "SELECT amount_fen FROM parking_orders") == 105_00
    assert reconcile_clean(platform) == []


def test_a_fee_still_above_the_cap_after_the_coupon_is_refused(client: TestClient) -> None:
    platform, parking_id, user_id = _driver_with_ten_off(client)
    serial_no = _stay(client, parking_id, "115.00")

    refused = pay(client, parking_id, "PAY-1", amount="115.00", serial_no=serial_no)

    assert refused["sub_code"] == "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR", refused
    assert "105.00 CNY is above the plate's password-free cap of 100.00" in refused["sub_msg"]
    assert wallet_balance(platform, user_id) == 500_00
    with platform.db.read() as tx:
        failure = tx.execute(text("SELECT failure_code FROM parking_orders")).scalar_one()
    assert failure == "parking_over_single_cap"
    assert row_count(platform, "SELECT count(*) FROM agreement_deductions") == 0
    assert platform.services["marketing"].coupons_of(user_id, CouponStatus.USED) == []
    assert reconcile_clean(platform) == []
