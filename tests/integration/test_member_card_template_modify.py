"""alipay.marketing.card.template.modify on the real database (SQLite, or PostgreSQL with
PAYBAO_TEST_DATABASE_URL): MemberCardService.modify_template (each part replaced whole, parts
not given kept, idempotent by request_id, another app's template unknown, the card-number rule
and held levels kept), then the same through the gateway with RSA2-signed requests and the v3
path, cards already held showing the change in the wallet, and the portal's "last changed"."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import LOGIN_PASSWORD, app_keys, call, make_shop
from oauth_support import oauth_user
from tests.integration.admin_support import wallet_browser
from tests.integration.merchant_portal_support import MERCHANT_PASSWORD
from tests.integration.merchant_portal_support import sign_in as merchant_sign_in
from tests.integration.test_member_cards import (
    APP_ID,
    CREATE,
    OPEN,
    TQUERY,
    authorised_user,
    open_biz,
    template_biz,
)
from tests.support.races import at_once

from paybao.adapters.alipay.keys import load_private_key, load_public_key
from paybao.adapters.alipay.v3 import (
    request_sign_content,
    response_sign_content,
    sign_sha256_rsa,
    verify_sha256_rsa,
)
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.member_cards import (
    CardValues,
    DeleteReason,
    FieldName,
    FieldRule,
    RuleName,
    TemplateChanges,
    TemplateSpec,
    TemplateStyle,
    WriteOff,
)
from paybao.services.member_cards import (
    MemberCardService,
    NewTemplate,
    OpenRequest,
    Template,
    TemplateModification,
)

MODIFY = "alipay.marketing.card.template.modify"
OTHER_APP = "2021000000000888"
GOLD = {"level": "GOLD", "level_show_name": "金卡"}
VIP1 = {"level": "VIP1", "level_show_name": "银卡"}


# The service --------------------------------------------------------------------------------


def _cards(platform: Platform) -> MemberCardService:
    service: MemberCardService = platform.services["member_cards"]
    return service


def _spec(**parts: Any) -> TemplateSpec:
    return TemplateSpec(
        biz_no_prefix="88",
        biz_no_suffix_len=10,
        write_off=WriteOff.QRCODE,
        style=TemplateStyle("咖啡会员卡", "logo-1", "bg-1", "rgb(55,112,179)"),
        columns=({"code": "POINT", "title": "积分", "operate_type": "staticinfo"},),
        actions=({"code": "shop", "text": "去点单", "url": "https://shop.example/m"},),
        levels=(VIP1,),
        shop_ids=("S1",),
        **parts,
    )


def _template(platform: Platform, app_id: str = APP_ID, request_id: str = "tpl-1") -> Template:
    new = NewTemplate(app_id, 1, request_id, f"fp-{request_id}", _spec())
    return _cards(platform).create_template(new)


def _modify(
    platform: Platform,
    template_id: str,
    request_id: str,
    changes: TemplateChanges,
    app_id: str = APP_ID,
    fingerprint: str | None = None,
) -> Template:
    modification = TemplateModification(
        app_id, template_id, request_id, fingerprint or f"fp-{request_id}", changes
    )
    return _cards(platform).modify_template(modification)


def _open(platform: Platform, template_id: str, user_id: int, serial: str, level: str) -> Any:
    request = OpenRequest(
        app_id=APP_ID,
        template_id=template_id,
        user_id=user_id,
        out_serial_no=serial,
        fingerprint=serial,
        values=CardValues(point_hundredths=100, level=level),
        token_checked=True,  # stands for the user's OAuth grant
    )
    return _cards(platform).open_card(request)


def _refused(call_: Any) -> str:
    with pytest.raises(DomainError) as error:
        call_()
    return error.value.code


def test_each_part_given_replaces_the_stored_one_and_the_rest_stays(platform: Platform) -> None:
    make_shop(platform)
    created = _template(platform)
    assert created.modified_at_us is None
    style = TemplateStyle("咖啡金卡", "logo-2", "bg-2", "#102030", "小咖")
    rules = (FieldRule(FieldName.LEVEL, RuleName.CONST, "GOLD"),)
    steps: list[tuple[TemplateChanges, dict[str, Any]]] = [
        (TemplateChanges(style=style), {"style": style}),
        (TemplateChanges(columns=()), {"columns": ()}),  # given empty: emptied
        (TemplateChanges(field_rules=rules), {"field_rules": rules}),
        (TemplateChanges(actions=()), {"actions": ()}),
        (TemplateChanges(levels=(VIP1, GOLD)), {"levels": (VIP1, GOLD)}),
        (TemplateChanges(shop_ids=("S2", "S3")), {"shop_ids": ("S2", "S3")}),
        (TemplateChanges(benefits=({"title": "生日礼"},)), {"benefits": ({"title": "生日礼"},)}),
        (TemplateChanges(write_off=WriteOff.BARCODE), {"write_off": WriteOff.BARCODE}),
        (TemplateChanges(biz_no_prefix="VIP"), {"biz_no_prefix": "VIP"}),
        (TemplateChanges(biz_no_suffix_len=12), {"biz_no_suffix_len": 12}),
    ]
    expected = created.spec
    for index, (changes, parts) in enumerate(steps):
        expected = TemplateSpec(**{**_fields(expected), **parts})
        modified = _modify(platform, created.template_id, f"m-{index}", changes)
        assert modified.spec == expected, parts
        assert _cards(platform).template(created.template_id, APP_ID).spec == expected
    assert modified.modified_at_us is not None
    assert created.created_at_us < modified.modified_at_us <= platform.clock.now_us()
    assert (modified.created_at_us, modified.request_id) == (created.created_at_us, "tpl-1")
    # The numbering rule is checked as create checks it (prefix + suffix at most 32).
    too_long = TemplateChanges(biz_no_prefix="A" * 21)
    assert _refused(lambda: _modify(platform, created.template_id, "m-x", too_long)) == (
        "member_card_invalid"
    )


def _fields(spec: TemplateSpec) -> dict[str, Any]:
    names = TemplateSpec.__dataclass_fields__
    return {name: getattr(spec, name) for name in names}


def test_a_request_id_answers_once_and_refuses_other_terms(platform: Platform) -> None:
    make_shop(platform)
    template_id = _template(platform).template_id
    gold = TemplateChanges(levels=(VIP1, GOLD))
    first = _modify(platform, template_id, "m-1", gold)
    assert _modify(platform, template_id, "m-1", gold) == first  # nothing changed again
    other = TemplateChanges(levels=(VIP1,))
    code = _refused(lambda: _modify(platform, template_id, "m-1", other, fingerprint="fp-x"))
    assert code == "member_card_request_mismatch"
    assert _cards(platform).template(template_id).spec.levels == (VIP1, GOLD)
    # A create's request_id is its own key: a modify may use the same text.
    changed = _modify(platform, template_id, "tpl-1", other)
    assert changed.spec.levels == (VIP1,)
    assert first.modified_at_us is not None and changed.modified_at_us is not None
    assert changed.modified_at_us > first.modified_at_us
    # A modify that changes nothing (the same parts, or none) leaves the last change's time.
    for request_id, same in (("m-2", TemplateChanges(levels=(VIP1,))), ("m-3", TemplateChanges())):
        assert _modify(platform, template_id, request_id, same) == changed


def test_another_apps_or_an_unknown_template_is_not_there(platform: Platform) -> None:
    make_shop(platform)
    make_shop(platform, app_id=OTHER_APP)
    theirs = _template(platform, app_id=OTHER_APP)
    change = TemplateChanges(shop_ids=("S9",))
    for template_id in (theirs.template_id, "2026" + "0" * 28):
        code = _refused(lambda tid=template_id: _modify(platform, tid, f"m-{tid}", change))
        assert code == "member_card_template_not_found"
    assert _cards(platform).template(theirs.template_id).spec == theirs.spec


def test_a_level_cards_hold_stays_and_the_number_rule_stays_once_cards_exist(
    platform: Platform,
) -> None:
    make_shop(platform)
    template_id = _modify(
        platform, _template(platform).template_id, "m-0", TemplateChanges(levels=(VIP1, GOLD))
    ).template_id
    alice = oauth_user(platform, "13900002001")
    bob = oauth_user(platform, "13900002002")
    held = _open(platform, template_id, alice, "o-1", "VIP1").card
    gone = _open(platform, template_id, bob, "o-2", "GOLD").card
    _cards(platform).delete_card(APP_ID, gone.biz_card_no, "d-1", DeleteReason.USER_UNBUND, "f")

    only_gold = TemplateChanges(levels=(GOLD,))
    assert _refused(lambda: _modify(platform, template_id, "m-1", only_gold)) == (
        "member_card_level_held"
    )
    assert _refused(lambda: _modify(platform, template_id, "m-2", TemplateChanges(levels=()))) == (
        "member_card_level_held"
    )
    # GOLD is held by a deleted card only: it may go; a new show name for VIP1 is no removal.
    renamed = ({"level": "VIP1", "level_show_name": "白银会员"},)
    assert _modify(platform, template_id, "m-3", TemplateChanges(levels=renamed)).spec.levels == (
        renamed
    )

    # Cards exist (a deleted one too): the numbering rule stays; the same values are no change.
    for changes in (TemplateChanges(biz_no_prefix="99"), TemplateChanges(biz_no_suffix_len=12)):
        code = _refused(lambda c=changes: _modify(platform, template_id, f"m-{c}", c))
        assert code == "member_card_invalid"
    same = TemplateChanges(biz_no_prefix="88", biz_no_suffix_len=10, shop_ids=("S7",))
    assert _modify(platform, template_id, "m-4", same).spec.shop_ids == ("S7",)
    assert _cards(platform).card(APP_ID, held.biz_card_no).card.level == "VIP1"


def test_a_number_rule_change_racing_opens_never_leaves_a_card_off_the_rule(
    platform: Platform,
) -> None:
    make_shop(platform)
    template_id = _template(platform).template_id
    users = [oauth_user(platform, f"1390000203{index}") for index in range(3)]
    racers: list[Any] = [
        lambda u=user: _open(platform, template_id, u, f"o-{u}", "VIP1") for user in users
    ]
    racers.append(
        lambda: _modify(platform, template_id, "m-1", TemplateChanges(biz_no_prefix="VIP"))
    )
    results = at_once(racers)
    refusals = [r for r in results if isinstance(r, DomainError)]
    assert all(r.code == "member_card_invalid" for r in refusals), refusals  # after a card
    prefix = _cards(platform).template(template_id).spec.biz_no_prefix
    numbers = [_cards(platform).cards_of(user)[0].card.biz_card_no for user in users]
    if refusals:
        assert prefix == "88"  # the modify came after a card: refused
    else:
        assert prefix == "VIP" and all(n.startswith("VIP") for n in numbers)  # it came first
    assert all(n.startswith(prefix) and n[len(prefix) :].isdigit() for n in numbers), numbers


def test_a_card_opened_before_shows_the_new_face_columns_and_levels(platform: Platform) -> None:
    make_shop(platform)
    template_id = _template(platform).template_id
    alice = oauth_user(platform, "13900002011")
    card = _open(platform, template_id, alice, "o-1", "VIP1").card
    changes = TemplateChanges(
        style=TemplateStyle("咖啡黑卡", "logo-9", "bg-9", "#000000"),
        columns=({"code": "TELEPHONE", "title": "客服", "operate_type": "staticinfo"},),
        levels=({"level": "VIP1", "level_show_name": "黑卡会员"},),
    )
    _modify(platform, template_id, "m-1", changes)
    view = _cards(platform).card_view(alice, card.id)
    assert view.card == card  # the card itself did not change
    assert view.template.spec.style.card_show_name == "咖啡黑卡"
    assert view.template.spec.columns[0]["code"] == "TELEPHONE"
    assert view.template.spec.level_name(card.level) == "黑卡会员"
    (listed,) = _cards(platform).cards_of(alice)
    assert listed.template.spec.style.bg_color == "#000000"


# The gateway and v3 -------------------------------------------------------------------------


def test_modify_over_the_gateway_and_what_the_wallet_and_portal_show(
    client: TestClient, platform: Platform
) -> None:
    shop = make_shop(platform, notify_url="https://shop.example/notify")
    platform.services["merchant_accounts"].set_password(shop.merchant.id, MERCHANT_PASSWORD)
    user_id, _ = authorised_user(client, platform, "13900002021")
    template_id = call(client, CREATE, template_biz())["template_id"]
    opened = call(client, OPEN, open_biz(user_id, "open-1", template_id))
    assert opened["code"] == "10000", opened

    modify = {
        "request_id": "mod-1",
        "template_id": template_id,
        "template_style_info": {
            "card_show_name": "咖啡金卡",
            "logo_id": "logo-2",
            "background_id": "bg-2",
            "bg_color": "rgb(200,160,40)",
        },
        "column_info_list": [{"code": "BENEFIT", "title": "会员权益", "value": "第二杯半价"}],
        "card_level_conf": [VIP1, GOLD],
        "pub_channels": [{"pub_channel": "SHOP_DETAIL"}],  # accepted and ignored, as create's
    }
    answer = call(client, MODIFY, modify)
    assert (answer["code"], answer["template_id"]) == ("10000", template_id), answer
    assert call(client, MODIFY, modify)["template_id"] == template_id  # a replay
    other = call(client, MODIFY, {**modify, "shop_ids": ["S1"]})
    assert (other["code"], other["sub_code"]) == ("40004", "CONTEXT_INCONSISTENT")

    queried = call(client, TQUERY, {"template_id": template_id})
    assert queried["template_style_info"]["card_show_name"] == "咖啡金卡"
    assert queried["column_info_list"] == [
        {
            "code": "BENEFIT",
            "title": "会员权益",
            "operate_type": "staticinfo",
            "value": "第二杯半价",
        }
    ]
    assert queried["card_level_confs"] == [VIP1, GOLD]
    # Not given: kept as created.
    assert queried["card_action_list"][0]["text"] == "去点单"
    assert [rule["field_name"] for rule in queried["field_rule_list"]] == [
        "Balance",
        "Point",
        "ValidDate",
    ]
    assert (queried["biz_no_prefix"], queried["write_off_type"]) == ("88", "qrcode")

    refusals: list[tuple[dict[str, Any], str]] = [
        # Checked as create checks it: the style whole, its required fields again.
        ({"template_style_info": {"card_show_name": "x"}}, "INVALID_PARAMETER"),
        ({"column_info_list": [{"code": "C"}]}, "INVALID_PARAMETER"),
        ({"write_off_type": "mdqrcode"}, "INVALID_PARAMETER"),
        ({"card_type": "BOARDING_PASS"}, "INVALID_PARAMETER"),
        ({"biz_no_prefix": "99"}, "INVALID_PARAMETER"),  # a card has an 88 number
        ({"card_level_conf": [GOLD]}, "CARD_LEVEL_IN_USE"),  # the user holds VIP1
        ({"template_id": "2026" + "0" * 28}, "CARD_TEMPLATE_NOT_EXIST"),
    ]
    for index, (part, sub_code) in enumerate(refusals):
        biz = {"request_id": f"bad-{index}", "template_id": template_id, **part}
        refused = call(client, MODIFY, biz)
        assert (refused["code"], refused["sub_code"]) == ("40004", sub_code), (part, refused)
    assert call(client, MODIFY, {"template_id": template_id})["sub_code"] == "INVALID_PARAMETER"
    level_refusal = call(
        client, MODIFY, {"request_id": "bad-l", "template_id": template_id, "card_level_conf": []}
    )
    assert "VIP1" in level_refusal["sub_msg"]

    # The card the user took before shows the new face and columns.
    browser = wallet_browser(client, "13900002021", LOGIN_PASSWORD)
    listing = browser.get("/wallet/member-cards")
    assert "咖啡金卡" in listing.text and "咖啡会员卡" not in listing.text
    card_path = _first_card_path(listing.text)
    page = browser.get(card_path)
    assert "咖啡金卡" in page.text and "第二杯半价" in page.text and "银卡" in page.text

    portal = TestClient(client.app)
    assert merchant_sign_in(portal, shop.merchant.id).status_code == 303
    row = _template_row(portal.get("/merchant/member-cards").text, template_id)
    assert 'class="template-modified">-<' not in row and "咖啡金卡" in row


def _first_card_path(html: str) -> str:
    start = html.index('href="/wallet/member-cards/') + len('href="')
    return html[start : html.index('"', start)]


def _template_row(html: str, template_id: str) -> str:
    start = html.index(f'data-template-id="{template_id}"')
    return html[start : html.index("</tr>", start)]


def test_the_portal_shows_a_dash_for_a_template_never_changed(
    client: TestClient, platform: Platform
) -> None:
    shop = make_shop(platform, notify_url="https://shop.example/notify")
    platform.services["merchant_accounts"].set_password(shop.merchant.id, MERCHANT_PASSWORD)
    template_id = call(client, CREATE, template_biz())["template_id"]
    portal = TestClient(client.app)
    assert merchant_sign_in(portal, shop.merchant.id).status_code == 303
    row = _template_row(portal.get("/merchant/member-cards").text, template_id)
    assert 'class="template-modified">-<' in row


def _v3(client: TestClient, platform: Platform, path: str, biz: dict[str, Any]) -> Any:
    """A v3 POST signed with the shop's key (gateway_support's, as make_shop registers it)."""
    body = json.dumps(biz, ensure_ascii=False).encode()
    auth = f"app_id={APP_ID},nonce={uuid.uuid4()},timestamp={int(time.time() * 1000)}"
    content = request_sign_content(auth, "POST", path, body)
    signature = sign_sha256_rsa(content, load_private_key(app_keys().private_pem_pkcs1))
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"ALIPAY-SHA256withRSA {auth},sign={signature}",
    }
    response = client.post(path, content=body, headers=headers)
    content = response_sign_content(
        response.headers["alipay-timestamp"], response.headers["alipay-nonce"], response.content
    )
    public_key = load_public_key(platform.services["platform_key"].public_pem)
    assert verify_sha256_rsa(content, response.headers["alipay-signature"], public_key)
    return response


def test_modify_over_the_v3_path(client: TestClient, platform: Platform) -> None:
    make_shop(platform, notify_url="https://shop.example/notify")
    template_id = call(client, CREATE, template_biz())["template_id"]
    path = "/v3/alipay/marketing/card/template/modify"
    biz = {"request_id": "v3-mod-1", "template_id": template_id, "shop_ids": ["S5", "S6"]}
    answer = _v3(client, platform, path, biz)
    assert (answer.status_code, answer.json()) == (200, {"template_id": template_id}), answer.text
    assert call(client, TQUERY, {"template_id": template_id})["shop_ids"] == ["S5", "S6"]
    conflict = _v3(client, platform, path, {**biz, "shop_ids": ["S7"]})
    assert conflict.status_code >= 400 and conflict.json()["code"] == "CONTEXT_INCONSISTENT"
    unknown = _v3(client, platform, path, {"request_id": "v3-2", "template_id": "2026" + "0" * 28})
    assert unknown.json()["code"] == "CARD_TEMPLATE_NOT_EXIST"
