"""The official SDK with content encryption (encrypt_type AES, encrypt_key) against a real
`paybao serve`: precreate, pay, query, refund with tricky subjects; every request leaves
encrypted and every answer comes back encrypted, verified and decrypted by the SDK's own code;
a client holding another key is refused; the same app's plain calls keep working, from the
official SDK and from python-alipay-sdk 3.4.0 (which has no AES mode at all).

alipay-sdk-python's AES code cannot run on Python 3 as shipped (it hands `str` to pycryptodome):
tests/support/alipay_aes_compat.py gives it the bytes conversion every Python 3 user of it
applies, and nothing else; the SDK's padding, base64, signing, response cutting, signature check
and decryption run unchanged.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file and data folder to give the app its key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from alipay.aop.api import DefaultAlipayClient as client_module
from alipay.aop.api.domain.AlipayTradeAppPayModel import AlipayTradeAppPayModel
from alipay.aop.api.domain.AlipayTradePagePayModel import AlipayTradePagePayModel
from alipay.aop.api.domain.AlipayTradePayModel import AlipayTradePayModel
from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
from alipay.aop.api.exception.Exception import ResponseException
from alipay.aop.api.request.AlipayTradeAppPayRequest import AlipayTradeAppPayRequest
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradePayRequest import AlipayTradePayRequest
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from test_gateway_sdks import (
    APP_ID,
    TRICKY,
    TRICKY_GBK,
    Server,
    _unique,
    official,
    python_sdk,
    server,
)
from tests.support.alipay_aes_compat import python2_style_aes

from paybao.adapters.alipay import content_crypto
from paybao.adapters.alipay.keys import generate_key_pair
from paybao.services.merchants import NewMerchant

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer

__all__ = ["official", "server"]  # fixtures used by the tests below

KEYLESS_APP_ID = "2021000000004243"
SUBJECTS = [TRICKY, '{"a":"b"} & x=1 "引号" 😀 {{}}', "测试商品" * 20]


@pytest.fixture(scope="module")
def aes_key(server: Server) -> str:
    """The app's key, given before any encrypted call (the server caches what it read)."""
    return str(server.platform.services["app_aes_keys"].set(APP_ID))


@pytest.fixture
def wire_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, str], bytes]]:
    """Every (business params, raw answer) the official SDK exchanges, only watched."""
    calls: list[tuple[dict[str, str], bytes]] = []
    original = client_module.do_post

    def watched(*args: Any, **kwargs: Any) -> bytes:
        answer: bytes = original(*args, **kwargs)
        params = kwargs.get("params", args[3] if len(args) > 3 else None)
        calls.append((dict(params or {}), answer))
        return answer

    monkeypatch.setattr(client_module, "do_post", watched)
    return calls


def _encrypting(
    official: Any,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    charset: str = "utf-8",
    platform_public_key: str | None = None,
) -> Any:
    python2_style_aes(monkeypatch, charset)
    client = official(charset)
    config = client._DefaultAlipayClient__config
    config.encrypt_type = "AES"
    config.encrypt_key = key
    if platform_public_key is not None:
        config.alipay_public_key = platform_public_key
    return client


def _execute(client: Any, request: Any) -> dict[str, Any]:
    return dict(json.loads(client.execute(request)))


def _query(client: Any, out_trade_no: str) -> dict[str, Any]:
    model = AlipayTradeQueryModel()
    model.out_trade_no = out_trade_no
    return _execute(client, AlipayTradeQueryRequest(biz_model=model))


def _assert_all_encrypted(calls: list[tuple[dict[str, str], bytes]], count: int) -> None:
    assert len(calls) == count
    for params, answer in calls:
        assert not params["biz_content"].startswith("{")  # ciphertext on the wire
        head = answer.split(b":", 1)
        assert head[0].endswith(b'_response"') and head[1].startswith(b'"'), answer[:80]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_precreate_pay_query_refund_all_encrypted(
    server: Server,
    official: Any,
    aes_key: str,
    wire_log: list[tuple[dict[str, str], bytes]],
    monkeypatch: pytest.MonkeyPatch,
    subject: str,
) -> None:
    client = _encrypting(official, monkeypatch, aes_key)
    buyer = make_buyer(server.platform, phone=f"1350001{SUBJECTS.index(subject):04d}")
    out = _unique("aes")

    pre = AlipayTradePrecreateModel()
    pre.out_trade_no, pre.subject, pre.total_amount = out + "-qr", subject, "1.00"
    precreated = _execute(client, AlipayTradePrecreateRequest(biz_model=pre))
    pay = AlipayTradePayModel()
    pay.out_trade_no, pay.scene, pay.auth_code = out, "bar_code", server.code_for(buyer)
    pay.subject, pay.total_amount = subject, "8.80"
    paid = _execute(client, AlipayTradePayRequest(biz_model=pay))
    query = _query(client, out)
    refund_model = AlipayTradeRefundModel()
    refund_model.out_trade_no, refund_model.refund_amount = out, "1.00"
    refund_model.out_request_no, refund_model.refund_reason = "r1", subject
    refund = _execute(client, AlipayTradeRefundRequest(biz_model=refund_model))
    missing = _query(client, out + "-none")

    assert (precreated["code"], precreated["out_trade_no"]) == ("10000", out + "-qr")
    assert precreated["qr_code"].startswith(f"http://{server.host}")
    assert (paid["code"], paid["total_amount"]) == ("10000", "8.80")
    assert (query["trade_status"], query["subject"]) == ("TRADE_SUCCESS", subject)
    assert (refund["fund_change"], refund["refund_fee"]) == ("Y", "1.00")
    assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    _assert_all_encrypted(wire_log, 5)


