"""Portal receive-money code page: the merchant's static code with its poster (PNG) and SVG,
downloads only for the code's own merchant, and a payment through the scanned code that shows
in the merchant's trades and today's takings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.admin_support import wallet_browser as signed_in_wallet
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    Shop,
    make_buyer,
    wallet_balance,
)
from tests.integration.merchant_portal_support import paid_trade, portal_shop, sign_in

from paybao.adapters.qr import decode_image, qr_svg
from paybao.bootstrap import Platform
from paybao.services.clock import US_PER_S
from paybao.web import pages_merchant_codes

OTHER_APP_ID = "2021000000000888"  # make_shop's default is ...777


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return portal_shop(platform)


@pytest.fixture
def shop_client(shop: Shop, client: TestClient) -> TestClient:
    assert sign_in(client, shop.merchant.id).status_code == 303
    return client


def _token_of(html: str) -> str:
    match = re.search(r'id="receive-code" data-token="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _wallet_client(client: TestClient, phone: str) -> TestClient:
    return signed_in_wallet(client, phone, LOGIN_PASSWORD)


def test_page_shows_the_merchants_static_code(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    page = shop_client.get("/merchant/codes")
    assert page.status_code == 200
    codes = platform.services["static_codes"]
    code = codes.static_code_for("merchant", shop.merchant.id)  # the one the page made
    assert _token_of(page.text) == code.token
    assert codes.static_url(code) in page.text
    assert f'href="/merchant/codes/{code.token}/poster.png"' in page.text
    assert f'href="/merchant/codes/{code.token}/qr.svg"' in page.text
    assert 'id="poster-preview"' in page.text
    assert 'href="/merchant/codes" class="active"' in page.text  # in the portal's navigation
    assert "收钱码" in page.text and "测试商户" in page.text
    assert 'data-count="0" data-total-fen="0"' in page.text
    assert 'data-code="merchant_has_no_app"' not in page.text
    # The same code on every view, and the same one /wallet/receive shows the owner.
    assert _token_of(shop_client.get("/merchant/codes").text) == code.token

    english = shop_client.get("/merchant/codes", headers={"Accept-Language": "en"})
    assert "Receive-money code" in english.text


def test_signed_out_is_sent_to_sign_in(platform: Platform, client: TestClient, shop: Shop) -> None:
    answer = client.get("/merchant/codes", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/merchant/login?next=/merchant/codes"
    token = platform.services["static_codes"].static_code_for("merchant", shop.merchant.id).token
    poster = client.get(f"/merchant/codes/{token}/poster.png", follow_redirects=False)
    assert poster.status_code == 303 and poster.headers["location"].startswith("/merchant/login")


def test_poster_png_and_svg_download_and_decode_to_the_code_url(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    token = _token_of(shop_client.get("/merchant/codes").text)
    codes = platform.services["static_codes"]
    url = codes.static_url(codes.static_code_for("merchant", shop.merchant.id))
    assert urlsplit(url).path == f"/c/{token}"

    png = shop_client.get(f"/merchant/codes/{token}/poster.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith("attachment;")
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_image(png.content) == [url]
    preview = shop_client.get(f"/merchant/codes/{token}/poster.png", params={"inline": "1"})
    assert "content-disposition" not in preview.headers
    assert decode_image(preview.content) == [url]

    svg = shop_client.get(f"/merchant/codes/{token}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-disposition"].startswith("attachment;")
    root = ET.fromstring(svg.text)  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert int(root.get("width", "0")) > 0 and root.get("width") == root.get("height")
    assert any(element.tag.endswith("path") for element in root.iter())
    assert svg.text == qr_svg(url)  # the very code URL, drawn as tests/integration/test_qr checks


def test_another_merchant_cannot_fetch_this_merchants_poster(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    token = _token_of(shop_client.get("/merchant/codes").text)
    other = portal_shop(platform, app_id=OTHER_APP_ID)
    intruder = TestClient(shop_client.app)
    assert sign_in(intruder, other.merchant.id).status_code == 303

    for path in (f"/merchant/codes/{token}/poster.png", f"/merchant/codes/{token}/qr.svg"):
        answer = intruder.get(path)
        assert answer.status_code == 404 and 'data-code="code_unknown"' in answer.text
        assert answer.headers["content-type"].startswith("text/html")
    own = _token_of(intruder.get("/merchant/codes").text)
    assert own != token
    assert intruder.get(f"/merchant/codes/{own}/poster.png").status_code == 200

    # Neither a user's personal code nor a made-up token is served under the portal.
    buyer = make_buyer(platform, phone="13800138009")
    personal = platform.services["static_codes"].static_code_for("user", buyer).token
    assert shop_client.get(f"/merchant/codes/{personal}/qr.svg").status_code == 404
    assert shop_client.get("/merchant/codes/nope/poster.png").status_code == 404


def test_paying_the_scanned_code_shows_in_trades_and_takings(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    token = _token_of(shop_client.get("/merchant/codes").text)
    png = shop_client.get(f"/merchant/codes/{token}/poster.png").content
    [scanned] = decode_image(png)
    buyer = make_buyer(platform, phone="13800138001", balance_fen=1_000_00)
    wallet = _wallet_client(shop_client, "13800138001")

    # The wallet's scan routes the decoded URL to the pay page, as a photo of the poster does.
    scan_page = wallet.get("/wallet/scan")
    routed = wallet.post(
        "/wallet/scan",
        data={"csrf_token": csrf_of(scan_page.text)},
        files={"image": ("poster.png", png, "image/png")},
        follow_redirects=False,
    )
    assert routed.status_code == 303
    pay_path = urlsplit(scanned).path
    assert routed.headers["location"] == pay_path

    page = wallet.get(pay_path)
    assert page.status_code == 200 and "测试商户" in page.text
    idem = re.search(r'name="idem" value="([^"]+)"', page.text)
    assert idem
    form = {
        "csrf_token": csrf_of(page.text),
        "idem": idem.group(1),
        "amount": "23.45",
        "payment_password": PAYMENT_PASSWORD,
    }
    done = wallet.post(pay_path, data=form)
    assert done.status_code == 200 and 'id="paid"' in done.text
    assert wallet_balance(platform, buyer) == 1_000_00 - 23_45

    # A gateway trade of the same day is in the trades but not in the code's takings.
    paid_trade(platform, shop, buyer, "GW-1", total_fen=5_00)
    listing = shop_client.get("/merchant/trades")
    trade_nos = re.findall(r'class="trade" data-trade-no="(\d+)"', listing.text)
    assert len(trade_nos) == 2
    static_trade_no = trade_nos[1]
    detail = shop_client.get(f"/merchant/trades/{static_trade_no}")
    assert detail.status_code == 200 and "收钱码付款" in detail.text and "23.45" in detail.text

    codes_page = shop_client.get("/merchant/codes")
    assert 'data-count="1" data-total-fen="2345" data-partial="false"' in codes_page.text
    assert 'id="takings-total">23.45<' in codes_page.text


def test_takings_count_only_today_and_page_through_many_trades(
    platform: Platform, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = make_buyer(platform, phone="13800138002", balance_fen=1_000_00)
    codes = platform.services["static_codes"]
    token = codes.static_code_for("merchant", shop.merchant.id).token
    for index in range(5):
        codes.pay_static(buyer, token, (index + 1) * 1_00, PAYMENT_PASSWORD, f"k{index}")
    trades = platform.services["trades"]
    now_us = codes.clock.now_us()
    takings = pages_merchant_codes.todays_takings

    assert takings(trades, shop.merchant.id, now_us) == pages_merchant_codes.Takings(
        5, 15_00, partial=False
    )
    assert takings(trades, shop.merchant.id, now_us + 86_400 * US_PER_S).count == 0
    other = portal_shop(platform, app_id=OTHER_APP_ID)
    assert takings(trades, other.merchant.id, now_us).count == 0

    monkeypatch.setattr(pages_merchant_codes, "SEARCH_LIMIT_MAX", 2)
    assert takings(trades, shop.merchant.id, now_us) == pages_merchant_codes.Takings(
        5, 15_00, partial=False
    )
    monkeypatch.setattr(pages_merchant_codes, "TAKINGS_PAGES_MAX", 2)
    bounded = takings(trades, shop.merchant.id, now_us)
    # Pages overlap on the boundary timestamp, so two pages of two read three trades: the newest.
    assert bounded == pages_merchant_codes.Takings(3, (5 + 4 + 3) * 1_00, partial=True)
