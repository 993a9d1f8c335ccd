"""Red packets in Chromium on a phone-sized screen: user A sends a lucky packet of 3 shares
(9.99 in all) from the send form; the packet page shows its share link and QR code; user B,
signed out, opens the link, signs in, lands back on the packet and opens it: the page shows
B's amount and B in the list of who got what; A's balance dropped by the total.
Screenshots: test-artifacts/red-packets-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as PHONE
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer
from tests.integration.red_packet_support import wallet_balance

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("red-packets")
__all__ = ["server"]  # the fixture that serves the app
SENDER = "13900139501"
CLAIMANT = "13900139502"


def _sign_in(page: object, phone: str) -> None:
    page.fill("input[name=phone]", phone)  # type: ignore[attr-defined]
    page.fill("input[name=password]", LOGIN_PASSWORD)  # type: ignore[attr-defined]
    click_through(page, "#submit")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_send_a_lucky_packet_and_open_it_from_the_link(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    sender_id = make_buyer(platform, SENDER, balance_fen=500_00)
    claimant_id = make_buyer(platform, CLAIMANT, balance_fen=0)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # A sends.
        page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        _sign_in(page, SENDER)
        page.goto(f"{server}/wallet/red-packets")
        assert page.inner_text("h1") == "发红包"
        page.select_option("#kind", "lucky")
        page.fill("#count", "3")
        page.fill("#amount", "9.99")
        page.fill("#greeting", "新春快乐")
        page.fill("#payment_password", PAYMENT_PASSWORD)
        fits_phone(page)
        _shot(page, "1-send")
        click_through(page, "#submit")
        assert "/red-packets/" in page.url
        assert page.inner_text("#greeting") == "新春快乐"
        assert "0/3" in page.inner_text("#summary")
        link = page.input_value("#share-link")
        assert link.endswith(page.url.split(server, 1)[1])
        assert page.locator("#share-qr").evaluate("img => img.naturalWidth") > 0
        fits_phone(page)
        _shot(page, "2-packet")

        # B opens the link signed out: signs in, comes back to the packet, opens it.
        other = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
        path = link.split("http://testserver", 1)[-1].split(server, 1)[-1]
        other.goto(f"{server}{path}")
        assert "/login" in other.url
        _sign_in(other, CLAIMANT)
        assert other.url.endswith(path), other.url
        click_through(other, "#open")
        got_fen = wallet_balance(platform, claimant_id)
        assert 1 <= got_fen <= 9_97
        assert other.inner_text("#my-amount") == f"¥{got_fen // 100}.{got_fen % 100:02d}"
        mine = other.locator("#claims tr.mine")
        assert mine.count() == 1 and "139****9502" in mine.inner_text()
        fits_phone(other)
        _shot(other, "3-opened")

        # A's balance dropped by the total.
        page.goto(f"{server}/wallet")
        assert page.inner_text("#balance") == "490.01"
        assert wallet_balance(platform, sender_id) == 500_00 - 9_99
        browser.close()
