"""Coupons in Chromium on a phone-sized screen: the demo buyer claims a platform 满100减10 coupon on
/wallet/coupons, a shop's wap.pay opens the cashier with that coupon (and the shop's own 9折)
already checked, the buyer switches the shop coupon off (the amount to pay follows), pays with
the payment password, lands on the shop's return page, and finds the coupon under 已使用.
Screenshots: test-artifacts/coupons-claim.png, coupons-cashier.png, coupons-used.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import wap_pay_url
from tests.e2e.test_cashier_browser import ReturnPage, merchant_site, port, server, settings
from tests.e2e.test_credit_browser import PHONE_SCREEN, fits_the_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.integration.coupon_support import marketing_spent, operator_campaign, shop_campaign
from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import make_shop

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponStatus
from paybao.wiring.wallet_demo import DEMO_LOGIN_PASSWORD, DEMO_PAYMENT_PASSWORD, DEMO_PHONE

pytestmark = pytest.mark.browser
# The fixtures this test shares with the cashier's browser test.
__all__ = ["merchant_site", "port", "server", "settings"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_claim_a_coupon_pay_with_it_at_the_cashier_and_see_it_used(
    platform: Platform, server: str, merchant_site: tuple[str, type[ReturnPage]]
) -> None:
    from playwright.sync_api import sync_playwright

    return_url, site = merchant_site
    shop = make_shop(platform)
    campaign = operator_campaign(platform, name="新客满100减10")
    shop_coupon = shop_campaign(platform, shop)
    buyer = platform.services["users"].find_by_phone(DEMO_PHONE).id
    platform.services["marketing"].claim(buyer, shop_coupon.id)
    pay_url = wap_pay_url(server, return_url, "coupon-1", "128.00", "运动鞋")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", DEMO_PHONE)
        page.fill("input[name=password]", DEMO_LOGIN_PASSWORD)
        with page.expect_navigation():
            page.click("#submit")

        # Claim the platform's coupon.
        page.goto(f"{server}/wallet/coupons")
        card = page.locator(f"#template-{campaign.id}")
        assert "满100减10" in card.inner_text()
        page.screenshot(path=str(ARTIFACTS / "coupons-claim.png"), full_page=True)
        assert fits_the_phone(page), "the coupons page must fit a phone"
        with page.expect_navigation():
            card.locator("button.claim").click()
        assert "领取成功" in page.inner_text("p.notice")
        assert page.locator('section[data-state="available"]').count() == 2

        # The shop's wap.pay: both coupons checked, 128 - 12.80 - 10 = 105.20 to pay.
        page.goto(pay_url)
        assert "/cashier/" in page.url
        assert page.inner_text("#coupon-pay") == "¥105.20"
        assert page.inner_text("#pay-amount") == "105.20"
        page.check("#coupon-merchant-none")  # keep the shop's coupon for another day
        assert page.inner_text("#coupon-pay") == "¥118.00"
        assert page.inner_text("#coupon-off") == "-¥10.00"
        page.fill("#payment_password", DEMO_PAYMENT_PASSWORD)
        page.screenshot(path=str(ARTIFACTS / "coupons-cashier.png"), full_page=True)
        assert fits_the_phone(page), "the cashier must fit a phone without sideways scrolling"
        with page.expect_navigation(url=f"{return_url}*"):
            page.click("#pay-button")
        assert page.inner_text("#thanks") == "商户:支付完成"

        page.goto(f"{server}/wallet/coupons?tab=used")
        used = page.locator('section[data-state="used"]')
        assert used.count() == 1 and "新客满100减10" in used.inner_text()
        assert "减 ¥10.00" in used.inner_text()
        page.screenshot(path=str(ARTIFACTS / "coupons-used.png"), full_page=True)
        assert fits_the_phone(page)
        browser.close()

    opened = [query for query in site.queries if query]
    assert len(opened) == 1 and opened[0]["out_trade_no"] == "coupon-1"
    trade = platform.services["trades"].get(opened[0]["trade_no"])
    assert (trade.buyer_pay_fen, trade.discount_fen, trade.mdiscount_fen) == (118_00, 10_00, 0)
    (kept,) = platform.services["marketing"].coupons_of(buyer, CouponStatus.AVAILABLE)
    assert kept.coupon.template_id == shop_coupon.id
    assert marketing_spent(platform) == 10_00
    assert reconcile_clean(platform) == []
