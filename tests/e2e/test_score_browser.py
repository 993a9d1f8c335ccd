"""The credit score in Chromium on a phone-sized screen: from the wallet's home a user opens the
score page, which asks first (switching on without ticking the box is refused), ticks and
switches on, sees the score, its band and the five dimensions as bars with their reasons and
tips; allows merchants' admission checks, sees a shop's check listed; then switches everything
off and is asked again. Screenshots: test-artifacts/score-*.png."""

from __future__ import annotations

import time

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as PHONE
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_shop
from tests.integration.score_support import person, score_of

from paybao.bootstrap import Platform
from paybao.services.score import AdmissionQuery

pytestmark = pytest.mark.browser
_shot = Shots("score")
_fits_phone = fits_phone
_click = click_through
__all__ = ["server"]  # the fixture that serves the app
PHONE_NUMBER = "13900139401"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_switch_on_see_the_score_allow_a_check_and_switch_off(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    user = person(platform, PHONE_NUMBER, "王小明", balance_fen=3_000_00)
    shop = make_shop(platform)
    platform.services["fund"].transfer_in(user.user_id, 1_000_00, PAYMENT_PASSWORD)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE_NUMBER)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        _click(page, "#submit")

        # Home -> the score page: it asks first, and the box is not ticked.
        _click(page, "#nav-score")
        assert page.is_visible("#score-on-form")
        assert not page.is_checked("#score-agree")
        assert "信用历史" in page.inner_text("#score-consent")
        _fits_phone(page)
        _shot(page, "1-consent")
        _click(page, "#score-on", error_expected=True)
        assert page.get_attribute("p.error", "data-code") == "score_agreement_required"
        assert score_of(platform).consent(user.user_id).scoring is False

        page.check("#score-agree")
        _click(page, "#score-on")
        assert page.inner_text("p.notice") == "信用分已开启"
        total = score_of(platform).current(user.user_id).score.total
        assert page.inner_text("#score-total") == str(total)
        assert page.inner_text("#score-band").startswith("信用")
        assert page.locator(".dim").count() == 5
        assert page.locator(".dim .bar span").count() == 5
        assert "余额和余额宝共 3000.00 元" in page.inner_text("#dim-capacity")
        assert page.locator("#score-tips li").count() == 3
        _fits_phone(page)
        _shot(page, "2-score")

        # Merchants' checks: off until the user ticks and allows them.
        assert page.inner_text("#admission-state") == "未开启"
        page.check("#admission-agree")
        _click(page, "#admission-on")
        assert page.inner_text("#admission-state") == "已开启"
        asked = AdmissionQuery(
            app_id=shop.app.app_id,
            merchant_id=shop.merchant.id,
            transaction_id=f"e2e_{time.time_ns()}",
            fingerprint="e2e",
            threshold=400,
            id_number=user.id_number,
            name=user.name,
        )
        assert score_of(platform).answer(asked).outcome.value == "Y"
        page.reload()
        row = page.locator("tr.check-row").first
        assert row.get_attribute("data-outcome") == "Y"
        assert "测试商户" in row.inner_text() and "通过" in row.inner_text()
        _fits_phone(page)
        _shot(page, "3-checks")

        # Off: the score is deleted and the page asks again.
        _click(page, "#score-off-button")
        assert page.inner_text("p.notice") == "信用分已关闭,分数已删除"
        assert page.is_visible("#score-on-form") and not page.is_visible("#score-total")
        _fits_phone(page)
        _shot(page, "4-off")
        browser.close()
    assert score_of(platform).view(user.user_id).current is None
