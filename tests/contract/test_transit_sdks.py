"""Both real SDKs against a real `paybao serve` for transit ride codes: an operator ("杭州地铁")
downloads the issuer keys and the blacklist (key.query, userblacklist.query), a gate verifies
a rider's code offline with them, the platform checks a record (record.verify), the operator
uploads the ride (trade.settle), finds the trade with alipay.trade.query and verifies the
payment notification with the SDK's own function. python-alipay-sdk through server_api, the
official SDK through its AlipayCommerceTransportOfflinepay* request, model and response classes.

The server and its fixtures are test_gateway_sdks.py's; this process shares its SQLite file to
make the operator and the riders (open the ride code with the payment password, as the wallet
page does).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alipay import AliPay
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.AlipayCommerceTransportOfflinepayRecordVerifyModel import (
    AlipayCommerceTransportOfflinepayRecordVerifyModel,
)
from alipay.aop.api.domain.AlipayCommerceTransportOfflinepayTradeSettleModel import (
    AlipayCommerceTransportOfflinepayTradeSettleModel,
)
from alipay.aop.api.domain.AlipayCommerceTransportOfflinepayUserblacklistQueryModel import (
    AlipayCommerceTransportOfflinepayUserblacklistQueryModel,
)
from alipay.aop.api.domain.AlipayOfflineTrade import AlipayOfflineTrade
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.request.AlipayCommerceTransportOfflinepayKeyQueryRequest import (
    AlipayCommerceTransportOfflinepayKeyQueryRequest,
)
from alipay.aop.api.request.AlipayCommerceTransportOfflinepayRecordVerifyRequest import (
    AlipayCommerceTransportOfflinepayRecordVerifyRequest,
)
from alipay.aop.api.request.AlipayCommerceTransportOfflinepayTradeSettleRequest import (
    AlipayCommerceTransportOfflinepayTradeSettleRequest,
)
from alipay.aop.api.request.AlipayCommerceTransportOfflinepayUserblacklistQueryRequest import (
    AlipayCommerceTransportOfflinepayUserblacklistQueryRequest,
)
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.response.AlipayCommerceTransportOfflinepayKeyQueryResponse import (
    AlipayCommerceTransportOfflinepayKeyQueryResponse,
)
from alipay.aop.api.response.AlipayCommerceTransportOfflinepayRecordVerifyResponse import (
    AlipayCommerceTransportOfflinepayRecordVerifyResponse,
)
from alipay.aop.api.response.AlipayCommerceTransportOfflinepayTradeSettleResponse import (
    AlipayCommerceTransportOfflinepayTradeSettleResponse,
)
from alipay.aop.api.response.AlipayCommerceTransportOfflinepayUserblacklistQueryResponse import (
    AlipayCommerceTransportOfflinepayUserblacklistQueryResponse,
)
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.util import WebUtils
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from alipay.utils import AliPayConfig
from alipay_harness import port_honouring_connection
from test_gateway_sdks import Server, server

from paybao.adapters.alipay.keys import KeyPair, generate_key_pair
from paybao.adapters.transit_reader import Reader
from paybao.domain.transit import FareRule, OperatorKind, TapKind, public_user_id
from paybao.services.clock import US_PER_S
from paybao.services.merchants import NewMerchant
from paybao.services.transit_records import Operator

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer, wallet_balance
from transit_support import ZONE_FARES_FEN, ZONES, Phone, open_ride_code

__all__ = ["server"]  # the fixture used by the tests below
METRO_APP_ID = "2021000000003232"
PREFIX = "alipay.commerce.transport.offlinepay."


@dataclass
class Metro:
    app_id: str
    keys: KeyPair


@pytest.fixture(scope="module")
def metro(server: Server) -> Metro:
    """The operator: its own merchant app and key pair; notifications go to the receiver."""
    keys = generate_key_pair()
    merchants = server.platform.services["merchants"]
    new = NewMerchant(name="杭州地铁", notify_url=server.receiver.url, app_id=METRO_APP_ID)
    merchant, app = merchants.create(new, keys.public_pem_spki)
    fare = FareRule(OperatorKind.METRO, zones=ZONES, zone_fares_fen=ZONE_FARES_FEN)
    operator = Operator(app.app_id, merchant.id, "杭州地铁 Hangzhou Metro", fare)
    server.platform.services["transit"].save_operator(operator)
    return Metro(app.app_id, keys)


@pytest.fixture
def official_client(server: Server, metro: Metro, monkeypatch: pytest.MonkeyPatch) -> Any:
    if server.official_shortcut:
        monkeypatch.setattr(WebUtils, "get_http_connection", port_honouring_connection)
    config = AlipayClientConfig()
    config.server_url = server.gateway_url
    config.app_id = metro.app_id
    config.app_private_key = metro.keys.private_base64
    config.alipay_public_key = "".join(server.platform_public_pem.splitlines()[1:-1])
    config.sign_type = "RSA2"
    config.timeout = 15
    return DefaultAlipayClient(alipay_client_config=config)


@pytest.fixture
def python_client(server: Server, metro: Metro) -> Iterator[AliPay]:
    client = AliPay(
        appid=metro.app_id,
        app_notify_url=None,
        app_private_key_string=metro.keys.private_pem_pkcs1,
        alipay_public_key_string=server.platform_public_pem,
        sign_type="RSA2",
        debug=False,
        config=AliPayConfig(timeout=15),
    )
    client._gateway = server.gateway_url
    yield client


def _now_s(server: Server) -> int:
    return server.platform.clock.now_us() // US_PER_S


def _gates(keys: list[dict[str, str]], blacklist: list[str]) -> tuple[Reader, Reader]:
    """A tap-in gate at 武林广场 (zone 1) and a tap-out gate at 下沙江滨 (zone 3)."""
    gates = (
        Reader(app_id=METRO_APP_ID, station="WLQ", kind=TapKind.IN),
        Reader(app_id=METRO_APP_ID, station="XHM", kind=TapKind.OUT),
    )
    for gate in gates:
        gate.load_keys(keys)
        gate.load_blacklist(blacklist)
    return gates


def _ride(gates: tuple[Reader, Reader], phone: Phone, at_s: int) -> list[str]:
    gate_in, gate_out = gates
    gate_in.scan(phone.code(at_s), at_s)
    gate_out.scan(phone.code(at_s + 600), at_s + 600)
    return [tap.to_text() for tap in gate_in.take_taps() + gate_out.take_taps()]


def _rider(server: Server, phone_number: str, balance_fen: int) -> tuple[int, Phone]:
    user_id = make_buyer(server.platform, phone_number, balance_fen=balance_fen)
    return user_id, open_ride_code(server.platform, user_id, METRO_APP_ID)


def _wait_for_trade_form(server: Server, out_trade_no: str) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for form in server.receiver.forms:
            if form.get("out_trade_no") == out_trade_no:
                return dict(form)
        time.sleep(0.05)
    raise AssertionError(f"no notification for {out_trade_no}")


def _official_verifies(server: Server, params: dict[str, str]) -> bool:
    content = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    return bool(verify_with_rsa(public_base64, get_sign_content(content).encode(), params["sign"]))


def test_python_sdk_downloads_verifies_settles_and_queries(
    server: Server, python_client: AliPay
) -> None:
    client = python_client
    user_id, phone = _rider(server, "13600000401", 20_00)
    keys = client.server_api(PREFIX + "key.query", biz_content={})
    assert keys["code"] == "10000", keys
    assert all(len(key["key_id"]) == 8 for key in keys["keys"])
    listed = client.server_api(
        PREFIX + "userblacklist.query", biz_content={"page_index": "1", "page_size": "500"}
    )
    assert listed["code"] == "10000", listed
    assert str(public_user_id(user_id)) not in listed.get("black_list", [])
    gates = _gates(keys["keys"], listed.get("black_list", []))

    records = _ride(gates, phone, _now_s(server) - 900)
    checked = client.server_api(PREFIX + "record.verify", biz_content={"record": records[0]})
    assert (checked["code"], checked["user_id"]) == ("10000", str(public_user_id(user_id)))
    assert checked["credit_limit"] == "30.00"
    tampered = records[0][:-3] + ("AAA" if not records[0].endswith("AAA") else "BBB")
    refused = client.server_api(PREFIX + "record.verify", biz_content={"record": tampered})
    assert refused["code"] == "40004" and refused["sub_code"].startswith("TRANSIT_"), refused

    out_trade_no = f"HZ-py-{time.time_ns()}"
    ride = {"out_trade_no": out_trade_no, "records": records, "amount": "4.00"}
    settled = client.server_api(PREFIX + "trade.settle", biz_content={"trade_list": [ride]})
    assert settled["code"] == "10000", settled
    [result] = settled["result_list"]
    assert (result["result"], result["amount"], result["need_retry"]) == (
        "SUCCESS",
        "4.00",
        "false",
    )
    again = client.server_api(PREFIX + "trade.settle", biz_content={"trade_list": [ride]})
    assert again["result_list"] == [result]  # the same upload again: the same trade, paid once
    assert wallet_balance(server.platform, user_id) == 16_00

    query = client.api_alipay_trade_query(out_trade_no=out_trade_no)
    assert (query["trade_status"], query["total_amount"]) == ("TRADE_SUCCESS", "4.00")
    assert (query["trade_no"], query["buyer_user_id"]) == (
        result["trade_no"],
        str(public_user_id(user_id)),
    )
    form = _wait_for_trade_form(server, out_trade_no)
    assert _official_verifies(server, form)
    signature = form.pop("sign")
    assert client.verify(form, signature)
    assert (form["trade_status"], form["total_amount"], form["app_id"]) == (
        "TRADE_SUCCESS",
        "4.00",
        METRO_APP_ID,
    )


def _execute(client: DefaultAlipayClient, request: Any, response: Any) -> dict[str, Any]:
    """Run a request; parse into `response` (with its class's fields); return the response
    object as sent too, for fields the SDK's class does not name (record.verify's user_id)."""
    content = client.execute(request)
    response.parse_response_content(content)
    return dict(json.loads(content))


def test_official_sdk_offlinepay_classes(server: Server, official_client: Any) -> None:
    client = official_client
    user_id, phone = _rider(server, "13600000402", 10_00)
    poor_id, poor_phone = _rider(server, "13600000403", 1_00)

    keys = AlipayCommerceTransportOfflinepayKeyQueryResponse()
    _execute(client, AlipayCommerceTransportOfflinepayKeyQueryRequest(), keys)
    assert keys.is_success(), keys.sub_code
    downloaded = [{"key_id": k.key_id, "public_key": k.public_key} for k in keys.keys]

    def blacklist() -> list[str]:
        model = AlipayCommerceTransportOfflinepayUserblacklistQueryModel()
        model.page_index = 1
        model.page_size = 500
        request = AlipayCommerceTransportOfflinepayUserblacklistQueryRequest(biz_model=model)
        response = AlipayCommerceTransportOfflinepayUserblacklistQueryResponse()
        _execute(client, request, response)
        assert response.is_success(), response.sub_code
        return list(response.black_list or [])

    gates = _gates(downloaded, blacklist())
    start = _now_s(server) - 1800
    records = _ride(gates, phone, start)
    poor_records = _ride(gates, poor_phone, start + 60)

    verify_model = AlipayCommerceTransportOfflinepayRecordVerifyModel()
    verify_model.record = records[1]
    verify_response = AlipayCommerceTransportOfflinepayRecordVerifyResponse()
    raw = _execute(
        client,
        AlipayCommerceTransportOfflinepayRecordVerifyRequest(biz_model=verify_model),
        verify_response,
    )
    assert verify_response.is_success(), verify_response.sub_code
    assert raw["user_id"] == str(public_user_id(user_id))

    def offline(out_trade_no: str, taps: list[str]) -> AlipayOfflineTrade:
        trade = AlipayOfflineTrade()
        trade.out_trade_no = out_trade_no
        trade.records = taps
        trade.subject = "杭州地铁 武林广场-下沙江滨"
        return trade

    paid_no, owed_no = f"HZ-off-{time.time_ns()}", f"HZ-owe-{time.time_ns()}"
    settle_model = AlipayCommerceTransportOfflinepayTradeSettleModel()
    settle_model.trade_list = [offline(paid_no, records), offline(owed_no, poor_records)]
    settle_response = AlipayCommerceTransportOfflinepayTradeSettleResponse()
    _execute(
        client,
        AlipayCommerceTransportOfflinepayTradeSettleRequest(biz_model=settle_model),
        settle_response,
    )
    assert settle_response.is_success(), settle_response.sub_code
    paid, owed = settle_response.result_list
    assert (paid.out_trade_no, paid.result, paid.need_retry) == (paid_no, "SUCCESS", "false")
    assert (owed.out_trade_no, owed.result, owed.error_code) == (
        owed_no,
        "ARREARS",
        "USER_ARREARS",
    )
    assert wallet_balance(server.platform, user_id) == 6_00
    assert wallet_balance(server.platform, poor_id) == 1_00
    assert blacklist() == [str(public_user_id(poor_id))]

    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = paid_no
    query = AlipayTradeQueryResponse()
    _execute(client, AlipayTradeQueryRequest(biz_model=query_model), query)
    assert (query.trade_status, query.total_amount, query.trade_no) == (
        "TRADE_SUCCESS",
        "4.00",
        paid.trade_no,
    )
    assert _official_verifies(server, _wait_for_trade_form(server, paid_no))

    owed_model = AlipayTradeQueryModel()
    owed_model.out_trade_no = owed_no
    owed_query = AlipayTradeQueryResponse()
    _execute(client, AlipayTradeQueryRequest(biz_model=owed_model), owed_query)
    assert (owed_query.is_success(), owed_query.sub_code) == (False, "ACQ.TRADE_NOT_EXIST")
