"""Both real SDKs against a real `paybao serve` for merchants' admission checks: the official
SDK's ZhimaCreditScoreBriefGetRequest / Model / Response classes and python-alipay-sdk's
server_api call zhima.credit.score.brief.get, each verifying our signed answer with its own
verifier (an answer that did not verify would raise or fail to parse).

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to register the person and their consent.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.ZhimaCreditScoreBriefGetModel import ZhimaCreditScoreBriefGetModel
from alipay.aop.api.request.ZhimaCreditScoreBriefGetRequest import (
    ZhimaCreditScoreBriefGetRequest,
)
from alipay.aop.api.response.ZhimaCreditScoreBriefGetResponse import (
    ZhimaCreditScoreBriefGetResponse,
)
from test_gateway_sdks import Server, official, python_sdk, server

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from score_support import BRIEF_GET, PRODUCT_CODE, person, score_of, switched_on

__all__ = ["official", "server"]  # fixtures used by the tests below


def _brief(
    client: Any, cert_no: str, name: str, threshold: int
) -> ZhimaCreditScoreBriefGetResponse:
    model = ZhimaCreditScoreBriefGetModel()
    model.transaction_id = f"sdk_{time.time_ns()}"
    model.product_code = PRODUCT_CODE
    model.cert_type = "IDENTITY_CARD"
    model.cert_no = cert_no
    model.name = name
    model.admittance_score = threshold
    response = ZhimaCreditScoreBriefGetResponse()
    response.parse_response_content(
        client.execute(ZhimaCreditScoreBriefGetRequest(biz_model=model))
    )
    return response


def test_official_sdk_asks_for_admission(server: Server, official: Any) -> None:
    client = official()
    alice = switched_on(server.platform, person(server.platform, "13600000301", balance_fen=500_00))
    total = score_of(server.platform).current(alice.user_id).score.total

    admitted = _brief(client, alice.id_number, alice.name, total)
    assert admitted.is_success(), admitted.sub_code
    assert admitted.is_admittance == "Y" and len(admitted.biz_no) == 26
    below = _brief(client, alice.id_number, alice.name, min(total + 1, 950))
    assert (below.is_success(), below.is_admittance) == (True, "N")
    stranger = _brief(client, "110101199001011237", "李四", 600)
    assert stranger.is_admittance == "N/A"
    refused = _brief(client, alice.id_number, alice.name, 300)
    assert (refused.is_success(), refused.code, refused.sub_code) == (
        False,
        "40004",
        "INVALID_PARAMETER",
    )


def test_python_sdk_asks_for_admission_and_replays(server: Server) -> None:
    client = python_sdk(server)
    bob = switched_on(
        server.platform, person(server.platform, "13600000302", "李四", balance_fen=100_00)
    )
    biz = {
        "transaction_id": f"py_{time.time_ns()}",
        "product_code": PRODUCT_CODE,
        "cert_type": "IDENTITY_CARD",
        "cert_no": bob.id_number,
        "name": bob.name,
        "admittance_score": 350,
    }
    first = client.server_api(BRIEF_GET, biz_content=biz)
    assert (first["code"], first["is_admittance"]) == ("10000", "Y")
    again = client.server_api(BRIEF_GET, biz_content=biz)
    assert again["biz_no"] == first["biz_no"]
    changed = client.server_api(BRIEF_GET, biz_content={**biz, "admittance_score": 400})
    assert changed["sub_code"] == "PAYBAO.TRANSACTION_ID_REUSED"
