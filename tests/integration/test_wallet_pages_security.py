"""The cards and security pages: binding another card (SMS step), changing the login and the
payment password, through the pages on the test database (SQLite, or PostgreSQL by URL)."""

from __future__ import annotations

import random
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from httpx import Response
from tests.integration.admin_support import csrf_of
from tests.integration.test_wallet_rules import PIN, code_for, code_of, open_user

from paybao.bootstrap import Platform
from paybao.domain.cards import generate_card_number
from paybao.domain.devices import DeviceConfirmation, encode_b64, signed_message

LOGIN_PASSWORD = "abc12345"  # open_user's
NAME = "王小明"


def signed_in(client: TestClient, phone: str, password: str = LOGIN_PASSWORD) -> TestClient:
    browser = TestClient(client.app)
    assert sign_in(browser, phone, password).status_code == 303
    return browser


def sign_in(browser: TestClient, phone: str, password: str) -> Response:
    page = browser.get("/login")
    return browser.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "phone": phone, "password": password},
        follow_redirects=False,
    )


def section_of(html: str, form_id: str) -> str:
    section = re.search(rf'<section class="card" id="{form_id}">(.*?)</section>', html, re.S)
    assert section is not None, f"no form {form_id}"
    return section.group(1)


def hidden_of(html: str, form_id: str) -> dict[str, str]:
    """The hidden fields (csrf_token, idem, card_id...) of one form on a settings page."""
    return dict(
        re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', section_of(html, form_id))
    )


def submit(browser: TestClient, page: str, form_id: str, action: str, **fields: str) -> Response:
    html = browser.get(page).text
    return browser.post(action, data={**hidden_of(html, form_id), **fields}, follow_redirects=False)


def error_code(html: str) -> str:
    found = re.search(r'class="error" role="alert" data-code="([^"]+)"', html)
    assert found is not None, "no error on the page"
    return found.group(1)


def bound_cards(platform: Platform, user_id: int) -> list[str]:
    with platform.db.read() as tx:
        cards = platform.services["wallet"].cards.of_user(tx, user_id)
    return sorted(c.card_number for c in cards if c.status == "bound")


def test_a_second_card_is_bound_through_the_cards_page(
    platform: Platform, client: TestClient
) -> None:
    phone, reserved = "13911112001", "13911112099"
    user_id, _ = open_user(platform, phone, NAME)
    browser = signed_in(client, phone)
    page = browser.get("/wallet/cards")
    assert page.status_code == 200
    assert page.text.count("**** **** ****") == 1
    number = generate_card_number(random.Random(2001), "CMB")

    def add(holder: str) -> Response:
        return submit(
            browser,
            "/wallet/cards",
            "add-card",
            "/wallet/cards/add",
            card_number=number,
            holder_name=holder,
            reserved_phone=reserved,
        )

    mismatch = add("李四")
    assert mismatch.status_code == 400
    assert error_code(mismatch.text) == "card_holder_name_mismatch"
    assert 'id="add-card"' in mismatch.text

    added = add(NAME)
    assert added.status_code == 200, added.text
    confirm = hidden_of(added.text, "confirm-card")
    assert confirm["card_id"].isdigit()
    assert "139****2099" in added.text
    code = code_for(platform, reserved)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)

    refused = browser.post(
        "/wallet/cards/confirm", data={**confirm, "code": wrong}, follow_redirects=False
    )
    assert refused.status_code == 400
    assert error_code(refused.text) == "sms_code_wrong"
    assert len(bound_cards(platform, user_id)) == 1
    again = hidden_of(refused.text, "confirm-card")  # the form stays, with a fresh key
    assert again["card_id"] == confirm["card_id"] and again["idem"] != confirm["idem"]

    bound = browser.post(
        "/wallet/cards/confirm", data={**again, "code": code}, follow_redirects=False
    )
    assert bound.status_code == 303
    assert bound.headers["location"] == "/wallet/cards?done=card"
    assert number in bound_cards(platform, user_id) and len(bound_cards(platform, user_id)) == 2
    listed = browser.get("/wallet/cards?done=card").text
    assert listed.count("**** **** ****") == 2 and 'role="status"' in listed

    # The new card pays: a top-up from it through the top-up page.
    topup = browser.get("/wallet/topup").text
    topped = browser.post(
        "/wallet/topup",
        data={
            "csrf_token": csrf_of(topup),
            "idem": re.findall(r'name="idem" value="([^"]+)"', topup)[0],
            "card_id": confirm["card_id"],
            "amount": "12.34",
            "payment_password": PIN,
        },
        follow_redirects=False,
    )
    assert topped.headers["location"] == "/wallet?done=succeeded"
    assert platform.services["wallet"].balance(user_id)[0] == 12_34

    # The code is used: confirming again finds no pending card.
    stale = browser.post("/wallet/cards/confirm", data={**again, "idem": "x" * 16, "code": code})
    assert stale.status_code == 400 and error_code(stale.text) == "card_not_pending"


