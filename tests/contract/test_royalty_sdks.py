"""Both real SDKs against a real `paybao serve` for profit sharing (分账): the official SDK's
AlipayTradeRoyaltyRelationBind / Batchquery / RoyaltyRateQuery / OrderSettle / SettleQuery /
OnsettleQuery request, model and response classes, and python-alipay-sdk's
`api_alipay_trade_order_settle` and `server_api`, each verifying our signed answers with its own
verifier (an answer that did not verify would raise or fail to parse). Refunds that take shares
back (退分账): the official AlipayTradeRefundModel's refund_royalty_parameters
(OpenApiRoyaltyDetailInfoPojo) and AlipayTradeFastpayRefundQueryResponse's refund_royaltys
(RefundRoyaltyResult), python-alipay-sdk's `api_alipay_trade_refund` and
`api_alipay_trade_fastpay_refund_query`. Asynchronous settles: both SDKs send
`royalty_mode=async`, the server's own worker runs the parts, and the merchant's endpoint gets
an `alipay.trade.order.settle.notify` message that each SDK's own verifier accepts (the
official SDK's `verify_with_rsa` over `get_sign_content`, python-alipay-sdk's `verify`).

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to register the buyer and the receivers.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.AlipayTradeFastpayRefundQueryModel import (
    AlipayTradeFastpayRefundQueryModel,
)
from alipay.aop.api.domain.AlipayTradeOrderOnsettleQueryModel import (
    AlipayTradeOrderOnsettleQueryModel,
)
from alipay.aop.api.domain.AlipayTradeOrderSettleModel import AlipayTradeOrderSettleModel
from alipay.aop.api.domain.AlipayTradeOrderSettleQueryModel import (
    AlipayTradeOrderSettleQueryModel,
)
from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
from alipay.aop.api.domain.AlipayTradeRoyaltyRateQueryModel import (
    AlipayTradeRoyaltyRateQueryModel,
)
from alipay.aop.api.domain.AlipayTradeRoyaltyRelationBatchqueryModel import (
    AlipayTradeRoyaltyRelationBatchqueryModel,
)
from alipay.aop.api.domain.AlipayTradeRoyaltyRelationBindModel import (
    AlipayTradeRoyaltyRelationBindModel,
)
from alipay.aop.api.domain.OpenApiRoyaltyDetailInfoPojo import OpenApiRoyaltyDetailInfoPojo
from alipay.aop.api.domain.RoyaltyEntity import RoyaltyEntity
from alipay.aop.api.domain.SettleExtendParams import SettleExtendParams
from alipay.aop.api.request.AlipayTradeFastpayRefundQueryRequest import (
    AlipayTradeFastpayRefundQueryRequest,
)
from alipay.aop.api.request.AlipayTradeOrderOnsettleQueryRequest import (
    AlipayTradeOrderOnsettleQueryRequest,
)
from alipay.aop.api.request.AlipayTradeOrderSettleQueryRequest import (
    AlipayTradeOrderSettleQueryRequest,
)
from alipay.aop.api.request.AlipayTradeOrderSettleRequest import AlipayTradeOrderSettleRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.request.AlipayTradeRoyaltyRateQueryRequest import (
    AlipayTradeRoyaltyRateQueryRequest,
)
from alipay.aop.api.request.AlipayTradeRoyaltyRelationBatchqueryRequest import (
    AlipayTradeRoyaltyRelationBatchqueryRequest,
)
from alipay.aop.api.request.AlipayTradeRoyaltyRelationBindRequest import (
    AlipayTradeRoyaltyRelationBindRequest,
)
from alipay.aop.api.response.AlipayTradeFastpayRefundQueryResponse import (
    AlipayTradeFastpayRefundQueryResponse,
)
from alipay.aop.api.response.AlipayTradeOrderOnsettleQueryResponse import (
    AlipayTradeOrderOnsettleQueryResponse,
)
from alipay.aop.api.response.AlipayTradeOrderSettleQueryResponse import (
    AlipayTradeOrderSettleQueryResponse,
)
from alipay.aop.api.response.AlipayTradeOrderSettleResponse import AlipayTradeOrderSettleResponse
from alipay.aop.api.response.AlipayTradeRefundResponse import AlipayTradeRefundResponse
from alipay.aop.api.response.AlipayTradeRoyaltyRateQueryResponse import (
    AlipayTradeRoyaltyRateQueryResponse,
)
from alipay.aop.api.response.AlipayTradeRoyaltyRelationBatchqueryResponse import (
    AlipayTradeRoyaltyRelationBatchqueryResponse,
)
from alipay.aop.api.response.AlipayTradeRoyaltyRelationBindResponse import (
    AlipayTradeRoyaltyRelationBindResponse,
)
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from sqlalchemy import text
from test_gateway_sdks import APP_ID, Server, official, python_sdk, server

from paybao.adapters.alipay.methods import seller_wire_id, user_wire_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer, wallet_balance
from score_support import Person, person

__all__ = ["official", "server"]  # fixtures used by the tests below


def _pay(server: Server, buyer: int, amount: str) -> str:
    paid = python_sdk(server).api_alipay_trade_pay(
        f"royalty-{time.time_ns()}",
        "bar_code",
        server.code_for(buyer),
        "分账商品",
        total_amount=amount,
    )
    assert paid["code"] == "10000", paid
    return str(paid["trade_no"])


def _run(client: Any, request: Any, response: Any) -> Any:
    response.parse_response_content(client.execute(request))
    return response


def test_official_sdk_binds_settles_and_queries(server: Server, official: Any) -> None:
    client = official()
    buyer = make_buyer(server.platform, phone="13500000401", balance_fen=500_00)
    alice = person(server.platform, "13500000402", "王小明")
    bob = person(server.platform, "13500000403", "李四")

    entity = RoyaltyEntity()
    entity.type = "userId"
    entity.account = user_wire_id(alice.user_id)
    entity.memo = "平台佣金"
    by_phone = RoyaltyEntity()
    by_phone.type = "loginName"
    by_phone.account = bob.phone
    by_phone.name = bob.name
    bind_model = AlipayTradeRoyaltyRelationBindModel()
    bind_model.out_request_no = f"bind_{time.time_ns()}"
    bind_model.receiver_list = [entity, by_phone]
    bound = _run(
        client,
        AlipayTradeRoyaltyRelationBindRequest(biz_model=bind_model),
        AlipayTradeRoyaltyRelationBindResponse(),
    )
    assert bound.is_success(), bound.sub_code
    assert bound.result_code == "SUCCESS"

    query_model = AlipayTradeRoyaltyRelationBatchqueryModel()
    query_model.out_request_no = f"q_{time.time_ns()}"
    query_model.page_num = 1
    query_model.page_size = 20
    listed = _run(
        client,
        AlipayTradeRoyaltyRelationBatchqueryRequest(biz_model=query_model),
        AlipayTradeRoyaltyRelationBatchqueryResponse(),
    )
    accounts = {entry.account for entry in listed.receiver_list}
    assert {user_wire_id(alice.user_id), bob.phone} <= accounts

    rate_model = AlipayTradeRoyaltyRateQueryModel()
    rate_model.out_request_no = f"r_{time.time_ns()}"
    rate = _run(
        client,
        AlipayTradeRoyaltyRateQueryRequest(biz_model=rate_model),
        AlipayTradeRoyaltyRateQueryResponse(),
    )
    assert rate.max_ratio == 30

    trade_no = _pay(server, buyer, "100.00")
    part = OpenApiRoyaltyDetailInfoPojo()
    part.royalty_type = "transfer"
    part.trans_in_type = "userId"
    part.trans_in = user_wire_id(alice.user_id)
    part.amount = 12.5  # a JSON number, as merchants' code often sends
    part.desc = "佣金"
    extend = SettleExtendParams()
    extend.royalty_finish = "true"
    settle_model = AlipayTradeOrderSettleModel()
    settle_model.out_request_no = f"s_{time.time_ns()}"
    settle_model.trade_no = trade_no
    settle_model.royalty_parameters = [part]
    settle_model.extend_params = extend
    settled = _run(
        client,
        AlipayTradeOrderSettleRequest(biz_model=settle_model),
        AlipayTradeOrderSettleResponse(),
    )
    assert settled.is_success(), settled.sub_code
    assert settled.trade_no == trade_no and len(settled.settle_no) == 32
    assert wallet_balance(server.platform, alice.user_id) == 12_50

    detail_model = AlipayTradeOrderSettleQueryModel()
    detail_model.settle_no = settled.settle_no
    detail = _run(
        client,
        AlipayTradeOrderSettleQueryRequest(biz_model=detail_model),
        AlipayTradeOrderSettleQueryResponse(),
    )
    assert detail.out_request_no == settle_model.out_request_no
    [line] = detail.royalty_detail_list
    assert (line.amount, line.state, line.trans_in) == (
        "12.50",
        "SUCCESS",
        user_wire_id(alice.user_id),
    )

    left_model = AlipayTradeOrderOnsettleQueryModel()
    left_model.trade_no = trade_no
    left = _run(
        client,
        AlipayTradeOrderOnsettleQueryRequest(biz_model=left_model),
        AlipayTradeOrderOnsettleQueryResponse(),
    )
    assert left.unsettled_amount == "0.00"  # royalty_finish: sharing is over

    settle_model.out_request_no = f"s2_{time.time_ns()}"
    again = _run(
        client,
        AlipayTradeOrderSettleRequest(biz_model=settle_model),
        AlipayTradeOrderSettleResponse(),
    )
    assert (again.is_success(), again.code, again.sub_code) == (
        False,
        "40004",
        "ACQ.TRADE_SETTLE_ERROR",
    )


def test_python_sdk_settles_replays_and_is_capped(server: Server) -> None:
    client = python_sdk(server)
    buyer = make_buyer(server.platform, phone="13500000411", balance_fen=500_00)
    carol = person(server.platform, "13500000412", "张三")
    bind = {
        "out_request_no": f"bind_{time.time_ns()}",
        "receiver_list": [{"type": "userId", "account": user_wire_id(carol.user_id)}],
    }
    bound = client.server_api("alipay.trade.royalty.relation.bind", biz_content=bind)
    assert (bound["code"], bound["result_code"]) == ("10000", "SUCCESS")

    trade_no = _pay(server, buyer, "50.00")  # cap: 15.00
    parts = [
        {
            "trans_in_type": "userId",
            "trans_in": user_wire_id(carol.user_id),
            "amount": "10.00",
            "desc": "司机",
        }
    ]
    request_no = f"py_{time.time_ns()}"
    first = client.api_alipay_trade_order_settle(request_no, trade_no, parts)
    assert first["code"] == "10000" and first["trade_no"] == trade_no
    again = client.api_alipay_trade_order_settle(request_no, trade_no, parts)
    assert again["settle_no"] == first["settle_no"]
    assert wallet_balance(server.platform, carol.user_id) == 10_00

    over = [{**parts[0], "amount": "5.01"}]
    refused = client.api_alipay_trade_order_settle(f"py2_{time.time_ns()}", trade_no, over)
    assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR")
    query = {"out_request_no": request_no, "trade_no": trade_no}
    found = client.server_api("alipay.trade.order.settle.query", biz_content=query)
    assert found["royalty_detail_list"][0]["amount"] == "10.00"
    left = client.server_api(
        "alipay.trade.order.onsettle.query", biz_content={"trade_no": trade_no}
    )
    assert left["unsettled_amount"] == "5.00"


def _shared_trade(server: Server, buyer: int, *shares: tuple[Person, str]) -> str:
    """A paid trade of 100.00 whose shares were settled to the receivers (bound first)."""
    client = python_sdk(server)
    entries = [{"type": "userId", "account": user_wire_id(p.user_id)} for p, _ in shares]
    bind = {"out_request_no": f"bind_{time.time_ns()}", "receiver_list": entries}
    bound = client.server_api("alipay.trade.royalty.relation.bind", biz_content=bind)
    assert bound["code"] == "10000", bound
    trade_no = _pay(server, buyer, "100.00")
    parts = [
        {"trans_in_type": "userId", "trans_in": user_wire_id(p.user_id), "amount": amount}
        for p, amount in shares
    ]
    settled = client.api_alipay_trade_order_settle(f"s_{time.time_ns()}", trade_no, parts)
    assert settled["code"] == "10000", settled
    return trade_no


def test_official_sdk_refunds_taking_shares_back(server: Server, official: Any) -> None:
    client = official()
    buyer = make_buyer(server.platform, phone="13500000421", balance_fen=500_00)
    dave = person(server.platform, "13500000422", "王小明")
    trade_no = _shared_trade(server, buyer, (dave, "20.00"))

    part = OpenApiRoyaltyDetailInfoPojo()
    part.royalty_type = "transfer"
    part.trans_out_type = "loginName"
    part.trans_out = dave.phone
    part.trans_in_type = "userId"
    part.trans_in = seller_wire_id(server.platform.services["merchants"].app(APP_ID).merchant_id)
    part.amount = "12.50"
    part.desc = "退佣金"
    model = AlipayTradeRefundModel()
    model.trade_no = trade_no
    model.refund_amount = "40.00"
    model.out_request_no = f"rf_{time.time_ns()}"
    model.refund_royalty_parameters = [part]
    refunded = _run(client, AlipayTradeRefundRequest(biz_model=model), AlipayTradeRefundResponse())
    assert refunded.is_success(), refunded.sub_code
    assert (refunded.fund_change, refunded.refund_fee) == ("Y", "40.00")
    assert wallet_balance(server.platform, dave.user_id) == 7_50

    query_model = AlipayTradeFastpayRefundQueryModel()
    query_model.trade_no = trade_no
    query_model.out_request_no = model.out_request_no
    found = _run(
        client,
        AlipayTradeFastpayRefundQueryRequest(biz_model=query_model),
        AlipayTradeFastpayRefundQueryResponse(),
    )
    assert found.is_success() and found.refund_amount == "40.00"
    [line] = found.refund_royaltys
    assert (line.refund_amount, line.result_code, line.royalty_type) == (
        "12.50",
        "SUCCESS",
        "transfer",
    )
    assert (line.trans_out, line.ori_trans_out, line.trans_in) == (
        user_wire_id(dave.user_id),
        dave.phone,
        part.trans_in,
    )

    # More than she has left of her share: refused, nothing moves.
    part.trans_out_type = "userId"
    part.trans_out = user_wire_id(dave.user_id)
    part.amount = "7.51"
    model.out_request_no = f"rf2_{time.time_ns()}"
    over = _run(client, AlipayTradeRefundRequest(biz_model=model), AlipayTradeRefundResponse())
    assert (over.is_success(), over.code, over.sub_code) == (
        False,
        "40004",
        "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR",
    )
    assert wallet_balance(server.platform, dave.user_id) == 7_50


def test_python_sdk_refunds_taking_shares_back_and_replays(server: Server) -> None:
    client = python_sdk(server)
    buyer = make_buyer(server.platform, phone="13500000431", balance_fen=500_00)
    erin = person(server.platform, "13500000432", "李四")
    frank = person(server.platform, "13500000433", "张三")
    trade_no = _shared_trade(server, buyer, (erin, "10.00"), (frank, "5.00"))
    backs = [
        {"trans_out": user_wire_id(erin.user_id), "amount": "10.00", "desc": "退"},
        {"trans_out_type": "userId", "trans_out": user_wire_id(frank.user_id), "amount": "1.00"},
    ]
    request_no = f"py_rf_{time.time_ns()}"
    first = client.api_alipay_trade_refund(
        "30.00", trade_no=trade_no, out_request_no=request_no, refund_royalty_parameters=backs
    )
    assert (first["code"], first["fund_change"]) == ("10000", "Y")
    again = client.api_alipay_trade_refund(
        "30.00", trade_no=trade_no, out_request_no=request_no, refund_royalty_parameters=backs
    )
    assert (again["code"], again["fund_change"]) == ("10000", "N")
    assert wallet_balance(server.platform, erin.user_id) == 0
    assert wallet_balance(server.platform, frank.user_id) == 4_00
    other = client.api_alipay_trade_refund(
        "30.00", trade_no=trade_no, out_request_no=request_no, refund_royalty_parameters=backs[:1]
    )
    assert (other["code"], other["sub_code"]) == ("40004", "ACQ.DISCORDANT_REPEAT_REQUEST")

    found = client.api_alipay_trade_fastpay_refund_query(request_no, trade_no=trade_no)
    assert [(r["trans_out"], r["refund_amount"]) for r in found["refund_royaltys"]] == [
        (user_wire_id(erin.user_id), "10.00"),
        (user_wire_id(frank.user_id), "1.00"),
    ]


SETTLE_NOTIFY = "alipay.trade.order.settle.notify"


def _notify_to_receiver(server: Server) -> None:
    """The app's notify URL (where message notifications go) is the test's endpoint."""
    statement = text("UPDATE merchants SET notify_url = :url WHERE id = :id")
    merchant_id = server.platform.services["merchants"].app(APP_ID).merchant_id
    url = server.receiver.url
    server.platform.db.run(lambda tx: tx.execute(statement, {"url": url, "id": merchant_id}))


def _settle_notification(server: Server, settle_no: str) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        forms: list[dict[str, str]] = list(server.receiver.forms)
        for form in forms:
            if form.get("msg_method") != SETTLE_NOTIFY:
                continue
            if json.loads(form["biz_content"])["settle_no"] == settle_no:
                return form
        time.sleep(0.05)
    raise AssertionError(f"no {SETTLE_NOTIFY} for {settle_no}")


def test_official_sdk_settles_asynchronously_and_verifies_the_notification(
    server: Server, official: Any
) -> None:
    _notify_to_receiver(server)
    client = official()
    buyer = make_buyer(server.platform, phone="13500000441", balance_fen=500_00)
    gina = person(server.platform, "13500000442", "王小明")
    trade_no = _pay(server, buyer, "100.00")
    python_sdk(server).server_api(
        "alipay.trade.royalty.relation.bind",
        biz_content={
            "out_request_no": f"bind_{time.time_ns()}",
            "receiver_list": [{"type": "userId", "account": user_wire_id(gina.user_id)}],
        },
    )
    part = OpenApiRoyaltyDetailInfoPojo()
    part.trans_in_type = "userId"
    part.trans_in = user_wire_id(gina.user_id)
    part.amount = "8.80"
    model = AlipayTradeOrderSettleModel()
    model.out_request_no = f"as_{time.time_ns()}"
    model.trade_no = trade_no
    model.royalty_parameters = [part]
    model.royalty_mode = "async"
    accepted = _run(
        client, AlipayTradeOrderSettleRequest(biz_model=model), AlipayTradeOrderSettleResponse()
    )
    assert accepted.is_success(), accepted.sub_code
    assert accepted.trade_no == trade_no and len(accepted.settle_no) == 32

    form = _settle_notification(server, accepted.settle_no)
    content = {k: v for k, v in form.items() if k not in ("sign", "sign_type")}
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    assert verify_with_rsa(public_base64, get_sign_content(content).encode(), form["sign"])
    assert (form["version"], form["sign_type"], form["app_id"]) == ("1.1", "RSA2", APP_ID)
    biz = json.loads(form["biz_content"])
    assert biz["out_request_no"] == model.out_request_no
    [line] = biz["royalty_detail_list"]
    assert (line["amount"], line["state"], line["trans_in"]) == ("8.80", "SUCCESS", part.trans_in)
    assert wallet_balance(server.platform, gina.user_id) == 8_80

    query = AlipayTradeOrderSettleQueryModel()
    query.settle_no = accepted.settle_no
    detail = _run(
        client,
        AlipayTradeOrderSettleQueryRequest(biz_model=query),
        AlipayTradeOrderSettleQueryResponse(),
    )
    [queried] = detail.royalty_detail_list
    assert (queried.amount, queried.state) == ("8.80", "SUCCESS")


def test_python_sdk_settles_asynchronously_replays_and_verifies(server: Server) -> None:
    _notify_to_receiver(server)
    client = python_sdk(server)
    buyer = make_buyer(server.platform, phone="13500000451", balance_fen=500_00)
    hana = person(server.platform, "13500000452", "李四")
    ivan = person(server.platform, "13500000453", "张三")
    trade_no = _pay(server, buyer, "100.00")
    entries = [{"type": "userId", "account": user_wire_id(p.user_id)} for p in (hana, ivan)]
    bind = {"out_request_no": f"bind_{time.time_ns()}", "receiver_list": entries}
    bound = client.server_api("alipay.trade.royalty.relation.bind", biz_content=bind)
    assert bound["code"] == "10000", bound
    parts = [
        {"trans_in": user_wire_id(hana.user_id), "amount": "20.00"},
        {"trans_in": user_wire_id(ivan.user_id), "amount": "1.00"},
    ]
    request_no = f"py_as_{time.time_ns()}"
    accepted = client.api_alipay_trade_order_settle(
        request_no, trade_no, parts, royalty_mode="async"
    )
    assert accepted["code"] == "10000", accepted
    form = dict(_settle_notification(server, accepted["settle_no"]))
    signature = form.pop("sign")
    assert client.verify(dict(form), signature)
    details = json.loads(form["biz_content"])["royalty_detail_list"]
    assert [(d["amount"], d["state"]) for d in details] == [
        ("20.00", "SUCCESS"),
        ("1.00", "SUCCESS"),
    ]
    again = client.api_alipay_trade_order_settle(request_no, trade_no, parts, royalty_mode="async")
    assert again["settle_no"] == accepted["settle_no"]
    assert wallet_balance(server.platform, hana.user_id) == 20_00
    assert wallet_balance(server.platform, ivan.user_id) == 1_00
