"""A new user registers in all six steps in Chromium, tops up, pays the demo user, and both
see the transfer in their statements. Screenshot: test-artifacts/wallet-statement.png."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from paybao.bootstrap import Platform
from paybao.demo import seed
from paybao.domain.cards import generate_card_number
from paybao.domain.identity import generate_id_number
from paybao.web.app import create_app
from paybao.wiring.wallet_demo import DEMO_LOGIN_PASSWORD, DEMO_PHONE

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(platform: Platform) -> Iterator[str]:
    list(seed(platform))
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


def submit(page) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.click("#submit")
    errors = page.locator(".error")
    assert errors.count() == 0, errors.first.inner_text()


def latest_code(page, base: str, phone: str) -> str:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/dev/sms?phone={phone}")
    text = page.locator("tr.sms .text").first.inner_text()
    return text.split("验证码 ")[1][:6]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_register_top_up_transfer_and_statements(server: str) -> None:
    from playwright.sync_api import sync_playwright

    rng = random.Random(7)
    phone, name = "13722223333", "陈一鸣"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        inbox = context.new_page()  # the developer SMS inbox, beside the form
        page.goto(f"{server}/register")
        page.fill("input[name=phone]", phone)
        page.fill("input[name=password]", "abc12345")
        page.click("#submit")
        page.fill("input[name=code]", latest_code(inbox, server, phone))
        page.click("#submit")
        page.fill("input[name=payment_password]", "123456")  # trivial: refused with a reason
        page.click("#submit")
        assert page.locator(".error").get_attribute("data-code") == "weak_payment_password"
        page.fill("input[name=payment_password]", "470253")
        page.click("#submit")
        page.fill("input[name=real_name]", name)
        page.fill("input[name=id_number]", generate_id_number(rng))
        page.click("#submit")
        page.fill("input[name=card_number]", generate_card_number(rng, "CCB"))
        page.fill("input[name=holder_name]", name)
        page.fill("input[name=reserved_phone]", phone)
        page.click("#submit")
        page.fill("input[name=code]", latest_code(inbox, server, phone))
        page.click("#submit")
        assert page.url.endswith("/wallet")

        page.goto(f"{server}/wallet/topup")
        page.fill("input[name=amount]", "300.00")
        page.fill("input[name=payment_password]", "470253")
        submit(page)
        assert page.inner_text("#balance") == "300.00"

        page.goto(f"{server}/wallet/transfer")
        page.fill("input[name=payee_phone]", DEMO_PHONE)
        page.fill("input[name=amount]", "88.80")
        page.fill("input[name=payment_password]", "470253")
        submit(page)
        assert page.inner_text("#balance") == "211.20"
        page.goto(f"{server}/wallet/statement")
        assert page.locator("tr.entry[data-kind=transfer]").count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "wallet-statement.png"), full_page=True)

        demo = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        demo.goto(f"{server}/login")
        demo.fill("input[name=phone]", DEMO_PHONE)
        demo.fill("input[name=password]", DEMO_LOGIN_PASSWORD)
        demo.click("#submit")
        demo.goto(f"{server}/wallet/statement")
        incoming = demo.locator("tr.entry[data-kind=transfer]").first.inner_text()
        assert "+88.80" in incoming
        demo.screenshot(path=str(ARTIFACTS / "wallet-statement-demo.png"), full_page=True)
        browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_a_lost_phone_is_removed_from_the_security_page(server: str, platform: Platform) -> None:
    """The phone that confirms payments shows on the security page; removing it takes a tap."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from playwright.sync_api import sync_playwright

    from paybao.domain.devices import encode_b64
    from paybao.wiring.wallet_demo import DEMO_PAYMENT_PASSWORD

    demo_id = platform.services["users"].find_by_phone(DEMO_PHONE).id
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    device = platform.services["devices"].register(
        demo_id, "小宝的 Mate 60", encode_b64(key), DEMO_PAYMENT_PASSWORD
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", DEMO_PHONE)
        page.fill("input[name=password]", DEMO_LOGIN_PASSWORD)
        page.click("#submit")
        page.goto(f"{server}/wallet/security")
        form = page.locator(f"#device-{device.device_id}")
        assert "小宝的 Mate 60" in form.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "wallet-security-devices.png"), full_page=True)
        with page.expect_navigation():
            page.click(f"#device-{device.device_id}-submit")
        assert page.locator(f"#device-{device.device_id}").count() == 0
        assert "设备已移除" in page.locator("p.notice").inner_text()
        browser.close()
    assert platform.services["devices"].devices(demo_id) == []
