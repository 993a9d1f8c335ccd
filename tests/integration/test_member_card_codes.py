"""Membership cards' dynamic write-off codes (dqrcode / dbarcode) on the real database (SQLite,
or PostgreSQL with PAYBAO_TEST_DATABASE_URL): MemberCardCodes issuing, rotating and expiring
codes on the test clock, the caps (codes alive per card, one issue per few seconds), another
app's query refused, a static template unaffected and a switch either way followed; then
alipay.marketing.card.query with D_QR_CODE / D_BAR_CODE through the gateway with RSA2-signed
requests, and the wallet's card page and its code endpoint."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import LOGIN_PASSWORD, call, count_rows, make_shop
from oauth_support import oauth_user
from tests.integration.admin_support import csrf_of, wallet_browser
from tests.integration.test_member_card_template_modify import _spec
from tests.integration.test_member_cards import (
    APP_ID,
    CREATE,
    OPEN,
    QUERY,
    UPDATE,
    authorised_user,
    open_biz,
    template_biz,
)

from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.member_card_codes import (
    DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN,
    DYNAMIC_CODE_TTL_S,
    DYNAMIC_CODES_LIVE_PER_CARD_MAX,
    code_digest,
    looks_like_dynamic_code,
    new_dynamic_code,
)
from paybao.domain.member_cards import CardValues, TemplateChanges, WriteOff
from paybao.domain.paycode import looks_like_paycode
from paybao.services.member_card_codes import MemberCardCodes
from paybao.services.member_cards import Card as MemberCard
from paybao.services.member_cards import (
    MemberCardService,
    NewTemplate,
    OpenRequest,
    TemplateModification,
)

OTHER_APP = "2021000000000888"
MODIFY = "alipay.marketing.card.template.modify"


def _cards(platform: Platform) -> MemberCardService:
    service: MemberCardService = platform.services["member_cards"]
    return service


def _codes(platform: Platform) -> MemberCardCodes:
    service: MemberCardCodes = platform.services["member_card_codes"]
    return service


def _card(platform: Platform, write_off: WriteOff, phone: str, app_id: str = APP_ID) -> MemberCard:
    """A card of a fresh template of `app_id` for a new user (the user's grant taken as given)."""
    user_id = oauth_user(platform, phone)
    spec = replace(_spec(), write_off=write_off)
    new = NewTemplate(app_id, 1, f"tpl-{phone}", f"fp-{phone}", spec)
    template = _cards(platform).create_template(new)
    opened = _cards(platform).open_card(
        OpenRequest(
            app_id=app_id,
            template_id=template.template_id,
            user_id=user_id,
            out_serial_no=f"open-{phone}",
            fingerprint=f"open-{phone}",
            values=CardValues(point_hundredths=100),
            token_checked=True,
        )
    )
    return opened.card


def _refused(call_: Any) -> str:
    with pytest.raises(DomainError) as error:
        call_()
    return error.value.code


def _switch(platform: Platform, card: MemberCard, write_off: WriteOff, request_id: str) -> None:
    changes = TemplateChanges(write_off=write_off)
    modification = TemplateModification(
        card.app_id, card.template_id, request_id, f"fp-{request_id}", changes
    )
    _cards(platform).modify_template(modification)


# Pure rules -------------------------------------------------------------------------------------


def test_a_code_is_20_random_digits_never_a_payment_code() -> None:
    codes = {new_dynamic_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(r"81\d{18}", code) and looks_like_dynamic_code(code)
        assert not looks_like_paycode(code)
    assert not looks_like_dynamic_code("28" + "1" * 16)  # a payment code is not a card code
    assert len(code_digest(next(iter(codes)))) == 64


# The service ------------------------------------------------------------------------------------


def test_issue_rotate_and_expire_on_the_test_clock(platform: Platform) -> None:
    card = _card(platform, WriteOff.DQRCODE, "13900005001")
    codes = _codes(platform)
    first = codes.issue(card.user_id, card.id)
    assert looks_like_dynamic_code(first.code) and first.expires_in_s == DYNAMIC_CODE_TTL_S
    assert not first.barcode
    assert codes.card_of(APP_ID, first.code).card.id == card.id
    assert codes.card_of(APP_ID, first.code).card.id == card.id  # asked twice: still there
    with platform.db.read() as tx:  # only the digest is stored
        stored = tx.exec_driver_sql("SELECT code_digest FROM member_card_codes").scalars().all()
    assert stored == [code_digest(first.code)]

    too_soon = pytest.raises(DomainError)
    with too_soon as error:
        codes.issue(card.user_id, card.id)
    assert error.value.code == "member_card_code_too_soon"
    assert 0 < int(error.value.data["retry_after_s"]) <= DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN

    platform.sandbox_clock.advance(40)  # the page asks for the next one 20 s early
    second = codes.issue(card.user_id, card.id)
    assert second.code != first.code
    assert codes.card_of(APP_ID, first.code).card.id == card.id  # the old one lives its minute
    platform.sandbox_clock.advance(DYNAMIC_CODE_TTL_S - 40)
    assert _refused(lambda: codes.card_of(APP_ID, first.code)) == "member_card_not_found"
    assert codes.card_of(APP_ID, second.code).card.id == card.id
    platform.sandbox_clock.advance(10 * 86_400)  # a jump of the sandbox's test clock
    assert _refused(lambda: codes.card_of(APP_ID, second.code)) == "member_card_not_found"


def test_codes_alive_per_card_are_capped_and_rows_stay_few(platform: Platform) -> None:
    card = _card(platform, WriteOff.DBARCODE, "13900005002")
    codes = _codes(platform)
    issued = []
    for _ in range(DYNAMIC_CODES_LIVE_PER_CARD_MAX + 2):
        issued.append(codes.issue(card.user_id, card.id))
        platform.sandbox_clock.advance(DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN)
    assert all(code.barcode for code in issued)
    alive = issued[-DYNAMIC_CODES_LIVE_PER_CARD_MAX:]
    for code in issued[:-DYNAMIC_CODES_LIVE_PER_CARD_MAX]:  # retired early, within their minute
        assert _refused(lambda c=code.code: codes.card_of(APP_ID, c)) == "member_card_not_found"
    for code in alive:
        assert codes.card_of(APP_ID, code.code).card.id == card.id
    assert count_rows(platform, "member_card_codes") == DYNAMIC_CODES_LIVE_PER_CARD_MAX


def test_only_the_holder_gets_codes_and_only_the_cards_app_reads_them(
    platform: Platform,
) -> None:
    make_shop(platform, app_id=OTHER_APP)
    card = _card(platform, WriteOff.DQRCODE, "13900005003")
    theirs = _card(platform, WriteOff.DQRCODE, "13900005004", app_id=OTHER_APP)
    codes = _codes(platform)
    assert _refused(lambda: codes.issue(theirs.user_id, card.id)) == "member_card_not_found"
    code = codes.issue(card.user_id, card.id).code
    assert _refused(lambda: codes.card_of(OTHER_APP, code)) == "member_card_not_found"
    assert _refused(lambda: codes.card_of(APP_ID, code, theirs.user_id)) == "member_card_not_found"
    assert codes.card_of(APP_ID, code, card.user_id).card.id == card.id
    for wrong in (card.biz_card_no, new_dynamic_code(), code[:-1], "x" * 20):
        assert _refused(lambda w=wrong: codes.card_of(APP_ID, w)) == "member_card_not_found"
    _cards(platform).delete_by_user(card.user_id, card.id)  # a deleted card answers no code
    assert _refused(lambda: codes.card_of(APP_ID, code)) == "member_card_not_found"
    assert _refused(lambda: codes.issue(card.user_id, card.id)) == "member_card_not_found"


def test_a_static_template_gets_no_code_and_a_switch_is_followed(platform: Platform) -> None:
    card = _card(platform, WriteOff.QRCODE, "13900005005")
    codes = _codes(platform)
    assert _refused(lambda: codes.issue(card.user_id, card.id)) == "member_card_code_static"
    assert _cards(platform).card(APP_ID, card.biz_card_no).card.id == card.id  # as before

    _switch(platform, card, WriteOff.DBARCODE, "to-dynamic")
    code = codes.issue(card.user_id, card.id).code
    assert codes.card_of(APP_ID, code).card.id == card.id
    _switch(platform, card, WriteOff.BARCODE, "to-static")
    assert _refused(lambda: codes.card_of(APP_ID, code)) == "member_card_not_found"
    assert _refused(lambda: codes.issue(card.user_id, card.id)) == "member_card_code_static"


# The gateway ------------------------------------------------------------------------------------


def test_card_query_by_dynamic_code_over_the_gateway(
    client: TestClient, platform: Platform
) -> None:
    make_shop(platform, notify_url="https://shop.example/notify")
    make_shop(platform, app_id=OTHER_APP)
    user_id, _ = authorised_user(client, platform, "13900005101")
    for refused_type in ("mdqrcode", "mdbarcode", "dynamic"):
        biz = template_biz(f"tpl-{refused_type}", write_off_type=refused_type)
        assert call(client, CREATE, biz)["sub_code"] == "INVALID_PARAMETER"
    created = call(client, CREATE, template_biz("tpl-d", write_off_type="dbarcode"))
    assert created["code"] == "10000", created
    template_id = created["template_id"]
    opened = call(client, OPEN, open_biz(user_id, "open-d", template_id))
    info = opened["card_info"]
    code = (
        _codes(platform)
        .issue(user_id, _cards(platform).card(APP_ID, info["biz_card_no"]).card.id)
        .code
    )

    for kind in ("D_QR_CODE", "D_BAR_CODE"):
        found = call(client, QUERY, {"target_card_no": code, "target_card_no_type": kind})
        assert found["code"] == "10000", found
        assert found["card_info"] == info
        assert found["schema_url"].endswith(f"/wallet/member-cards/{_id_of(platform, info)}")
    holder = {"user_uni_id": f"2088{user_id:012d}", "user_uni_id_type": "UID"}
    by_both = {"target_card_no": code, "target_card_no_type": "D_QR_CODE", "card_user_info": holder}
    assert call(client, QUERY, by_both)["card_info"] == info
    as_number = {"target_card_no": code, "target_card_no_type": "BIZ_CARD"}
    assert call(client, QUERY, as_number)["sub_code"] == "CARD_NOT_EXIST"  # a code is no number
    theirs = call(
        client, QUERY, {**as_number, "target_card_no_type": "D_QR_CODE"}, app_id=OTHER_APP
    )
    assert (theirs["code"], theirs["sub_code"]) == ("40004", "CARD_NOT_EXIST")
    unknown = {"target_card_no": new_dynamic_code(), "target_card_no_type": "D_BAR_CODE"}
    assert call(client, QUERY, unknown)["sub_code"] == "CARD_NOT_EXIST"
    bad_type = {"target_card_no": code, "target_card_no_type": "QR_CODE"}
    assert call(client, QUERY, bad_type)["sub_code"] == "INVALID_PARAMETER"

    # update and delete take the card number only, as Alipay's do.
    update = {
        "target_card_no": code,
        "target_card_no_type": "D_QR_CODE",
        "occur_time": "2030-01-02 10:00:00",
        "card_info": {"point": "1"},
    }
    assert call(client, UPDATE, update)["sub_code"] == "INVALID_PARAMETER"

    platform.sandbox_clock.advance(DYNAMIC_CODE_TTL_S)
    expired = call(client, QUERY, {"target_card_no": code, "target_card_no_type": "D_QR_CODE"})
    assert (expired["code"], expired["sub_code"]) == ("40004", "CARD_NOT_EXIST")
    by_number = {"target_card_no": info["biz_card_no"], "target_card_no_type": "BIZ_CARD"}
    assert call(client, QUERY, by_number)["card_info"] == info  # the number always answers

    switched = call(
        client,
        MODIFY,
        {"request_id": "m-1", "template_id": template_id, "write_off_type": "qrcode"},
    )
    assert switched["code"] == "10000", switched


def _id_of(platform: Platform, info: dict[str, Any]) -> int:
    return _cards(platform).card(APP_ID, info["biz_card_no"]).card.id


# The wallet's card page ---------------------------------------------------------------------------


def test_the_card_page_asks_for_codes_and_static_images_go(
    client: TestClient, platform: Platform
) -> None:
    card = _card(platform, WriteOff.DBARCODE, "13900005201")
    browser = wallet_browser(client, "13900005201", LOGIN_PASSWORD)
    page = browser.get(f"/wallet/member-cards/{card.id}")
    assert page.status_code == 200
    assert 'id="card-dynamic-code"' in page.text and "member_card_code.js" in page.text
    assert card.biz_card_no not in page.text.split('id="card-code"')[1]  # no number to scan
    assert browser.get(f"/wallet/member-cards/{card.id}/qr.svg").status_code == 404
    assert browser.get(f"/wallet/member-cards/{card.id}/barcode.png").status_code == 404

    url = f"/wallet/member-cards/{card.id}/code"
    assert browser.post(url).status_code == 403  # CSRF
    headers = {"x-csrf-token": csrf_of(page.text)}
    issued = browser.post(url, headers=headers)
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert looks_like_dynamic_code(body["code"]) and body["barcode"] is True
    assert body["expires_in_s"] == DYNAMIC_CODE_TTL_S
    assert _codes(platform).card_of(APP_ID, body["code"]).card.id == card.id
    again = browser.post(url, headers=headers)
    assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1
    assert again.json()["error"] == "member_card_code_too_soon"

    _switch(platform, card, WriteOff.QRCODE, "page-static")
    platform.sandbox_clock.advance(DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN)
    assert browser.post(url, headers=headers).status_code == 409  # the page reloads
    page = browser.get(f"/wallet/member-cards/{card.id}")
    assert 'id="card-dynamic-code"' not in page.text and "qr.svg" in page.text
    assert browser.get(f"/wallet/member-cards/{card.id}/qr.svg").status_code == 200
