"""template.modify's pure parts: which parts a request gives (absent or JSON null: kept; an
empty list: emptied), read by the very readers template.create uses; TemplateChanges applied to
a spec; the card-number and held-level rules, asking the database only when they must."""

from __future__ import annotations

from typing import Any

import pytest

from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.member_card_methods import template_changes, template_spec
from paybao.domain.errors import DomainError
from paybao.domain.member_cards import (
    TemplateChanges,
    TemplateSpec,
    TemplateStyle,
    WriteOff,
    check_levels_kept,
    check_numbering_kept,
)

SPEC = TemplateSpec(
    biz_no_prefix="88",
    biz_no_suffix_len=10,
    write_off=WriteOff.QRCODE,
    style=TemplateStyle("会员卡", "logo", "bg"),
    shop_ids=("S1",),
    levels=({"level": "VIP1", "level_show_name": "银卡"},),
)
STYLE = {"card_show_name": "金卡", "logo_id": "l2", "background_id": "b2", "bg_color": "#ffffff"}


def test_only_the_parts_given_are_changes() -> None:
    changes = template_changes(
        {
            "request_id": "r",
            "template_id": "t",
            "template_style_info": STYLE,
            "shop_ids": [],
            "card_level_conf": None,
            "pub_channels": [{"pub_channel": "SHOP_DETAIL"}],
        }
    )
    assert changes == TemplateChanges(
        style=TemplateStyle("金卡", "l2", "b2", "#ffffff"), shop_ids=()
    )
    modified = changes.applied_to(SPEC)
    assert (modified.style.card_show_name, modified.shop_ids) == ("金卡", ())
    assert modified.levels == SPEC.levels and modified.biz_no_prefix == "88"
    assert template_changes({"template_id": "t"}).applied_to(SPEC) == SPEC


@pytest.mark.parametrize(
    "part",
    [
        {"template_style_info": {"card_show_name": "x"}},
        {"write_off_type": "mdbarcode"},
        {"biz_no_suffix_len": "ten"},
        {"column_info_list": [{"code": "C", "title": "t", "operate_type": "openWeb"}]},
        {"card_action_list": [{"code": "a", "text": "t", "url": "javascript:x"}]},
        {"field_rule_list": [{"field_name": "Point", "rule_name": "DATE_IN_FUTURE"}]},
        {"template_style_info": {**STYLE, "bg_color": "red"}},
    ],
)
def test_a_part_is_refused_by_modify_exactly_as_by_create(part: dict[str, Any]) -> None:
    create = {
        "biz_no_suffix_len": "10",
        "write_off_type": "qrcode",
        "template_style_info": STYLE,
        **part,
    }
    errors = []
    for read, biz in ((template_spec, create), (template_changes, part)):
        with pytest.raises((WireError, DomainError)) as error:
            read(biz)
        errors.append((type(error.value), str(error.value)))
    assert errors[0] == errors[1]


def test_the_number_rule_and_held_levels_ask_the_database_only_when_they_change() -> None:
    def never() -> bool:
        raise AssertionError("asked without need")

    check_numbering_kept(SPEC, TemplateChanges(shop_ids=()).applied_to(SPEC), never)
    other_prefix = TemplateChanges(biz_no_prefix="99").applied_to(SPEC)
    check_numbering_kept(SPEC, other_prefix, lambda: False)  # no card yet: may change
    with pytest.raises(DomainError) as error:
        check_numbering_kept(SPEC, other_prefix, lambda: True)
    assert error.value.code == "member_card_invalid"

    renamed = TemplateChanges(levels=({"level": "VIP1", "level_show_name": "白银"},))
    check_levels_kept(SPEC, renamed.applied_to(SPEC), lambda levels: never())
    dropped = TemplateChanges(levels=()).applied_to(SPEC)
    asked: list[list[str]] = []
    check_levels_kept(SPEC, dropped, lambda levels: asked.append(levels) or [])
    assert asked == [["VIP1"]]
    with pytest.raises(DomainError) as error:
        check_levels_kept(SPEC, dropped, lambda levels: levels)
    assert error.value.code == "member_card_level_held" and "VIP1" in error.value.message
