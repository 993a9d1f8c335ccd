"""Red packet pages on the test database: the send form (a double submit sends one packet,
errors in Chinese), the packet page (open it, who got what, the share link and its QR code),
a single packet waiting on its recipient's page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of, wallet_browser
from tests.integration.gateway_support import LOGIN_PASSWORD
from tests.integration.red_packet_support import (
    PAYMENT_PASSWORD,
    SENDER_PHONE,
    START_FEN,
    assert_clean,
    red_packets,
    sender,
    user,
    wallet_balance,
)

from paybao.adapters.qr import qr_svg
from paybao.bootstrap import Platform


def signed_in(client: TestClient, phone: str) -> TestClient:
    return wallet_browser(client, phone, LOGIN_PASSWORD)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', html))


def send_form(browser: TestClient, **fields: str) -> dict[str, str]:
    page = browser.get("/wallet/red-packets")
    assert page.status_code == 200
    return {**hidden_fields(page.text), "payment_password": PAYMENT_PASSWORD, **fields}


def open_packet(browser: TestClient, location: str) -> str:
    page = browser.get(location)
    assert page.status_code == 200, page.text
    opened = browser.post(
        f"{location}/claim", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True
    )
    return opened.text


def test_send_once_open_and_see_who_got_what(platform: Platform, client: TestClient) -> None:
    alice_id = sender(platform)
    bob_id = user(platform, 1)
    alice = signed_in(client, SENDER_PHONE)
    data = send_form(alice, kind="lucky", count="3", amount="9.99", greeting="")
    sent = alice.post("/wallet/red-packets", data=data, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    assert location.startswith("/red-packets/")
    again = alice.post("/wallet/red-packets", data=data, follow_redirects=False)
    assert again.headers["location"] == location  # a double submit sends one packet
    assert wallet_balance(platform, alice_id) == START_FEN - 9_99
    own = alice.get(location).text
    assert "恭喜发财，大吉大利" in own and "拼手气红包" in own and "0/3" in own
    share_url = f"http://testserver{location}"
    assert f'value="{share_url}"' in own
    qr = alice.get(f"{location}/qr.svg")
    assert qr.headers["content-type"] == "image/svg+xml"
    assert qr.text == qr_svg(share_url)

    bob = signed_in(client, "13900000001")
    opened = open_packet(bob, location)
    got_fen = wallet_balance(platform, bob_id)
    assert 1 <= got_fen <= 9_97
    amount = f"{got_fen // 100}.{got_fen % 100:02d}"
    assert f'id="my-amount">¥{amount}<' in opened and "1/3" in opened
    assert "139****0001" in opened  # the claimant's masked name, in the list of who got what
    twice = open_packet(bob, location)
    assert 'id="open"' not in twice  # nothing to open any more; the amount stays
    lists = bob.get("/wallet/red-packets").text
    assert f"+¥{amount}" in lists
    # The statements name the movements in words.
    assert "收红包" in bob.get("/wallet/statement").text
    assert "发红包" in alice.get("/wallet/statement").text
    assert_clean(platform)


def test_errors_read_in_chinese_and_move_nothing(platform: Platform, client: TestClient) -> None:
    alice_id = sender(platform)
    alice = signed_in(client, SENDER_PHONE)
    too_large = send_form(alice, kind="equal", count="2", amount="200.01")
    page = alice.post("/wallet/red-packets", data=too_large)
    assert page.status_code == 400
    assert "单个红包金额不可超过200元" in page.text
    assert 'value="200.01"' in page.text  # the form keeps what was typed
    bad_count = send_form(alice, kind="lucky", count="abc", amount="1.00")
    assert alice.post("/wallet/red-packets", data=bad_count).status_code == 400
    assert wallet_balance(platform, alice_id) == START_FEN
    missing = alice.get("/red-packets/nope")
    assert missing.status_code == 404 and "红包不存在" in missing.text
    assert alice.get("/red-packets/nope/qr.svg").status_code == 404


def test_a_single_packet_waits_on_its_recipients_page(
    platform: Platform, client: TestClient
) -> None:
    sender(platform)
    user(platform, 1)
    user(platform, 2)
    alice = signed_in(client, SENDER_PHONE)
    data = send_form(alice, kind="single", amount="66.00", to_phone="13900000001")
    location = alice.post("/wallet/red-packets", data=data, follow_redirects=False).headers[
        "location"
    ]
    carol = signed_in(client, "13900000002")
    assert carol.get(location).status_code == 404
    bob = signed_in(client, "13900000001")
    waiting = bob.get("/wallet/red-packets").text
    assert f'href="{location}"' in waiting and "待领取" in waiting
    assert 'id="my-amount">¥66.00<' in open_packet(bob, location)
    assert (
        red_packets(platform).waiting(platform.services["users"].find_by_phone("13900000001").id)
        == []
    )


def test_signed_out_visitors_are_sent_to_sign_in(platform: Platform, client: TestClient) -> None:
    answer = client.get("/red-packets/abc", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/login?next=/red-packets/abc",
    )


def test_the_wallet_home_links_to_red_packets(platform: Platform, client: TestClient) -> None:
    sender(platform)
    home = signed_in(client, SENDER_PHONE).get("/wallet")
    assert home.status_code == 200
    assert 'href="/wallet/red-packets" id="nav-red-packets"' in home.text
