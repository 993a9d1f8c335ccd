"""A dynamic membership card (write_off_type dbarcode) in Chromium on a phone-sized screen: the
card page draws a code the platform issued (a QR that decodes to it and a Code128 barcode), the
merchant's query finds the card by it, and when the page's clock and the platform's test clock
move on 45 s the page has asked for the next code by itself and shows it. Screenshots:
test-artifacts/member-card-codes-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as VIEWPORT
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import APP_ID, LOGIN_PASSWORD, make_buyer, make_shop

from paybao.adapters.qr import decode_image
from paybao.bootstrap import Platform
from paybao.domain.member_cards import TemplateSpec, TemplateStyle, WriteOff
from paybao.services.member_cards import NewTemplate

pytestmark = pytest.mark.browser
_shot = Shots("member-card-codes")

__all__ = ["server"]  # the fixture that serves the app
PHONE = "13700137702"


def _card_id(platform: Platform) -> int:
    """A card of a dbarcode template, taken by the user (the gateway is tested elsewhere)."""
    shop = make_shop(platform)
    spec = TemplateSpec(
        biz_no_prefix="66",
        biz_no_suffix_len=10,
        write_off=WriteOff.DBARCODE,
        style=TemplateStyle("动态码会员", "logo", "bg", "rgb(160,60,30)", "星辰咖啡"),
    )
    cards = platform.services["member_cards"]
    new = NewTemplate(APP_ID, shop.merchant.id, "e2e-dynamic", "fp", spec)
    template_id = cards.create_template(new).template_id
    user_id = make_buyer(platform, PHONE, balance_fen=0)
    return int(cards.apply(user_id, template_id).card.id)


def _shown_code(page: Any, other_than: str = "") -> str:
    page.wait_for_function(
        "(old) => /^[0-9]{20}$/.test(document.querySelector('#card-code-value').textContent)"
        " && document.querySelector('#card-code-value').textContent !== old",
        arg=other_than,
    )
    return str(page.inner_text("#card-code-value")).strip()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_the_card_shows_a_code_that_refreshes_itself(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    card_id = _card_id(platform)
    codes = platform.services["member_card_codes"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
        page.clock.install()  # the page's clock moves when the test says

        page.goto(f"{server}/wallet/member-cards/{card_id}")
        assert "/login" in page.url
        page.fill("input[name=phone]", PHONE)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        click_through(page, "#submit")
        assert re.search(rf"/wallet/member-cards/{card_id}$", page.url), page.url

        first = _shown_code(page)
        assert first.startswith("81")
        qr = page.locator("#card-qr svg")
        qr.scroll_into_view_if_needed()
        assert decode_image(qr.screenshot()) == [first]
        assert page.locator("#card-barcode svg").count() == 1
        assert codes.card_of(APP_ID, first).card.id == card_id  # what the till's query finds
        fits_phone(page)
        _shot(page, "1-code")

        platform.sandbox_clock.advance(45)
        page.clock.fast_forward("00:45")  # 15 s left: the page asks for the next one
        second = _shown_code(page, other_than=first)
        assert decode_image(page.locator("#card-qr svg").screenshot()) == [second]
        assert codes.card_of(APP_ID, second).card.id == card_id
        _shot(page, "2-next-code")

        page.reload()  # the code kept in this browser is shown again, not a third one
        assert _shown_code(page) == second
        browser.close()
