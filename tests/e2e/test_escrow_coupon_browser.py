"""An escrow purchase with a red packet in Chromium on a 390 px phone, in Chinese: the buyer holds
a platform coupon (满100减10), opens the market's checkout for a 200.00 camera, finds the coupon
checked with what it pays beside it, pays 190.00 with the payment password; the trade page shows
the coupon and what the buyer paid, the wallet holds 190.00, and the seller's view says it is
paid the full price. Screenshots: test-artifacts/escrow-coupon-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_escrow_browser import _wallet_page
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.coupon_support import claim, operator_campaign
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer

from paybao.bootstrap import Platform
from paybao.domain.escrow import GoodsType

pytestmark = pytest.mark.browser
_shot = Shots("escrow-coupon")
__all__ = ["server"]  # the fixture that serves the app
BUYER_PHONE, SELLER_PHONE = "13900139101", "13900139102"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_buy_with_a_red_packet_on_a_phone(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    buyer_id = make_buyer(platform, BUYER_PHONE, balance_fen=500_00)
    seller_id = make_buyer(platform, SELLER_PHONE, balance_fen=0)
    coupon_id = claim(platform, buyer_id, operator_campaign(platform))
    listing = platform.services["escrow"].list_item(seller_id, "旧相机", 200_00, GoodsType.EXPRESS)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        buyer = _wallet_page(browser, server, BUYER_PHONE)
        buyer.goto(f"{server}/market")
        click_through(buyer, f"tr.listing[data-listing-id='{listing.id}'] a.checkout")
        assert buyer.is_checked(f"#coupon-{coupon_id}")
        assert "190.00" in buyer.inner_text(f"label[for='coupon-{coupon_id}']")
        fits_phone(buyer)
        _shot(buyer, "1-checkout")
        buyer.fill("#payment-password", PAYMENT_PASSWORD)
        click_through(buyer, "#buy")
        assert buyer.get_attribute("#escrow", "data-status") == "WAIT_SELLER_SEND_GOODS"
        assert buyer.inner_text("#discount") == "-¥10.00"
        assert buyer.inner_text("#buyer-paid") == "¥190.00"
        no = buyer.inner_text("#escrow-no")
        fits_phone(buyer)
        _shot(buyer, "2-paid")
        buyer.goto(f"{server}/wallet")
        assert buyer.inner_text("#held") == "190.00"

        seller = _wallet_page(browser, server, SELLER_PHONE)
        seller.goto(f"{server}/escrow/{no}")
        assert "原价" in seller.inner_text("#seller-note")
        fits_phone(seller)
        _shot(seller, "3-seller")
        browser.close()
    assert platform.reconcile.run().differences == []
