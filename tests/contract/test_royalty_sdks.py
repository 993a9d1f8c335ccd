"""Both real SDKs against a real `paybao serve` for profit sharing (分账): the official SDK's
AlipayTradeRoyaltyRelationBind / Batchquery / RoyaltyRateQuery / OrderSettle / SettleQuery /
OnsettleQuery request, model and response classes, and python-alipay-sdk's
`api_alipay_trade_order_settle` and `server_api`, each verifying our signed answers with its own
verifier (an answer that did not verify would raise or fail to parse).

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to register the buyer and the receivers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.AlipayTradeOrderOnsettleQueryModel import (
    AlipayTradeOrderOnsettleQueryModel,
)
from alipay.aop.api.domain.AlipayTradeOrderSettleModel import AlipayTradeOrderSettleModel
from alipay.aop.api.domain.AlipayTradeOrderSettleQueryModel import (
    AlipayTradeOrderSettleQueryModel,
)
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
from alipay.aop.api.request.AlipayTradeOrderOnsettleQueryRequest import (
    AlipayTradeOrderOnsettleQueryRequest,
)
from alipay.aop.api.request.AlipayTradeOrderSettleQueryRequest import (
    AlipayTradeOrderSettleQueryRequest,
)
from alipay.aop.api.request.AlipayTradeOrderSettleRequest import AlipayTradeOrderSettleRequest
from alipay.aop.api.request.AlipayTradeRoyaltyRateQueryRequest import (
    AlipayTradeRoyaltyRateQueryRequest,
)
from alipay.aop.api.request.AlipayTradeRoyaltyRelationBatchqueryRequest import (
    AlipayTradeRoyaltyRelationBatchqueryRequest,
)
from alipay.aop.api.request.AlipayTradeRoyaltyRelationBindRequest import (
    AlipayTradeRoyaltyRelationBindRequest,
)
from alipay.aop.api.response.AlipayTradeOrderOnsettleQueryResponse import (
    AlipayTradeOrderOnsettleQueryResponse,
)
from alipay.aop.api.response.AlipayTradeOrderSettleQueryResponse import (
    AlipayTradeOrderSettleQueryResponse,
)
from alipay.aop.api.response.AlipayTradeOrderSettleResponse import AlipayTradeOrderSettleResponse
from alipay.aop.api.response.AlipayTradeRoyaltyRateQueryResponse import (
    AlipayTradeRoyaltyRateQueryResponse,
)
from alipay.aop.api.response.AlipayTradeRoyaltyRelationBatchqueryResponse import (
    AlipayTradeRoyaltyRelationBatchqueryResponse,
)
from alipay.aop.api.response.AlipayTradeRoyaltyRelationBindResponse import (
    AlipayTradeRoyaltyRelationBindResponse,
)
from test_gateway_sdks import Server, official, python_sdk, server

from paybao.adapters.alipay.methods import user_wire_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer, wallet_balance
from score_support import person

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
