"""The official Node SDK's v3 client (`curl`, alipay-sdk 4.14.0) against a real `paybao serve` on
paths beyond trades and transfers: profit sharing (POST bind and settle, GET settle query),
the transfer query and the bill download URL as GET with `{query: {...}}` (the SDK signs
`authString\\nGET\\n/path?query\\n\\n` over the URL it builds), and refusals reaching the SDK
as AlipayRequestError with our v3 code and HTTP status. Each 200 answer is verified by the SDK
itself with the Alipay public key."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from node_sdk import error, run_node, value
from test_gateway_sdks import Server, _unique, server
from test_node_sdk import node_prefix, sdk_config

from paybao.adapters.alipay.methods import user_wire_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer, wallet_balance
from royalty_support import receiver

__all__ = ["node_prefix", "server"]  # fixtures used by the tests below


def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "curl", "httpMethod": "POST", "path": path, "options": {"body": body}}


def get(path: str, query: dict[str, str]) -> dict[str, Any]:
    return {"kind": "curl", "httpMethod": "GET", "path": path, "options": {"query": query}}


def test_settle_over_v3_with_the_sdk(node_prefix: Path, server: Server) -> None:
    buyer = make_buyer(server.platform, phone="13500000601", balance_fen=500_00)
    alice = receiver(server.platform, "13500000602", "王小明")
    out = _unique("nvs")
    request = out[-20:].replace("-", "_")
    pay = {
        "out_trade_no": out,
        "scene": "bar_code",
        "auth_code": server.code_for(buyer),
        "subject": "分账商品",
        "total_amount": "100.00",
    }
    bind = {
        "out_request_no": request + "_b",
        "receiver_list": [{"type": "userId", "account": user_wire_id(alice.user_id)}],
    }
    (paid, bound) = run_node(
        node_prefix,
        sdk_config(server),
        [post("/v3/alipay/trade/pay", pay), post("/v3/alipay/trade/royalty/relation/bind", bind)],
    )
    trade_no = value(paid)["data"]["trade_no"]
    assert value(bound)["data"] == {"result_code": "SUCCESS"}

    share = {
        "royalty_type": "transfer",
        "trans_in_type": "userId",
        "trans_in": user_wire_id(alice.user_id),
        "amount": "12.50",
    }
    settle = {"out_request_no": request + "_s", "trade_no": trade_no, "royalty_parameters": [share]}
    over = {
        **settle,
        "out_request_no": request + "_s2",
        "royalty_parameters": [share | {"amount": "30.01"}],
    }
    settled, refused, by_request = run_node(
        node_prefix,
        sdk_config(server),
        [
            post("/v3/alipay/trade/order/settle", settle),
            post("/v3/alipay/trade/order/settle", over),
            get(
                "/v3/alipay/trade/order/settle/query",
                {"out_request_no": request + "_s", "trade_no": trade_no},
            ),
        ],
    )
    assert value(settled)["status"] == 200
    settle_no = value(settled)["data"]["settle_no"]
    assert wallet_balance(server.platform, alice.user_id) == 12_50
    assert (error(refused)["code"], error(refused)["status"]) == (
        "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR",
        400,
    )
    found = value(by_request)["data"]
    assert len(settle_no) == 32 and found["out_request_no"] == request + "_s"
    assert [(d["amount"], d["state"]) for d in found["royalty_detail_list"]] == [
        ("12.50", "SUCCESS")
    ]


def test_get_queries_with_the_sdk(node_prefix: Path, server: Server) -> None:
    payee = make_buyer(server.platform, phone="13500000611", balance_fen=0)
    buyer = make_buyer(server.platform, phone="13500000612", balance_fen=100_00)
    out = _unique("node-v3-q")
    scene = {"product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER"}
    pay = {
        "out_trade_no": out,
        "scene": "bar_code",
        "auth_code": server.code_for(buyer),
        "subject": "收款",
        "total_amount": "50.00",
    }
    transfer = {
        **scene,
        "out_biz_no": out + "-t",
        "trans_amount": "1.23",
        "order_title": "奖励 & 返现",
        "payee_info": {"identity": user_wire_id(payee), "identity_type": "ALIPAY_USER_ID"},
    }
    results = run_node(
        node_prefix,
        sdk_config(server),
        [
            post("/v3/alipay/trade/pay", pay),
            post("/v3/alipay/fund/trans/uni/transfer", transfer),
            get("/v3/alipay/fund/trans/common/query", {**scene, "out_biz_no": out + "-t"}),
            get("/v3/alipay/fund/trans/common/query", {"order_id": "2" * 32}),
            get(
                "/v3/alipay/data/dataservice/bill/downloadurl/query",
                {"bill_type": "trade", "bill_date": "2024-05-01"},
            ),
            get("/v3/alipay/user/agreement/query", {"agreement_no": "20260101000000000000"}),
            # The SDK lets any verb through: ours answers invalid-method for the wrong one.
            {"kind": "curl", "httpMethod": "POST", "path": "/v3/alipay/fund/account/query"},
        ],
    )
    value(results[0])
    sent = value(results[1])["data"]
    found = value(results[2])
    assert found["status"] == 200
    assert (found["data"]["order_id"], found["data"]["trans_amount"]) == (sent["order_id"], "1.23")
    assert wallet_balance(server.platform, payee) == 1_23
    codes = [(error(r)["code"], error(r)["status"]) for r in results[3:]]
    assert codes == [
        ("ORDER_NOT_EXIST", 400),
        ("bill_not_exist", 400),
        ("USER_AGREEMENT_NOT_EXIST", 400),
        ("invalid-method", 405),
    ]
