"""Portal escrow pages: the merchant's escrow trades with status and timer; ship, extend,
refuse and agree to refunds, close unpaid orders and add evidence from the page; refusals
write nothing; another merchant's escrow trade is a 404 to read and to act on."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.gateway_support import (
    PAYMENT_PASSWORD,
    Shop,
    make_buyer,
    wallet_balance,
)
from tests.integration.merchant_portal_support import portal_shop, post_form, sign_in
from tests.support.pages import visible_text

from paybao.bootstrap import Platform
from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.services.clock import US_PER_S
from paybao.services.escrow import Escrow, Evidence, NewEscrow, Party

OTHER_APP_ID = "2021000000000999"
DAY_US = 86_400 * US_PER_S


def merchant_escrow(
    platform: Platform, shop: Shop, out_trade_no: str, total_fen: int = 100_00
) -> Escrow:
    merchant = shop.merchant
    new = NewEscrow(
        merchant_id=merchant.id,
        app_id=shop.app.app_id,
        out_trade_no=out_trade_no,
        payee_account_id=merchant.settlement_account_id,
        fee_rate_ppm=merchant.fee_rate_ppm,
        title=f"担保 {out_trade_no}",
        goods_type=GoodsType.EXPRESS,
        total_fen=total_fen,
    )
    escrow: Escrow = platform.services["escrow"].create_for_merchant(new)
    return escrow


def _paid(platform: Platform, shop: Shop, buyer_id: int, out_trade_no: str) -> Escrow:
    escrow = merchant_escrow(platform, shop, out_trade_no)
    paid: Escrow = platform.services["escrow"].pay(escrow.escrow_no, buyer_id, PAYMENT_PASSWORD)
    return paid


def _portal(client: TestClient, shop: Shop) -> TestClient:
    browser = TestClient(client.app)
    assert sign_in(browser, shop.merchant.id).status_code == 303
    return browser


def _act(browser: TestClient, no: str, action: str, **data: str) -> str:
    page = f"/merchant/escrow/{no}"
    response = post_form(browser, page, f"{page}/{action}", data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{page}?done={action}"
    return str(browser.get(response.headers["location"]).text)


def test_the_merchant_runs_an_escrow_trade_from_the_portal(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    buyer_id = make_buyer(platform, "13800138031", balance_fen=500_00)
    service = platform.services["escrow"]
    unpaid = merchant_escrow(platform, shop, "ES-1")
    browser = _portal(client, shop)

    listing = browser.get("/merchant/escrow").text
    assert f'data-escrow-no="{unpaid.escrow_no}" data-status="WAIT_BUYER_PAY"' in listing
    assert 'href="/merchant/escrow"' in listing  # the navigation entry
    assert 'title="WAIT_BUYER_PAY">等待买家付款</span>' in listing  # words, the code as title
    service.pay(unpaid.escrow_no, buyer_id, PAYMENT_PASSWORD)
    no = unpaid.escrow_no

    page = _act(browser, no, "ship", carrier="顺丰", tracking_no="SF7")
    assert 'data-status="WAIT_BUYER_CONFIRM_GOODS"' in page and "顺丰 SF7" in page
    assert "等待买家确认收货 WAIT_BUYER_CONFIRM_GOODS" in visible_text(page)
    assert 'data-goods-type="express">快递<' in page
    shipped = service.get(no)
    assert shipped.shipped_at_us is not None
    assert shipped.confirm_due_at_us == shipped.shipped_at_us + 10 * DAY_US

    _act(browser, no, "extend", days="3")
    assert service.get(no).confirm_due_at_us == shipped.confirm_due_at_us + 3 * DAY_US

    service.request_refund(no, buyer_id, 30_00, "少了一件")
    page = browser.get(f"/merchant/escrow/{no}").text
    assert 'data-status="REFUNDING"' in page and "少了一件" in page and 'id="agree"' in page
    page = _act(browser, no, "refuse", reason="货已齐")
    assert 'data-status="REFUND_REFUSED"' in page and "货已齐" in page
    service.withdraw_refund(no, buyer_id)
    service.request_refund(no, buyer_id, 30_00, "还是少了")

    page = _act(browser, no, "agree")
    assert 'data-status="TRADE_FINISHED"' in page and 'id="refunded">30.00' in page
    assert wallet_balance(platform, buyer_id) == 500_00 - 70_00
    settlement = platform.ledger.balance(shop.merchant.settlement_account_id).balance_fen
    assert settlement == 70_00 - service.get(no).fee_fen

    _act(browser, no, "message", text="已按约定退款")
    assert "已按约定退款" in browser.get(f"/merchant/escrow/{no}").text


def test_refused_actions_write_nothing(platform: Platform, client: TestClient) -> None:
    shop = portal_shop(platform)
    buyer_id = make_buyer(platform, "13800138032", balance_fen=500_00)
    paid = _paid(platform, shop, buyer_id, "ES-2")
    browser = _portal(client, shop)
    page = f"/merchant/escrow/{paid.escrow_no}"
    cases = [
        ("extend", {"days": "3"}, "escrow_not_shipped"),
        ("agree", {}, "escrow_no_refund_open"),
        ("close", {}, "escrow_status_error"),
        ("ship", {"carrier": "", "tracking_no": "x"}, "invalid_carrier"),
        ("dance", {}, "unknown_action"),
    ]
    for action, data, code in cases:
        response = post_form(browser, page, f"{page}/{action}", data)
        assert response.status_code in (400, 409), (action, response.status_code)
        assert f'data-code="{code}"' in response.text, action
    after = platform.services["escrow"].get(paid.escrow_no)
    assert (after.status, after.timer_seq) == (EscrowStatus.WAIT_SELLER_SEND_GOODS, paid.timer_seq)
    forged = browser.post(f"{page}/ship", data={"carrier": "SF", "tracking_no": "1"})
    assert forged.status_code == 403
    assert platform.services["escrow"].get(paid.escrow_no).status is paid.status


def test_an_unpaid_order_is_closed_from_the_portal(platform: Platform, client: TestClient) -> None:
    shop = portal_shop(platform)
    unpaid = merchant_escrow(platform, shop, "ES-3")
    page = _act(_portal(client, shop), unpaid.escrow_no, "close")
    assert 'data-status="TRADE_CLOSED"' in page


def test_a_merchant_cannot_see_or_act_on_another_merchants_escrow(
    platform: Platform, client: TestClient
) -> None:
    mine = portal_shop(platform)
    theirs = portal_shop(platform, app_id=OTHER_APP_ID)
    buyer_id = make_buyer(platform, "13800138033", balance_fen=500_00)
    their_escrow = _paid(platform, theirs, buyer_id, "THEIRS-1")
    platform.services["escrow"].add_message(
        their_escrow.escrow_no,
        Party.merchant(theirs.merchant.id),
        Evidence("proof", b"\x89PNG x", "image/png"),
    )
    browser = _portal(client, mine)

    assert their_escrow.escrow_no not in browser.get("/merchant/escrow").text
    page = f"/merchant/escrow/{their_escrow.escrow_no}"
    assert browser.get(page).status_code == 404
    assert browser.get(f"/merchant/escrow/{'E' + '0' * 23}").status_code == 404
    token = csrf_of(browser.get("/merchant/escrow").text)
    for action, data in [
        ("ship", {"carrier": "SF", "tracking_no": "1"}),
        ("message", {"text": "x"}),
    ]:
        response = browser.post(f"{page}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 404, action
    their_page = _portal(client, theirs).get(page).text
    image_path = re.search(r'href="(/merchant/escrow/[^"]+/image/\d+)"', their_page)
    assert image_path is not None
    assert browser.get(image_path.group(1)).status_code == 404
    after = platform.services["escrow"].get(their_escrow.escrow_no)
    assert after.status is EscrowStatus.WAIT_SELLER_SEND_GOODS
    messages = platform.services["escrow"].messages(
        their_escrow.escrow_no,
        Party.operator(),
    )
    assert [m.text for m in messages if m.text == "x"] == []


def test_the_escrow_pages_need_a_merchant_session(client: TestClient) -> None:
    response = client.get("/merchant/escrow", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/merchant/login?next=/merchant/escrow")
