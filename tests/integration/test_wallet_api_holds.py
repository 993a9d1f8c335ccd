"""Held money in the wallet REST API: the balance splits into available and held, and
`GET /holds` lists the open holds a page at a time, read through the same service call as the
wallet pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer

from paybao.bootstrap import Platform
from paybao.domain.escrow import GoodsType
from paybao.domain.withdrawal import TransferArrival, WithdrawalArrival
from paybao.services.escrow import Party
from paybao.services.wallet_statement import HOLDS_LIMIT_MAX

API = "/api/v1/wallet"


def bearer(platform: Platform, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.services['operators'].issue_token(user_id)}"}


def get(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(f"{API}{path}", headers=headers, params=params)
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response


def test_balance_and_holds_show_an_escrow_purchase_until_it_is_paid(
    platform: Platform, client: TestClient
) -> None:
    buyer_id = make_buyer(platform, "13800138031", balance_fen=500_00)
    seller_id = make_buyer(platform, "13800138032", balance_fen=0)
    escrow = platform.services["escrow"]
    listing = escrow.list_item(seller_id, "旧相机", 200_00, GoodsType.EXPRESS)
    bought = escrow.buy(listing.id, buyer_id, PAYMENT_PASSWORD, "api-holds-1")
    auth = bearer(platform, buyer_id)

    assert get(client, "/balance", auth).json() == {
        "balance_fen": 500_00,
        "available_fen": 300_00,
        "held_fen": 200_00,
        "balance": "500.00",
        "available": "300.00",
        "held": "200.00",
        "currency": "CNY",
    }
    me = get(client, "/me", auth).json()
    assert (me["balance_fen"], me["available_fen"], me["held_fen"]) == (500_00, 300_00, 200_00)
    page = get(client, "/holds", auth).json()
    assert page["next_before"] is None
    [hold] = page["holds"]
    assert hold["id"] == f"escrow:{bought.escrow_no}:hold"
    assert (hold["kind"], hold["amount_fen"], hold["amount"]) == ("escrow", 200_00, "200.00")
    assert hold["reference"] == bought.escrow_no
    # The pages read the very same holds.
    [seen] = platform.services["wallet"].holds(buyer_id)
    assert (seen.transfer_id, seen.seq) == (hold["id"], hold["seq"])
    created_us = datetime.fromisoformat(hold["created_at"]).timestamp() * 1_000_000
    assert created_us == pytest.approx(seen.at_us, abs=1)  # microseconds, through a float

    escrow.ship(bought.escrow_no, Party.seller(seller_id), "SF", "SF1")
    escrow.confirm(bought.escrow_no, buyer_id, PAYMENT_PASSWORD)

    assert get(client, "/holds", auth).json() == {"holds": [], "next_before": None}
    after = get(client, "/balance", auth).json()
    assert (after["balance"], after["available"], after["held"]) == ("300.00", "300.00", "0.00")


def test_holds_come_a_bounded_page_at_a_time_and_sum_to_what_is_held(
    platform: Platform, client: TestClient
) -> None:
    user_id = make_buyer(platform, "13800138033", balance_fen=1000_00)
    seller_id = make_buyer(platform, "13800138034", balance_fen=0)
    wallet, escrow = platform.services["wallet"], platform.services["escrow"]
    with platform.db.read() as tx:
        [card] = wallet.cards.of_user(tx, user_id)
    withdrawal = wallet.withdraw(
        user_id, card.id, 100_00, PAYMENT_PASSWORD, WithdrawalArrival.NEXT_DAY
    )
    transfers = [
        wallet.transfer(
            user_id, "13800138034", amount, PAYMENT_PASSWORD, arrival=TransferArrival.DELAY_2H
        )
        for amount in (10_00, 20_00)
    ]
    listing = escrow.list_item(seller_id, "书", 40_00, GoodsType.VIRTUAL)
    bought = escrow.buy(listing.id, user_id, PAYMENT_PASSWORD, "api-holds-2")
    auth = bearer(platform, user_id)

    seen: list[dict[str, Any]] = []
    before: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if before is not None:
            params["before"] = before
        page = get(client, "/holds", auth, **params).json()
        assert len(page["holds"]) <= 2
        seen += page["holds"]
        pages += 1
        before = page["next_before"]
        if before is None:
            break
        assert before == page["holds"][-1]["seq"]
    assert pages >= 2
    # Newest first, each once; the withdrawal's fee (if any) is a hold of its own.
    assert [h["seq"] for h in seen] == sorted({h["seq"] for h in seen}, reverse=True)
    by_reference = {(h["kind"], h["reference"]): h for h in seen}
    assert by_reference[("escrow", bought.escrow_no)]["amount_fen"] == 40_00
    for moved in transfers:
        delayed = by_reference[("transfer", f"p2p:{moved.id}")]
        assert delayed["expires_at"] is not None  # a timed hold lapses if nothing resolves it
        assert delayed["expires_at"] > delayed["created_at"]
    assert by_reference[("withdrawal", f"withdraw:{withdrawal.id}")]["amount"] == "100.00"
    fee_holds = [h for h in seen if h["kind"] == "fee"]
    assert [h["amount_fen"] for h in fee_holds] == (
        [withdrawal.fee_fen] if withdrawal.fee_fen else []
    )
    held = get(client, "/balance", auth).json()["held_fen"]
    assert sum(h["amount_fen"] for h in seen) == held == 170_00 + withdrawal.fee_fen
    all_at_once = get(client, "/holds", auth, limit=HOLDS_LIMIT_MAX).json()
    assert all_at_once == {"holds": seen, "next_before": None}


def test_holds_refuse_bad_pages_and_strangers_with_the_error_body(
    platform: Platform, client: TestClient
) -> None:
    user_id = make_buyer(platform, "13800138035", balance_fen=0)
    auth = bearer(platform, user_id)
    for limit in (0, -1, HOLDS_LIMIT_MAX + 1, 10**9):
        refused = get(client, "/holds", auth, limit=limit)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "page_size_invalid"
    malformed = get(client, "/holds", auth, limit="many")
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (422, "invalid_request")
    assert get(client, "/holds", auth, before=-5).json() == {"holds": [], "next_before": None}
    for path in ("/holds", "/balance"):
        anonymous = get(client, path, {})
        assert (anonymous.status_code, set(anonymous.json()["error"])) == (
            401,
            {"code", "message"},
        )
        forged = get(client, path, {"Authorization": "Bearer pbt_nope"})
        assert (forged.status_code, forged.json()["error"]["code"]) == (401, "bad_token")

    # Half-registered: a token but no wallet yet.
    started = client.post(
        f"{API}/register",
        json={"phone": "13800138036", "login_password": "abc12345"},
        headers={"Idempotency-Key": "api-holds-register"},
    )
    half = {"Authorization": f"Bearer {started.json()['token']}"}
    for path in ("/holds", "/balance"):
        early = get(client, path, half)
        assert (early.status_code, early.json()["error"]["code"]) == (
            403,
            "registration_incomplete",
        )


def test_openapi_describes_balance_holds_and_statement_kinds(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]

    def response_schema(path: str) -> dict[str, Any]:
        operation = document["paths"][f"{API}{path}"]["get"]
        assert {"401", "403", "422"} <= set(operation["responses"])
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        return dict(schemas[ref.rsplit("/", 1)[1]])

    balance = response_schema("/balance")
    assert {"balance_fen", "available_fen", "held_fen", "balance", "available", "held"} <= set(
        balance["properties"]
    )
    holds = response_schema("/holds")
    assert set(holds["properties"]) == {"holds", "next_before"}
    hold = schemas["HoldOut"]["properties"]
    assert {"id", "kind", "amount_fen", "amount", "created_at", "expires_at"} <= set(hold)
    assert {"escrow", "withdrawal", "transfer"} <= set(hold["kind"]["enum"])
    parameters = {p["name"] for p in document["paths"][f"{API}/holds"]["get"]["parameters"]}
    assert {"limit", "before"} <= parameters
    statement = response_schema("/statement")
    entry = schemas[statement["properties"]["entries"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert {"escrow_payment", "escrow_release", "escrow_fee", "payment"} <= set(
        entry["properties"]["kind"]["enum"]
    )
