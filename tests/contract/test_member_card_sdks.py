"""Both real SDKs against a real `paybao serve` for membership cards: the official SDK's model
classes (AlipayMarketingCardTemplateCreateModel with TemplateStyleInfoDTO / TemplateFieldRuleDTO /
TemplateColumnInfoDTO, AlipayMarketingCardOpenModel with CardUserInfo and MerchantCard,
AlipayMarketingCardUpdateModel, AlipayMarketingCardQueryModel) and python-alipay-sdk's
`server_api(method, biz_content=...)`: create a template, let a user log in with paybao (the
token's user_id), open that user's card (the official SDK sends the user's auth_token as Alipay's
card.open takes it), update the points, query the card. Each answer is verified by the SDK's
own signature check.

The server and its fixtures are test_gateway_sdks.py's; the auth codes are issued in this
process on the server's SQLite file, as test_oauth_sdks.py does.
"""

from __future__ import annotations

import time
from typing import Any

from alipay.aop.api.domain.AlipayMarketingCardOpenModel import AlipayMarketingCardOpenModel
from alipay.aop.api.domain.AlipayMarketingCardQueryModel import AlipayMarketingCardQueryModel
from alipay.aop.api.domain.AlipayMarketingCardTemplateCreateModel import (
    AlipayMarketingCardTemplateCreateModel,
)
from alipay.aop.api.domain.AlipayMarketingCardTemplateQueryModel import (
    AlipayMarketingCardTemplateQueryModel,
)
from alipay.aop.api.domain.AlipayMarketingCardUpdateModel import AlipayMarketingCardUpdateModel
from alipay.aop.api.domain.CardUserInfo import CardUserInfo
from alipay.aop.api.domain.McardNotifyMessage import McardNotifyMessage
from alipay.aop.api.domain.MerchantCard import MerchantCard
from alipay.aop.api.domain.TemplateColumnInfoDTO import TemplateColumnInfoDTO
from alipay.aop.api.domain.TemplateFieldRuleDTO import TemplateFieldRuleDTO
from alipay.aop.api.domain.TemplateStyleInfoDTO import TemplateStyleInfoDTO
from alipay.aop.api.request.AlipayMarketingCardOpenRequest import AlipayMarketingCardOpenRequest
from alipay.aop.api.request.AlipayMarketingCardQueryRequest import (
    AlipayMarketingCardQueryRequest,
)
from alipay.aop.api.request.AlipayMarketingCardTemplateCreateRequest import (
    AlipayMarketingCardTemplateCreateRequest,
)
from alipay.aop.api.request.AlipayMarketingCardTemplateQueryRequest import (
    AlipayMarketingCardTemplateQueryRequest,
)
from alipay.aop.api.request.AlipayMarketingCardUpdateRequest import (
    AlipayMarketingCardUpdateRequest,
)
from alipay.aop.api.response.AlipayMarketingCardOpenResponse import (
    AlipayMarketingCardOpenResponse,
)
from alipay.aop.api.response.AlipayMarketingCardQueryResponse import (
    AlipayMarketingCardQueryResponse,
)
from alipay.aop.api.response.AlipayMarketingCardTemplateCreateResponse import (
    AlipayMarketingCardTemplateCreateResponse,
)
from alipay.aop.api.response.AlipayMarketingCardTemplateQueryResponse import (
    AlipayMarketingCardTemplateQueryResponse,
)
from alipay.aop.api.response.AlipayMarketingCardUpdateResponse import (
    AlipayMarketingCardUpdateResponse,
)
from test_gateway_sdks import Server, official, python_sdk, server
from test_oauth_sdks import _code, _official_token, _user

from paybao.adapters.alipay.methods import user_wire_id
from paybao.domain.user_oauth import Scope

__all__ = ["official", "server"]  # fixtures used by the tests below


def _parsed(response: Any, body: str) -> Any:
    response.parse_response_content(body)
    return response


def _official_template(client: Any, request_id: str) -> str:
    model = AlipayMarketingCardTemplateCreateModel()
    model.request_id = request_id
    model.card_type = "OUT_MEMBER_CARD"
    model.biz_no_prefix = "66"
    model.biz_no_suffix_len = "12"
    model.write_off_type = "qrcode"
    style = TemplateStyleInfoDTO()
    style.card_show_name = "茶饮会员卡"
    style.logo_id = "logo-sdk"
    style.background_id = "bg-sdk"
    style.bg_color = "rgb(200,60,60)"
    model.template_style_info = style
    point_column = TemplateColumnInfoDTO()
    point_column.code, point_column.title = "POINT", "积分"
    model.column_info_list = [point_column]
    rule = TemplateFieldRuleDTO()
    rule.field_name, rule.rule_name, rule.rule_value = "Point", "ASSIGN_FROM_REQUEST", "Point"
    model.field_rule_list = [rule]
    request = AlipayMarketingCardTemplateCreateRequest(biz_model=model)
    created = _parsed(AlipayMarketingCardTemplateCreateResponse(), client.execute(request))
    assert created.is_success(), created.sub_code
    return str(created.template_id)


