"""The official Node SDK (alipay-sdk 4.14.0 from npm) against a real `paybao serve` over the
classic gateway: `exec` for the trade cycle and a transfer, `pageExec` / `sdkExecute` into the
cashier, `checkNotifySign` / `checkNotifySignV2` on the notification our receiver got.

What the SDK checks (dist/commonjs/alipay.js): `exec` verifies the answer's `sign` only with
`{validateSign: true}` (off by default), over the substring between `<method>_response":` and
the last `"sign"`; it reads `error_response` when the method's key is missing; its requests are
signed over UTF-8 whatever `charset` says (the config type only allows 'utf-8': no GBK to test).
It checks no `alipay_cert_sn` or timestamp in classic answers. Unlike the Python SDKs it takes
the gateway's port from the URL, so no port-80 shortcut is needed.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module, on SQLite); this process shares the database to seed buyers and payment codes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from node_sdk import error, install_node_sdk, run_node, value
from test_gateway_sdks import (
    APP_ID,
    TRICKY,
    Server,
    _tampering_proxy,
    _unique,
    _wait_for_form,
    server,
)

from paybao.adapters.alipay.keys import generate_key_pair, pem_to_base64
from paybao.adapters.alipay.methods import user_wire_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer

__all__ = ["server"]  # the fixture used by the tests below

# Keys and values the SDK's snake-casing and form encoding must carry through untouched.
TRICKY_CJK = '{"k": "v"} & a=b 中文 😀'


@pytest.fixture(scope="module")
def node_prefix() -> Path:
    return install_node_sdk()


def sdk_config(server: Server, **extra: Any) -> dict[str, Any]:
    base = f"http://{server.host}:{server.port}"
    return {
        "appId": APP_ID,
        "privateKey": server.keys.private_base64,
        "alipayPublicKey": pem_to_base64(server.platform_public_pem),
        "gateway": f"{base}/gateway.do",
        "endpoint": base,
        "timeout": 15000,
        "camelcase": False,
        **extra,
    }


def execs(
    node_prefix: Path, server: Server, calls: Sequence[tuple[str, Mapping[str, Any]]], **config: Any
) -> list[dict[str, Any]]:
    """`exec` each (method, params) with the SDK's own answer check on."""
    return run_node(
        node_prefix,
        sdk_config(server, **config),
        [
            {"kind": "exec", "method": method, "params": params, "options": {"validateSign": True}}
            for method, params in calls
        ],
    )


