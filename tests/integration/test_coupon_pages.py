"""Coupons on the pages: the cashier offers the best pair checked and pays with the buyer's own
pick (or none, or by card for what is left), refuses a coupon used meanwhile; the success page
shows a coupon a campaign gives (once per payment) before going back to the shop; operators
(by role, audited) and shops run their campaigns from their consoles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import create_operator, csrf_of, sign_in
from tests.integration.coupon_support import claim, open_trade, operator_campaign, shop_campaign
from tests.integration.credit_support import cashier_signed_in, reconcile_clean
from tests.integration.gateway_support import Shop, balance_fen, make_shop, wallet_balance
from tests.integration.merchant_portal_support import portal_shop, post_form
from tests.integration.merchant_portal_support import sign_in as merchant_sign_in
from tests.integration.test_cashier_card import card_rows
from tests.integration.test_operator_roles import signed_in_as
from tests.integration.test_wallet_rules import PIN, open_user

from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform
from paybao.domain.account_class import CHINA_TZ
from paybao.domain.coupons import CouponChoice, CouponStatus
from paybao.domain.operator_roles import Role
from paybao.domain.trades import TradeStatus

PHONE = "13900000401"
RETURN_URL = "https://shop.example/return"


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return portal_shop(platform)


@pytest.fixture
def buyer(platform: Platform) -> tuple[int, int]:
    user_id, card_id = open_user(platform, PHONE)
    platform.services["wallet"].top_up(user_id, card_id, 200_00, PIN)
    return user_id, card_id


def pay(client: TestClient, trade_no: str, **fields: str) -> object:
    page = client.get(f"/cashier/{trade_no}")
    data = {"csrf_token": csrf_of(page.text), "payment_password": PIN, "funding": "balance"}
    return client.post(f"/cashier/{trade_no}/pay", data={**data, **fields}, follow_redirects=False)


def in_days(platform: Platform, days: int) -> str:
    """A China-time date `days` from the platform's today, as the forms take it."""
    today = platform.clock.now().astimezone(CHINA_TZ).date()
    return (today + timedelta(days=days)).isoformat()


def checked(page: str) -> set[str]:
    return set(re.findall(r'id="coupon-([\w-]+)" name="coupon_\w+" value="\d+" checked', page))


def test_the_cashier_checks_the_best_pair_and_pays_the_buyers_pick(
    platform: Platform, client: TestClient, shop: Shop, buyer: tuple[int, int]
) -> None:
    user_id, _ = buyer
    small = claim(platform, user_id, operator_campaign(platform, face_fen=3_00, threshold_fen=0))
    big = claim(platform, user_id, operator_campaign(platform, face_fen=10_00))  # 满100减10
    own = claim(platform, user_id, shop_campaign(platform, shop))  # 9折
    trade = open_trade(platform, shop, "K-1", 120_00, return_url=RETURN_URL)
    page = cashier_signed_in(client, trade.trade_no, PHONE)
    assert checked(page) == {str(big), str(own)}
    assert 'id="coupon-platform-none"' in page and 'id="coupon-merchant-none"' in page
    assert '实付 <span id="coupon-pay">¥98.00</span>' in page  # 120 - 12 - 10
    assert '"0:0": 12000' in page  # the table the page's script reads

    # The buyer picks the small platform coupon and no shop coupon.
    answer = pay(client, trade.trade_no, coupon_merchant="0", coupon_platform=str(small))
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"].startswith(RETURN_URL)  # type: ignore[attr-defined]
    paid = platform.services["trades"].get(trade.trade_no)
    assert (paid.buyer_pay_fen, paid.discount_fen, paid.mdiscount_fen) == (117_00, 3_00, 0)
    assert wallet_balance(platform, user_id) == 200_00 - 117_00
    marketing = platform.services["marketing"]
    assert {h.coupon.id for h in marketing.coupons_of(user_id, CouponStatus.USED)} == {small}
    paid_page = client.get(f"/cashier/{trade.trade_no}").text
    assert 'id="paid-split"' in paid_page and "实付 ¥117.00" in paid_page

    # None at all on the next order; then a coupon that is no longer there is refused.
    second = open_trade(platform, shop, "K-2", 120_00)
    cashier_signed_in(client, second.trade_no, PHONE)
    pay(client, second.trade_no, coupon_merchant="0", coupon_platform="0")
    assert platform.services["trades"].get(second.trade_no).buyer_pay_fen == 120_00
    third = open_trade(platform, shop, "K-3", 50_00)
    refused = pay(client, third.trade_no, coupon_platform=str(small))
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "优惠券已使用或已过期" in refused.text  # type: ignore[attr-defined]
    mixed = pay(client, third.trade_no, coupon_platform="x")
    assert mixed.status_code == 400  # type: ignore[attr-defined]
    assert platform.services["trades"].get(third.trade_no).status is TradeStatus.WAIT_BUYER_PAY
    assert reconcile_clean(platform) == []


