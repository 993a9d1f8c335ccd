"""Held money on the wallet pages: an escrow purchase stays in the balance, leaves what is
available, and is listed as held (home and statement) until it is posted or voided."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.integration.admin_support import wallet_browser as signed_in_wallet
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer

from paybao.bootstrap import Platform
from paybao.domain.escrow import GoodsType
from paybao.services.escrow import Party


def _signed_in(client: TestClient, phone: str) -> TestClient:
    return signed_in_wallet(client, phone, LOGIN_PASSWORD)


def _text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found is not None, element_id
    return found.group(1)


def test_an_escrow_hold_is_shown_as_held_until_it_ends(
    platform: Platform, client: TestClient
) -> None:
    buyer_id = make_buyer(platform, "13800138021", balance_fen=500_00)
    seller_id = make_buyer(platform, "13800138022", balance_fen=0)
    escrow = platform.services["escrow"]
    listing = escrow.list_item(seller_id, "旧相机", 200_00, GoodsType.EXPRESS)
    bought = escrow.buy(listing.id, buyer_id, PAYMENT_PASSWORD, "holds-1")
    buyer = _signed_in(client, "13800138021")

    home = buyer.get("/wallet").text
    assert _text_of(home, "balance") == "500.00"
    assert _text_of(home, "available") == "300.00"
    assert _text_of(home, "held") == "200.00"
    assert f'data-kind="escrow" data-reference="{bought.escrow_no}"' in home
    assert f'href="/escrow/{bought.escrow_no}"' in home
    statement = buyer.get("/wallet/statement").text
    assert f'data-reference="{bought.escrow_no}"' in statement
    assert '<td class="held">200.00</td>' in statement
    assert 'data-kind="escrow_payment"' not in statement  # nothing has left the wallet yet

    escrow.ship(bought.escrow_no, Party.seller(seller_id), "SF", "SF1")
    escrow.confirm(bought.escrow_no, buyer_id, PAYMENT_PASSWORD)

    home = buyer.get("/wallet").text
    assert _text_of(home, "balance") == "300.00"
    assert _text_of(home, "available") == "300.00"
    assert 'id="held"' not in home and 'id="holds"' not in home
    statement = buyer.get("/wallet/statement").text
    assert 'id="holds"' not in statement
    assert 'data-kind="escrow_payment"' in statement and "-200.00" in statement
    assert [h.kind for h in platform.services["wallet"].holds(buyer_id)] == []


def test_a_voided_hold_leaves_no_trace_but_the_money(
    platform: Platform, client: TestClient
) -> None:
    buyer_id = make_buyer(platform, "13800138023", balance_fen=100_00)
    seller_id = make_buyer(platform, "13800138024", balance_fen=0)
    escrow = platform.services["escrow"]
    listing = escrow.list_item(seller_id, "书", 40_00, GoodsType.VIRTUAL)
    bought = escrow.buy(listing.id, buyer_id, PAYMENT_PASSWORD, "holds-2")
    holds = platform.services["wallet"].holds(buyer_id)
    assert [(h.kind, h.amount_fen, h.reference) for h in holds] == [
        ("escrow", 40_00, bought.escrow_no)
    ]

    escrow.cancel(bought.escrow_no, Party.buyer(buyer_id))

    assert platform.services["wallet"].holds(buyer_id) == []
    home = _signed_in(client, "13800138023").get("/wallet").text
    assert _text_of(home, "balance") == "100.00"
    assert _text_of(home, "available") == "100.00"
