"""The escrow pages over HTTP: list, buy, ship, refund, refuse, escalate with an image, an
operator's ruling in the admin console, the sandbox clock control."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.integration.admin_support import create_operator, csrf_of
from tests.integration.admin_support import sign_in as operator_sign_in
from tests.integration.admin_support import wallet_browser as signed_in_wallet
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer
from tests.support.pages import visible_text

from paybao.bootstrap import Platform
from paybao.domain.escrow import EscrowStatus


def _user_client(client: TestClient, phone: str) -> TestClient:
    return signed_in_wallet(client, phone, LOGIN_PASSWORD)


def _post(client: TestClient, page_path: str, path: str, **data: str) -> str:
    page = client.get(page_path)
    files = (
        {"image": ("proof.png", data.pop("_image").encode("latin-1"), "image/png")}
        if "_image" in data
        else None
    )
    response = client.post(path, data={"csrf_token": csrf_of(page.text), **data}, files=files)
    assert response.status_code == 200, response.text
    return response.text


def test_market_to_ruling_through_the_pages(platform: Platform, client: TestClient) -> None:
    make_buyer(platform, "13800138011", balance_fen=500_00)
    make_buyer(platform, "13800138012", balance_fen=0)
    buyer = _user_client(client, "13800138011")
    seller = _user_client(client, "13800138012")

    _post(seller, "/market", "/market/list", title="旧相机", price="200.00", goods_type="express")
    market = buyer.get("/market").text
    listing_id = re.search(r'data-listing-id="(\d+)"', market).group(1)  # type: ignore[union-attr]
    key = re.search(r'name="request_key" value="([^"]+)"', market).group(1)  # type: ignore[union-attr]
    page = _post(
        buyer,
        "/market",
        f"/market/buy/{listing_id}",
        payment_password=PAYMENT_PASSWORD,
        request_key=key,
    )
    no = re.search(r'id="escrow-no">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    assert 'data-status="WAIT_SELLER_SEND_GOODS"' in page
    # A user reads the status in words, never the protocol's code.
    for html in (page, buyer.get("/market").text, seller.get("/market").text):
        words = visible_text(html)
        assert "等待卖家发货" in words and "WAIT_SELLER_SEND_GOODS" not in words
    market = visible_text(buyer.get("/market").text)
    assert "快递" in market and "express" not in market

    trade = f"/escrow/{no}"
    page = _post(seller, trade, f"{trade}/ship", carrier="顺丰", tracking_no="SF42")
    assert 'data-status="WAIT_BUYER_CONFIRM_GOODS"' in page
    early = _post_error(buyer, trade, f"{trade}/escalate", text="x")
    assert 'data-code="escrow_no_refund_open"' in early
    _post(buyer, trade, f"{trade}/refund", amount="200.00", reason="镜头有划痕")
    _post(seller, trade, f"{trade}/refuse", reason="发货时完好")
    page = _post(buyer, trade, f"{trade}/escalate", text="见照片", _image="\x89PNG fake")
    assert 'data-status="DISPUTE"' in page
    assert "平台介入中" in visible_text(page) and "DISPUTE" not in visible_text(page)
    # The history reads in words, amounts in yuan; what the parties typed, as typed.
    history = visible_text(page)
    for words in (
        "买家已付款，款项由平台担保",
        "卖家已发货 顺丰 SF42",
        "买家申请退款 ¥200.00：镜头有划痕",
        "卖家拒绝退款：发货时完好",
        "已申请平台介入",
        "见照片",
    ):
        assert words in history, words
    assert "refund requested" not in history and "system:" not in history
    assert "20000 fen" not in history

    _, secret = create_operator(platform)
    admin = TestClient(client.app)
    operator_sign_in(admin, secret)
    queue = admin.get("/admin/disputes").text
    assert f'data-escrow-no="{no}"' in queue
    case = admin.get(f"/admin/disputes/{no}").text
    assert "见照片" in case and "发货时完好" in case and "<img" in case
    assert "平台介入中 DISPUTE" in visible_text(case)  # the operator sees the code beside
    image_path = re.search(r'src="(/admin/disputes/[^"]+/image/\d+)"', case).group(1)  # type: ignore[union-attr]
    assert admin.get(image_path).content == b"\x89PNG fake"
    page = _post(
        admin,
        f"/admin/disputes/{no}",
        f"/admin/disputes/{no}/rule",
        decision="part",
        amount="50.00",
        note="轻微划痕",
    )
    assert 'data-status="TRADE_FINISHED"' in page

    ended = platform.services["escrow"].get(no)
    assert (ended.status, ended.refund_fen) == (EscrowStatus.TRADE_FINISHED, 50_00)
    assert 'id="refunded">¥50.00' in buyer.get(trade).text
    assert 'id="refunded">¥50.00' in seller.get(trade).text
    admin.cookies.set("lang", "en")  # the console's words in English
    clock = _post(admin, "/admin/clock", "/admin/clock/advance", duration="1d")
    assert "timers ran" in clock
    report = platform.reconcile.run()
    assert report.differences == []
    assert report.clean


def _post_error(client: TestClient, page_path: str, path: str, **data: str) -> str:
    page = client.get(page_path)
    response = client.post(path, data={"csrf_token": csrf_of(page.text), **data})
    assert response.status_code == 400
    return response.text