def test_gbk_encrypted_calls(
    server: Server,
    official: Any,
    aes_key: str,
    wire_log: list[tuple[dict[str, str], bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = _encrypting(official, monkeypatch, aes_key, "GBK")
    out = _unique("aes-gbk")
    buyer = make_buyer(server.platform, phone="13500019001")
    pay = AlipayTradePayModel()
    pay.out_trade_no, pay.scene, pay.auth_code = out, "bar_code", server.code_for(buyer)
    pay.subject, pay.total_amount = TRICKY_GBK, "2.50"

    paid = _execute(client, AlipayTradePayRequest(biz_model=pay))
    query = _query(client, out)

    assert paid["code"] == "10000"
    assert (query["subject"], query["total_amount"]) == (TRICKY_GBK, "2.50")
    _assert_all_encrypted(wire_log, 2)


def test_encrypted_page_and_app_pay_lead_to_the_cashier(
    server: Server, official: Any, aes_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _encrypting(official, monkeypatch, aes_key)
    page = AlipayTradePagePayModel()
    page.out_trade_no, page.total_amount, page.subject = _unique("aes-page"), "6.00", TRICKY
    page.product_code = "FAST_INSTANT_TRADE_PAY"
    url = client.page_execute(AlipayTradePagePayRequest(biz_model=page), http_method="GET")
    app = AlipayTradeAppPayModel()
    app.out_trade_no, app.total_amount, app.subject = _unique("aes-app"), "7.00", TRICKY
    order_string = client.sdk_execute(AlipayTradeAppPayRequest(biz_model=app))

    for query in (url, order_string):
        assert "encrypt_type=AES" in query
        assert "biz_content=%7B" not in query  # no JSON object: ciphertext
    for target, amount in ((url, "6.00"), (server.gateway_url + "?" + order_string, "7.00")):
        response = httpx.get(target)
        assert response.status_code == 302, response.text
        assert f"¥{amount}" in httpx.get(response.headers["location"]).text


def test_a_client_with_another_key_is_refused_in_plain(
    server: Server,
    official: Any,
    aes_key: str,
    wire_log: list[tuple[dict[str, str], bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = content_crypto.key_to_text(content_crypto.new_key())
    client = _encrypting(official, monkeypatch, wrong)
    out = _unique("aes-wrong")
    pre = AlipayTradePrecreateModel()
    pre.out_trade_no, pre.subject, pre.total_amount = out, TRICKY, "1.00"

    refused = _execute(client, AlipayTradePrecreateRequest(biz_model=pre))

    assert (refused["code"], refused["sub_code"]) == ("40003", "isv.decryption-error-unknown")
    assert b'_response":{' in wire_log[0][1]  # a plain signed object the SDK verified
    right = _encrypting(official, monkeypatch, aes_key)
    assert _query(right, out)["sub_code"] == "ACQ.TRADE_NOT_EXIST"  # nothing was created


def test_an_app_without_a_key_is_refused(
    server: Server, official: Any, aes_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.platform.services["merchants"].create(
        NewMerchant(name="无AES密钥", app_id=KEYLESS_APP_ID), server.keys.public_pem_spki
    )
    client = _encrypting(official, monkeypatch, aes_key)
    client._DefaultAlipayClient__config.app_id = KEYLESS_APP_ID

    refused = _query(client, "whatever")

    assert (refused["code"], refused["sub_code"]) == (
        "40002",
        "isv.decryption-error-not-valid-encrypt-key",
    )


def test_the_sdk_refuses_an_encrypted_answer_it_cannot_verify(
    server: Server, official: Any, aes_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = generate_key_pair().public_base64
    client = _encrypting(official, monkeypatch, aes_key, platform_public_key=other)
    with pytest.raises(ResponseException, match="verify"):
        _query(client, "whatever")


def test_the_same_app_still_calls_in_plain_from_both_sdks(
    server: Server,
    official: Any,
    aes_key: str,
    wire_log: list[tuple[dict[str, str], bytes]],
) -> None:
    out = _unique("aes-plain")
    pre = AlipayTradePrecreateModel()
    pre.out_trade_no, pre.subject, pre.total_amount = out, TRICKY, "3.00"

    precreated = _execute(official(), AlipayTradePrecreateRequest(biz_model=pre))
    py_client = python_sdk(server)
    py_precreated = py_client.api_alipay_trade_precreate(
        subject=TRICKY, out_trade_no=out + "-py", total_amount="4.00"
    )
    buyer = make_buyer(server.platform, phone="13500019002")
    py_paid = py_client.api_alipay_trade_pay(
        out + "-pay", "bar_code", server.code_for(buyer), TRICKY, total_amount="5.00"
    )
    py_query = py_client.api_alipay_trade_query(out_trade_no=out + "-pay")

    assert precreated["code"] == "10000"
    assert json.loads(wire_log[0][0]["biz_content"])["subject"] == TRICKY  # plain on the wire
    assert b'_response":{' in wire_log[0][1]
    assert py_precreated["code"] == "10000"
    assert (py_paid["code"], py_query["trade_status"]) == ("10000", "TRADE_SUCCESS")
    assert py_query["subject"] == TRICKY
