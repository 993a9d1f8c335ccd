"""Both real SDKs against a real `paybao serve` for what a merchant asks after paying a user:
`alipay.fund.trans.common.query` (the transfer, by the merchant's number or paybao's) and
`alipay.fund.account.query` (the merchant's own balance), each answer verified by the SDK.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to seed the payee and the merchant's money.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.AlipayFundAccountQueryModel import AlipayFundAccountQueryModel
from alipay.aop.api.domain.AlipayFundTransCommonQueryModel import (
    AlipayFundTransCommonQueryModel,
)
from alipay.aop.api.request.AlipayFundAccountQueryRequest import AlipayFundAccountQueryRequest
from alipay.aop.api.request.AlipayFundTransCommonQueryRequest import (
    AlipayFundTransCommonQueryRequest,
)
from alipay.aop.api.response.AlipayFundTransCommonQueryResponse import (
    AlipayFundTransCommonQueryResponse,
)
from test_gateway_sdks import APP_ID, Server, official, python_sdk, server

from paybao.adapters.alipay.methods import seller_wire_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer

__all__ = ["official", "server"]  # fixtures used by the tests below


def _transfer(client: Any, out_biz_no: str, payee: int, amount: str) -> dict[str, Any]:
    return dict(
        client.server_api(
            "alipay.fund.trans.uni.transfer",
            biz_content={
                "out_biz_no": out_biz_no,
                "trans_amount": amount,
                "product_code": "TRANS_ACCOUNT_NO_PWD",
                "biz_scene": "DIRECT_TRANSFER",
                "payee_info": {"identity": f"2088{payee:012d}", "identity_type": "ALIPAY_USER_ID"},
            },
        )
    )


def _funded(server: Server, phone_suffix: int) -> int:
    """A payee, after a buyer has paid the merchant enough for the transfers."""
    client = python_sdk(server)
    buyer = make_buyer(server.platform, phone=f"1350000{phone_suffix:04d}")
    paid = client.api_alipay_trade_pay(
        f"fq-in-{time.time_ns()}", "bar_code", server.code_for(buyer), "in", total_amount="50"
    )
    assert paid["code"] == "10000"
    return make_buyer(server.platform, phone=f"1350001{phone_suffix:04d}", balance_fen=0)


def test_python_sdk_queries_a_transfer_both_ways_and_its_balance(server: Server) -> None:
    client = python_sdk(server)
    payee = _funded(server, 701)
    out = f"fq-{time.time_ns()}"
    sent = _transfer(client, out, payee, "3.20")
    assert sent["code"] == "10000"

    by_out = client.server_api(
        "alipay.fund.trans.common.query",
        biz_content={
            "out_biz_no": out,
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
        },
    )
    by_order = client.server_api(
        "alipay.fund.trans.common.query", biz_content={"order_id": sent["order_id"]}
    )
    missing = client.server_api(
        "alipay.fund.trans.common.query",
        biz_content={
            "out_biz_no": "never-sent",
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
        },
    )
    balance = client.server_api(
        "alipay.fund.account.query",
        biz_content={
            "alipay_user_id": _merchant_wire_id(server),
            "account_type": "ACCTRANS_ACCOUNT",
        },
    )
    foreign = client.server_api(
        "alipay.fund.account.query", biz_content={"alipay_user_id": f"2088{payee:012d}"}
    )

    for answer in (by_out, by_order):
        assert answer["code"] == "10000"
        assert (answer["order_id"], answer["out_biz_no"]) == (sent["order_id"], out)
        assert (answer["status"], answer["trans_amount"]) == ("SUCCESS", "3.20")
    assert (missing["code"], missing["sub_code"]) == ("40004", "ORDER_NOT_EXIST")
    assert balance["code"] == "10000"
    assert balance["available_amount"] == _available(server)
    assert (foreign["code"], foreign["sub_code"]) == ("40004", "INVALID_PARAMETER")


def test_official_sdk_queries_a_transfer_and_the_balance(server: Server, official: Any) -> None:
    client = official()
    payee = _funded(server, 702)
    out = f"fq-of-{time.time_ns()}"
    sent = _transfer(python_sdk(server), out, payee, "1.05")

    model = AlipayFundTransCommonQueryModel()
    model.out_biz_no, model.product_code, model.biz_scene = (
        out,
        "TRANS_ACCOUNT_NO_PWD",
        "DIRECT_TRANSFER",
    )
    found = AlipayFundTransCommonQueryResponse()
    found.parse_response_content(client.execute(AlipayFundTransCommonQueryRequest(biz_model=model)))
    account = AlipayFundAccountQueryModel()
    account.alipay_user_id, account.account_type = _merchant_wire_id(server), "ACCTRANS_ACCOUNT"
    balance = json.loads(client.execute(AlipayFundAccountQueryRequest(biz_model=account)))

    assert found.is_success(), found.sub_code
    assert (found.order_id, found.status, found.trans_amount) == (
        sent["order_id"],
        "SUCCESS",
        "1.05",
    )
    assert balance["available_amount"] == _available(server)


def _merchant_wire_id(server: Server) -> str:
    return seller_wire_id(server.platform.services["merchants"].app(APP_ID).merchant_id)


def _available(server: Server) -> str:
    merchants = server.platform.services["merchants"]
    merchant = merchants.merchant(merchants.app(APP_ID).merchant_id)
    fen = server.platform.ledger.balance(merchant.settlement_account_id).available_fen
    return f"{fen // 100}.{fen % 100:02d}"