def test_official_sdk_creates_a_template_opens_a_card_updates_and_queries(
    server: Server, official: Any
) -> None:
    client = official()
    template_id = _official_template(client, f"sdk-tpl-{time.time_ns()}")
    query_model = AlipayMarketingCardTemplateQueryModel()
    query_model.template_id = template_id
    shown = _parsed(
        AlipayMarketingCardTemplateQueryResponse(),
        client.execute(AlipayMarketingCardTemplateQueryRequest(biz_model=query_model)),
    )
    assert shown.is_success() and shown.card_type == "OUT_MEMBER_CARD"
    assert shown.template_style_info.card_show_name == "茶饮会员卡"
    assert shown.biz_no_prefix == "66"

    user_id = _user(server, "13900000901")
    token = _official_token(
        client, "authorization_code", code=_code(server, user_id, Scope.AUTH_BASE)
    )
    assert token.user_id == user_wire_id(user_id)

    model = AlipayMarketingCardOpenModel()
    model.out_serial_no = f"sdk-open-{time.time_ns()}"
    model.card_template_id = template_id
    holder = CardUserInfo()
    holder.user_uni_id, holder.user_uni_id_type = token.user_id, "UID"
    model.card_user_info = holder
    ext = MerchantCard()
    ext.external_card_no, ext.point, ext.balance = "TEA-0001", "10", "30.00"
    ext.open_date = "2026-11-01 09:30:00"
    model.card_ext_info = ext
    request = AlipayMarketingCardOpenRequest(biz_model=model)
    request.add_other_text_param("auth_token", token.access_token)  # as Alipay's card.open
    opened = _parsed(AlipayMarketingCardOpenResponse(), client.execute(request))
    assert opened.is_success(), (opened.sub_code, opened.sub_msg)
    card_no = opened.card_info.biz_card_no
    assert card_no.startswith("66") and len(card_no) == 14
    assert (opened.card_info.point, opened.card_info.balance) == ("10", "30.00")
    assert opened.card_info.open_date == "2026-11-01 09:30:00"

    update = AlipayMarketingCardUpdateModel()
    update.target_card_no, update.target_card_no_type = card_no, "BIZ_CARD"
    update.occur_time = "2030-05-01 12:00:00"
    values = MerchantCard()
    values.point, values.balance = "25.50", "12.00"
    update.card_info = values
    message = McardNotifyMessage()
    message.message_type, message.change_reason = "POINT_UPDATE", "下单得积分"
    update.notify_messages = [message]
    updated = _parsed(
        AlipayMarketingCardUpdateResponse(),
        client.execute(AlipayMarketingCardUpdateRequest(biz_model=update)),
    )
    assert updated.is_success(), updated.sub_code

    query = AlipayMarketingCardQueryModel()
    query.target_card_no, query.target_card_no_type = card_no, "BIZ_CARD"
    found = _parsed(
        AlipayMarketingCardQueryResponse(),
        client.execute(AlipayMarketingCardQueryRequest(biz_model=query)),
    )
    assert found.is_success(), found.sub_code
    assert (found.card_info.point, found.card_info.balance) == ("25.50", "12.00")
    assert found.card_info.external_card_no == "TEA-0001"
    assert found.schema_url.startswith(f"http://{server.host}:{server.port}/wallet/member-cards/")

    # The same serial with other terms: a signed business refusal the SDK parses.
    ext.point = "99"
    conflict = _parsed(AlipayMarketingCardOpenResponse(), client.execute(request))
    assert (conflict.code, conflict.sub_code) == ("40004", "CONTEXT_INCONSISTENT")


def test_python_sdk_creates_a_template_opens_a_card_updates_and_queries(server: Server) -> None:
    client = python_sdk(server)
    template = client.server_api(
        "alipay.marketing.card.template.create",
        biz_content={
            "request_id": f"py-tpl-{time.time_ns()}",
            "card_type": "OUT_MEMBER_CARD",
            "biz_no_prefix": "77",
            "biz_no_suffix_len": 10,
            "write_off_type": "barcode",
            "template_style_info": {
                "card_show_name": "面包会员卡",
                "logo_id": "logo-py",
                "background_id": "bg-py",
            },
            "card_level_conf": [{"level": "GOLD", "level_show_name": "金卡"}],
        },
    )
    assert template["code"] == "10000", template
    template_id = template["template_id"]

    user_id = _user(server, "13900000902")
    token = client.server_api(
        "alipay.system.oauth.token",
        grant_type="authorization_code",
        code=_code(server, user_id, Scope.AUTH_BASE),
    )
    buyer = token["user_id"]
    opened = client.server_api(
        "alipay.marketing.card.open",
        biz_content={
            "out_serial_no": f"py-open-{time.time_ns()}",
            "card_template_id": template_id,
            "card_user_info": {"user_uni_id": buyer, "user_uni_id_type": "UID"},
            "card_ext_info": {"level": "GOLD", "point": "0", "balance": "0.00"},
        },
    )
    assert opened["code"] == "10000", opened
    card_no = opened["card_info"]["biz_card_no"]
    assert card_no.startswith("77") and opened["card_info"]["level"] == "GOLD"

    updated = client.server_api(
        "alipay.marketing.card.update",
        biz_content={
            "target_card_no": card_no,
            "target_card_no_type": "BIZ_CARD",
            "occur_time": "2030-05-01 12:00:00",
            "card_info": {"point": "300", "balance": "88.80"},
        },
    )
    assert updated["code"] == "10000", updated
    found = client.server_api(
        "alipay.marketing.card.query",
        biz_content={"target_card_no": card_no, "target_card_no_type": "BIZ_CARD"},
    )
    assert (found["card_info"]["point"], found["card_info"]["balance"]) == ("300", "88.80")
    assert found["card_info"]["level"] == "GOLD"

    missing = client.server_api(
        "alipay.marketing.card.query",
        biz_content={"target_card_no": "77" + "0" * 10, "target_card_no_type": "BIZ_CARD"},
    )
    assert (missing["code"], missing["sub_code"]) == ("40004", "CARD_NOT_EXIST")
