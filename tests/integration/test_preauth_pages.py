"""The pages of pre-authorisation: the confirmation page an app freeze leads to (sign in, the
payment password, errors in the user's words, double submit), and the wallet's list, detail,
holds and statement, each user seeing only their own."""

from __future__ import annotations

from agreement_support import receiver
from fastapi.testclient import TestClient
from gateway_support import make_buyer, make_shop
from preauth_support import (
    app_freeze_path,
    app_order,
    confirm_on,
    csrf_of,
    freeze,
    money_of,
    pay,
    query,
    reconcile_clean,
    sign_in_on,
    unfreeze,
    wallet_login,
)

from paybao.bootstrap import Platform

PHONE, OTHER_PHONE = "13800138000", "13800138001"


def test_the_user_confirms_an_app_freeze_on_the_confirmation_page(
    platform: Platform, client: TestClient
) -> None:
    with receiver() as endpoint:
        make_shop(platform, notify_url=endpoint.url)
        user_id = make_buyer(platform, PHONE, balance_fen=1_000_00)
        path = app_freeze_path(
            client, app_order("car-7", "500.00"), return_url="https://rent.example/back"
        )
        assert app_freeze_path(client, app_order("car-7", "500.00")) == path  # the same order

        page = client.get(path)
        assert page.status_code == 200
        for shown in ("测试商户", "租车押金", "¥500.00", "car-7", 'id="login"'):
            assert shown in page.text
        assert 'id="confirm"' not in page.text
        english = client.get(path, cookies={"lang": "en"})
        assert "Allow a deposit" in english.text and "cannot be spent" in english.text

        sign_in_on(client, path, PHONE)
        assert 'id="confirm"' in client.get(path).text
        wrong = confirm_on(client, path, "000000")
        assert wrong.status_code == 400 and "支付密码错误" in wrong.text
        assert money_of(platform, user_id) == (1_000_00, 0)
        done = confirm_on(client, path)
        assert done.status_code == 303
        assert confirm_on(client, path).status_code == 303  # a double submit: still one freeze
        after = client.get(path)
        assert 'data-status="AUTHORIZED"' in after.text
        assert 'href="https://rent.example/back"' in after.text
        assert money_of(platform, user_id) == (1_000_00, 500_00)
        order = query(client, out_order_no="car-7")
        assert (order["order_status"], order["payer_user_id"]) == (
            "AUTHORIZED",
            f"2088{user_id:012d}",
        )
        platform.jobs.run_due()
        (form,) = [f for f in endpoint.forms if f.get("notify_type") == "fund_auth_freeze"]
        assert (form["out_order_no"], form["amount"]) == ("car-7", "500.00")

    # Another account cannot take it over.
    make_buyer(platform, OTHER_PHONE, balance_fen=1_000_00)
    wallet_login(client, OTHER_PHONE)
    seen = client.get(path)
    assert 'data-status="AUTHORIZED"' in seen.text and 'id="confirm"' not in seen.text
    form = {"csrf_token": csrf_of(seen.text), "payment_password": "135790"}
    taken = client.post(path, data=form, follow_redirects=False)
    assert taken.status_code == 400 and "已关闭" in taken.text
    reconcile_clean(platform)


def test_confirming_needs_the_money_and_a_known_order(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    path = app_freeze_path(client, app_order("scooter-1", "100.01"))
    sign_in_on(client, path, PHONE)
    poor = confirm_on(client, path)
    assert poor.status_code == 400 and "余额不足" in poor.text
    assert money_of(platform, user_id) == (100_00, 0)
    assert client.get("/preauth/confirm/no-such-token").status_code == 404
    # A return_url that is not a web address is not offered as a link.
    odd = app_freeze_path(client, app_order("scooter-2", "1.00"), return_url="javascript:alert(1)")
    assert confirm_on(client, odd).status_code == 303
    assert "javascript:" not in client.get(odd).text


def test_the_wallet_lists_deposits_and_shows_what_happened(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=1_000_00)
    hotel = freeze(client, user_id, "hotel-9", "300.00")["auth_no"]
    pay(client, hotel, "room", "120.00")
    unfreeze(client, hotel, "give-back", "30.00")
    power_bank = freeze(client, user_id, "power-1", "99.00")["auth_no"]
    unfreeze(client, power_bank, "returned", "99.00")

    client.cookies.clear()
    login = client.get("/wallet/preauth", follow_redirects=False)
    assert login.status_code in (302, 303)
    wallet_login(client, PHONE)

    listing = client.get("/wallet/preauth")
    assert listing.status_code == 200
    assert listing.text.index(hotel) < listing.text.index(power_bank)  # open ones first
    assert 'id="frozen-total"' in listing.text and "¥150.00" in listing.text
    detail = client.get(f"/wallet/preauth/{hotel}")
    assert detail.status_code == 200
    for shown in ("酒店押金", "¥300.00", "¥120.00", "¥30.00", "¥150.00", "退押金"):
        assert shown in detail.text, shown
    assert detail.text.count('class="operation"') == 3

    home = client.get("/wallet")
    assert 'data-kind="preauth"' in home.text and f"/wallet/preauth/{hotel}" in home.text
    assert 'id="nav-preauth"' in home.text
    statement = client.get("/wallet/statement")
    assert 'data-kind="preauth_payment"' in statement.text
    assert money_of(platform, user_id) == (880_00, 150_00)

    # Another user sees none of it.
    make_buyer(platform, OTHER_PHONE, balance_fen=0)
    wallet_login(client, OTHER_PHONE)
    assert client.get(f"/wallet/preauth/{hotel}").status_code == 404
    assert hotel not in client.get("/wallet/preauth").text
    reconcile_clean(platform)
