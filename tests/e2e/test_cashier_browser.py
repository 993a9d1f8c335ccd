"""A merchant's page.pay link opens the cashier in Chromium on a phone-sized screen; the demo
buyer signs in, picks the bound card, types the payment password and lands on the merchant's
return_url with signed return parameters. Screenshots: test-artifacts/cashier-*.png."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import ClassVar

import pytest
import uvicorn
from sqlalchemy import text
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port
from tests.integration.gateway_support import make_shop, signed_params

from paybao.adapters.alipay.wire import verify_notification
from paybao.bootstrap import Platform
from paybao.demo import seed
from paybao.domain.trades import TradeStatus
from paybao.settings import Settings
from paybao.web.app import create_app
from paybao.wiring.wallet_demo import DEMO_LOGIN_PASSWORD, DEMO_PAYMENT_PASSWORD, DEMO_PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, port: int) -> Settings:
    # The gateway sends the browser to the cashier at the base URL: it must be this server.
    return settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})


@pytest.fixture
def server(platform: Platform, port: int) -> Iterator[str]:
    list(seed(platform))
    app = create_app(platform, run_worker=False)
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(100):
        if running.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


class ReturnPage(http.server.BaseHTTPRequestHandler):
    queries: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        query = urllib.parse.urlsplit(self.path).query
        self.queries.append(dict(urllib.parse.parse_qsl(query)))
        body = "<!doctype html><meta charset=utf-8><h1 id=thanks>商户:支付完成</h1>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def merchant_site() -> Iterator[tuple[str, type[ReturnPage]]]:
    """The merchant's return page: records each query string it is opened with."""
    handler = type("R", (ReturnPage,), {"queries": []})
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{receiver.server_address[1]}/return", handler
    receiver.shutdown()
    receiver.server_close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_page_pay_cashier_card_password_return_url(
    platform: Platform, server: str, merchant_site: tuple[str, type[ReturnPage]]
) -> None:
    from playwright.sync_api import sync_playwright

    return_url, site = merchant_site
    make_shop(platform)
    biz = {
        "out_trade_no": "browser-1",
        "total_amount": "26.80",
        "subject": "牛肉面 × 2",
        "product_code": "FAST_INSTANT_TRADE_PAY",
    }
    query = urllib.parse.urlencode(
        signed_params("alipay.trade.page.pay", biz, return_url=return_url)
    )
    platform.services["bank"].script.append("ok")  # the card debit succeeds at once
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{server}/gateway.do?{query}")
        assert "/cashier/" in page.url
        assert page.inner_text("#amount") == "¥26.80"
        page.fill("#phone", DEMO_PHONE)
        page.fill("#password", DEMO_LOGIN_PASSWORD)
        with page.expect_navigation():
            page.click("#login button")
        card = page.locator("input[name=funding][value^='card:']").first
        card.check()
        page.fill("#payment_password", "000000")  # a wrong password first: refused, counted
        with page.expect_navigation():
            page.click("#pay button")
        assert "支付密码错误" in page.inner_text("#error")
        page.locator("input[name=funding][value^='card:']").first.check()
        page.fill("#payment_password", DEMO_PAYMENT_PASSWORD)
        page.screenshot(path=str(ARTIFACTS / "cashier-pay.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the cashier must fit a phone without sideways scrolling"
        with page.expect_navigation(url=f"{return_url}*"):
            page.click("#pay button")
        assert page.inner_text("#thanks") == "商户:支付完成"
        page.screenshot(path=str(ARTIFACTS / "cashier-returned.png"), full_page=True)
        browser.close()

    opened = [query for query in site.queries if query]  # Chromium also asks for a favicon
    assert len(opened) == 1
    returned = opened[0]
    assert (returned["out_trade_no"], returned["total_amount"]) == ("browser-1", "26.80")
    assert verify_notification(returned, platform.services["platform_key"].public_pem)
    trade = platform.services["trades"].get(returned["trade_no"])
    assert trade.status is TradeStatus.TRADE_SUCCESS and trade.total_fen == 26_80
    with platform.db.read() as tx:
        paid = tx.execute(text("SELECT status FROM card_payments")).scalars().all()
    assert paid == ["paid"]
