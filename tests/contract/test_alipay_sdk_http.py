"""Both real SDKs, over real HTTP, against a mini gateway that speaks through wire.py.

Requests: the SDK signs with the merchant key -> our parser + verifier accept it.
Responses: our signed envelope -> each SDK's own verification accepts it.
"""

from __future__ import annotations

import json

import pytest
from alipay import AliPay
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.exception.Exception import ResponseException
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.response.AlipayTradePrecreateResponse import AlipayTradePrecreateResponse
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.util import WebUtils
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from alipay_harness import APP_ID, RunningGateway, port_honouring_connection

from paybao.adapters.alipay.keys import KeyPair

TRICKY_SUBJECT = 'a{b}} c{{ & = " 测试商品 😀 \\ end'


def python_sdk(
    running: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair, sign_type: str = "RSA2"
) -> AliPay:
    client = AliPay(
        appid=APP_ID,
        app_notify_url="http://127.0.0.1:9/notify",
        app_private_key_string=app_keys.private_pem_pkcs1,
        alipay_public_key_string=platform_keys.public_pem_spki,
        sign_type=sign_type,
        debug=False,
        config=AliPayConfig(timeout=5),
    )
    client._gateway = running.url
    return client


def official_client(
    running: RunningGateway,
    app_keys: KeyPair,
    platform_keys: KeyPair,
    *,
    sign_type: str = "RSA2",
    charset: str = "utf-8",
) -> DefaultAlipayClient:
    config = AlipayClientConfig()
    config.server_url = running.url
    config.app_id = APP_ID
    config.app_private_key = app_keys.private_base64
    config.alipay_public_key = platform_keys.public_base64
    config.sign_type = sign_type
    config.charset = charset
    config.timeout = 5
    return DefaultAlipayClient(alipay_client_config=config)


def official_query(client: DefaultAlipayClient) -> tuple[str, AlipayTradeQueryResponse]:
    model = AlipayTradeQueryModel()
    model.out_trade_no = "20240501000001"
    raw_text = client.execute(AlipayTradeQueryRequest(biz_model=model))
    response = AlipayTradeQueryResponse()
    response.parse_response_content(raw_text)
    return raw_text, response


def official_precreate(
    client: DefaultAlipayClient, subject: str, total_amount: object = 1
) -> tuple[str, AlipayTradePrecreateResponse]:
    """precreate's model carries `subject`, which the mini gateway echoes back."""
    model = AlipayTradePrecreateModel()
    model.out_trade_no = "20240501000001"
    model.subject = subject
    model.total_amount = total_amount  # the official README sets a bare number
    raw_text = client.execute(AlipayTradePrecreateRequest(biz_model=model))
    response = AlipayTradePrecreateResponse()
    response.parse_response_content(raw_text)
    return raw_text, response


# python-alipay-sdk 3.4.0: GET, everything in the query string, UTF-8 only.


@pytest.mark.parametrize("sign_type", ["RSA2", "RSA"])
def test_python_sdk_query_round_trip(
    gateway_on_random_port: RunningGateway,
    app_keys: KeyPair,
    platform_keys: KeyPair,
    sign_type: str,
) -> None:
    client = python_sdk(gateway_on_random_port, app_keys, platform_keys, sign_type)

    result = client.server_api(
        "alipay.trade.query",
        biz_content={"out_trade_no": "o1", "subject": TRICKY_SUBJECT, "total_amount": 88.8},
    )

    gateway = gateway_on_random_port.gateway
    assert gateway.errors == []
    assert gateway.http_methods == ["GET"]
    assert gateway.requests[0].params["sign_type"] == sign_type
    assert result["code"] == "10000"
    assert result["subject"] == TRICKY_SUBJECT
    assert result["total_amount"] == "88.80"
    assert result["fund_bill_list"] == [{"amount": "88.80", "fund_channel": "ALIPAYACCOUNT"}]


def test_python_sdk_helper_method(
    gateway_on_random_port: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair
) -> None:
    client = python_sdk(gateway_on_random_port, app_keys, platform_keys)

    result = client.api_alipay_trade_query(out_trade_no="20240501000001")

    assert result["out_trade_no"] == "20240501000001"
    assert result["trade_status"] == "TRADE_SUCCESS"


def test_python_sdk_signed_error_is_returned_not_raised(
    gateway_on_random_port: RunningGateway,
    app_keys: KeyPair,
    other_keys: KeyPair,
    platform_keys: KeyPair,
) -> None:
    # The merchant signs with a key the gateway does not know: a signed 40002 comes back.
    client = python_sdk(gateway_on_random_port, other_keys, platform_keys)

    result = client.api_alipay_trade_query(out_trade_no="o1")

    assert result["code"] == "40002"
    assert result["msg"] == "Invalid Arguments"
    assert result["sub_code"] == "isv.invalid-signature"
    assert "app_id=2021000000000001&amp;biz_content=" in result["sub_msg"]


def test_python_sdk_stale_timestamp(
    gateway_on_random_port: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair
) -> None:
    gateway_on_random_port.gateway.clock_skew_s = 3600
    client = python_sdk(gateway_on_random_port, app_keys, platform_keys)

    result = client.api_alipay_trade_query(out_trade_no="o1")

    assert (result["code"], result["sub_code"]) == ("40002", "isv.invalid-timestamp")


