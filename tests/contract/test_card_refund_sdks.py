"""Both real SDKs against a real `paybao serve` for a trade paid with a bound bank card: the
answers and the notification name BANKCARD in fund_bill_list / refund_detail_item_list (each
SDK parses and verifies them), and the refund goes back to the card at the sandbox bank.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to register the buyer and pay with the card.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.response.AlipayTradeRefundResponse import AlipayTradeRefundResponse
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from test_gateway_sdks import (  # the module-scoped server and the official client maker
    Server,
    _unique,
    _wait_for_form,
    official,
    python_sdk,
    server,
)

from paybao.adapters.alipay.methods import user_wire_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from test_wallet_rules import PIN, open_user

__all__ = ["official", "server"]  # fixtures used by the tests below


def card_paid_trade(server: Server, phone: str, total_amount: str) -> tuple[str, str]:
    """A trade created through the python SDK (notify_url: the receiver) and paid at the
    cashier with the buyer's bound card; (out_trade_no, card number)."""
    platform = server.platform
    user_id, card_id = open_user(platform, phone)
    (card,) = platform.services["card_pay"].cards_of(user_id)
    out = _unique("card")
    buyer_id = user_wire_id(user_id)
    created = python_sdk(server).api_alipay_trade_create(
        "卡支付", out, total_amount, buyer_id=buyer_id
    )
    assert created["code"] == "10000", created
    payment = platform.services["card_pay"].pay(created["trade_no"], user_id, card_id, PIN)
    assert payment.status == "paid", payment
    return out, card.card_number


def card_balance(server: Server, card_number: str) -> int:
    return int(server.platform.services["bank"].card_balance_fen(card_number))


def test_python_sdk_card_trade_names_bankcard_and_refunds_to_the_card(server: Server) -> None:
    client = python_sdk(server)
    out, card_number = card_paid_trade(server, "13500000101", "12.34")
    before = card_balance(server, card_number)

    query = client.api_alipay_trade_query(out_trade_no=out)
    refund = client.api_alipay_trade_refund("2.00", out_trade_no=out, out_request_no="r1")
    again = client.api_alipay_trade_refund("2.00", out_trade_no=out, out_request_no="r1")
    found = client.server_api(
        "alipay.trade.fastpay.refund.query",
        biz_content={
            "out_trade_no": out,
            "out_request_no": "r1",
            "query_options": ["refund_detail_item_list"],
        },
    )

    card = {"fund_channel": "BANKCARD", "fund_type": "DEBIT_CARD"}
    assert query["fund_bill_list"] == [{**card, "amount": "12.34"}]
    assert (refund["fund_change"], again["fund_change"]) == ("Y", "N")
    assert refund["refund_detail_item_list"] == [{**card, "amount": "2.00"}]
    assert found["refund_detail_item_list"] == [{**card, "amount": "2.00"}]
    assert card_balance(server, card_number) == before + 2_00  # back on the card, once

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")
    assert client.verify(form, signature)
    assert json.loads(form["fund_bill_list"]) == [
        {"amount": "12.34", "fundChannel": "BANKCARD", "fundType": "DEBIT_CARD"}
    ]


def test_official_sdk_parses_the_card_channel(server: Server, official: Any) -> None:
    client = official()
    out, card_number = card_paid_trade(server, "13500000102", "8.80")
    before = card_balance(server, card_number)

    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = out
    query = AlipayTradeQueryResponse()
    query.parse_response_content(client.execute(AlipayTradeQueryRequest(biz_model=query_model)))

    refund_model = AlipayTradeRefundModel()
    refund_model.out_trade_no, refund_model.refund_amount = out, "8.80"
    refund = AlipayTradeRefundResponse()
    refund.parse_response_content(client.execute(AlipayTradeRefundRequest(biz_model=refund_model)))

    assert query.is_success() and refund.is_success()
    ((paid_bill,),) = [query.fund_bill_list]
    assert (paid_bill.fund_channel, paid_bill.amount) == ("BANKCARD", "8.80")
    assert paid_bill.fund_type == "DEBIT_CARD"
    ((refund_bill,),) = [refund.refund_detail_item_list]
    assert (refund_bill.fund_channel, refund_bill.amount) == ("BANKCARD", "8.80")
    assert refund_bill.fund_type == "DEBIT_CARD"
    assert card_balance(server, card_number) == before + 8_80

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")
    form.pop("sign_type")
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    assert verify_with_rsa(public_base64, get_sign_content(form).encode("utf-8"), signature)
    assert json.loads(form["fund_bill_list"]) == [
        {"amount": "8.80", "fundChannel": "BANKCARD", "fundType": "DEBIT_CARD"}
    ]
