"""Coupons on the database: claiming within the count, the budget and the per-person cap, who may
run which campaign (audited), the wallet's coupons page, the REST API (Idempotency-Key, stable
codes), expiry, and the reconcile checks catching a discount that does not add up."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from tests.integration.admin_support import csrf_of
from tests.integration.coupon_support import (
    claim,
    marketing_spent,
    merchant_discount_terms,
    open_trade,
    operator_campaign,
    platform_terms,
    shop_campaign,
)
from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import Shop, make_shop
from tests.integration.test_credit import wallet_browser
from tests.integration.test_wallet_rules import PIN, code_of, open_user

from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform
from paybao.domain.coupons import US_PER_DAY, CouponChoice, CouponStatus
from paybao.domain.trades import DiscountFunder
from paybao.services.marketing import Creator

PHONE = "13900000301"


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return make_shop(platform)


@pytest.fixture
def user_id(platform: Platform) -> int:
    user, card_id = open_user(platform, PHONE)
    platform.services["wallet"].top_up(user, card_id, 300_00, PIN)
    return user


def test_claims_keep_to_the_count_the_budget_and_the_per_person_cap(
    platform: Platform, user_id: int
) -> None:
    marketing = platform.services["marketing"]
    other, _ = open_user(platform, "13900000302")
    third, _ = open_user(platform, "13900000303")
    # Budget 25.00 holds two 10.00 coupons although the count would allow five.
    template = operator_campaign(platform, budget_fen=25_00, count_max=5, per_user_max=1)
    assert template.left_count == 2
    claim(platform, user_id, template)
    assert code_of(lambda: claim(platform, user_id, template)) == "coupon_claim_limit"
    claim(platform, other, template)
    assert code_of(lambda: claim(platform, third, template)) == "coupon_sold_out"
    after = marketing.template(template.id)
    assert (after.issued_count, after.issued_fen, after.left_count) == (2, 20_00, 0)
    assert code_of(lambda: marketing.claim(user_id, 999_999)) == "coupon_template_not_found"
    assert reconcile_clean(platform) == []


def test_campaigns_that_cannot_be_claimed(platform: Platform, user_id: int, shop: Shop) -> None:
    marketing = platform.services["marketing"]
    now_us = platform.clock.now_us()
    gift = operator_campaign(platform, issue_min_fen=50_00)  # given after payments only
    later = operator_campaign(platform, valid_from_us=now_us + US_PER_DAY)
    stopped = shop_campaign(platform, shop)
    marketing.stop_template(stopped.id, Creator(merchant_id=shop.merchant.id))
    for template in (gift, later, stopped):
        assert code_of(lambda t=template: claim(platform, user_id, t)) == "coupon_not_claimable"
    assert [c.template.id for c in marketing.claimable(user_id)] == []


def test_who_may_run_which_campaign_and_the_audit_trail(platform: Platform, shop: Shop) -> None:
    marketing = platform.services["marketing"]
    other = make_shop(platform, app_id="2021000000000888")
    as_shop = Creator(merchant_id=shop.merchant.id)
    # A shop funds its own coupons, and they are limited to itself whatever it asks.
    mine = marketing.create_template(merchant_discount_terms(platform, other.merchant.id), as_shop)
    assert mine.terms.merchant_id == shop.merchant.id
    platform_funded = platform_terms(platform)
    assert code_of(lambda: marketing.create_template(platform_funded, as_shop)) == (
        "coupon_funder_forbidden"
    )
    # Operators run platform-funded campaigns, for any shop or one that exists.
    template = operator_campaign(platform, merchant_id=shop.merchant.id)
    assert template.terms.funder is DiscountFunder.PLATFORM
    assert code_of(lambda: operator_campaign(platform, merchant_id=987_654)) == "merchant_not_found"
    bad = platform_terms(platform, face_fen=100_00)  # 满100减100
    assert code_of(lambda: marketing.create_template(bad, Creator(operator_id=1))) == (
        "coupon_template_invalid"
    )
    # Nobody stops someone else's campaign.
    as_other = Creator(merchant_id=other.merchant.id)
    for who, which in ((as_other, mine), (as_shop, template), (Creator(operator_id=1), mine)):
        assert code_of(lambda w=who, t=which: marketing.stop_template(t.id, w)) == (
            "coupon_template_not_found"
        )
    marketing.stop_template(mine.id, as_shop)
    with platform.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.action, audit_log.c.actor, audit_log.c.operator_id)
            .where(audit_log.c.action.like("coupon.%"))
            .order_by(audit_log.c.id)
        ).all()
    assert [(r.action, r.actor) for r in rows] == [
        ("coupon.create", f"merchant:{shop.merchant.id}"),
        ("coupon.create", None),
        ("coupon.stop", f"merchant:{shop.merchant.id}"),
    ]
    assert rows[1].operator_id is not None


def test_coupons_expire_and_are_not_used_after(
    platform: Platform, user_id: int, shop: Shop
) -> None:
    marketing = platform.services["marketing"]
    template = operator_campaign(platform, coupon_days=3, threshold_fen=0)
    claim(platform, user_id, template)
    platform.sandbox_clock.advance(3 * 86_400)
    assert marketing.coupons_of(user_id, CouponStatus.AVAILABLE) == []
    (expired,) = marketing.coupons_of(user_id, CouponStatus.EXPIRED)
    assert expired.coupon.template_id == template.id
    trade = open_trade(platform, shop, "E-1", 50_00)
    paid = platform.services["trades"].pay_by_buyer(trade.trade_no, user_id, PIN)
    assert paid.buyer_pay_fen == 50_00 and marketing_spent(platform) == 0


def test_the_wallet_page_claims_once_and_lists_mine_used_and_expired(
    platform: Platform, client: TestClient, user_id: int, shop: Shop
) -> None:
    template = operator_campaign(platform, name="新人券", face_fen=8_00, threshold_fen=30_00)
    browser = wallet_browser(client, PHONE)
    page = browser.get("/wallet/coupons").text
    assert f'id="template-{template.id}"' in page and "满30减8" in page
    form = {
        "csrf_token": csrf_of(page),
        "template_id": str(template.id),
        "idem": "tap-1",
    }
    first = browser.post("/wallet/coupons/claim", data=form, follow_redirects=False)
    again = browser.post("/wallet/coupons/claim", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303  # a double tap claims once
    mine = browser.get(first.headers["location"]).text
    assert "领取成功" in mine and mine.count('data-state="available"') == 1
    assert "已领取" in browser.get("/wallet/coupons").text
    # A second claim with a new key is refused by the cap, in words.
    form["idem"] = "tap-2"
    refused = browser.post("/wallet/coupons/claim", data=form)
    assert refused.status_code == 403 and "每人限领" in refused.text

    trade = open_trade(platform, shop, "W-1", 40_00)
    platform.services["trades"].pay_by_buyer(
        trade.trade_no, user_id, PIN, coupons=_first_choice(platform, user_id)
    )
    used = browser.get("/wallet/coupons?tab=used").text
    assert 'data-state="used"' in used and trade.trade_no in used and "减 ¥8.00" in used
    assert 'id="no-coupons"' in browser.get("/wallet/coupons?tab=expired").text
    browser.headers["Accept-Language"] = "en"
    assert "Used on" in browser.get("/wallet/coupons?tab=used").text


def _first_choice(platform: Platform, user_id: int) -> CouponChoice:
    (held,) = platform.services["marketing"].coupons_of(user_id, CouponStatus.AVAILABLE)
    return CouponChoice(coupon_ids=(held.coupon.id,))


def test_rest_lists_and_claims_with_an_idempotency_key(
    platform: Platform, client: TestClient, user_id: int
) -> None:
    answer = client.post(
        "/api/v1/wallet/sessions", json={"phone": PHONE, "login_password": "abc12345"}
    )
    auth = {"Authorization": f"Bearer {answer.json()['token']}"}
    template = operator_campaign(platform, count_max=1, budget_fen=10_00)
    listed = client.get("/api/v1/coupons/templates", headers=auth).json()
    assert [(c["template_id"], c["can_claim"], c["left_count"]) for c in listed] == [
        (template.id, True, 1)
    ]
    body = {"template_id": template.id}
    missing = client.post("/api/v1/coupons/claims", json=body, headers=auth)
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        400,
        "idempotency_key_missing",
    )
    keyed = {**auth, "Idempotency-Key": "claim-1"}
    first = client.post("/api/v1/coupons/claims", json=body, headers=keyed)
    again = client.post("/api/v1/coupons/claims", json=body, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["state"] == "available" and first.json()["terms"]["face_fen"] == 10_00
    other = client.post("/api/v1/coupons/claims", json={"template_id": 9}, headers=keyed)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    capped = client.post(
        "/api/v1/coupons/claims", json=body, headers={**auth, "Idempotency-Key": "claim-2"}
    )
    assert (capped.status_code, capped.json()["error"]["code"]) == (403, "coupon_claim_limit")
    stranger, _ = open_user(platform, "13900000309")
    assert code_of(lambda: claim(platform, stranger, template)) == "coupon_sold_out"
    nothing = client.post(
        "/api/v1/coupons/claims", json={"template_id": 77}, headers={**auth, "Idempotency-Key": "3"}
    )
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (
        404,
        "coupon_template_not_found",
    )
    mine = client.get("/api/v1/coupons", headers=auth).json()
    assert [c["id"] for c in mine] == [first.json()["id"]]
    assert client.get("/api/v1/coupons?state=used", headers=auth).json() == []
    assert client.get("/api/v1/coupons?state=lost", headers=auth).status_code == 422
    assert client.get("/api/v1/coupons").status_code == 401


def test_reconcile_catches_a_discount_the_coupons_and_the_ledger_do_not_show(
    platform: Platform, user_id: int, shop: Shop
) -> None:
    claim(platform, user_id, operator_campaign(platform, threshold_fen=0))
    trade = open_trade(platform, shop, "X-1", 50_00)
    platform.services["trades"].pay_by_buyer(
        trade.trade_no, user_id, PIN, coupons=_first_choice(platform, user_id)
    )
    assert marketing_spent(platform) == 10_00 and reconcile_clean(platform) == []
    with platform.engine.begin() as connection:
        connection.execute(
            text("UPDATE trades SET discount_fen = 1200 WHERE trade_no = :no"),
            {"no": trade.trade_no},
        )
        connection.execute(text("UPDATE coupon_templates SET issued_count = issued_count + 1"))
    kinds = {line.split(":")[0] for line in reconcile_clean(platform)}
    assert {"marketing_spend", "trade_coupon_split", "coupon_template_issued"} <= kinds
    assert "trade_subsidy_amount" in kinds and "trade_pay_journal" in kinds
