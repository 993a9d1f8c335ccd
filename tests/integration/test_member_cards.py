"""Membership cards end to end on the real database (SQLite, or PostgreSQL with
PAYBAO_TEST_DATABASE_URL): alipay.marketing.card.* signed through the gateway, one card per
template per user under a race, the wallet's card pages (apply link, QR, history, delete), the
merchant portal's template list, and the ledger left alone (a card's balance is the merchant's
stored value, never paybao money)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from gateway_support import LOGIN_PASSWORD, call, count_rows, make_shop
from oauth_support import code_for, exchange, oauth_user
from sqlalchemy import func, select
from tests.integration.admin_support import csrf_of, wallet_browser
from tests.integration.merchant_portal_support import MERCHANT_PASSWORD
from tests.integration.merchant_portal_support import sign_in as merchant_sign_in
from tests.support.races import at_once

from paybao.adapters.db.tables.member_cards import member_card_changes, member_cards
from paybao.adapters.qr import decode_image
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.member_cards import CardValues
from paybao.services.member_cards import Opened, OpenRequest

APP_ID = "2021000000000777"
CREATE = "alipay.marketing.card.template.create"
TQUERY = "alipay.marketing.card.template.query"
OPEN = "alipay.marketing.card.open"
QUERY = "alipay.marketing.card.query"
UPDATE = "alipay.marketing.card.update"
DELETE = "alipay.marketing.card.delete"


def template_biz(request_id: str = "tpl-1", **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "card_type": "OUT_MEMBER_CARD",
        "biz_no_prefix": "88",
        "biz_no_suffix_len": "10",
        "write_off_type": "qrcode",
        "template_style_info": {
            "card_show_name": "咖啡会员卡",
            "logo_id": "logo-1",
            "background_id": "bg-1",
            "bg_color": "rgb(55,112,179)",
        },
        "column_info_list": [
            {"code": "POINT", "title": "积分"},
            {"code": "TELEPHONE", "title": "客服", "value": "400-000-0000"},
        ],
        "field_rule_list": [
            {"field_name": "Balance", "rule_name": "ASSIGN_FROM_REQUEST", "rule_value": "Balance"},
            {"field_name": "Point", "rule_name": "ASSIGN_FROM_REQUEST", "rule_value": "Point"},
            {"field_name": "ValidDate", "rule_name": "DATE_IN_FUTURE", "rule_value": "12m"},
        ],
        "card_level_conf": [{"level": "VIP1", "level_show_name": "银卡"}],
        "card_action_list": [{"code": "shop", "text": "去点单", "url": "https://shop.example/m"}],
        **extra,
    }


def open_biz(user_id: int, serial: str, template_id: str, **ext: str) -> dict[str, Any]:
    return {
        "out_serial_no": serial,
        "card_template_id": template_id,
        "card_user_info": {"user_uni_id": f"2088{user_id:012d}", "user_uni_id_type": "UID"},
        "card_ext_info": {"point": "100", "balance": "50.00", "level": "VIP1", **ext},
    }


def authorised_user(client: TestClient, platform: Platform, phone: str) -> tuple[int, str]:
    """A user who logged in to the shop's app with paybao: (user id, access token)."""
    user_id = oauth_user(platform, phone)
    _, token = exchange(client, code_for(platform, user_id, APP_ID, "auth_base"))
    assert "access_token" in token, token
    return user_id, str(token["access_token"])


def ledger_rows(platform: Platform) -> tuple[int, int]:
    return count_rows(platform, "ledger_transfers"), count_rows(platform, "ledger_accounts")


