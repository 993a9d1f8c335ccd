"""Helpers for the merchant portal tests: a merchant with a portal password, signing in."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response
from tests.integration.admin_support import csrf_of
from tests.integration.gateway_support import Shop, make_shop

from paybao.bootstrap import Platform

MERCHANT_PASSWORD = "shop-pass-2024"


def portal_shop(platform: Platform, **extra: object) -> Shop:
    shop = make_shop(platform, **extra)  # type: ignore[arg-type]
    platform.services["merchant_accounts"].set_password(shop.merchant.id, MERCHANT_PASSWORD)
    return shop


def sign_in(client: TestClient, merchant_id: int, password: str = MERCHANT_PASSWORD) -> Response:
    page = client.get("/merchant/login")
    return client.post(
        "/merchant/login",
        data={
            "csrf_token": csrf_of(page.text),
            "merchant_id": str(merchant_id),
            "password": password,
        },
        follow_redirects=False,
    )


def post_form(client: TestClient, page_path: str, action: str, data: dict[str, str]) -> Response:
    """Open the page (for its CSRF token) and submit one of its forms."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(
        action, data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=False
    )