def test_python_sdk_refuses_tampered_response(
    gateway_on_random_port: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair
) -> None:
    gateway_on_random_port.gateway.tamper_response = True
    client = python_sdk(gateway_on_random_port, app_keys, platform_keys)

    with pytest.raises(AliPayValidationError):
        client.api_alipay_trade_query(out_trade_no="o1")


def test_python_sdk_refuses_unsigned_response(
    gateway_on_random_port: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair
) -> None:
    gateway_on_random_port.gateway.unsigned_response = True
    client = python_sdk(gateway_on_random_port, app_keys, platform_keys)

    with pytest.raises(AliPayException):
        client.api_alipay_trade_query(out_trade_no="o1")


def test_python_sdk_refuses_response_signed_by_another_key(
    gateway_on_random_port: RunningGateway,
    app_keys: KeyPair,
    other_keys: KeyPair,
    platform_keys: KeyPair,
) -> None:
    gateway_on_random_port.gateway.platform_private_key = other_keys.private_pem_pkcs1
    client = python_sdk(gateway_on_random_port, app_keys, platform_keys)

    with pytest.raises(AliPayValidationError):
        client.api_alipay_trade_query(out_trade_no="o1")


# alipay-sdk-python (official): POST, common params in the query, biz_content in the body.


@pytest.mark.parametrize("charset", ["utf-8", "GBK"])
@pytest.mark.parametrize("sign_type", ["RSA2", "RSA"])
def test_official_sdk_query_round_trip(
    official_gateway: RunningGateway,
    app_keys: KeyPair,
    platform_keys: KeyPair,
    sign_type: str,
    charset: str,
) -> None:
    client = official_client(
        official_gateway, app_keys, platform_keys, sign_type=sign_type, charset=charset
    )
    # GBK cannot hold the emoji: the official SDK would fail to encode it, not our concern.
    subject = TRICKY_SUBJECT if charset == "utf-8" else 'a{b}} c{{ & = " 测试商品 \\ end'

    raw_text, response = official_precreate(client, subject)

    gateway = official_gateway.gateway
    assert gateway.errors == []
    assert gateway.http_methods == ["POST"]
    request = gateway.requests[0]
    assert request.params["charset"] == charset
    assert request.charset_codec == charset.lower()
    assert json.loads(request.params["biz_content"])["subject"] == subject
    assert response.is_success()
    assert response.out_trade_no == "20240501000001"
    echoed = json.loads(raw_text)
    assert echoed["subject"] == subject
    assert echoed["total_amount"] == "1.00"


def test_official_sdk_query_unmodified(
    official_gateway: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair
) -> None:
    client = official_client(official_gateway, app_keys, platform_keys)

    _raw_text, response = official_query(client)

    assert official_gateway.gateway.errors == []
    assert response.code == "10000"
    assert response.trade_status == "TRADE_SUCCESS"
    assert response.trade_no == "2024050122001446881000012345"
    assert response.total_amount == "88.88"


def test_official_sdk_signed_business_error(
    official_gateway: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair
) -> None:
    def not_found(method: str, biz: dict[str, object]) -> dict[str, object]:
        return {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST",
            "sub_msg": "交易不存在 {id}",
            "buyer_pay_amount": "0.00",
        }

    official_gateway.gateway.answer = not_found
    client = official_client(official_gateway, app_keys, platform_keys)

    _raw_text, response = official_query(client)

    assert not response.is_success()
    assert (response.code, response.sub_code) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert response.sub_msg == "交易不存在 {id}"


def test_official_sdk_wrong_app_key_gets_signed_40002(
    official_gateway: RunningGateway, other_keys: KeyPair, platform_keys: KeyPair
) -> None:
    client = official_client(official_gateway, other_keys, platform_keys)

    _raw_text, response = official_query(client)

    assert (response.code, response.sub_code) == ("40002", "isv.invalid-signature")


def test_official_sdk_oversize_body_gets_signed_error(
    official_gateway: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair
) -> None:
    client = official_client(official_gateway, app_keys, platform_keys)

    _raw_text, response = official_precreate(client, "x" * (70 * 1024))

    assert (response.code, response.sub_code) == ("40002", "isv.request-too-large")
    assert official_gateway.gateway.requests == []


@pytest.mark.parametrize("mode", ["tamper_response", "unsigned_response"])
def test_official_sdk_refuses_bad_responses(
    official_gateway: RunningGateway, app_keys: KeyPair, platform_keys: KeyPair, mode: str
) -> None:
    setattr(official_gateway.gateway, mode, True)
    client = official_client(official_gateway, app_keys, platform_keys)

    with pytest.raises(ResponseException):
        official_query(client)


def test_official_sdk_through_the_port_shortcut(
    gateway_on_random_port: RunningGateway,
    app_keys: KeyPair,
    platform_keys: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback used where port 80 cannot be bound must work too."""
    monkeypatch.setattr(WebUtils, "get_http_connection", port_honouring_connection)
    client = official_client(gateway_on_random_port, app_keys, platform_keys)

    _raw_text, response = official_query(client)

    assert response.code == "10000"