def test_templates_open_update_query_and_delete_over_the_gateway(
    client: TestClient, platform: Platform
) -> None:
    make_shop(platform, notify_url="https://shop.example/notify")
    user_id, _ = authorised_user(client, platform, "13900001001")
    stranger = oauth_user(platform, "13900001002")  # never logged in to the shop's app
    ledger_before = ledger_rows(platform)

    created = call(client, CREATE, template_biz())
    assert created["code"] == "10000", created
    template_id = created["template_id"]
    assert re.fullmatch(r"\d{32}", template_id)
    assert call(client, CREATE, template_biz())["template_id"] == template_id  # a replay
    changed = template_biz(template_style_info={"card_show_name": "x", "logo_id": "l"})
    conflict = call(client, CREATE, changed)
    assert (conflict["code"], conflict["sub_code"]) == ("40004", "INVALID_PARAMETER")
    changed["template_style_info"]["background_id"] = "bg"
    conflict = call(client, CREATE, changed)
    assert (conflict["code"], conflict["sub_code"]) == ("40004", "CONTEXT_INCONSISTENT")
    dynamic = call(client, CREATE, template_biz("tpl-2", write_off_type="mdqrcode"))
    assert dynamic["sub_code"] == "INVALID_PARAMETER"

    queried = call(client, TQUERY, {"template_id": template_id})
    assert queried["template_style_info"]["card_show_name"] == "咖啡会员卡"
    assert queried["card_level_confs"] == [{"level": "VIP1", "level_show_name": "银卡"}]
    assert (queried["biz_no_prefix"], queried["biz_no_suffix_len"]) == ("88", "10")

    opened = call(client, OPEN, open_biz(user_id, "open-1", template_id, external_card_no="E1"))
    assert opened["code"] == "10000", opened
    info = opened["card_info"]
    assert re.fullmatch(r"88\d{10}", info["biz_card_no"])
    assert (info["point"], info["balance"], info["level"]) == ("100", "50.00", "VIP1")
    assert info["external_card_no"] == "E1" and info["valid_date"] > info["open_date"]
    again = call(client, OPEN, open_biz(user_id, "open-1", template_id, external_card_no="E1"))
    assert again["card_info"] == info  # the same serial: the same answer
    other = call(client, OPEN, open_biz(user_id, "open-1", template_id, point="5"))
    assert other["sub_code"] == "CONTEXT_INCONSISTENT"
    second = call(client, OPEN, open_biz(user_id, "open-2", template_id))
    assert second["card_info"]["biz_card_no"] == info["biz_card_no"]  # one card per user
    refused = call(client, OPEN, open_biz(stranger, "open-3", template_id))
    assert (refused["code"], refused["sub_code"]) == ("40006", "isv.insufficient-user-permissions")
    nobody = call(client, OPEN, open_biz(99_999_999, "open-4", template_id))
    assert nobody["sub_code"] == "USER_NOT_EXIST"
    unknown = call(client, OPEN, open_biz(user_id, "open-5", "2026" + "0" * 28))
    assert unknown["sub_code"] == "CARD_TEMPLATE_NOT_EXIST"

    card_no = info["biz_card_no"]
    update = {
        "target_card_no": card_no,
        "target_card_no_type": "BIZ_CARD",
        "occur_time": "2030-01-02 10:00:00",
        "card_info": {"point": "180.5", "balance": "42.00", "level": "VIP1"},
        "notify_messages": [{"message_type": "POINT_UPDATE", "change_reason": "消费积分"}],
    }
    assert call(client, UPDATE, update)["code"] == "10000"
    assert call(client, UPDATE, update)["code"] == "10000"  # a replay adds no history
    late = {**update, "occur_time": "2030-01-01 09:00:00", "card_info": {"point": "1"}}
    assert call(client, UPDATE, late)["code"] == "10000"  # older: history only
    found = call(client, QUERY, {"target_card_no": card_no, "target_card_no_type": "BIZ_CARD"})
    assert (found["card_info"]["point"], found["card_info"]["balance"]) == ("180.50", "42.00")
    assert found["schema_url"].endswith(f"/wallet/member-cards/{_card_id(platform, card_no)}")
    with platform.db.read() as tx:
        kinds = list(
            tx.execute(
                select(member_card_changes.c.kind, member_card_changes.c.applied).order_by(
                    member_card_changes.c.id
                )
            )
        )
    assert [tuple(row) for row in kinds] == [("open", True), ("update", True), ("update", False)]
    filtered = {
        "target_card_no": card_no,
        "card_user_info": open_biz(stranger, "", "")["card_user_info"],
    }
    assert call(client, QUERY, filtered)["sub_code"] == "CARD_NOT_EXIST"

    delete = {"out_serial_no": "del-1", "target_card_no": card_no, "reason_code": "CANCEL"}
    deleted = call(client, DELETE, delete)
    assert deleted["code"] == "10000" and deleted["biz_serial_no"]
    assert call(client, DELETE, delete)["biz_serial_no"] == deleted["biz_serial_no"]
    assert call(client, UPDATE, update)["sub_code"] == "CARD_NOT_EXIST"
    cancelled = call(client, OPEN, open_biz(user_id, "open-6", template_id))
    assert cancelled["sub_code"] == "USER_CARD_CANCELLED"
    # Points and stored value came and went; paybao's ledger did not move.
    assert ledger_rows(platform) == ledger_before


