"""Withholding agreements through the gateway, the sign page and the wallet pages, on the real
database: sign (dut_user_sign, signed return_url), query every documented way, deduct under
the rules with Alipay's codes, end from either side (dut_user_unsign), and the books agree."""

from __future__ import annotations

import urllib.parse
from datetime import timedelta
from typing import Any

from agreement_support import (
    GENERAL,
    RETURN_URL,
    csrf_of,
    deduct,
    receiver,
    returned_params,
    row_count,
    sign_in_on,
    sign_on,
    sign_page_path,
    signed_agreement,
)
from fastapi.testclient import TestClient
from gateway_support import (
    PAYMENT_PASSWORD,
    balance_fen,
    call,
    make_buyer,
    make_shop,
    other_keys,
    signed_params,
    wallet_balance,
)

from paybao.adapters.alipay.wire import verify_notification
from paybao.bootstrap import Platform
from paybao.domain.account_class import china_date
from paybao.services.merchants import NewMerchant

PHONE, OTHER_PHONE = "13800138000", "13800138001"


def public_pem(platform: Platform) -> str:
    return str(platform.services["platform_key"].public_pem)


def forms_of(platform: Platform, endpoint: Any, notify_type: str) -> list[dict[str, str]]:
    platform.jobs.run_due()
    return list(endpoint.of_type(notify_type))


def test_sign_page_to_a_signed_agreement_returned_and_notified(
    platform: Platform, client: TestClient
) -> None:
    with receiver() as endpoint:
        make_shop(platform, notify_url=endpoint.url)
        user_id = make_buyer(platform, PHONE)
        biz = {**GENERAL, "external_agreement_no": "plate-A12345", "external_logon_id": "u-42"}
        path = sign_page_path(client, biz, return_url=RETURN_URL)

        page = client.get(path)
        assert page.status_code == 200
        for shown in (
            "测试商户",
            "INDUSTRY|PARKING",
            "plate-A12345",
            "u-42",
            "GENERAL_WITHHOLDING_P",
        ):
            assert shown in page.text
        assert 'id="login"' in page.text and 'id="sign"' not in page.text
        english = client.get(path, cookies={"lang": "en"})
        assert "Allow password-free payments" in english.text and "until ended" in english.text
        sign_in_on(client, path, PHONE)
        wrong = sign_on(client, path, "000000")
        assert wrong.status_code == 400 and "支付密码错误" in wrong.text
        back = returned_params(sign_on(client, path))
        again = sign_on(client, path)  # a double submit: the same agreement
        assert returned_params(again)["agreement_no"] == back["agreement_no"]

        assert verify_notification(back, public_pem(platform))
        assert back["method"] == "alipay.user.agreement.page.sign.return"
        assert (back["status"], back["alipay_user_id"]) == ("NORMAL", f"2088{user_id:012d}")
        (form,) = forms_of(platform, endpoint, "dut_user_sign")
        assert verify_notification(form, public_pem(platform))
        assert form["agreement_no"] == back["agreement_no"]
        assert form["external_agreement_no"] == "plate-A12345"
        assert form["personal_product_code"] == "GENERAL_WITHHOLDING_P"
        assert form["sign_scene"] == "INDUSTRY|PARKING"
        assert form["status"] == "NORMAL"
        assert form["invalid_time"] == "2115-02-01 00:00:00"
        assert form["alipay_logon_id"] == "138****8000"
        assert form["sign_time"] == form["valid_time"]

    number = back["agreement_no"]
    by_no = call(client, "alipay.user.agreement.query", {"agreement_no": number})
    assert by_no["code"] == "10000" and by_no["status"] == "NORMAL"
    assert by_no["principal_id"] == f"2088{user_id:012d}"
    assert by_no["external_logon_id"] == "u-42"
    ways: list[dict[str, str]] = [
        {"sign_scene": "INDUSTRY|PARKING", "external_agreement_no": "plate-A12345"},
        {"alipay_user_id": f"2088{user_id:012d}"},
        {"alipay_logon_id": PHONE, "sign_scene": "INDUSTRY|PARKING"},
    ]
    for way in ways:
        found = call(
            client,
            "alipay.user.agreement.query",
            {"personal_product_code": "GENERAL_WITHHOLDING_P", **way},
        )
        assert found["agreement_no"] == number, (way, found)
    missing = call(client, "alipay.user.agreement.query", {"agreement_no": "20260101000000000000"})
    assert (missing["code"], missing["sub_code"]) == ("40004", "USER_AGREEMENT_NOT_EXIST")
    bad = call(client, "alipay.user.agreement.query", {"personal_product_code": "NOPE_P"})
    assert bad["sub_code"] == "PRODUCT_CODE_NOT_SUPPORTED_ERROR"


