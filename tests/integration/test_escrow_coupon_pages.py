"""Coupons on the escrow pages over HTTP: the market's checkout page offers the buyer's platform
coupon (the best checked, what the buyer pays beside each) and pays with it; a coupon that does
not apply re-renders the checkout with its code and writes nothing; the trade page shows the
discount to both sides and a refund's split; a merchant's escrow order is paid with a coupon from
its pay page, and the portal shows the merchant what the buyer paid."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.coupon_support import claim, operator_campaign
from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer
from tests.integration.merchant_portal_support import portal_shop, sign_in
from tests.integration.test_escrow_pages import _user_client
from tests.integration.test_merchant_escrow_pages import merchant_escrow

from paybao.bootstrap import Platform
from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.services.escrow import EscrowService, Party


def _submit(client: TestClient, page_path: str, action: str, **data: str) -> tuple[int, str]:
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    response = client.post(action, data={"csrf_token": csrf_of(page.text), **data})
    return response.status_code, response.text


def test_checkout_with_a_coupon_then_the_trade_page_and_a_cancel(
    platform: Platform, client: TestClient
) -> None:
    escrow: EscrowService = platform.services["escrow"]
    buyer_id = make_buyer(platform, "13800138611", balance_fen=500_00)
    seller_id = make_buyer(platform, "13800138612", balance_fen=0)
    coupon_id = claim(platform, buyer_id, operator_campaign(platform))  # 满100减10
    camera = escrow.list_item(seller_id, "旧相机", 200_00, GoodsType.EXPRESS)
    cheap = escrow.list_item(seller_id, "旧钥匙扣", 50_00, GoodsType.EXPRESS)
    buyer = _user_client(client, "13800138611")
    seller = _user_client(client, "13800138612")

    assert f'href="/market/buy/{camera.id}"' in buyer.get("/market").text
    checkout = f"/market/buy/{camera.id}"
    page = buyer.get(checkout).text
    assert re.search(rf'id="coupon-{coupon_id}"[^>]*checked', page)
    assert '实付 ¥<span class="coupon-pay">190.00</span>' in page
    # Below its threshold the coupon is not offered, and chosen anyway it refuses.
    assert f'id="coupon-{coupon_id}"' not in buyer.get(f"/market/buy/{cheap.id}").text
    status, page = _submit(
        buyer,
        f"/market/buy/{cheap.id}",
        f"/market/buy/{cheap.id}",
        payment_password=PAYMENT_PASSWORD,
        request_key="pages-cheap",
        coupon_platform=str(coupon_id),
        checkout="1",
    )
    assert status == 400 and 'data-code="coupon_not_applicable"' in page
    assert 'id="buy-form"' in page  # back on the checkout page
    assert escrow.escrows_of(Party.buyer(buyer_id)) == []  # nothing was written

    status, page = _submit(
        buyer,
        checkout,
        checkout,
        payment_password=PAYMENT_PASSWORD,
        request_key="pages-camera",
        coupon_platform=str(coupon_id),
        checkout="1",
    )
    assert status == 200, page
    assert 'data-status="WAIT_SELLER_SEND_GOODS"' in page
    assert 'id="discount">-¥10.00' in page and 'id="buyer-paid">¥190.00' in page
    no = re.search(r'id="escrow-no">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    seller_view = seller.get(f"/escrow/{no}").text
    assert 'id="discount">-¥10.00' in seller_view and 'id="seller-note"' in seller_view

    status, page = _submit(buyer, f"/escrow/{no}", f"/escrow/{no}/cancel")
    assert status == 200 and 'data-status="TRADE_CLOSED"' in page
    assert 'id="refund-buyer">190.00' in page and 'id="refund-subsidy">10.00' in page
    assert reconcile_clean(platform) == []


def test_a_merchants_escrow_order_paid_with_a_coupon_from_its_pay_page(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    buyer_id = make_buyer(platform, "13800138621", balance_fen=500_00)
    coupon_id = claim(platform, buyer_id, operator_campaign(platform, face_fen=15_00))
    order = merchant_escrow(platform, shop, "ESC-PAGE-1")  # 100.00
    buyer = _user_client(client, "13800138621")
    pay_page = buyer.get(f"/escrow/pay/{order.escrow_no}").text
    assert re.search(rf'id="coupon-{coupon_id}"[^>]*checked', pay_page)
    assert 'id="coupon-none"' in pay_page
    status, page = _submit(
        buyer,
        f"/escrow/pay/{order.escrow_no}",
        f"/escrow/{order.escrow_no}/pay",
        payment_password=PAYMENT_PASSWORD,
        coupon_platform=str(coupon_id),
    )
    assert status == 200, page
    paid = platform.services["escrow"].get(order.escrow_no)
    assert (paid.status, paid.discount_fen) == (EscrowStatus.WAIT_SELLER_SEND_GOODS, 15_00)
    assert 'id="buyer-paid">¥85.00' in page

    portal = TestClient(client.app)
    assert sign_in(portal, shop.merchant.id).status_code == 303
    view = portal.get(f"/merchant/escrow/{order.escrow_no}").text
    assert 'id="total">100.00' in view
    assert 'id="discount">15.00' in view and 'id="buyer-paid">85.00' in view
    assert reconcile_clean(platform) == []
