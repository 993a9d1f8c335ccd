"""Both real SDKs against a real `paybao serve` for plate-bound parking: a lot registers, syncs a
car's entry and exit and takes the fee by plate (alipay.eco.mycar.parking.*), the lot's trade
notification verifies, a refusal parses with its fallback sub_code, and the fallback itself
(the driver's payment code with alipay.trade.pay, then order.sync). python-alipay-sdk through
server_api, the official SDK through its own AlipayEcoMycarParking* request, model and
response classes.

The server and its fixtures are test_gateway_sdks.py's; this process shares its SQLite file
to make the drivers (bind the plate, enable auto-pay).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.AlipayEcoMycarParkingAgreementQueryModel import (
    AlipayEcoMycarParkingAgreementQueryModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingConfigQueryModel import (
    AlipayEcoMycarParkingConfigQueryModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingConfigSetModel import (
    AlipayEcoMycarParkingConfigSetModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingEnterinfoSyncModel import (
    AlipayEcoMycarParkingEnterinfoSyncModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingExitinfoSyncModel import (
    AlipayEcoMycarParkingExitinfoSyncModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingOrderPayModel import (
    AlipayEcoMycarParkingOrderPayModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingOrderSyncModel import (
    AlipayEcoMycarParkingOrderSyncModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingParkinglotinfoCreateModel import (
    AlipayEcoMycarParkingParkinglotinfoCreateModel,
)
from alipay.aop.api.domain.AlipayEcoMycarParkingVehicleQueryModel import (
    AlipayEcoMycarParkingVehicleQueryModel,
)
from alipay.aop.api.domain.InterfaceInfoList import InterfaceInfoList
from alipay.aop.api.request.AlipayEcoMycarParkingAgreementQueryRequest import (
    AlipayEcoMycarParkingAgreementQueryRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingConfigQueryRequest import (
    AlipayEcoMycarParkingConfigQueryRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingConfigSetRequest import (
    AlipayEcoMycarParkingConfigSetRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingEnterinfoSyncRequest import (
    AlipayEcoMycarParkingEnterinfoSyncRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingExitinfoSyncRequest import (
    AlipayEcoMycarParkingExitinfoSyncRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingOrderPayRequest import (
    AlipayEcoMycarParkingOrderPayRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingOrderSyncRequest import (
    AlipayEcoMycarParkingOrderSyncRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingParkinglotinfoCreateRequest import (
    AlipayEcoMycarParkingParkinglotinfoCreateRequest,
)
from alipay.aop.api.request.AlipayEcoMycarParkingVehicleQueryRequest import (
    AlipayEcoMycarParkingVehicleQueryRequest,
)
from alipay.aop.api.response.AlipayEcoMycarParkingAgreementQueryResponse import (
    AlipayEcoMycarParkingAgreementQueryResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingConfigQueryResponse import (
    AlipayEcoMycarParkingConfigQueryResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingConfigSetResponse import (
    AlipayEcoMycarParkingConfigSetResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingEnterinfoSyncResponse import (
    AlipayEcoMycarParkingEnterinfoSyncResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingExitinfoSyncResponse import (
    AlipayEcoMycarParkingExitinfoSyncResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingOrderPayResponse import (
    AlipayEcoMycarParkingOrderPayResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingOrderSyncResponse import (
    AlipayEcoMycarParkingOrderSyncResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingParkinglotinfoCreateResponse import (
    AlipayEcoMycarParkingParkinglotinfoCreateResponse,
)
from alipay.aop.api.response.AlipayEcoMycarParkingVehicleQueryResponse import (
    AlipayEcoMycarParkingVehicleQueryResponse,
)
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from test_gateway_sdks import APP_ID, Server, official, python_sdk, server

from paybao.adapters.alipay import wire
from paybao.domain.parking import Caps

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import PAYMENT_PASSWORD, make_buyer, wallet_balance

__all__ = ["official", "server"]  # fixtures used by the tests below
PREFIX = "alipay.eco.mycar.parking."


def _beijing(minutes_ago: int = 0) -> str:
    at = datetime.now(wire.BEIJING_TZ) - timedelta(minutes=minutes_ago)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _driver(server: Server, phone: str, *, cap_fen: int = 100_00) -> tuple[int, str]:
    plate = f"苏E{random.randint(0, 99999):05d}D"  # a large new-energy plate
    user_id = make_buyer(server.platform, phone, balance_fen=300_00)
    parking = server.platform.services["parking"]
    parking.bind(user_id, plate)
    parking.enable_auto_pay(user_id, PAYMENT_PASSWORD, Caps(single_fen=cap_fen))
    return user_id, plate


def _wait_for_trade_form(server: Server, out_trade_no: str) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for form in server.receiver.forms:
            if form.get("out_trade_no") == out_trade_no:
                return form
        time.sleep(0.05)
    raise AssertionError(f"no notification for {out_trade_no}")


def _official_verifies(server: Server, params: dict[str, str]) -> bool:
    content = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    return bool(verify_with_rsa(public_base64, get_sign_content(content).encode(), params["sign"]))


def test_python_sdk_registers_syncs_and_pays_by_plate(server: Server) -> None:
    client = python_sdk(server)
    user_id, plate = _driver(server, "13600000301", cap_fen=40_00)
    out_id = f"lot-{time.time_ns()}"
    lot = client.server_api(
        PREFIX + "parkinglotinfo.create",
        biz_content={
            "out_parking_id": out_id,
            "parking_name": "虹桥 T2 停车场 {P1}",
            "parking_address": "上海市长宁区",
            "parking_lot_type": "1",
        },
    )
    assert lot["code"] == "10000", lot
    parking_id = lot["parking_id"]
    entry = client.server_api(
        PREFIX + "enterinfo.sync",
        biz_content={
            "parking_id": parking_id,
            "car_number": plate,
            "in_time": _beijing(30),
            "out_serial_no": f"in-{time.time_ns()}",
        },
    )
    assert (entry["code"], entry["car_status"]) == ("10000", "NON-SENSE-PAY"), entry
    serial_no = entry["serial_no"]
    left = client.server_api(
        PREFIX + "exitinfo.sync",
        biz_content={
            "parking_id": parking_id,
            "car_number": plate,
            "out_time": _beijing(),
            "serial_no": serial_no,
        },
    )
    assert left["code"] == "10000", left
    out_trade_no = f"park-{time.time_ns()}"
    paid = client.server_api(
        PREFIX + "order.pay",
        biz_content={
            "parking_id": parking_id,
            "car_number": plate,
            "serial_no": serial_no,
            "out_trade_no": out_trade_no,
            "total_fee": "12.50",
            "subject": "停车费 {T2} & 30分钟",
            "pay_scene": "PLATE_PAY",
        },
        notify_url=server.receiver.url,
    )
    assert paid["code"] == "10000", paid
    assert (paid["total_fee"], paid["user_id"]) == ("12.50", f"2088{user_id:012d}")
    form = dict(_wait_for_trade_form(server, out_trade_no))
    assert _official_verifies(server, form)
    signature = form.pop("sign")
    assert client.verify(form, signature)
    assert (form["trade_status"], form["total_amount"]) == ("TRADE_SUCCESS", "12.50")

    # Over the driver's 40 CNY cap: a signed refusal saying to fall back; then the fallback.
    second = client.server_api(
        PREFIX + "enterinfo.sync",
        biz_content={
            "parking_id": parking_id,
            "car_number": plate,
            "in_time": _beijing(300),
            "out_serial_no": f"in-{time.time_ns()}",
        },
    )
    refused = client.server_api(
        PREFIX + "order.pay",
        biz_content={
            "parking_id": parking_id,
            "car_number": plate,
            "serial_no": second["serial_no"],
            "out_trade_no": f"park-{time.time_ns()}",
            "total_fee": "45.00",
        },
    )
    assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR")
    code_trade_no = f"code-{time.time_ns()}"
    scanned = client.api_alipay_trade_pay(
        code_trade_no, "bar_code", server.code_for(user_id), "停车费", total_amount="45.00"
    )
    assert scanned["code"] == "10000", scanned
    synced = client.server_api(
        PREFIX + "order.sync",
        biz_content={
            "parking_id": parking_id,
            "car_number": plate,
            "out_order_no": code_trade_no,
            "order_no": scanned["trade_no"],
            "parking_record_id": second["serial_no"],
            "pay_money": "45.00",
            "pay_time": _beijing(),
            "order_status": "0",
            "pay_type": "1",
        },
    )
    assert synced["code"] == "10000", synced
    assert wallet_balance(server.platform, user_id) == 300_00 - 12_50 - 45_00


def _execute(client: Any, request: Any, response: Any) -> Any:
    response.parse_response_content(client.execute(request))
    return response


def test_official_sdk_parking_classes(server: Server, official: Any) -> None:
    client = official()
    user_id, plate = _driver(server, "13600000302")
    lot_model = AlipayEcoMycarParkingParkinglotinfoCreateModel()
    lot_model.out_parking_id = f"lot-{time.time_ns()}"
    lot_model.parking_name = "国贸三期停车场"
    lot_model.parking_address = "北京市朝阳区建国门外大街1号"
    lot = _execute(
        client,
        AlipayEcoMycarParkingParkinglotinfoCreateRequest(biz_model=lot_model),
        AlipayEcoMycarParkingParkinglotinfoCreateResponse(),
    )
    assert lot.is_success(), lot.sub_code
    assert lot.parking_id.startswith("PI")

    enter_model = AlipayEcoMycarParkingEnterinfoSyncModel()
    enter_model.parking_id = lot.parking_id
    enter_model.car_number = plate
    enter_model.in_time = _beijing(61)
    enter_model.out_serial_no = f"in-{time.time_ns()}"
    enter_model.car_color = "GREEN"
    entry = _execute(
        client,
        AlipayEcoMycarParkingEnterinfoSyncRequest(biz_model=enter_model),
        AlipayEcoMycarParkingEnterinfoSyncResponse(),
    )
    assert entry.is_success(), entry.sub_code
    assert (entry.car_status, entry.agreement_scene) == ("NON-SENSE-PAY", "PLATE_PAY")

    query_model = AlipayEcoMycarParkingAgreementQueryModel()
    query_model.car_number = plate
    query = _execute(
        client,
        AlipayEcoMycarParkingAgreementQueryRequest(biz_model=query_model),
        AlipayEcoMycarParkingAgreementQueryResponse(),
    )
    assert (query.is_success(), query.car_status) == (True, "NON-SENSE-PAY")

    exit_model = AlipayEcoMycarParkingExitinfoSyncModel()
    exit_model.parking_id = lot.parking_id
    exit_model.car_number = plate
    exit_model.out_time = _beijing()
    exit_model.serial_no = entry.serial_no
    exit_model.actual_amount = "8.00"
    left = _execute(
        client,
        AlipayEcoMycarParkingExitinfoSyncRequest(biz_model=exit_model),
        AlipayEcoMycarParkingExitinfoSyncResponse(),
    )
    assert left.is_success(), left.sub_code

    def pay(out_trade_no: str, amount: str) -> Any:
        model = AlipayEcoMycarParkingOrderPayModel()
        model.parking_id = lot.parking_id
        model.car_number = plate
        model.serial_no = entry.serial_no
        model.out_trade_no = out_trade_no
        model.total_fee = amount
        model.subject = "停车费"
        model.pay_scene = "PLATE_PAY"
        model.in_duration = "61"
        request = AlipayEcoMycarParkingOrderPayRequest(biz_model=model)
        request.notify_url = server.receiver.url
        return _execute(client, request, AlipayEcoMycarParkingOrderPayResponse())

    number = f"park-{time.time_ns()}"
    paid = pay(number, "8.00")
    assert paid.is_success(), paid.sub_code
    assert (paid.total_fee, paid.out_trade_no, paid.user_id) == (
        "8.00",
        number,
        f"2088{user_id:012d}",
    )
    assert len(paid.trade_no) == 28
    assert pay(number, "8.00").trade_no == paid.trade_no  # the lot's number again
    twice = pay(f"park-{time.time_ns()}", "8.00")  # a duplicate exit with a new number
    assert (twice.is_success(), twice.sub_code) == (False, "PAYBAO.PARKING_ORDER_PAID")
    assert _official_verifies(server, _wait_for_trade_form(server, number))

    sync_model = AlipayEcoMycarParkingOrderSyncModel()
    sync_model.parking_id = lot.parking_id
    sync_model.car_number = plate
    sync_model.out_order_no = f"cash-{time.time_ns()}"
    sync_model.pay_money = "6.00"
    sync_model.pay_time = _beijing()
    sync_model.in_time = _beijing(20)
    sync_model.order_status = "0"
    sync_model.pay_type = "1"
    synced = _execute(
        client,
        AlipayEcoMycarParkingOrderSyncRequest(biz_model=sync_model),
        AlipayEcoMycarParkingOrderSyncResponse(),
    )
    assert synced.is_success(), synced.sub_code
    orders = server.platform.services["parking"].overview(user_id).orders
    assert [o.order.pay_status.value for o in orders] == ["PAID_OTHER", "PAID"]


USERPAGE = "https://lot.example.com/carlife/query.do"


def _car_id(server: Server, user_id: int) -> str:
    """What the wallet's "open" button does: the car park page's URL with a car id."""
    url = server.platform.services["parking_configs"].open_service(user_id, APP_ID)
    assert url.startswith(USERPAGE + "?car_id=")
    return url.split("car_id=", 1)[1]


def test_python_sdk_sets_the_configuration_and_reads_a_plate(server: Server) -> None:
    client = python_sdk(server)
    user_id, plate = _driver(server, "13600000303")
    config = client.server_api(
        PREFIX + "config.set",
        biz_content={
            "merchant_name": "虹桥停车 {P1}",
            "merchant_service_phone": "021-25413215",
            "account_no": "parking@example.com",
            "merchant_logo": "",
            "interface_info_list": [
                {
                    "interface_name": "alipay.eco.mycar.parking.userpage.query",
                    "interface_type": "interface_page",
                    "interface_url": "https%3A%2F%2Flot.example.com%2Fcarlife%2Fquery.do",
                }
            ],
        },
    )
    assert config["code"] == "10000", config
    read = client.server_api(PREFIX + "config.query", biz_content={})
    assert (read["code"], read["merchant_name"]) == ("10000", "虹桥停车 {P1}"), read
    assert read["interface_info_list"]["interface_url"] == USERPAGE
    car = client.server_api(
        PREFIX + "vehicle.query", biz_content={"car_id": _car_id(server, user_id)}
    )
    assert (car["code"], car["car_number"]) == ("10000", plate), car
    unknown = client.server_api(PREFIX + "vehicle.query", biz_content={"car_id": "CAR0"})
    assert (unknown["code"], unknown["sub_code"]) == ("40004", "PAYBAO.PARKING_CAR_NOT_EXIST")


def test_official_sdk_config_and_vehicle_classes(server: Server, official: Any) -> None:
    client = official()
    user_id, plate = _driver(server, "13600000304")
    interface = InterfaceInfoList()
    interface.interface_name = "alipay.eco.mycar.parking.userpage.query"
    interface.interface_type = "interface_page"
    interface.interface_url = USERPAGE
    model = AlipayEcoMycarParkingConfigSetModel()
    model.merchant_name = "国贸停车"
    model.merchant_service_phone = "010-65051234"
    model.account_no = "parking@example.com"
    model.interface_info_list = [interface]
    done = _execute(
        client,
        AlipayEcoMycarParkingConfigSetRequest(biz_model=model),
        AlipayEcoMycarParkingConfigSetResponse(),
    )
    assert done.is_success(), done.sub_code
    read = _execute(
        client,
        AlipayEcoMycarParkingConfigQueryRequest(biz_model=AlipayEcoMycarParkingConfigQueryModel()),
        AlipayEcoMycarParkingConfigQueryResponse(),
    )
    assert read.is_success(), read.sub_code
    assert (read.merchant_name, read.merchant_service_phone) == ("国贸停车", "010-65051234")
    assert read.interface_info_list.interface_url == USERPAGE

    vehicle = AlipayEcoMycarParkingVehicleQueryModel()
    vehicle.car_id = _car_id(server, user_id)
    car = _execute(
        client,
        AlipayEcoMycarParkingVehicleQueryRequest(biz_model=vehicle),
        AlipayEcoMycarParkingVehicleQueryResponse(),
    )
    assert (car.is_success(), car.car_number) == (True, plate), car.sub_code
    bad = AlipayEcoMycarParkingConfigSetModel()
    bad.merchant_name = "国贸停车"
    bad.merchant_service_phone = "not a phone"
    bad.account_no = "parking@example.com"
    bad.interface_info_list = [interface]
    refused = _execute(
        client,
        AlipayEcoMycarParkingConfigSetRequest(biz_model=bad),
        AlipayEcoMycarParkingConfigSetResponse(),
    )
    assert (refused.is_success(), refused.sub_code) == (False, "INVALID_PARAMETER")