def test_a_sign_request_that_cannot_be_signed_says_why(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    cycle_without_rule = {"personal_product_code": "CYCLE_PAY_AUTH_P", "sign_scene": "INDUSTRY|GYM"}
    params = signed_params("alipay.user.agreement.page.sign", cycle_without_rule)
    page = client.get("/gateway.do?" + urllib.parse.urlencode(params))
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "INVALID_PARAMETER" in page.text and "period_rule_params" in page.text
    assert row_count(platform, "SELECT COUNT(*) FROM agreements") == 0

    path = sign_page_path(client, {**GENERAL, "external_agreement_no": "p-1"})
    assert sign_page_path(client, {**GENERAL, "external_agreement_no": "p-1"}) == path
    changed = {**GENERAL, "external_agreement_no": "p-1", "external_logon_id": "someone"}
    newer = sign_page_path(client, changed)
    assert newer != path
    make_buyer(platform, PHONE)
    sign_in_on(client, newer, PHONE)
    stale = client.get(path)
    assert 'data-status="VOID"' in stale.text and 'id="sign"' not in stale.text
    form = {"csrf_token": csrf_of(stale.text), "payment_password": PAYMENT_PASSWORD}
    refused = client.post(path, data=form, follow_redirects=False)
    assert refused.status_code == 400 and "签约请求已失效" in refused.text
    assert 'id="sign"' in client.get(newer).text


def test_deductions_move_money_once_under_the_limits(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    number = signed_agreement(client, PHONE)

    paid = deduct(client, number, "park-1", "12.50")
    assert paid["code"] == "10000", paid
    assert paid["buyer_user_id"] == f"2088{user_id:012d}"
    assert paid["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "12.50"}]
    assert deduct(client, number, "park-1", "12.50")["trade_no"] == paid["trade_no"]
    assert wallet_balance(platform, user_id) == 100_00 - 12_50
    assert balance_fen(platform, shop.merchant.settlement_account_id) == 12_50 - 8  # 0.6 % fee
    query = call(client, "alipay.trade.query", {"out_trade_no": "park-1"})
    assert query["trade_status"] == "TRADE_SUCCESS"

    refusals = {
        "ACQ.CONTEXT_INCONSISTENT": deduct(client, number, "park-1", "12.51"),
        "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR": deduct(client, number, "park-2", "100.01"),
        "ACQ.BUYER_BALANCE_NOT_ENOUGH": deduct(client, number, "park-3", "99.00"),
        "ACQ.AGREEMENT_NOT_EXIST": deduct(client, "20260101000000000000", "park-4", "1.00"),
        "ACQ.AGREEMENT_ERROR": deduct(client, number, "park-5", "1.00", "CYCLE_PAY_AUTH"),
    }
    for sub_code, answer in refusals.items():
        assert (answer["code"], answer["sub_code"]) == ("40004", sub_code), answer
        assert answer["receipt_amount"] == "0.00"
    no_agreement = call(
        client,
        "alipay.trade.pay",
        {
            "out_trade_no": "x",
            "product_code": "GENERAL_WITHHOLDING",
            "total_amount": "1",
            "subject": "s",
        },
    )
    assert no_agreement["sub_code"] == "ACQ.INVALID_PARAMETER"
    assert wallet_balance(platform, user_id) == 100_00 - 12_50  # nothing else moved

    # Another merchant cannot use this agreement.
    merchants = platform.services["merchants"]
    merchants.create(
        NewMerchant(name="别家", app_id="2021000000000888"), other_keys().public_pem_spki
    )
    foreign = deduct(client, number, "f-1", "1.00", app_id="2021000000000888", keys=other_keys())
    assert foreign["sub_code"] == "ACQ.AGREEMENT_NOT_EXIST"

    # A till's bar-code payment still goes the till's way.
    code = platform.services["trades"].issue_auth_code(user_id)
    till = call(
        client,
        "alipay.trade.pay",
        {
            "out_trade_no": "till-1",
            "scene": "bar_code",
            "auth_code": code,
            "total_amount": "1.00",
            "subject": "咖啡",
        },
    )
    assert till["code"] == "10000", till
    assert platform.reconcile.run().differences == []


def test_cycle_pay_once_a_month_within_the_agreed_amounts(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    make_buyer(platform, PHONE, balance_fen=500_00)
    today = china_date(platform.clock.now())
    first = today + timedelta(days=5)
    first = first.replace(day=min(first.day, 28))  # a monthly rule runs on day 1..28
    rule = {
        "period_type": "MONTH",
        "period": 1,
        "execute_time": first.isoformat(),
        "single_amount": "30.00",
        "total_amount": "60.00",
    }
    biz = {
        "personal_product_code": "CYCLE_PAY_AUTH_P",
        "product_code": "CYCLE_PAY_AUTH",
        "sign_scene": "INDUSTRY|GYM",
        "external_agreement_no": "gym-7",
        "period_rule_params": rule,
    }
    number = signed_agreement(client, PHONE, biz)
    before = call(client, "alipay.user.agreement.query", {"agreement_no": number})
    assert before["single_quota"] == "30.00"
    if first - timedelta(days=3) > today:  # before the first window opens
        early = deduct(client, number, "m0", "30.00", "CYCLE_PAY_AUTH")
        assert early["sub_code"] == "ACQ.CYCLE_PAY_DATE_NOT_MATCH"
    platform.sandbox_clock.advance((first - today).days * 86_400)
    assert deduct(client, number, "m1", "30.01", "CYCLE_PAY_AUTH")["sub_code"] == (
        "ACQ.CYCLE_PAY_SINGLE_FEE_EXCEED"
    )
    assert deduct(client, number, "m1", "30.00", "CYCLE_PAY_AUTH")["code"] == "10000"
    twice = deduct(client, number, "m1-again", "1.00", "CYCLE_PAY_AUTH")
    assert twice["sub_code"] == "ACQ.CYCLE_PAY_DATE_NOT_MATCH"
    after = call(client, "alipay.user.agreement.query", {"agreement_no": number})
    assert after["next_deduct_time"] > first.isoformat()
    assert after["last_deduct_time"].startswith(str(china_date(platform.clock.now())))
    platform.sandbox_clock.advance(31 * 86_400)
    assert deduct(client, number, "m2", "30.00", "CYCLE_PAY_AUTH")["code"] == "10000"
    platform.sandbox_clock.advance(31 * 86_400)
    over = deduct(client, number, "m3", "0.01", "CYCLE_PAY_AUTH")
    assert over["sub_code"] == "ACQ.CYCLE_PAY_TOTAL_FEE_EXCEED"
    assert platform.reconcile.run().differences == []


def test_the_wallet_lists_caps_and_ends_agreements_and_merchants_are_told(
    platform: Platform, client: TestClient
) -> None:
    with receiver() as endpoint:
        make_shop(platform, notify_url=endpoint.url)
        make_buyer(platform, PHONE)
        parking = signed_agreement(client, PHONE, {**GENERAL, "external_agreement_no": "car-1"})
        transit = signed_agreement(
            client,
            PHONE,
            {**GENERAL, "sign_scene": "INDUSTRY|TRANSIT", "external_agreement_no": "card-1"},
        )
        assert deduct(client, parking, "p-1", "8.00")["code"] == "10000"

        listing = client.get("/wallet/agreements")
        assert listing.status_code == 200
        assert parking in listing.text and transit in listing.text
        detail = client.get(f"/wallet/agreements/{parking}")
        assert 'id="month-deducted">¥8.00' in detail.text
        cap = {
            "csrf_token": csrf_of(detail.text),
            "cap": "10.00",
            "payment_password": PAYMENT_PASSWORD,
        }
        saved = client.post(f"/wallet/agreements/{parking}/cap", data=cap, follow_redirects=False)
        assert saved.status_code == 303
        over_cap = deduct(client, parking, "p-2", "2.01")
        assert over_cap["sub_code"] == "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR"
        assert deduct(client, parking, "p-2", "2.00")["code"] == "10000"

        ended = client.post(
            f"/wallet/agreements/{parking}/unsign",
            data={"csrf_token": csrf_of(detail.text)},
            follow_redirects=False,
        )
        assert ended.status_code == 303
        gone = deduct(client, parking, "p-3", "1.00")
        assert gone["sub_code"] == "ACQ.AGREEMENT_NOT_EXIST"
        unsign = call(
            client,
            "alipay.user.agreement.unsign",
            {
                "personal_product_code": "GENERAL_WITHHOLDING_P",
                "sign_scene": "INDUSTRY|TRANSIT",
                "external_agreement_no": "card-1",
            },
        )
        assert unsign == {"code": "10000", "msg": "Success"}
        twice = call(client, "alipay.user.agreement.unsign", {"agreement_no": parking})
        assert twice["sub_code"] == "AGREEMENT_HAS_UNSIGNED"
        query = call(client, "alipay.user.agreement.query", {"agreement_no": transit})
        assert query["sub_code"] == "USER_AGREEMENT_NOT_EXIST"

        unsigned = forms_of(platform, endpoint, "dut_user_unsign")
        assert sorted(form["agreement_no"] for form in unsigned) == sorted([parking, transit])
        assert all(verify_notification(form, public_pem(platform)) for form in unsigned)
        assert {form["status"] for form in unsigned} == {"UNSIGN"}
        assert all(form["unsign_time"] for form in unsigned)

    listing = client.get("/wallet/agreements?done=unsigned")
    assert listing.text.count('data-status="UNSIGN"') == 2
    # The same external number may be signed again once the old agreement has ended.
    again = signed_agreement(client, PHONE, {**GENERAL, "external_agreement_no": "car-1"})
    assert again != parking
    assert platform.reconcile.run().differences == []


def test_notifications_follow_the_sign_requests_charset(
    platform: Platform, client: TestClient
) -> None:
    with receiver() as endpoint:
        make_shop(platform, notify_url=endpoint.url)
        make_buyer(platform, PHONE)
        biz = {**GENERAL, "sign_scene": "INDUSTRY|停车场"}
        number = signed_agreement(client, PHONE, biz, charset="GBK")
        (form,) = forms_of(platform, endpoint, "dut_user_sign")
    assert endpoint.content_types == ["application/x-www-form-urlencoded; charset=gbk"]
    assert (form["agreement_no"], form["sign_scene"]) == (number, "INDUSTRY|停车场")
    assert verify_notification(form, public_pem(platform), charset="gbk")
    assert not verify_notification(form, public_pem(platform), charset="utf-8")