def _card_id(platform: Platform, biz_card_no: str) -> int:
    with platform.db.read() as tx:
        query = select(member_cards.c.id).where(member_cards.c.biz_card_no == biz_card_no)
        return int(tx.execute(query).scalar_one())


def test_the_users_auth_token_stands_for_the_authorisation(
    client: TestClient, platform: Platform
) -> None:
    make_shop(platform, notify_url="https://shop.example/notify")
    user_id, token = authorised_user(client, platform, "13900001011")
    other_id, other_token = authorised_user(client, platform, "13900001012")
    template_id = call(client, CREATE, template_biz())["template_id"]
    wrong = call(client, OPEN, open_biz(user_id, "s1", template_id), auth_token=other_token)
    assert (wrong["code"], wrong["sub_code"]) == ("40006", "isv.insufficient-user-permissions")
    bad = call(client, OPEN, open_biz(user_id, "s1", template_id), auth_token="authusrBnope")
    assert (bad["code"], bad["sub_code"]) == ("20001", "aop.invalid-auth-token")
    right = call(client, OPEN, open_biz(user_id, "s1", template_id), auth_token=token)
    assert right["code"] == "10000"
    assert other_id != user_id


def test_two_opens_at_once_make_one_card(client: TestClient, platform: Platform) -> None:
    make_shop(platform, notify_url="https://shop.example/notify")
    user_id, _ = authorised_user(client, platform, "13900001021")
    template_id = call(client, CREATE, template_biz())["template_id"]
    cards = platform.services["member_cards"]

    def opener(serial: str) -> Any:
        request = OpenRequest(
            app_id=APP_ID,
            template_id=template_id,
            user_id=user_id,
            out_serial_no=serial,
            fingerprint=serial,
            values=CardValues(point_hundredths=100),
        )
        return lambda: cards.open_card(request)

    results = at_once(
        [opener("race-a"), opener("race-b"), lambda: cards.apply(user_id, template_id)]
    )
    assert not [r for r in results if isinstance(r, DomainError)], results
    opened = [r for r in results if isinstance(r, Opened)]
    assert len({r.card.biz_card_no for r in opened}) == 1
    assert sum(r.created for r in opened) == 1
    with platform.db.read() as tx:
        count = tx.execute(
            select(func.count())
            .select_from(member_cards)
            .where(member_cards.c.template_id == template_id)
        ).scalar_one()
    assert count == 1