def test_trade_cycle_with_tricky_subjects(node_prefix: Path, server: Server) -> None:
    buyer = make_buyer(server.platform, phone="13500000301")
    out = _unique("node")
    results = execs(
        node_prefix,
        server,
        [
            (
                "alipay.trade.precreate",
                {
                    "bizContent": {
                        "outTradeNo": out + "-qr",
                        "totalAmount": "1.00",
                        "subject": TRICKY_CJK,
                    }
                },
            ),
            (
                "alipay.trade.pay",
                {
                    "bizContent": {
                        "out_trade_no": out,
                        "scene": "bar_code",
                        "auth_code": server.code_for(buyer),
                        "subject": TRICKY,
                        "total_amount": "12.34",
                    }
                },
            ),
            ("alipay.trade.query", {"bizContent": {"out_trade_no": out}}),
            ("alipay.trade.query", {"bizContent": {"out_trade_no": out + "-qr"}}),
            (
                "alipay.trade.refund",
                {
                    "bizContent": {
                        "out_trade_no": out,
                        "refund_amount": "2.00",
                        "out_request_no": "r1",
                        "refund_reason": TRICKY_CJK,
                    }
                },
            ),
            (
                "alipay.trade.refund",
                {
                    "bizContent": {
                        "out_trade_no": out,
                        "refund_amount": "2.00",
                        "out_request_no": "r1",
                    }
                },
            ),
            (
                "alipay.trade.fastpay.refund.query",
                {"bizContent": {"out_trade_no": out, "out_request_no": "r1"}},
            ),
            ("alipay.trade.close", {"bizContent": {"out_trade_no": out + "-qr"}}),
            ("alipay.trade.cancel", {"bizContent": {"out_trade_no": out}}),
            ("alipay.trade.query", {"bizContent": {"out_trade_no": "does-not-exist"}}),
        ],
    )
    pre, paid, query, qr_query, refund, again, found, closed, cancel, missing = map(value, results)

    assert pre["code"] == "10000" and pre["qr_code"].startswith(f"http://{server.host}")
    assert (paid["code"], paid["total_amount"]) == ("10000", "12.34")
    assert (query["trade_status"], query["subject"]) == ("TRADE_SUCCESS", TRICKY)
    assert query["buyer_user_id"] == user_wire_id(buyer)
    assert (qr_query["sub_code"], qr_query["code"]) == ("ACQ.TRADE_NOT_EXIST", "40004")
    assert (refund["fund_change"], refund["refund_fee"]) == ("Y", "2.00")
    assert (again["fund_change"], again["refund_fee"]) == ("N", "2.00")
    assert (found["refund_amount"], found["refund_status"]) == ("2.00", "REFUND_SUCCESS")
    # An unscanned QR order does not exist yet for Alipay either.
    assert (closed["code"], closed["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert (cancel["code"], cancel["action"]) == ("10000", "refund")
    assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_camelcase_answers_and_create(node_prefix: Path, server: Server) -> None:
    """The SDK's default: answers' keys camel-cased, request keys snake-cased."""
    out = _unique("node-c")
    buyer_id = user_wire_id(make_buyer(server.platform, phone="13500000302", balance_fen=0))
    created, query, closed, after = map(
        value,
        execs(
            node_prefix,
            server,
            [
                (
                    "alipay.trade.create",
                    {
                        "bizContent": {
                            "outTradeNo": out,
                            "totalAmount": "2.50",
                            "subject": TRICKY_CJK,
                            "buyerId": buyer_id,
                        }
                    },
                ),
                ("alipay.trade.query", {"bizContent": {"outTradeNo": out}}),
                ("alipay.trade.close", {"bizContent": {"outTradeNo": out}}),
                ("alipay.trade.query", {"bizContent": {"outTradeNo": out}}),
            ],
            camelcase=True,
        ),
    )
    assert created["code"] == "10000" and len(created["tradeNo"]) == 28
    assert (query["tradeStatus"], query["totalAmount"]) == ("WAIT_BUYER_PAY", "2.50")
    assert query["subject"] == TRICKY_CJK
    assert (closed["code"], closed["outTradeNo"]) == ("10000", out)
    assert after["tradeStatus"] == "TRADE_CLOSED"


def test_fund_transfer(node_prefix: Path, server: Server) -> None:
    payee = make_buyer(server.platform, phone="13500000303", balance_fen=0)
    buyer = make_buyer(server.platform, phone="13500000304")
    out = _unique("node-t")
    paid, transfer, again = map(
        value,
        execs(
            node_prefix,
            server,
            [
                (
                    "alipay.trade.pay",
                    {
                        "bizContent": {
                            "out_trade_no": out + "-in",
                            "scene": "bar_code",
                            "auth_code": server.code_for(buyer),
                            "subject": "in",
                            "total_amount": "20.00",
                        }
                    },
                ),
                ("alipay.fund.trans.uni.transfer", {"bizContent": _transfer(out, payee)}),
                ("alipay.fund.trans.uni.transfer", {"bizContent": _transfer(out, payee)}),
            ],
        ),
    )
    assert paid["code"] == "10000"
    assert (transfer["code"], transfer["status"]) == ("10000", "SUCCESS")
    assert transfer["out_biz_no"] == out
    assert again["order_id"] == transfer["order_id"]  # a replay answers the first transfer


def _transfer(out: str, payee: int) -> dict[str, Any]:
    return {
        "out_biz_no": out,
        "trans_amount": "1.50",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": TRICKY_CJK,
        "payee_info": {"identity": user_wire_id(payee), "identity_type": "ALIPAY_USER_ID"},
    }


def test_tampered_and_foreign_answers_are_refused(node_prefix: Path, server: Server) -> None:
    query = {"bizContent": {"out_trade_no": "does-not-exist"}}
    with _tampering_proxy(server) as proxy_url:
        checked, unchecked = run_node(
            node_prefix,
            sdk_config(server, gateway=proxy_url),
            [
                {
                    "kind": "exec",
                    "method": "alipay.trade.query",
                    "params": query,
                    "options": {"validateSign": True},
                },
                {"kind": "exec", "method": "alipay.trade.query", "params": query},
            ],
        )
    (foreign,) = run_node(
        node_prefix,
        sdk_config(server, alipayPublicKey=generate_key_pair().public_base64),
        [
            {
                "kind": "exec",
                "method": "alipay.trade.query",
                "params": query,
                "options": {"validateSign": True},
            }
        ],
    )

    assert error(checked)["name"] == "AlipayRequestError"
    assert "验签失败" in error(checked)["message"]
    # Without its check the SDK believes the forged code: the proxy really forged it.
    assert value(unchecked)["code"] == "10000"
    assert "验签失败" in error(foreign)["message"]


def test_page_pay_and_app_pay_reach_the_cashier(node_prefix: Path, server: Server) -> None:
    page_params = {
        "bizContent": {
            "out_trade_no": _unique("node-page"),
            "total_amount": "6.00",
            "subject": TRICKY_CJK,
            "product_code": "FAST_INSTANT_TRADE_PAY",
        },
        "returnUrl": "http://127.0.0.1:9/return",
    }
    app_params = {
        "bizContent": {
            "out_trade_no": _unique("node-app"),
            "total_amount": "7.00",
            "subject": "App 支付",
        },
    }
    url, form_html, order_string = map(
        value,
        run_node(
            node_prefix,
            sdk_config(server),
            [
                {
                    "kind": "pageExec",
                    "method": "alipay.trade.page.pay",
                    "httpMethod": "GET",
                    "params": page_params,
                },
                {
                    "kind": "pageExec",
                    "method": "alipay.trade.page.pay",
                    "httpMethod": "POST",
                    "params": {
                        **page_params,
                        "bizContent": {
                            **page_params["bizContent"],
                            "out_trade_no": _unique("node-form"),
                        },
                    },
                },
                {"kind": "sdkExecute", "method": "alipay.trade.app.pay", "params": app_params},
            ],
        ),
    )
    action, fields = _form(form_html)
    gateway = f"http://{server.host}:{server.port}/gateway.do"
    answers = [
        (httpx.get(url), "6.00"),
        (httpx.post(action, data=fields), "6.00"),
        (httpx.get(f"{gateway}?{order_string}"), "7.00"),
    ]
    for response, amount in answers:
        assert response.status_code == 302, response.text
        cashier = httpx.get(response.headers["location"])
        assert cashier.status_code == 200
        assert f"¥{amount}" in cashier.text


def _form(html_text: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the SDK's auto-submitting form. The SDK writes the action
    unescaped and escapes only `"` in values; a browser reads `&timestamp=` in an attribute as
    text (no `&times` entity there), so neither is put through html.unescape."""
    action = re.search(r'action="([^"]+)"', html_text)
    assert action is not None, html_text
    fields = {
        name: field_value.replace("&quot;", '"')
        for name, field_value in re.findall(r'name="([^"]+)" value="([^"]*)"', html_text)
    }
    return action.group(1), fields


def test_notification_verifies_with_check_notify_sign(node_prefix: Path, server: Server) -> None:
    buyer = make_buyer(server.platform, phone="13500000305")
    out = _unique("node-n")
    (paid,) = execs(
        node_prefix,
        server,
        [
            (
                "alipay.trade.pay",
                {
                    "notifyUrl": server.receiver.url,
                    "bizContent": {
                        "out_trade_no": out,
                        "scene": "bar_code",
                        "auth_code": server.code_for(buyer),
                        "subject": TRICKY_CJK,
                        "total_amount": "0.03",
                    },
                },
            )
        ],
    )
    assert value(paid)["code"] == "10000"
    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    forged = {**form, "total_amount": "300.00"}

    v1, v2, forged_v1, forged_v2 = map(
        value,
        run_node(
            node_prefix,
            sdk_config(server),
            [
                {"kind": "checkNotifySign", "form": form},
                {"kind": "checkNotifySignV2", "form": form},
                {"kind": "checkNotifySign", "form": forged},
                {"kind": "checkNotifySignV2", "form": forged},
            ],
        ),
    )
    assert form["subject"] == TRICKY_CJK
    assert (v1, v2) == (True, True)
    assert (forged_v1, forged_v2) == (False, False)


def test_a_missing_node_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI has Node: without it the contract must fail loudly, never skip."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="`node` is not on PATH"):
        install_node_sdk()