def test_a_card_pays_what_is_left_after_the_coupons(
    platform: Platform, client: TestClient, shop: Shop, buyer: tuple[int, int]
) -> None:
    user_id, card_id = buyer
    coupon = claim(platform, user_id, operator_campaign(platform, face_fen=5_00, threshold_fen=0))
    trade = open_trade(platform, shop, "CARD-1", 30_00)
    cashier_signed_in(client, trade.trade_no, PHONE)
    platform.services["bank"].script.append("ok")
    settlement_before = balance_fen(platform, shop.merchant.settlement_account_id)
    answer = pay(client, trade.trade_no, funding=f"card:{card_id}", coupon_platform=str(coupon))
    assert answer.status_code == 200  # type: ignore[attr-defined] # no return_url: done page
    paid = platform.services["trades"].get(trade.trade_no)
    assert (paid.status, paid.buyer_pay_fen, paid.discount_fen) == (
        TradeStatus.TRADE_SUCCESS,
        25_00,
        5_00,
    )
    assert card_rows(platform) == [("paid", None)]
    assert wallet_balance(platform, user_id) == 200_00  # the card paid the 25.00, not the balance
    settlement = balance_fen(platform, shop.merchant.settlement_account_id)
    assert settlement - settlement_before == 30_00 - paid.fee_fen
    assert reconcile_clean(platform) == []


def test_a_coupon_used_while_the_bank_was_charging_leaves_the_money_in_the_wallet(
    platform: Platform, client: TestClient, shop: Shop, buyer: tuple[int, int]
) -> None:
    user_id, card_id = buyer
    coupon = claim(platform, user_id, operator_campaign(platform, face_fen=5_00, threshold_fen=0))
    trade = open_trade(platform, shop, "CARD-2", 30_00)
    cashier_signed_in(client, trade.trade_no, PHONE)
    platform.services["bank"].script.append("timeout")  # the answer is unknown for now
    pay(client, trade.trade_no, funding=f"card:{card_id}", coupon_platform=str(coupon))
    other = open_trade(platform, shop, "CARD-3", 10_00)
    platform.services["trades"].pay_by_buyer(
        other.trade_no, user_id, PIN, coupons=CouponChoice(coupon_ids=(coupon,))
    )
    platform.sandbox_clock.advance(120)  # the bank query job: charged 25.00 after all
    assert platform.services["trades"].get(trade.trade_no).status is TradeStatus.WAIT_BUYER_PAY
    assert [status for status, _ in card_rows(platform)] == ["credited"]
    assert wallet_balance(platform, user_id) == 200_00 - 5_00 + 25_00
    assert reconcile_clean(platform) == []


