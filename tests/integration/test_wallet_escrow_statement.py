"""An escrow purchase (担保交易) on the buyer's and the seller's statements: named for what it
is (paid out of the buyer's hold, received by the seller, the seller's fee) in the statement
JSON (`kind`), its CSV and both languages of the pages, never as a plain "payment"; a
purchase paid partly with a coupon shows the order and the discount beside what was paid."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer
from tests.integration.test_escrow_coupons import World

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponChoice
from paybao.domain.escrow import GoodsType
from paybao.domain.statement_summaries import SearchFilter
from paybao.services.escrow import Party
from paybao.services.wallet_statement import StatementQuery

API = "/api/v1/wallet"
PRICE_FEN = 200_00


def bearer(platform: Platform, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.services['operators'].issue_token(user_id)}"}


def kinds_and_amounts(client: TestClient, headers: dict[str, str], **params: Any) -> list[Any]:
    response = client.get(f"{API}/statement", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [(e["kind"], e["amount_fen"]) for e in response.json()["entries"]]


def signed_in(client: TestClient, phone: str, lang: str) -> TestClient:
    browser = TestClient(client.app)
    browser.cookies.set("lang", lang)
    page = browser.get("/login")
    response = browser.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "phone": phone, "password": LOGIN_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return browser


def finished_purchase(platform: Platform, buyer: str, seller: str) -> tuple[int, int, Any]:
    buyer_id = make_buyer(platform, buyer, balance_fen=500_00)
    seller_id = make_buyer(platform, seller, balance_fen=0)
    escrow = platform.services["escrow"]
    listing = escrow.list_item(seller_id, "旧相机", PRICE_FEN, GoodsType.EXPRESS)
    bought = escrow.buy(listing.id, buyer_id, PAYMENT_PASSWORD, f"stmt-{buyer}")
    escrow.ship(bought.escrow_no, Party.seller(seller_id), "SF", "SF1")
    done = escrow.confirm(bought.escrow_no, buyer_id, PAYMENT_PASSWORD)
    assert done.fee_fen > 0
    return buyer_id, seller_id, done


def test_statement_json_and_csv_name_each_side_of_an_escrow_purchase(
    platform: Platform, client: TestClient
) -> None:
    buyer_id, seller_id, done = finished_purchase(platform, "13800138041", "13800138042")
    buyer, seller = bearer(platform, buyer_id), bearer(platform, seller_id)

    assert kinds_and_amounts(client, buyer) == [("escrow_payment", -PRICE_FEN), ("topup", 500_00)]
    assert kinds_and_amounts(client, seller) == [
        ("escrow_fee", -done.fee_fen),
        ("escrow_release", PRICE_FEN),
    ]
    entries = client.get(f"{API}/statement", headers=seller).json()["entries"]
    assert {e["reference"] for e in entries} == {done.escrow_no}
    # The kinds filter by their names, alone or together.
    assert kinds_and_amounts(client, seller, kind="escrow_release") == [
        ("escrow_release", PRICE_FEN)
    ]
    assert kinds_and_amounts(client, buyer, kind="escrow_payment,escrow_fee") == [
        ("escrow_payment", -PRICE_FEN)
    ]

    rows = list(csv.reader(io.StringIO(client.get(f"{API}/statement.csv", headers=seller).text)))
    assert [row[1] for row in rows[1:]] == ["escrow_fee", "escrow_release"]


def test_a_part_refund_leaves_one_escrow_payment_of_the_sellers_part(
    platform: Platform,
) -> None:
    buyer_id = make_buyer(platform, "13800138043", balance_fen=500_00)
    seller_id = make_buyer(platform, "13800138044", balance_fen=0)
    escrow = platform.services["escrow"]
    listing = escrow.list_item(seller_id, "滑板", PRICE_FEN, GoodsType.EXPRESS)
    bought = escrow.buy(listing.id, buyer_id, PAYMENT_PASSWORD, "stmt-part")
    escrow.ship(bought.escrow_no, Party.seller(seller_id), "SF", "SF2")
    escrow.request_refund(bought.escrow_no, buyer_id, 50_00, "one wheel missing")
    ended = escrow.agree_refund(bought.escrow_no, Party.seller(seller_id))
    assert ended.refund_fen == 50_00

    wallet = platform.services["wallet"]
    entries = wallet.statement(buyer_id, StatementQuery())
    # The refunded 50.00 never left the balance: only the seller's part is an entry.
    assert [(e.kind, e.amount_fen, e.balance_after_fen) for e in entries] == [
        ("escrow_payment", -150_00, 350_00),
        ("topup", 500_00, 500_00),
    ]
    assert wallet.holds(buyer_id) == []
    seller_entries = wallet.statement(seller_id, StatementQuery())
    assert [e.kind for e in seller_entries] == ["escrow_fee", "escrow_release"]
    assert seller_entries[1].amount_fen == 150_00


def test_statement_pages_label_escrow_entries_in_both_languages(
    platform: Platform, client: TestClient
) -> None:
    _buyer_id, _seller_id, done = finished_purchase(platform, "13800138045", "13800138046")
    labels = {
        "zh": ("担保交易付款", "担保交易收款", "担保交易服务费"),
        "en": ("Escrow payment to seller", "Escrow payment received", "Escrow fee"),
    }
    for lang, (paid, received, fee) in labels.items():
        buyer = signed_in(client, "13800138045", lang)
        for path in ("/wallet", "/wallet/statement"):
            page = buyer.get(path).text
            assert 'data-kind="escrow_payment"' in page and paid in page, (lang, path)
            assert 'data-kind="payment"' not in page, (lang, path)
            assert f'href="/escrow/{done.escrow_no}"' in page
        seller_page = signed_in(client, "13800138046", lang).get("/wallet/statement").text
        assert 'data-kind="escrow_release"' in seller_page and received in seller_page
        assert 'data-kind="escrow_fee"' in seller_page and fee in seller_page
        assert 'data-kind="payment"' not in seller_page
        filtered = buyer.get("/wallet/statement?kind=escrow_payment").text
        assert '<option value="escrow_payment" selected>' in filtered
        assert 'data-kind="escrow_payment"' in filtered and 'data-kind="topup"' not in filtered


def test_an_escrow_purchase_with_a_coupon_shows_the_order_and_the_discount(
    platform: Platform, client: TestClient
) -> None:
    world = World(platform, "13800138047")
    whole = world.buy(CouponChoice(coupon_ids=(world.coupon(),)))
    world.ship(whole)
    world.escrow.confirm(whole.escrow_no, world.buyer, PAYMENT_PASSWORD)
    part = world.buy(CouponChoice(coupon_ids=(world.coupon(),)))
    world.ship(part)
    world.escrow.request_refund(part.escrow_no, world.buyer, 50_00, "one lens missing")
    world.escrow.agree_refund(part.escrow_no, Party.seller(world.seller))

    entries = platform.services["wallet"].statement(world.buyer, StatementQuery())
    lines = platform.services["statements"].search(world.buyer, SearchFilter(), None, 20).lines
    rows = client.get(f"{API}/statement", headers=bearer(platform, world.buyer)).json()["entries"]

    # Paid in full: 100.00 less the 10.00 coupon. Half refunded: the seller kept 50.00 of the
    # order, of which the coupon paid 5.00 (its refunded share went back to marketing).
    expected = {whole.escrow_no: (-90_00, 100_00, 10_00), part.escrow_no: (-45_00, 50_00, 5_00)}
    for found in (entries, lines):
        paid = {e.reference: e for e in found if e.kind == "escrow_payment"}
        got = {r: (e.amount_fen, e.order_total_fen, e.discount_fen) for r, e in paid.items()}
        assert got == expected
    paid_rows = {r["reference"]: r for r in rows if r["kind"] == "escrow_payment"}
    got_rows = {
        k: (r["amount_fen"], r["order_total_fen"], r["discount_fen"]) for k, r in paid_rows.items()
    }
    assert got_rows == expected
    seller = platform.services["wallet"].statement(world.seller, StatementQuery())
    assert all(e.order_total_fen is None for e in seller)  # the seller was paid in full
