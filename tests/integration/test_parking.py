"""Plate-bound parking on the real platform (SQLite, and PostgreSQL when configured): bind and
enable auto-pay, entry (the answer says auto-pay), exit, payment by plate (the lot's trade,
its notification, the user's wallet), replays, the fallback to the driver's payment code when
over the cap (alipay.trade.pay scene=bar_code, then order.sync), no auto-pay, a car never seen
entering, and the wallet page."""

from __future__ import annotations

from typing import Any

from agreement_support import receiver
from fastapi.testclient import TestClient
from gateway_support import APP_ID, PAYMENT_PASSWORD, call, count_rows, wait_until, wallet_balance
from parking_support import PLATE, PREFIX, beijing, enter, leave, make_driver, make_lot, pay
from preauth_support import csrf_of, reconcile_clean, wallet_login

from paybao.adapters.alipay.parking_methods import FALLBACK_HINT
from paybao.domain.parking import Caps

PHONE = "13800138000"


def test_bind_enter_exit_is_deducted_and_the_lot_notified(client: TestClient) -> None:
    platform = client.app.state.platform
    with receiver() as lot_server:
        parking_id = make_lot(client, notify_url=lot_server.url)
        user_id = make_driver(platform, PHONE)
        in_time = beijing(95)
        entry = enter(client, parking_id, "IN-1", in_time=in_time)
        assert entry["code"] == "10000", entry
        assert (entry["car_status"], entry["agreement_scene"]) == ("NON-SENSE-PAY", "PLATE_PAY")
        serial_no = entry["serial_no"]
        replay = enter(client, parking_id, "IN-1", in_time=in_time)
        assert replay["serial_no"] == serial_no, replay
        assert leave(client, parking_id, serial_no)["code"] == "10000"
        paid = pay(client, parking_id, "PAY-1", serial_no=serial_no)
        assert paid["code"] == "10000", paid
        assert (paid["total_fee"], paid["out_trade_no"]) == ("15.00", "PAY-1")
        assert paid["user_id"] == f"2088{user_id:012d}"
        assert paid["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "15.00"}]
        assert wallet_balance(platform, user_id) == 485_00
        # The lot's trade: queried like any other, and notified to the lot.
        query = call(client, "alipay.trade.query", {"out_trade_no": "PAY-1"})
        assert (query["trade_status"], query["trade_no"]) == ("TRADE_SUCCESS", paid["trade_no"])
        assert wait_until(lambda: _notified(platform, lot_server, "PAY-1"), 10)
        # The same order again answers the first result; another number never charges again.
        assert (
            pay(client, parking_id, "PAY-1", serial_no=serial_no)["trade_no"] == (paid["trade_no"])
        )
        again = pay(client, parking_id, "PAY-2", serial_no=serial_no)
        assert again["sub_code"] == "PAYBAO.PARKING_ORDER_PAID", again
        assert pay(client, parking_id, "PAY-3")["sub_code"] == "PAYBAO.PARKING_ORDER_PAID"
        assert leave(client, parking_id, serial_no)["code"] == "10000"  # a duplicate exit
    assert wallet_balance(platform, user_id) == 485_00
    assert count_rows(platform, "trades") == 1
    reconcile_clean(platform)


def _notified(platform: Any, lot_server: Any, out_trade_no: str) -> bool:
    platform.jobs.run_due()
    return any(form.get("out_trade_no") == out_trade_no for form in lot_server.forms)


def test_over_the_cap_falls_back_to_the_payment_code(client: TestClient) -> None:
    platform = client.app.state.platform
    parking_id = make_lot(client)
    user_id = make_driver(platform, PHONE, caps=Caps(single_fen=30_00, month_fen=None))
    serial_no = enter(client, parking_id, "IN-1")["serial_no"]
    refused = pay(client, parking_id, "PAY-1", "30.01", serial_no=serial_no)
    assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR")
    assert refused["sub_msg"].endswith(FALLBACK_HINT)
    # Above the product's 100 CNY too, whatever the plate's cap.
    over = pay(client, parking_id, "PAY-2", "100.01", serial_no=serial_no)
    assert over["sub_code"] == "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR"
    assert wallet_balance(platform, user_id) == 500_00
    # The lot scans the driver's payment code instead: the ordinary till payment.
    code = platform.services["trades"].issue_auth_code(user_id)
    till = {
        "out_trade_no": "CODE-1",
        "scene": "bar_code",
        "auth_code": code,
        "subject": "停车费",
        "total_amount": "100.01",
    }
    scanned = call(client, "alipay.trade.pay", till)
    assert scanned["code"] == "10000", scanned
    # ... and reports it: the stay is paid, and no auto-pay can charge it again.
    sync = {
        "parking_id": parking_id,
        "car_number": PLATE,
        "out_order_no": "CODE-1",
        "order_no": scanned["trade_no"],
        "pay_money": "100.01",
        "pay_time": beijing(),
        "order_status": "0",
        "parking_record_id": serial_no,
        "pay_type": "1",
    }
    assert call(client, PREFIX + "order.sync", sync)["code"] == "10000"
    assert call(client, PREFIX + "order.sync", sync)["code"] == "10000"  # replay
    assert pay(client, parking_id, "PAY-3", "10.00", serial_no=serial_no)["sub_code"] == (
        "PAYBAO.PARKING_ORDER_PAID"
    )
    assert wallet_balance(platform, user_id) == 500_00 - 100_01
    orders = platform.services["parking"].overview(user_id).orders
    assert [(o.order.pay_status.value, o.order.trade_no) for o in orders] == [
        ("PAID_OTHER", scanned["trade_no"])
    ]
    bad = {**sync, "out_order_no": "CODE-2", "order_no": "2099000000000000000000000000"}
    assert call(client, PREFIX + "order.sync", bad)["sub_code"] == "PAYBAO.PARKING_ORDER_PAID"
    bad["parking_record_id"] = enter(client, parking_id, "IN-2")["serial_no"]
    assert call(client, PREFIX + "order.sync", bad)["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    reconcile_clean(platform)


def test_without_auto_pay_or_without_an_entry_nothing_is_charged(client: TestClient) -> None:
    platform = client.app.state.platform
    parking_id = make_lot(client)
    user_id = make_driver(platform, PHONE, auto_pay=False)
    entry = enter(client, parking_id, "IN-1")
    assert (entry["car_status"], entry["agreement_scene"]) == ("NORMAL", "NO_AGREEMENT_SCENE")
    refused = pay(client, parking_id, "PAY-1", serial_no=entry["serial_no"])
    assert refused["sub_code"] == "ACQ.AGREEMENT_NOT_EXIST", refused
    assert refused["sub_msg"].endswith(FALLBACK_HINT)
    # A car seen leaving that never entered: the exit is refused, and so is a charge.
    stranger = "京A99999"
    platform.services["parking"].bind(make_driver(platform, "13900139000", stranger), stranger)
    exit_biz = {"parking_id": parking_id, "car_number": stranger, "out_time": beijing()}
    assert call(client, PREFIX + "exitinfo.sync", exit_biz)["sub_code"] == (
        "PAYBAO.PARKING_ENTRY_NOT_EXIST"
    )
    refused = pay(client, parking_id, "PAY-2", plate=stranger)
    assert refused["sub_code"] == "PAYBAO.PARKING_ENTRY_NOT_EXIST"
    assert refused["sub_msg"].endswith(FALLBACK_HINT)
    # Bad input: clear errors, nothing written.
    bad_plate = enter(client, parking_id, "IN-2", plate="京A1234")
    assert (bad_plate["code"], bad_plate["sub_code"]) == ("40004", "INVALID_PARAMETER")
    missing = call(client, PREFIX + "enterinfo.sync", {"parking_id": parking_id})
    assert missing["sub_code"] == "INVALID_PARAMETER"
    unknown = enter(client, "PI0000000000000000000", "IN-3")
    assert unknown["sub_code"] == "PAYBAO.PARKING_LOT_NOT_EXIST"
    assert count_rows(platform, "parking_orders") == 1
    assert count_rows(platform, "trades") == 0
    assert wallet_balance(platform, user_id) == 500_00


def test_agreement_query_follows_the_users_switch(client: TestClient) -> None:
    platform = client.app.state.platform
    make_lot(client)
    user_id = make_driver(platform, PHONE)
    answer = call(client, PREFIX + "agreement.query", {"car_number": PLATE})
    assert answer["car_status"] == "NON-SENSE-PAY"
    # Ending it on the agreements page (not the parking page) turns auto-pay off as well.
    agreement_no = platform.services["parking"].overview(user_id).agreement.agreement_no
    platform.services["agreements"].unsign_by_user(user_id, agreement_no)
    answer = call(client, PREFIX + "agreement.query", {"car_number": PLATE})
    assert answer["car_status"] == "NORMAL"
    assert not platform.services["parking"].overview(user_id).auto_pay


def test_the_wallet_page_binds_enables_and_lists_orders(client: TestClient) -> None:
    platform = client.app.state.platform
    parking_id = make_lot(client)
    user_id = make_driver(platform, PHONE)
    platform.services["parking"].unbind(user_id)
    wallet_login(client, PHONE)
    page = client.get("/wallet/parking")
    assert page.status_code == 200 and 'id="bind-form"' in page.text
    csrf = csrf_of(page.text)
    bad = client.post("/wallet/parking/bind", data={"csrf_token": csrf, "plate": "京I12345"})
    assert bad.status_code == 400 and "车牌号格式不正确" in bad.text
    bound = client.post(
        "/wallet/parking/bind",
        data={"csrf_token": csrf, "plate": "粤b·d12345"},
        follow_redirects=False,
    )
    assert bound.status_code == 303
    form = {
        "csrf_token": csrf,
        "mode": "enable",
        "single_cap": "50",
        "month_cap": "300",
        "payment_password": "000000",
    }
    assert client.post("/wallet/parking/auto-pay", data=form).status_code == 400
    form["payment_password"] = PAYMENT_PASSWORD
    enabled = client.post("/wallet/parking/auto-pay", data=form, follow_redirects=False)
    assert enabled.status_code == 303
    serial_no = enter(client, parking_id, "IN-1")["serial_no"]
    leave(client, parking_id, serial_no)
    assert pay(client, parking_id, "PAY-1", serial_no=serial_no)["code"] == "10000"
    page = client.get("/wallet/parking")
    assert 'data-auto-pay="on"' in page.text and "粤BD12345" in page.text
    assert f'data-serial-no="{serial_no}" data-status="PAID"' in page.text
    assert "国贸地下停车场" in page.text and "¥15.00" in page.text
    # 95 minutes by the wall clock, in whole seconds: the exit's second may have ticked over
    # (a started minute counts), so 1 h 35 or 1 h 36 on a slow machine.
    assert "1小时35分钟" in page.text or "1小时36分钟" in page.text
    assert "¥50.00" in page.text and "¥300.00" in page.text
    # Turning auto-pay off, then unbinding: the next stay is not charged by plate.
    assert client.post("/wallet/parking/auto-pay/off", data={"csrf_token": csrf}).status_code in (
        200,
        303,
    )
    assert client.post("/wallet/parking/unbind", data={"csrf_token": csrf}).status_code in (
        200,
        303,
    )
    assert 'id="bind-form"' in client.get("/wallet/parking").text
    assert APP_ID  # the lot's app is the gateway_support shop
