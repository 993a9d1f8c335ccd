"""Paying by code in Chromium.

1. A buyer binds this browser for payment codes; with the network cut the page keeps making
   codes (Playwright's clock moves a minute on); a code read from the offline page is charged
   by a merchant through `alipay.trade.pay` with python-alipay-sdk.
2. A buyer pays a precreated order by uploading a screenshot of its QR code on the scan page.

Screenshots: test-artifacts/paycode-offline.png, paycode-qr-paid.png.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from alipay import AliPay
from alipay.utils import AliPayConfig

from paybao.adapters.qr import decode_image
from paybao.bootstrap import Platform
from paybao.web.app import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import (
    APP_ID,
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    app_keys,
    make_buyer,
    make_shop,
    wallet_balance,
)
from test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package"),
]
BUYER_PHONE = "13900001111"


@pytest.fixture
def served(platform: Platform) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(platform, run_worker=False), host="127.0.0.1", port=port, log_level="warning"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(100):
        if running.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


def sdk(base: str, platform: Platform) -> AliPay:
    """python-alipay-sdk pointed at the served paybao (as tests/contract does)."""
    client = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=app_keys().private_pem_pkcs1,
        alipay_public_key_string=platform.services["platform_key"].public_pem,
        sign_type="RSA2",
        debug=False,
        config=AliPayConfig(timeout=15),
    )
    client._gateway = f"{base}/gateway.do"
    return client


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=phone]", BUYER_PHONE)
    page.fill("input[name=password]", LOGIN_PASSWORD)
    with page.expect_navigation():
        page.click("#submit")


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def test_offline_code_is_charged_by_the_sdk(platform: Platform, served: str) -> None:
    from playwright.sync_api import sync_playwright

    make_shop(platform)
    buyer = make_buyer(platform, phone=BUYER_PHONE, balance_fen=200_00)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        page = context.new_page()
        page.clock.install(time=datetime.now(UTC))
        sign_in(page, served)
        page.goto(f"{served}/wallet/paycode")
        page.fill("#bind-password", PAYMENT_PASSWORD)
        with page.expect_navigation():
            page.click("#bind")
        digits = page.locator("#code-digits")
        page.wait_for_function("document.getElementById('code-digits').textContent.length == 18")
        first_code = digits.inner_text()

        context.set_offline(True)
        first_step = int(digits.get_attribute("data-step") or 0)
        page.clock.fast_forward(60_000)
        page.wait_for_function(
            f"document.getElementById('code-digits').dataset.step == '{first_step + 1}'"
        )
        offline_code = digits.inner_text()
        assert page.locator("#barcode svg").count() == 1
        assert page.locator("#qrcode svg").count() == 1
        page.screenshot(path=str(ARTIFACTS / "paycode-offline.png"), full_page=True)
        context.set_offline(False)
        browser.close()

    assert offline_code != first_code and len(offline_code) == 18
    # What a till's scanner reads off the screen is the code the page shows.
    assert decode_image((ARTIFACTS / "paycode-offline.png").read_bytes()) == [offline_code]
    client = sdk(served, platform)
    result = client.api_alipay_trade_pay(
        out_trade_no="till-1",
        scene="bar_code",
        auth_code=offline_code,
        subject="咖啡",
        total_amount="18.00",
    )
    assert result["code"] == "10000", result
    assert wallet_balance(platform, buyer) == 182_00
    again = client.api_alipay_trade_pay(
        out_trade_no="till-2",
        scene="bar_code",
        auth_code=offline_code,
        subject="咖啡",
        total_amount="1.00",
    )
    assert again["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"


def test_pay_precreated_order_by_uploading_its_qr(
    platform: Platform, served: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    make_shop(platform)
    buyer = make_buyer(platform, phone=BUYER_PHONE, balance_fen=100_00)
    client = sdk(served, platform)
    created = client.api_alipay_trade_precreate(
        out_trade_no="qr-order-1", total_amount="9.90", subject="奶茶"
    )
    assert created["code"] == "10000", created
    token = created["qr_code"].rsplit("/", 1)[1]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        page.goto(f"{served}/qr/{token}.png")
        screenshot = tmp_path / "order-qr.png"
        page.screenshot(path=str(screenshot))
        sign_in(page, served)
        page.goto(f"{served}/wallet/scan")
        page.set_input_files("#scan-image", str(screenshot))
        with page.expect_navigation():
            page.click("#submit")
        page.wait_for_url("**/cashier/**")
        assert "9.90" in page.content()
        page.fill("input[name=payment_password]", PAYMENT_PASSWORD)
        with page.expect_navigation():
            page.click("#pay button[type=submit]")
        page.screenshot(path=str(ARTIFACTS / "paycode-qr-paid.png"), full_page=True)
        browser.close()

    query = client.api_alipay_trade_query(out_trade_no="qr-order-1")
    assert query["trade_status"] == "TRADE_SUCCESS"
    assert wallet_balance(platform, buyer) == 100_00 - 9_90
