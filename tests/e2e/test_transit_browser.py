"""Ride codes in Chromium on a phone-sized screen (390 px): from the wallet home's 乘车码
link, the user opens the metro's ride code with the payment password (the browser makes a
non-extractable P-256 key in WebCrypto and keeps it in IndexedDB); the page draws a QR it signed
itself; the QR decoded from the screenshot passes a reader's offline verification with only the
downloaded issuer keys. Screenshot: test-artifacts/transit-code.png."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_cashier_browser import port, server, settings
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from paybao.adapters.qr import decode_image
from paybao.adapters.transit_reader import Reader
from paybao.bootstrap import Platform
from paybao.domain.transit import RideCode, TapKind, public_user_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import APP_ID, LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer
from transit_support import make_metro, now_s

pytestmark = pytest.mark.browser
__all__ = ["port", "server", "settings"]
PHONE = "13700137555"
VIEWPORT = {"width": 390, "height": 844}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_open_the_ride_code_and_a_reader_verifies_the_screenshot_offline(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=50_00)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        with page.expect_navigation():
            page.click("#submit")
        page.goto(f"{server}/wallet")
        link = page.locator("#nav-transit")
        assert link.inner_text() == "乘车码"
        with page.expect_navigation(url="**/wallet/transit"):
            link.click()  # the wallet home's link
        page.fill(f"form[data-app='{APP_ID}'] input[name=payment_password]", PAYMENT_PASSWORD)
        with page.expect_navigation(url="**/wallet/transit?done=opened"):
            page.click(f"#open-{APP_ID}")
        page.wait_for_selector("#ride-qr svg")
        code_text = page.get_attribute(".ride-code", "data-code")
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
        extractable = page.evaluate(
            f"PaybaoTransit.keyFor('{APP_ID}').then(p => p.privateKey.extractable)"
        )
        assert extractable is False
        shot = ARTIFACTS / "transit-code.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()

    decoded = decode_image(shot.read_bytes())
    assert decoded == [code_text], decoded
    gate = Reader(app_id=APP_ID, station="WLQ", kind=TapKind.IN)  # offline from here on
    keys = platform.services["transit"].issuer_keys()
    gate.load_keys(
        {"key_id": str(k.key_id), "public_key": base64.b64encode(k.public_key).decode()}
        for k in keys
    )
    code: RideCode = gate.scan(decoded[0], now_s(platform))
    assert code.certificate.user_id == public_user_id(user_id)
    account: Any = platform.services["transit"].account(user_id, APP_ID)
    assert code.certificate.public_key == account.public_key
