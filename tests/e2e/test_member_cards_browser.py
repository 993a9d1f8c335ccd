"""Membership cards in Chromium on a phone-sized screen: a user opens a merchant's card link
(/wallet/cards/apply/<template_id>), signs in, takes the card, and sees it: name, points,
level, the merchant's stored value with the note that it is not paybao money, and the QR code to
show at the till, which decodes to the card number. The merchant then updates the points
(the service the gateway calls), and the card page shows them in its history. Screenshots:
test-artifacts/member-cards-*.png."""

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
from paybao.services.member_cards import CardUpdate, NewTemplate

pytestmark = pytest.mark.browser
_shot = Shots("member-cards")

__all__ = ["server"]  # the fixture that serves the app
PHONE = "13700137701"


def _template(platform: Platform) -> str:
    """What alipay.marketing.card.template.create makes (the gateway is tested elsewhere)."""
    shop = make_shop(platform)
    spec = TemplateSpec(
        biz_no_prefix="55",
        biz_no_suffix_len=10,
        write_off=WriteOff.QRCODE,
        style=TemplateStyle("星辰咖啡会员", "logo", "bg", "rgb(30,90,160)", "星辰咖啡"),
        levels=({"level": "L2", "level_show_name": "金卡会员"},),
        actions=({"code": "menu", "text": "点单", "url": "https://shop.example/menu"},),
    )
    new = NewTemplate(APP_ID, shop.merchant.id, "e2e-template", "fp", spec)
    return str(platform.services["member_cards"].create_template(new).template_id)


def _click(page: Any, selector: str) -> None:
    click_through(page, selector)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_take_a_card_from_its_link_and_show_its_qr(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    template_id = _template(platform)
    make_buyer(platform, PHONE, balance_fen=0)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()

        page.goto(f"{server}/wallet/cards/apply/{template_id}")
        assert "/login" in page.url  # sign in first, then back to the offer
        page.fill("input[name=phone]", PHONE)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        _click(page, "#submit")
        assert "星辰咖啡会员" in page.inner_text("#offer")
        fits_phone(page)
        _shot(page, "1-offer")

        _click(page, "#take-card")
        assert re.search(r"/wallet/member-cards/\d+$", page.url), page.url
        biz_card_no = page.inner_text("#card-no").strip()
        assert re.fullmatch(r"55\d{10}", biz_card_no)
        assert page.inner_text("#card-point") == "0"
        assert "不是 paybao 余额" in page.inner_text("#balance-note")
        qr = page.locator("#card-qr")
        qr.scroll_into_view_if_needed()
        page.wait_for_function("document.querySelector('#card-qr').naturalWidth > 0")
        assert decode_image(qr.screenshot()) == [biz_card_no]
        assert page.locator("#card-actions a", has_text="点单").count() == 1
        fits_phone(page)
        _shot(page, "2-card")

        card_id = int(page.url.rsplit("/", 1)[1])
        cards = platform.services["member_cards"]
        cards.update_card(
            APP_ID,
            biz_card_no,
            CardUpdate(
                occurred_at_us=platform.clock.now_us() + 1_000_000,
                point_hundredths=12_050,
                level="L2",
                reason="消费得积分",
            ),
        )
        page.reload()
        assert page.inner_text("#card-point") == "120.50"
        assert page.inner_text("#card-level") == "金卡会员"
        assert "消费得积分" in page.inner_text("#card-history")
        _shot(page, "3-updated")

        page.goto(f"{server}/wallet")
        _click(page, "#nav-member-cards")
        tile = page.locator(f'[data-card-id="{card_id}"]')
        assert "星辰咖啡会员" in tile.inner_text()
        _shot(page, "4-list")
        browser.close()
