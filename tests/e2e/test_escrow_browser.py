"""Escrow end to end in Chromium: a seller lists a camera on the marketplace, a buyer buys it
(the money shows as held), the seller ships, the buyer asks for the money back, the seller
refuses, the buyer escalates with a message and a photo, an operator (password + TOTP) reads the
case and refunds part of it; then the buyer's and seller's wallet statements, the trade page and
the operator's ledger explorer all show the same split. Wallet users on a phone-sized screen.
Screenshots: test-artifacts/escrow-*.png."""

from __future__ import annotations

import io
from typing import Any

import pytest
import segno
from tests.e2e.browser_support import PHONE_SCREEN as PHONE
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.admin_support import OPERATOR_NAME, OPERATOR_PASSWORD, totp_now
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer

from paybao.bootstrap import Platform
from paybao.domain.escrow import EscrowStatus
from paybao.domain.money import format_yuan

pytestmark = pytest.mark.browser
_shot = Shots("escrow")
_fits_phone = fits_phone
_click = click_through
__all__ = ["server"]  # the fixture that serves the app
BUYER_PHONE, SELLER_PHONE = "13900139001", "13900139002"


@pytest.fixture
def people(platform: Platform) -> dict[str, Any]:
    """The buyer (500.00 in the wallet), the seller (empty wallet) and an operator."""
    operator = platform.services["operators"].create(OPERATOR_NAME, OPERATOR_PASSWORD)
    return {
        "buyer": make_buyer(platform, BUYER_PHONE, balance_fen=500_00),
        "seller": make_buyer(platform, SELLER_PHONE, balance_fen=0),
        "totp_secret": operator.totp_secret,
    }


def _photo() -> bytes:
    buffer = io.BytesIO()
    segno.make("scratched lens, photo at delivery").save(buffer, kind="png", scale=4)
    return buffer.getvalue()


