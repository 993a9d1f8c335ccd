"""忘记密码 through the wallet pages (TestClient, on the test database): from the sign-in page's
link to a new login password, and from the security page's link to a new payment password."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response
from tests.integration.admin_support import wallet_browser
from tests.integration.test_wallet_rules import code_for, open_user

from paybao.bootstrap import Platform

NEW = "fresh2468"
NEW_PIN = "860314"


def hidden_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', html))


def error_code(html: str) -> str:
    found = re.search(r'class="error" role="alert" data-code="([^"]+)"', html)
    assert found is not None, "no error on the page"
    return found.group(1)


def post_form(browser: TestClient, html: str, action: str, **fields: str) -> Response:
    return browser.post(action, data={**hidden_of(html), **fields}, follow_redirects=False)


def id_number_of(platform: Platform, user_id: int) -> str:
    return str(platform.services["users"].record(user_id).id_number)


def test_the_login_password_is_reset_from_the_sign_in_page(
    client: TestClient, platform: Platform
) -> None:
    phone = "13912342001"
    user_id, _ = open_user(platform, phone)
    browser = wallet_browser(client, phone, "abc12345")  # signed in here before forgetting
    login = browser.get("/login").text
    assert 'href="/password-reset"' in login and "忘记密码?" in login

    start = browser.get("/password-reset")
    assert start.status_code == 200 and 'name="phone"' in start.text
    step2 = post_form(browser, start.text, "/password-reset", phone=phone)
    assert step2.status_code == 200
    assert "139****2001" in step2.text and 'name="sms_code"' in step2.text
    assert 'name="id_number"' in step2.text and 'name="new_login_password"' in step2.text

    code = code_for(platform, phone)
    id_number = id_number_of(platform, user_id)
    wrong = post_form(
        browser,
        step2.text,
        "/password-reset/confirm",
        sms_code=code,
        id_number="",
        new_login_password=NEW,
    )
    assert wrong.status_code == 400 and error_code(wrong.text) == "reset_proof_wrong"
    assert "验证码或身份证号不正确,还可尝试 4 次" in wrong.text

    done = post_form(
        browser,
        wrong.text,
        "/password-reset/confirm",
        sms_code=code,
        id_number=id_number.lower(),
        new_login_password=NEW,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/login?done=password_reset")
    assert 'paybao_session=""' in done.headers["set-cookie"]  # this browser is signed out
    assert browser.get("/wallet", follow_redirects=False).status_code == 303
    notice = browser.get("/login?done=password_reset").text
    assert "登录密码已重置" in notice
    again = TestClient(client.app)
    assert wallet_browser(again, phone, NEW).get("/wallet").status_code == 200


def test_the_pages_do_not_tell_a_phone_without_an_account_from_one_with(
    client: TestClient, platform: Platform
) -> None:
    known, unknown = "13912342002", "13912342102"
    user_id, _ = open_user(platform, known)
    pages = []
    for phone in (known, unknown):
        browser = TestClient(client.app)
        start = browser.get("/password-reset").text
        step2 = post_form(browser, start, "/password-reset", phone=phone)
        wrong = post_form(
            browser,
            step2.text,
            "/password-reset/confirm",
            sms_code="000000" if code_for(platform, known) != "000000" else "111111",
            id_number=id_number_of(platform, user_id),
            new_login_password=NEW,
        )
        again = post_form(browser, start, "/password-reset", phone=phone)
        pages.append([_masked(r, phone) for r in (step2, wrong, again)])
    assert pages[0] == pages[1]
    assert pages[0][1][0] == 400 and pages[0][2][0] == 400
    assert id_number_of(platform, user_id) not in pages[0][1][1]  # never echoed


def _masked(response: Response, phone: str) -> tuple[int, str]:
    """The page with what differs by visitor (the phone, the form keys) taken out."""
    html = response.text.replace(phone, "P").replace(f"{phone[:3]}****{phone[-4:]}", "M")
    return response.status_code, re.sub(r'value="[A-Za-z0-9_\-]{16,}"', 'value="K"', html)


def test_a_form_without_the_csrf_token_is_refused(client: TestClient) -> None:
    refused = client.post("/password-reset", data={"phone": "13912342003"})
    assert refused.status_code == 403


def test_the_payment_password_is_reset_from_the_security_page(
    client: TestClient, platform: Platform
) -> None:
    phone = "13912342004"
    user_id, _ = open_user(platform, phone)
    browser = wallet_browser(client, phone, "abc12345")
    security = browser.get("/wallet/security").text
    assert 'href="/wallet/security/payment-password/reset"' in security
    assert "忘记支付密码?" in security

    start = browser.get("/wallet/security/payment-password/reset")
    assert start.status_code == 200 and "139****2004" in start.text
    step2 = post_form(browser, start.text, "/wallet/security/payment-password/reset/code")
    assert step2.status_code == 200 and 'name="new_payment_password"' in step2.text
    code = code_for(platform, phone)
    wrong = post_form(
        browser,
        step2.text,
        "/wallet/security/payment-password/reset",
        sms_code=code,
        id_number=id_number_of(platform, open_user(platform, "13912342104")[0]),
        new_payment_password=NEW_PIN,
    )
    assert wrong.status_code == 400 and error_code(wrong.text) == "reset_proof_wrong"
    done = post_form(
        browser,
        wrong.text,
        "/wallet/security/payment-password/reset",
        sms_code=code,
        id_number=id_number_of(platform, user_id),
        new_payment_password=NEW_PIN,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/wallet/security?done=payment")
    assert "支付密码已修改" in browser.get("/wallet/security?done=payment").text
    platform.services["users"].verify_payment_password(user_id, NEW_PIN)

    # The same form sent twice (a double tap) resets once; the second gets the first answer.
    replay = post_form(
        browser,
        wrong.text,
        "/wallet/security/payment-password/reset",
        sms_code=code,
        id_number=id_number_of(platform, user_id),
        new_payment_password=NEW_PIN,
    )
    assert replay.status_code == 303


def test_the_reset_pages_speak_english(client: TestClient, platform: Platform) -> None:
    client.cookies.set("lang", "en")
    assert "Forgot password?" in client.get("/login").text
    page = client.get("/password-reset").text
    assert "Reset your login password" in page and "Step 1 of 2" in page
    step2 = post_form(client, page, "/password-reset", phone="13912342005")
    assert "If 139****2005 has a paybao account" in step2.text
    client.cookies.clear()
    anonymous = client.get("/wallet/security/payment-password/reset", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_the_post_only_paths_opened_by_get_go_back_to_the_start(client: TestClient) -> None:
    """The language switch returns to the page's path, which after a POST is the form's."""
    for path, start in (
        ("/password-reset/confirm", "/password-reset"),
        ("/wallet/security/payment-password/reset/code", "/wallet/security/payment-password/reset"),
    ):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, start)
