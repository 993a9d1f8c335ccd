"""Races in profit sharing, each racer on its own database connection (SQLite, and PostgreSQL
when configured), where shared money could double:

* settles of one trade with different request numbers that together exceed the cap: the
  trade's sharing row lock lets exactly as many through as fit, the others answer
  ALLOC_AMOUNT_VALIDATE_ERROR;
* one settle request sent several times at once: one settle, one journal, the same answer;
* binds of one app racing for its last receiver places: exactly as many bind as fit;
* a refund committing between a settle's read of the trade and its locks (PostgreSQL, where
  writers overlap): the settle re-runs on the refunded amounts and keeps within their cap;
* refunds of one trade that each take shares back from the same receiver (退分账): the sharing
  row lock lets exactly as many give-backs through as were settled, the others answer
  royalty_back_exceeded and write nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from gateway_support import call, count_rows, make_buyer, make_shop, wallet_balance
from preauth_support import reconcile_clean
from royalty_support import BIND, bind_biz, paid_trade, receiver, refund_half_before_the_lock
from tests.conftest import database_kind
from tests.support.races import at_once

from paybao.adapters.alipay.methods import user_wire_id
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.royalty import BackPart, ReceiverType
from paybao.services import royalty as royalty_module
from paybao.services.refunds import RefundResult, RefundService
from paybao.services.royalty import (
    Receiver,
    RequestedPart,
    RoyaltyService,
    Settle,
    SettleRequest,
)
from paybao.services.trades import TradeRef

RACERS = 6


def _request(app_id: str, number: str, trade_no: str, user_id: int, fen: int) -> SettleRequest:
    part = RequestedPart(ReceiverType.USER_ID, user_wire_id(user_id), fen, "race")
    return SettleRequest(app_id, number, trade_no, (part,), False, f"race:{fen}")


def test_settles_that_together_exceed_the_cap_pass_one_by_one(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000101", balance_fen=1_000_00)
    alice = receiver(platform, "13900000102")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")  # cap: 30.00
    royalty: RoyaltyService = platform.services["royalty"]
    works: list[Callable[[], Settle]] = [
        lambda n=n: royalty.settle(
            _request(shop.app.app_id, f"race_{n}", trade_no, alice.user_id, 20_00)
        )
        for n in range(RACERS)
    ]
    results = at_once(works)
    settled = [r for r in results if isinstance(r, Settle)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(settled) == 1, results
    assert {r.code for r in refused} == {"royalty_share_exceeded"}
    assert wallet_balance(platform, alice.user_id) == 20_00
    assert count_rows(platform, "royalty_settles") == 1
    reconcile_clean(platform)


def test_one_request_sent_at_once_settles_once(platform: Platform, client: TestClient) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000111", balance_fen=1_000_00)
    alice = receiver(platform, "13900000112")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    royalty: RoyaltyService = platform.services["royalty"]
    request = _request(shop.app.app_id, "same_1", trade_no, alice.user_id, 7_00)
    results = at_once([lambda: royalty.settle(request) for _ in range(RACERS)])
    numbers = {r.settle_no for r in results if isinstance(r, Settle)}
    assert len(numbers) == 1, results
    assert wallet_balance(platform, alice.user_id) == 7_00
    assert count_rows(platform, "royalty_settles") == 1
    reconcile_clean(platform)


def test_binds_racing_for_the_last_places_bind_as_many_as_fit(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(platform)
    people = [receiver(platform, f"139000001{30 + n}") for n in range(RACERS)]
    royalty: RoyaltyService = platform.services["royalty"]
    monkeypatch.setattr(royalty_module, "RECEIVERS_PER_APP_MAX", 2)
    works: list[Callable[[], None]] = [
        lambda p=p: royalty.bind(
            shop.app.app_id, [Receiver(ReceiverType.USER_ID, user_wire_id(p.user_id))]
        )
        for p in people
    ]
    results = at_once(works)
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == RACERS - 2, results
    assert {r.code for r in refused} == {"royalty_relations_full"}
    assert count_rows(platform, "royalty_relations") == 2


@pytest.mark.skipif(database_kind() != "postgresql", reason="SQLite runs one writer at a time")
def test_a_refund_between_read_and_lock_shrinks_the_cap_the_settle_sees(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000121", balance_fen=1_000_00)
    alice = receiver(platform, "13900000122")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")  # cap 30.00; after the refund 15.00
    refunded = refund_half_before_the_lock(platform, monkeypatch, shop.app.app_id, trade_no)
    request = _request(shop.app.app_id, "after_refund", trade_no, alice.user_id, 20_00)
    with pytest.raises(DomainError) as refused:
        platform.services["royalty"].settle(request)
    assert refused.value.code == "royalty_share_exceeded"
    assert refunded and wallet_balance(platform, alice.user_id) == 0
    assert count_rows(platform, "royalty_settles") == 0
    reconcile_clean(platform)


def test_refunds_taking_shares_back_at_once_take_only_what_was_settled(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000141", balance_fen=1_000_00)
    alice = receiver(platform, "13900000142")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    royalty: RoyaltyService = platform.services["royalty"]
    royalty.settle(_request(shop.app.app_id, "shared", trade_no, alice.user_id, 20_00))
    refunds: RefundService = platform.services["refunds"]
    back = (BackPart(ReceiverType.USER_ID, user_wire_id(alice.user_id), 8_00, "race"),)
    works: list[Callable[[], RefundResult]] = [
        lambda n=n: refunds.refund(
            shop.app.app_id, TradeRef(trade_no=trade_no), f"back_{n}", 10_00, royalty_back=back
        )
        for n in range(RACERS)
    ]
    results = at_once(works)
    refunded = [r for r in results if isinstance(r, RefundResult)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refunded) == 2, results  # 2 x 8.00 of the 20.00 settled; a third would not fit
    assert {r.code for r in refused} == {"royalty_back_exceeded"}
    assert wallet_balance(platform, alice.user_id) == 4_00
    assert count_rows(platform, "royalty_backs") == 2
    assert count_rows(platform, "trade_refunds") == 2
    reconcile_clean(platform)