def test_the_login_password_is_changed_on_the_security_page(
    platform: Platform, client: TestClient
) -> None:
    phone = "13911112002"
    user_id, _ = open_user(platform, phone, NAME)
    browser = signed_in(client, phone)
    page = browser.get("/wallet/security")
    assert page.status_code == 200
    assert 'id="login-password"' in page.text and 'id="payment-password"' in page.text

    def change(old: str, new: str) -> Response:
        return submit(
            browser,
            "/wallet/security",
            "login-password",
            "/wallet/security/login-password",
            old_password=old,
            new_password=new,
        )

    wrong = change("wrong1234", "newpass88")
    assert wrong.status_code == 400
    assert error_code(wrong.text) == "bad_credentials"
    # Counted like a failed sign-in, and shown on its own form.
    assert platform.services["users"].record(user_id).login_failures == 1
    assert error_code(section_of(wrong.text, "login-password")) == "bad_credentials"
    assert 'class="error"' not in section_of(wrong.text, "payment-password")
    weak = change(LOGIN_PASSWORD, "short")
    assert error_code(weak.text) == "invalid_login_password"

    html = browser.get("/wallet/security").text
    fields = {**hidden_of(html, "login-password"), "old_password": LOGIN_PASSWORD}
    fields["new_password"] = "newpass88"
    changed = browser.post("/wallet/security/login-password", data=fields, follow_redirects=False)
    assert changed.status_code == 303
    assert changed.headers["location"] == "/wallet/security?done=login"
    assert platform.services["users"].record(user_id).login_failures == 0
    # A double submit of the same form replays the first answer (not "wrong old password").
    replay = browser.post("/wallet/security/login-password", data=fields, follow_redirects=False)
    assert replay.status_code == 303

    fresh = TestClient(client.app)
    old_sign_in = sign_in(fresh, phone, LOGIN_PASSWORD)
    assert old_sign_in.status_code == 400
    assert error_code(old_sign_in.text) == "bad_credentials"
    assert sign_in(fresh, phone, "newpass88").status_code == 303


def test_the_payment_password_is_changed_on_the_security_page(
    platform: Platform, client: TestClient
) -> None:
    phone = "13911112003"
    user_id, card_id = open_user(platform, phone, NAME)
    browser = signed_in(client, phone)
    users, wallet = platform.services["users"], platform.services["wallet"]

    def change(proof: str, current: str, new: str) -> Response:
        return submit(
            browser,
            "/wallet/security",
            "payment-password",
            "/wallet/security/payment-password",
            proof=proof,
            current=current,
            new_payment_password=new,
        )

    weak = change("payment", PIN, "123456")
    assert weak.status_code == 400
    assert error_code(weak.text) == "weak_payment_password"
    assert users.record(user_id).pay_failures == 0  # a refused new one costs no try
    short = change("payment", PIN, "12345")
    assert error_code(short.text) == "invalid_payment_password"
    wrong = change("payment", "000001", "582941")
    assert error_code(wrong.text) == "payment_password_wrong"
    assert users.record(user_id).pay_failures == 1
    wrong_login = change("login", "wrong1234", "582941")
    assert error_code(wrong_login.text) == "bad_credentials"

    done = change("payment", PIN, "582941")
    assert done.status_code == 303
    assert done.headers["location"] == "/wallet/security?done=payment"
    assert users.record(user_id).pay_failures == 0
    assert wallet.top_up(user_id, card_id, 5_00, "582941").status == "succeeded"
    assert code_of(lambda: wallet.top_up(user_id, card_id, 5_00, PIN)) == "payment_password_wrong"

    # With the login password instead of the old payment password.
    by_login = change("login", LOGIN_PASSWORD, "730518")
    assert by_login.status_code == 303
    assert wallet.top_up(user_id, card_id, 5_00, "730518").status == "succeeded"
    assert wallet.balance(user_id)[0] == 10_00


