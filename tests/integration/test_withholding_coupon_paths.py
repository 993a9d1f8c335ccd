"""Coupons on the platform's own paths that deduct under a withholding agreement, on the real
database (SQLite and PostgreSQL): a car park's plate auto-pay takes the driver's coupon for that
lot (the lot's answer carries the split), a metro ride's deduction and the repayment of owed
rides take the rider's best coupon; the parking, transit, agreement and marketing checks of
`paybao reconcile` stay clean."""

from __future__ import annotations

from types import SimpleNamespace

from agreement_support import row_count
from fastapi.testclient import TestClient
from gateway_support import APP_ID, PAYMENT_PASSWORD, make_buyer, wallet_balance
from parking_support import enter, leave, make_driver, make_lot, pay
from test_transit import top_up
from tests.integration.coupon_support import (
    claim,
    marketing_spent,
    operator_campaign,
    shop_campaign,
)
from tests.integration.credit_support import reconcile_clean
from transit_support import make_metro, now_s, open_ride_code, ride, settle

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponKind, CouponStatus

PHONE = "13800138000"


def test_plate_auto_pay_takes_the_lots_coupon(client: TestClient) -> None:
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    parking_id = make_lot(client)
    user_id = make_driver(platform, PHONE)
    lot_merchant_id = platform.services["merchants"].app(APP_ID).merchant_id
    lot = SimpleNamespace(merchant=SimpleNamespace(id=lot_merchant_id))  # what shop_campaign reads
    three_off = {"name": "立减3元", "kind": CouponKind.FIXED, "face_fen": 3_00}
    three_off.update(rate_permille=0, cap_fen=0)
    claim(platform, user_id, shop_campaign(platform, lot, **three_off))  # type: ignore[arg-type]
    entry = enter(client, parking_id, "IN-1")
    assert leave(client, parking_id, entry["serial_no"])["code"] == "10000"

    paid = pay(client, parking_id, "PAY-1", serial_no=entry["serial_no"])

    assert paid["code"] == "10000", paid
    assert paid["total_fee"] == "15.00"
    assert paid["fund_bill_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "12.00"},
        {"fund_channel": "MDISCOUNT", "amount": "3.00"},
    ]
    assert wallet_balance(platform, user_id) == 500_00 - 12_00
    assert row_count(platform, "SELECT amount_fen FROM agreement_deductions") == 12_00
    assert row_count(platform, "SELECT amount_fen FROM parking_orders") == 15_00
    assert reconcile_clean(platform) == []


def test_a_metro_ride_is_deducted_less_the_riders_coupon(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    phone = open_ride_code(platform, user_id)
    claim(
        platform,
        user_id,
        operator_campaign(platform, name="立减1元", face_fen=1_00, threshold_fen=0),
    )
    records = ride(client, phone, now_s(platform) - 900)  # zone 1 -> zone 3: 4.00

    [result] = settle(client, ("M-0001", records))

    assert result["result"] == "SUCCESS" and result["amount"] == "4.00", result
    assert wallet_balance(platform, user_id) == 20_00 - 3_00
    assert marketing_spent(platform) == 1_00
    assert row_count(platform, "SELECT amount_fen FROM agreement_deductions") == 3_00
    assert reconcile_clean(platform) == []


def test_repaying_owed_rides_takes_the_riders_coupon(
    platform: Platform, client: TestClient
) -> None:
    operator = make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=2_00)
    phone = open_ride_code(platform, user_id)
    records = ride(client, phone, now_s(platform) - 900)  # 4.00 > 2.00: owed
    [owed] = settle(client, ("M-0002", records))
    assert owed["result"] == "ARREARS", owed
    top_up(platform, user_id, 1_00)  # 3.00: still short of the 4.00 fare
    claim(
        platform,
        user_id,
        operator_campaign(platform, name="立减1元", face_fen=1_00, threshold_fen=0),
    )

    repaid = platform.services["transit"].repay(user_id, operator.app_id, PAYMENT_PASSWORD)

    assert (repaid.status.value, repaid.owed_fen) == ("ACTIVE", 0)
    assert wallet_balance(platform, user_id) == 0
    assert len(platform.services["marketing"].coupons_of(user_id, CouponStatus.USED)) == 1
    assert reconcile_clean(platform) == []
