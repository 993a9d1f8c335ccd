"""What the Chromium tests share: a phone-sized screen, clicking through a form (no error on the
next page), the page fitting the phone, and screenshots under test-artifacts/."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_wallet_browser import ARTIFACTS

PHONE_SCREEN = {"width": 390, "height": 844}


def click_through(page: Any, selector: str, *, error_expected: bool = False) -> None:
    """Click and wait for the next page; it shows no error unless one is expected."""
    with page.expect_navigation():
        page.click(selector)
    errors = page.locator(".error")
    if not error_expected:
        assert errors.count() == 0, errors.first.inner_text()


def fits_phone(page: Any) -> None:
    """Nothing but the page's own scrollers is wider than the phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], f"{page.url}: the page is {width}px wide on a phone"


class Shots:
    """`shot(page, name)` saves test-artifacts/<prefix>-<name>.png (full page) and returns it."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, page: Any, name: str) -> bytes:
        ARTIFACTS.mkdir(exist_ok=True)
        png: bytes = page.screenshot(
            path=str(ARTIFACTS / f"{self.prefix}-{name}.png"), full_page=True
        )
        return png