def _wallet_page(browser: Any, base: str, phone: str) -> Any:
    page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", LOGIN_PASSWORD)
    with page.expect_navigation():
        page.click("#submit")
    assert page.url.endswith("/wallet"), page.url
    return page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_buy_ship_refund_dispute_ruling_and_consistent_statements(
    platform: Platform, people: dict[str, Any], server: str
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        seller = _wallet_page(browser, server, SELLER_PHONE)
        buyer = _wallet_page(browser, server, BUYER_PHONE)

        # The seller lists; the buyer buys with the payment password: the money is held.
        seller.goto(f"{server}/market")
        seller.fill("#title", "旧相机")
        seller.fill("#price", "200.00")
        seller.select_option("#goods_type", "express")
        _click(seller, "#list")
        buyer.goto(f"{server}/market")
        buyer.fill("tr.listing:has-text('旧相机') .pay-password", PAYMENT_PASSWORD)
        _click(buyer, "tr.listing:has-text('旧相机') .buy")
        no = buyer.inner_text("#escrow-no")
        assert buyer.get_attribute("#escrow", "data-status") == "WAIT_SELLER_SEND_GOODS"
        buyer.goto(f"{server}/wallet")
        assert buyer.inner_text("#balance") == "500.00"
        assert buyer.inner_text("#available") == "300.00"
        assert buyer.inner_text("#held") == "200.00"
        assert buyer.locator(f"tr.hold[data-reference='{no}']").count() == 1
        _fits_phone(buyer)
        _shot(buyer, "1-buyer-held")
        # The buyer's purchases on the market page: the status in words, not the protocol code.
        buyer.goto(f"{server}/market")
        bought = buyer.locator(f"#purchases tr.escrow[data-escrow-no='{no}'] td.status")
        assert bought.inner_text() == "等待卖家发货"
        _fits_phone(buyer)
        _shot(buyer, "1b-buyer-market")

        # The seller ships; the buyer asks for everything back; the seller refuses.
        trade = f"{server}/escrow/{no}"
        seller.goto(trade)
        seller.fill("#carrier", "顺丰")
        seller.fill("#tracking-no", "SF1234567890")
        _click(seller, "#ship")
        assert seller.get_attribute("#escrow", "data-status") == "WAIT_BUYER_CONFIRM_GOODS"
        buyer.goto(trade)
        buyer.fill("#refund-amount", "200.00")
        buyer.fill("#refund-reason", "镜头有划痕")
        _click(buyer, "#refund")
        assert buyer.get_attribute("#escrow", "data-status") == "REFUNDING"
        seller.goto(trade)
        seller.fill("#refuse-reason", "发货时完好")
        _click(seller, "#refuse")
        assert seller.get_attribute("#escrow", "data-status") == "REFUND_REFUSED"

        # The buyer escalates with words and a photo.
        buyer.goto(trade)
        buyer.fill("#escalate-text", "收到时镜头已有划痕,见照片")
        buyer.set_input_files(
            "#escalate-image",
            {"name": "lens.png", "mimeType": "image/png", "buffer": _photo()},
        )
        _click(buyer, "#escalate")
        assert buyer.get_attribute("#escrow", "data-status") == "DISPUTE"
        _fits_phone(buyer)
        _shot(buyer, "2-buyer-dispute")

        # The operator signs in, reads the case (both sides, the photo) and refunds 50.00.
        admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        admin.goto(f"{server}/admin/disputes")
        admin.fill("input[name=name]", OPERATOR_NAME)
        admin.fill("input[name=password]", OPERATOR_PASSWORD)
        admin.fill("input[name=totp]", totp_now(people["totp_secret"]))
        _click(admin, "#submit")
        assert admin.url.endswith("/admin/disputes")
        _click(admin, f"tr.dispute[data-escrow-no='{no}'] a")
        messages = admin.inner_text("#messages")
        assert "镜头有划痕" in messages and "发货时完好" in messages
        assert "收到时镜头已有划痕" in messages
        photo = admin.locator("#messages img")
        assert photo.count() == 1
        photo.scroll_into_view_if_needed()
        assert admin.evaluate("img => img.complete && img.naturalWidth > 0", photo.element_handle())
        # Each choice's radio sits beside its words, not stretched across the form.
        radio, words = (
            admin.locator("#decision-part").bounding_box(),
            admin.locator("label:has(#decision-part)").bounding_box(),
        )
        assert radio and words and radio["width"] < 40 and radio["x"] < words["x"] + 20
        admin.check("#decision-part")
        admin.fill("#amount", "50.00")
        admin.fill("#note", "轻微划痕,退一部分")
        _shot(admin, "3-operator-case")
        _click(admin, "#rule")
        assert admin.get_attribute("#case", "data-status") == "TRADE_FINISHED"
        assert "refunded 50.00" in admin.inner_text("#outcome")
        admin.goto(f"{server}/admin/disputes")
        assert admin.locator(f"tr.dispute[data-escrow-no='{no}']").count() == 0

        # What the ruling decided, from the record: 50.00 back, 150.00 to the seller less fee.
        ended = platform.services["escrow"].get(no)
        assert (ended.status, ended.refund_fen) == (EscrowStatus.TRADE_FINISHED, 50_00)
        fee_fen = ended.fee_fen
        assert fee_fen == 90  # 0.6 % of 150.00
        seller_net = format_yuan(150_00 - fee_fen)

        # The buyer: 150.00 paid, nothing held any more; the trade page says 50.00 came back.
        buyer.goto(f"{server}/wallet")
        assert buyer.inner_text("#balance") == "350.00"
        assert buyer.inner_text("#available") == "350.00"
        assert buyer.locator("#held").count() == 0
        buyer.goto(f"{server}/wallet/statement")
        assert buyer.locator("#holds").count() == 0
        paid = buyer.locator("tr.entry[data-kind=escrow_payment]")
        assert paid.count() == 1 and "-150.00" in paid.first.inner_text()
        _fits_phone(buyer)
        _shot(buyer, "4-buyer-statement")
        buyer.goto(trade)
        assert buyer.inner_text("#refunded") == "¥50.00"

        # The seller: +150.00 released, -0.90 fee.
        seller.goto(f"{server}/wallet")
        assert seller.inner_text("#balance") == seller_net
        seller.goto(f"{server}/wallet/statement")
        released = seller.locator("tr.entry[data-kind=escrow_release]")
        assert released.count() == 1 and "+150.00" in released.first.inner_text()
        fee = seller.locator("tr.entry[data-kind=escrow_fee]")
        assert fee.count() == 1 and f"-{format_yuan(fee_fen)}" in fee.first.inner_text()
        _shot(seller, "5-seller-statement")
        seller.goto(trade)
        assert seller.inner_text("#refunded") == "¥50.00"

        # The operator's ledger explorer agrees account by account.
        # Columns: id, key, debits posted, credits posted, debits pending, credits pending,
        # balance, available.
        for who, expected in [("seller", seller_net), ("buyer", "350.00")]:
            admin.goto(f"{server}/admin/ledger?account={_wallet_id(platform, people[who])}")
            cells = admin.locator("section#account table").first.locator("tbody td")
            counters = [cells.nth(i).inner_text() for i in (4, 6, 7)]
            assert counters == ["0.00", expected, expected], (who, counters)
            assert no in admin.inner_text("#transfers")
        _shot(admin, "6-operator-ledger-buyer")
        browser.close()

    report = platform.reconcile.run()
    assert [d for d in report.differences if not d.subject.startswith("test:topup:")] == []


def _wallet_id(platform: Platform, user_id: int) -> int:
    return int(platform.services["users"].get(user_id).wallet_account_id)