def test_the_wallet_takes_shows_and_deletes_a_card(client: TestClient, platform: Platform) -> None:
    # One signing key for the whole module: gateway_support's (as oauth_support signs with).
    shop = make_shop(platform, notify_url="https://shop.example/notify")
    platform.services["merchant_accounts"].set_password(shop.merchant.id, MERCHANT_PASSWORD)
    user_id = oauth_user(platform, "13900001031")
    template_id = call(client, CREATE, template_biz())["template_id"]

    link = f"/wallet/cards/apply/{template_id}"
    anonymous = client.get(link, follow_redirects=True)
    assert "/login?next=/wallet/member-cards/apply/" in str(anonymous.url)
    browser = wallet_browser(client, "13900001031", LOGIN_PASSWORD)
    home = browser.get("/wallet")
    assert 'id="nav-member-cards"' in home.text
    offer = browser.get(link)
    assert (
        offer.status_code == 200 and 'id="take-card"' in offer.text and "咖啡会员卡" in offer.text
    )
    taken = browser.post(
        f"/wallet/member-cards/apply/{template_id}",
        data={"csrf_token": csrf_of(offer.text)},
        follow_redirects=False,
    )
    assert taken.status_code == 303
    card_path = taken.headers["location"]
    page = browser.get(card_path)
    assert page.status_code == 200
    biz_card_no = re.search(r'data-biz-card-no="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    assert 'id="card-qr"' in page.text and 'id="balance-note"' in page.text
    assert "去点单" in page.text and "400-000-0000" in page.text
    qr = browser.get(f"{card_path}/qr.svg")
    assert qr.headers["content-type"].startswith("image/svg+xml") and "<svg" in qr.text
    # The same link again goes straight to the card.
    assert browser.get(link, follow_redirects=False).headers["location"] == (
        f"/wallet/member-cards/apply/{template_id}"
    )
    assert (
        browser.get(f"/wallet/member-cards/apply/{template_id}", follow_redirects=False).headers[
            "location"
        ]
        == card_path
    )

    # The merchant updates points; the card page shows them and the history line.
    update = {
        "target_card_no": biz_card_no,
        "occur_time": "2030-01-02 10:00:00",
        "card_info": {"point": "66", "balance": "12.30"},
        "notify_messages": [{"message_type": "POINT_UPDATE", "change_reason": "周末双倍积分"}],
    }
    assert call(client, UPDATE, update)["code"] == "10000"
    page = browser.get(card_path)
    assert '<dd id="card-point">66</dd>' in page.text and "12.30" in page.text
    assert "周末双倍积分" in page.text

    # Another user cannot see it; the portal counts it.
    other = oauth_user(platform, "13900001032")
    assert other != user_id
    stranger = wallet_browser(client, "13900001032", LOGIN_PASSWORD)
    assert stranger.get(card_path).status_code == 404
    assert stranger.get(f"{card_path}/qr.svg").status_code == 404
    portal = TestClient(client.app)
    assert merchant_sign_in(portal, shop.merchant.id).status_code == 303
    listing = portal.get("/merchant/member-cards")
    assert f'data-template-id="{template_id}" data-cards="1"' in listing.text
    assert f"/wallet/cards/apply/{template_id}" in listing.text
    poster = portal.get(f"/merchant/member-cards/{template_id}/qr.svg")
    assert poster.status_code == 200 and "<svg" in poster.text

    # The user deletes the card and may take it again (a new number).
    page = browser.get(card_path)
    gone = browser.post(
        f"{card_path}/delete", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert gone.headers["location"] == "/wallet/member-cards?done=deleted"
    assert browser.get(card_path).status_code == 404
    assert 'id="no-member-cards"' in browser.get("/wallet/member-cards").text
    offer = browser.get(f"/wallet/member-cards/apply/{template_id}")
    again = browser.post(
        f"/wallet/member-cards/apply/{template_id}",
        data={"csrf_token": csrf_of(offer.text)},
        follow_redirects=False,
    )
    assert again.status_code == 303 and again.headers["location"] != card_path


def test_a_barcode_template_shows_a_code128_of_the_merchants_number(
    client: TestClient, platform: Platform
) -> None:
    make_shop(platform, notify_url="https://shop.example/notify")
    user_id, _ = authorised_user(client, platform, "13900001041")
    biz = template_biz("tpl-bar", write_off_type="barcode")
    template_id = call(client, CREATE, biz)["template_id"]
    opened = call(client, OPEN, open_biz(user_id, "o1", template_id, external_card_no="2024001"))
    card_id = _card_id(platform, opened["card_info"]["biz_card_no"])
    browser = wallet_browser(client, "13900001041", LOGIN_PASSWORD)
    page = browser.get(f"/wallet/member-cards/{card_id}")
    assert 'id="card-barcode"' in page.text
    barcode = browser.get(f"/wallet/member-cards/{card_id}/barcode.png")
    assert decode_image(barcode.content) == ["2024001"]