def test_locked_payments_cannot_be_unlocked_by_changing_the_password(
    platform: Platform,
) -> None:
    user_id, _ = open_user(platform, "13911112004", NAME)
    users = platform.services["users"]
    for _ in range(4):
        assert (
            code_of(lambda: users.change_payment_password(user_id, "582941", payment_password="0"))
            == "payment_password_wrong"
        )
    locked = code_of(lambda: users.change_payment_password(user_id, "582941", payment_password="0"))
    assert locked == "payment_password_locked"
    by_login = code_of(
        lambda: users.change_payment_password(user_id, "582941", login_password=LOGIN_PASSWORD)
    )
    assert by_login == "payment_password_locked"
    assert code_of(lambda: users.verify_payment_password(user_id, PIN)) == "payment_password_locked"


def test_the_forms_need_the_csrf_token(platform: Platform, client: TestClient) -> None:
    phone = "13911112005"
    user_id, _ = open_user(platform, phone, NAME)
    browser = signed_in(client, phone)
    before = platform.services["users"].record(user_id).login_password_hash
    refused = browser.post(
        "/wallet/security/login-password",
        data={"old_password": LOGIN_PASSWORD, "new_password": "newpass88"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert platform.services["users"].record(user_id).login_password_hash == before
    anonymous = TestClient(client.app).get("/wallet/security", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_a_lost_phone_is_removed_on_the_security_page(
    platform: Platform, client: TestClient
) -> None:
    """The devices that confirm payments are listed; removing one stops it confirming."""
    phone = "13911112009"
    user_id, _ = open_user(platform, phone, NAME)
    browser = signed_in(client, phone)
    assert 'id="device-' not in browser.get("/wallet/security").text
    devices = platform.services["devices"]
    key = Ed25519PrivateKey.generate()
    public = encode_b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    device = devices.register(user_id, "Mate 60 <b>", public, PIN)
    page = browser.get("/wallet/security").text
    form_id = f"device-{device.device_id}"
    assert "Mate 60 &lt;b&gt;" in section_of(page, form_id)  # escaped, as any user text
    removed = submit(browser, "/wallet/security", form_id, "/wallet/security/devices/revoke")
    assert removed.status_code == 303
    assert removed.headers["location"] == "/wallet/security?done=device"
    assert form_id not in browser.get("/wallet/security").text
    now_s = platform.clock.now_us() // 1_000_000
    proof = DeviceConfirmation(
        device.device_id, now_s, key.sign(signed_message(device.device_id, now_s, "d")), "d"
    )
    assert code_of(lambda: devices.confirm(user_id, proof, 1_00)) == "device_not_registered"
    # Another user's device cannot be removed by naming it.
    other_id, _ = open_user(platform, "13911112010", NAME)
    theirs = devices.register(other_id, "theirs", public, PIN)
    html = browser.get("/wallet/security").text
    fields = {**hidden_of(html, "login-password"), "device_id": theirs.device_id}
    browser.post("/wallet/security/devices/revoke", data=fields, follow_redirects=False)
    assert [d.device_id for d in devices.devices(other_id)] == [theirs.device_id]
