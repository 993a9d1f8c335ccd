"""Card payouts in Chromium on a phone-sized screen: from the wallet's home a user transfers to
a friend's bank card (the confirmation names the bank from the card number and shows the fee
over the free quota), sees it arrive; a mistyped payee name fails at the bank and the money
comes back; then the user saves a credit card with a monthly reminder and repays it over the
month's free 2,000. Screenshots: test-artifacts/card-payouts-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as PHONE
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.card_payout_support import (
    PIN,
    bound_card_number,
    card_balance,
    credit_card,
    funded_user,
)

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("card-payouts")
_fits_phone = fits_phone
_click = click_through
__all__ = ["server"]  # the fixture that serves the app
PHONE_NUMBER = "13900139401"
LOGIN_PASSWORD = "abc12345"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_transfer_to_a_card_a_name_mismatch_and_a_credit_card_repayment(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    payer = funded_user(platform, PHONE_NUMBER, "王五", 30_000_00)
    friend = funded_user(platform, "13900139402", "赵六")
    friend_card = bound_card_number(platform, friend)
    own_credit = credit_card(platform, "王五", "browser-own")
    wallet = platform.services["wallet"]
    # 19,900.00 of the lifetime free quota already used by a withdrawal: the fee shows.
    assert wallet.withdraw(payer.user_id, payer.card_id, 19_900_00, PIN).fee_fen == 0
    friend_before = card_balance(platform, friend_card)
    assert friend_before is not None
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE_NUMBER)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        _click(page, "#submit")

        # Home -> transfer to a bank card -> the confirmation with the bank and the fee.
        _click(page, "#nav-card-transfer")
        assert "剩余 100.00 元" in page.inner_text("#quota-note")
        page.fill("#card-number", " ".join(friend_card[i : i + 4] for i in range(0, 19, 4)))
        page.fill("#holder-name", "赵六")
        page.fill("#amount", "1000.00")
        page.fill("#memo", "还你的饭钱")
        _fits_phone(page)
        _shot(page, "1-transfer-form")
        _click(page, "#next")
        assert page.inner_text("#bank-name") == "中国工商银行 · 储蓄卡"
        assert page.inner_text("#card-masked").endswith(friend_card[-4:])
        assert page.inner_text("#confirm-fee") == "0.90"  # 0.1% of the 900.00 over the quota
        assert page.inner_text("#confirm-total") == "1000.90"
        page.fill("#payment-password", PIN)
        _fits_phone(page)
        _shot(page, "2-transfer-confirm")
        _click(page, "#confirm")
        assert page.get_attribute("#payout", "data-status") == "succeeded"
        assert "已到账" in page.inner_text("#status")
        _fits_phone(page)
        _shot(page, "3-transfer-done")
        assert card_balance(platform, friend_card) == friend_before + 1_000_00

        # A mistyped name: the bank refuses it, the money and the fee come back.
        page.goto(f"{server}/wallet/card-transfer")
        page.fill("#card-number", friend_card)
        page.fill("#holder-name", "赵七")
        page.fill("#amount", "500.00")
        _click(page, "#next")
        page.fill("#payment-password", PIN)
        _click(page, "#confirm")
        assert page.get_attribute("#payout", "data-failure") == "holder_name_mismatch"
        assert "收款人姓名与银行卡不符" in page.inner_text("#say")
        assert "500.50 元已退回余额" in page.inner_text("#say")
        _fits_phone(page)
        _shot(page, "4-name-mismatch")

        # Credit card repayment: save the card with a reminder on the 10th, repay 2,500.00.
        page.goto(f"{server}/wallet")
        _click(page, "#nav-card-repayment")
        assert "本月" in page.inner_text("#quota-note") and "剩余 2000.00 元" in page.inner_text(
            "#quota-note"
        )
        page.fill("#new-card-number", own_credit)
        page.select_option("#remind-day", "10")
        _click(page, "#save-card")
        assert "每月10日提醒" in page.inner_text("#saved-cards")
        page.fill("#amount", "2500.00")
        _fits_phone(page)
        _shot(page, "5-repayment-form")
        _click(page, "#next")
        assert page.inner_text("#bank-name") == "招商银行 · 信用卡"
        assert page.inner_text("#confirm-fee") == "0.50"  # 0.1% of the 500.00 over 2,000.00
        page.fill("#payment-password", PIN)
        _click(page, "#confirm")
        assert page.get_attribute("#payout", "data-status") == "succeeded"
        _fits_phone(page)
        _shot(page, "6-repayment-done")

        page.goto(f"{server}/wallet/statement")
        kinds = page.locator("tr.entry").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert kinds[:5] == ["fee", "card_repayment", "fee", "card_transfer", "withdrawal"]
        page.goto(f"{server}/wallet/card-payouts")
        statuses = page.locator("tr.payout").evaluate_all("rows => rows.map(r => r.dataset.status)")
        assert statuses == ["succeeded", "failed", "succeeded"]
        _fits_phone(page)
        _shot(page, "7-records")
        browser.close()
    assert card_balance(platform, own_credit) == 2_500_00
    assert wallet.balance(payer.user_id)[0] == 30_000_00 - 19_900_00 - 1_000_90 - 2_500_50
    assert platform.reconcile.run().differences == []