def test_the_success_page_gives_a_coupon_once_then_goes_back_to_the_shop(
    platform: Platform, client: TestClient, shop: Shop, buyer: tuple[int, int]
) -> None:
    user_id, _ = buyer
    operator_campaign(platform, name="下单返券", issue_min_fen=50_00, face_fen=5_00, per_user_max=3)
    small = open_trade(platform, shop, "G-0", 49_99, return_url=RETURN_URL)
    cashier_signed_in(client, small.trade_no, PHONE)
    below = pay(client, small.trade_no)
    assert below.status_code == 303  # type: ignore[attr-defined] # below 50.00: no gift
    trade = open_trade(platform, shop, "G-1", 50_00, return_url=RETURN_URL)
    cashier_signed_in(client, trade.trade_no, PHONE)
    done = pay(client, trade.trade_no)
    assert done.status_code == 200  # type: ignore[attr-defined]
    body = done.text  # type: ignore[attr-defined]
    assert 'id="gift"' in body and "下单返券" in body and 'id="return"' in body
    again = client.get(f"/cashier/{trade.trade_no}").text
    assert 'id="gift"' in again
    marketing = platform.services["marketing"]
    (gift,) = marketing.coupons_of(user_id, CouponStatus.AVAILABLE)
    assert gift.coupon.source_trade_no == trade.trade_no
    assert marketing.issue_after_payment(trade.trade_no, user_id).coupon.id == gift.coupon.id
    stranger, _ = open_user(platform, "13900000409")
    assert marketing.issue_after_payment(trade.trade_no, stranger) is None


def test_operators_run_platform_campaigns_by_role_and_audited(
    platform: Platform, client: TestClient
) -> None:
    operator_id, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    page = client.get("/admin/coupons")
    assert page.status_code == 200 and 'id="campaign-form"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "name": "周末8.5折",
        "kind": "discount",
        "rate": "8.5",
        "cap": "20.00",
        "threshold": "30",
        "valid_until": in_days(platform, 60),
        "budget": "2000",
        "count": "100",
        "per_user": "2",
    }
    made = client.post("/admin/coupons", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    listed = client.get(made.headers["location"]).text
    assert "周末8.5折" in listed and "8.5折,最多减20" in listed and "活动已创建" in listed
    (template,) = [v.template for v in platform.services["marketing"].templates()]
    assert (template.terms.rate_permille, template.terms.threshold_fen) == (850, 30_00)
    bad = client.post(
        "/admin/coupons", data={**form, "rate": "0.5", "csrf_token": form["csrf_token"]}
    )
    assert bad.status_code == 400 and "活动设置有误" in bad.text
    stop = client.post(
        f"/admin/coupons/{template.id}/stop",
        data={"csrf_token": form["csrf_token"]},
        follow_redirects=False,
    )
    assert stop.status_code == 303
    assert 'data-status="stopped"' in client.get("/admin/coupons").text
    with platform.engine.connect() as connection:
        actions = connection.execute(
            select(audit_log.c.action, audit_log.c.operator_id).where(
                audit_log.c.action.like("coupon.%")
            )
        ).all()
    assert sorted(actions) == [("coupon.create", operator_id), ("coupon.stop", operator_id)]
    # A viewer reads the page, without the form (refusing its POST: test_operator_roles.py).
    operator_campaign(platform)
    viewer = TestClient(client.app)
    signed_in_as(platform, viewer, Role.VIEWER, name="ops.viewer")
    page = viewer.get("/admin/coupons").text
    assert 'id="campaign-form"' not in page and 'class="stop"' not in page
    assert 'data-status="active"' in page


def test_a_shop_runs_its_own_campaigns_from_the_portal(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    other = make_shop(platform, app_id="2021000000000888")
    theirs = shop_campaign(platform, other)
    assert merchant_sign_in(client, shop.merchant.id).status_code == 303
    form = {
        "name": "满50减5",
        "kind": "fixed",
        "face": "5",
        "threshold": "50",
        "valid_until": in_days(platform, 30),
        "budget": "500",
        "count": "100",
        "per_user": "1",
        "merchant_id": str(other.merchant.id),  # ignored: a shop's coupons are its own
    }
    made = post_form(client, "/merchant/coupons", "/merchant/coupons", form)
    assert made.status_code == 303, made.text
    page = client.get("/merchant/coupons").text
    assert "满50减5" in page and f'data-template-id="{theirs.id}"' not in page
    (mine,) = [
        v.template for v in platform.services["marketing"].templates(merchant_id=shop.merchant.id)
    ]
    assert mine.terms.merchant_id == shop.merchant.id and mine.created_by.startswith("merchant:")
    refused = post_form(client, "/merchant/coupons", f"/merchant/coupons/{theirs.id}/stop", {})
    assert refused.status_code == 404
    stopped = post_form(client, "/merchant/coupons", f"/merchant/coupons/{mine.id}/stop", {})
    assert stopped.status_code == 303
