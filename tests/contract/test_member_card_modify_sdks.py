"""Both real SDKs against a real `paybao serve` for alipay.marketing.card.template.modify: the
official SDK's AlipayMarketingCardTemplateModifyModel (TemplateStyleInfoDTO,
TemplateCardLevelConfDTO, TemplateColumnInfoDTO) and its Response's template_id, and
python-alipay-sdk's `server_api`; template.query then answers the template as changed, a
request_id replayed with other terms is a signed CONTEXT_INCONSISTENT the SDK parses. Each
answer is verified by the SDK's own signature check.

The server and its fixtures are test_gateway_sdks.py's; the template comes from
test_member_card_sdks.py's helper (a create through the official SDK).
"""

from __future__ import annotations

import time
from typing import Any

from alipay.aop.api.domain.AlipayMarketingCardTemplateModifyModel import (
    AlipayMarketingCardTemplateModifyModel,
)
from alipay.aop.api.domain.AlipayMarketingCardTemplateQueryModel import (
    AlipayMarketingCardTemplateQueryModel,
)
from alipay.aop.api.domain.TemplateCardLevelConfDTO import TemplateCardLevelConfDTO
from alipay.aop.api.domain.TemplateColumnInfoDTO import TemplateColumnInfoDTO
from alipay.aop.api.domain.TemplateStyleInfoDTO import TemplateStyleInfoDTO
from alipay.aop.api.request.AlipayMarketingCardTemplateModifyRequest import (
    AlipayMarketingCardTemplateModifyRequest,
)
from alipay.aop.api.request.AlipayMarketingCardTemplateQueryRequest import (
    AlipayMarketingCardTemplateQueryRequest,
)
from alipay.aop.api.response.AlipayMarketingCardTemplateModifyResponse import (
    AlipayMarketingCardTemplateModifyResponse,
)
from alipay.aop.api.response.AlipayMarketingCardTemplateQueryResponse import (
    AlipayMarketingCardTemplateQueryResponse,
)
from test_gateway_sdks import Server, official, python_sdk, server
from test_member_card_sdks import _official_template, _parsed

__all__ = ["official", "server"]  # fixtures used by the tests below


def _level(level: str, show_name: str) -> TemplateCardLevelConfDTO:
    conf = TemplateCardLevelConfDTO()
    conf.level, conf.level_show_name = level, show_name
    return conf


def test_official_sdk_modifies_a_template_and_queries_it(server: Server, official: Any) -> None:
    client = official()
    template_id = _official_template(client, f"sdk-tpl-m-{time.time_ns()}")

    model = AlipayMarketingCardTemplateModifyModel()
    model.request_id = f"sdk-mod-{time.time_ns()}"
    model.template_id = template_id
    style = TemplateStyleInfoDTO()
    style.card_show_name, style.logo_id, style.background_id = "茶饮金卡", "logo-2", "bg-2"
    style.bg_color = "rgb(20,120,60)"
    model.template_style_info = style
    column = TemplateColumnInfoDTO()
    column.code, column.title, column.value = "TELEPHONE", "客服", "400-100-2000"
    model.column_info_list = [column]
    model.card_level_conf = [_level("SILVER", "银卡"), _level("GOLD", "金卡")]
    request = AlipayMarketingCardTemplateModifyRequest(biz_model=model)
    modified = _parsed(AlipayMarketingCardTemplateModifyResponse(), client.execute(request))
    assert modified.is_success(), (modified.sub_code, modified.sub_msg)
    assert modified.template_id == template_id
    again = _parsed(AlipayMarketingCardTemplateModifyResponse(), client.execute(request))
    assert again.is_success() and again.template_id == template_id  # a replay

    query = AlipayMarketingCardTemplateQueryModel()
    query.template_id = template_id
    shown = _parsed(
        AlipayMarketingCardTemplateQueryResponse(),
        client.execute(AlipayMarketingCardTemplateQueryRequest(biz_model=query)),
    )
    assert shown.is_success()
    assert shown.template_style_info.card_show_name == "茶饮金卡"
    assert [c.code for c in shown.column_info_list] == ["TELEPHONE"]
    assert [c.level for c in shown.card_level_confs] == ["SILVER", "GOLD"]
    assert [r.field_name for r in shown.field_rule_list] == ["Point"]  # not given: kept
    assert shown.biz_no_prefix == "66"

    model.card_level_conf = [_level("GOLD", "金卡")]  # the same request_id, other terms
    conflict = _parsed(AlipayMarketingCardTemplateModifyResponse(), client.execute(request))
    assert (conflict.code, conflict.sub_code) == ("40004", "CONTEXT_INCONSISTENT")


def test_python_sdk_modifies_a_template(server: Server) -> None:
    client = python_sdk(server)
    created = client.server_api(
        "alipay.marketing.card.template.create",
        biz_content={
            "request_id": f"py-tpl-m-{time.time_ns()}",
            "card_type": "OUT_MEMBER_CARD",
            "biz_no_prefix": "55",
            "biz_no_suffix_len": 10,
            "write_off_type": "qrcode",
            "template_style_info": {
                "card_show_name": "面包会员卡",
                "logo_id": "logo-py",
                "background_id": "bg-py",
            },
        },
    )
    assert created["code"] == "10000", created
    template_id = created["template_id"]
    modified = client.server_api(
        "alipay.marketing.card.template.modify",
        biz_content={
            "request_id": f"py-mod-{time.time_ns()}",
            "template_id": template_id,
            "write_off_type": "barcode",
            "biz_no_prefix": "BREAD",  # no card opened yet: the number rule may change
            "shop_ids": ["SHOP-1"],
        },
    )
    assert (modified["code"], modified["template_id"]) == ("10000", template_id), modified
    shown = client.server_api(
        "alipay.marketing.card.template.query", biz_content={"template_id": template_id}
    )
    assert (shown["write_off_type"], shown["biz_no_prefix"]) == ("barcode", "BREAD")
    assert shown["shop_ids"] == ["SHOP-1"]
    assert shown["template_style_info"]["card_show_name"] == "面包会员卡"

    unknown = client.server_api(
        "alipay.marketing.card.template.modify",
        biz_content={"request_id": "py-mod-x", "template_id": "2026" + "0" * 28},
    )
    assert (unknown["code"], unknown["sub_code"]) == ("40004", "CARD_TEMPLATE_NOT_EXIST")
