"""Asynchronous settles (royalty_mode=async) through the gateway and the worker's job runner:
accepted at once with nothing moved, then run part by part (each in its own journal, failing
on its own: a receiver unbound meanwhile, the cap shrunk by a refund meanwhile), reported by
settle.query and by a signed alipay.trade.order.settle.notify message retried until `success`;
a worker killed between parts moves each part exactly once; royalty_finish after the last part;
a refund racing the parts never lets them past the cap; reconcile stays clean (SQLite, and
PostgreSQL when configured)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import (
    balance_fen,
    call,
    count_rows,
    make_buyer,
    make_shop,
    wallet_balance,
)
from preauth_support import reconcile_clean
from royalty_support import (
    BIND,
    ONSETTLE_QUERY,
    SETTLE,
    SETTLE_QUERY,
    UNBIND,
    bind_biz,
    paid_trade,
    part,
    receiver,
    refund_half_before_the_lock,
    settle_biz,
)
from sqlalchemy import text
from tests.conftest import database_kind
from tests.integration.test_gateway_notify import Merchant
from tests.support.races import at_once

from paybao.adapters.alipay.methods import seller_wire_id, user_wire_id
from paybao.adapters.alipay.wire import verify_notification
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.royalty import LEDGER_CODE_ROYALTY, PartState
from paybao.domain.trades import LEDGER_CODE_REFUND
from paybao.services.jobs import Job
from paybao.services.refunds import RefundService
from paybao.services.royalty import JOB_SETTLE, RoyaltyService, Settle
from paybao.services.trades import TradeRef


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[Merchant]]]:
    handler = type("M", (Merchant,), {"answers": [], "forms": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify", handler
    server.shutdown()
    server.server_close()


def async_biz(*args: Any, **kwargs: Any) -> dict[str, Any]:
    biz: dict[str, Any] = settle_biz(*args, **kwargs)
    return biz | {"royalty_mode": "async"}


def royalty_journal(platform: Platform) -> list[tuple[str, int]]:
    query = text("SELECT id, amount_fen FROM ledger_transfers WHERE code = :code ORDER BY seq")
    with platform.db.read() as tx:
        return [(str(i), int(a)) for i, a in tx.execute(query, {"code": LEDGER_CODE_ROYALTY})]


def details(client: TestClient, settle_no: str) -> list[dict[str, str]]:
    answer = call(client, SETTLE_QUERY, {"settle_no": settle_no})
    assert answer["code"] == "10000", answer
    return list(answer["royalty_detail_list"])


def states(client: TestClient, settle_no: str) -> list[tuple[str, str, str]]:
    return [(d["amount"], d["state"], d.get("error_code", "")) for d in details(client, settle_no)]


def _accepted_ten_and_five(
    platform: Platform, client: TestClient, phones: str, key: str
) -> tuple[Any, Any, str, str]:
    """A shop's paid 100.00 trade and an accepted async settle of 10.00 to alice and 5.00 to
    bob (phones `<phones>1` the buyer, 2 alice, 3 bob): (alice, bob, trade_no, settle_no)."""
    make_shop(platform)
    buyer = make_buyer(platform, f"{phones}1", balance_fen=1_000_00)
    alice = receiver(platform, f"{phones}2")
    bob = receiver(platform, f"{phones}3")
    assert call(client, BIND, bind_biz(alice, bob))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    biz = async_biz(key, trade_no, part(alice, "10.00"), part(bob, "5.00"))
    return alice, bob, trade_no, call(client, SETTLE, biz)["settle_no"]


def test_accepted_at_once_then_run_by_the_job_and_notified_until_success(
    platform: Platform, client: TestClient, endpoint: tuple[str, type[Merchant]]
) -> None:
    url, merchant = endpoint
    shop = make_shop(platform, notify_url=url)
    buyer = make_buyer(platform, "13900000201", balance_fen=1_000_00)
    alice = receiver(platform, "13900000202", "王小明")
    bob = receiver(platform, "13900000203", "李四")
    assert call(client, BIND, bind_biz(alice, bob))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    settlement_before = balance_fen(platform, shop.merchant.settlement_account_id)
    platform.jobs.run_due()  # the payment's own notification goes first (answered success)
    assert [form["notify_type"] for form in merchant.forms] == ["trade_status_sync"]
    merchant.answers[:] = [b"fail"]
    merchant.forms.clear()

    biz = async_biz("a1", trade_no, part(alice, "10.00"), part(bob, "5.50", by_phone=True))
    accepted = call(client, SETTLE, biz)
    assert accepted["code"] == "10000" and accepted["trade_no"] == trade_no
    settle_no = accepted["settle_no"]
    # Accepted, nothing moved yet.
    assert royalty_journal(platform) == []
    assert wallet_balance(platform, alice.user_id) == 0
    assert states(client, settle_no) == [("10.00", "PROCESSING", ""), ("5.50", "PROCESSING", "")]
    assert all("execute_dt" not in d for d in details(client, settle_no))
    assert call(client, SETTLE, biz)["settle_no"] == settle_no  # the same request: the same
    changed = call(client, SETTLE, async_biz("a1", trade_no, part(alice, "10.01")))
    assert changed["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    as_sync = call(client, SETTLE, biz | {"royalty_mode": "sync"})
    assert as_sync["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    assert count_rows(platform, "royalty_settles") == 1

    platform.jobs.run_due()  # the settle's parts, and its notification queued
    assert wallet_balance(platform, alice.user_id) == 10_00
    assert wallet_balance(platform, bob.user_id) == 5_50
    moved = settlement_before - balance_fen(platform, shop.merchant.settlement_account_id)
    assert moved == 15_50
    assert royalty_journal(platform) == [
        (f"royalty:{settle_no}:1", 10_00),
        (f"royalty:{settle_no}:2", 5_50),
    ]
    assert states(client, settle_no) == [("10.00", "SUCCESS", ""), ("5.50", "SUCCESS", "")]
    assert all(d["execute_dt"] for d in details(client, settle_no))
    assert call(client, ONSETTLE_QUERY, {"trade_no": trade_no})["unsettled_amount"] == "14.50"

    platform.jobs.run_due()  # delivery: answered `fail`, retried 4 minutes later
    assert len(merchant.forms) == 1
    platform.sandbox_clock.advance(4 * 60)
    assert len(merchant.forms) == 2
    platform.sandbox_clock.advance(60 * 60)
    assert len(merchant.forms) == 2  # acknowledged: no more
    public_pem = platform.services["platform_key"].public_pem
    assert all(verify_notification(form, public_pem) for form in merchant.forms)
    form = merchant.forms[-1]
    assert form["msg_method"] == "alipay.trade.order.settle.notify"
    assert (form["app_id"], form["version"], form["charset"], form["sign_type"]) == (
        shop.app.app_id,
        "1.1",
        "utf-8",
        "RSA2",
    )
    assert form["utc_timestamp"].isdigit() and len(form["utc_timestamp"]) == 13
    assert form["notify_id"] == merchant.forms[0]["notify_id"]
    content = json.loads(form["biz_content"])
    assert (content["out_request_no"], content["trade_no"], content["settle_no"]) == (
        "a1",
        trade_no,
        settle_no,
    )
    assert [
        (d["trans_out"], d["trans_in"], d["amount"], d["state"], d["operation_type"])
        for d in content["royalty_detail_list"]
    ] == [
        (
            seller_wire_id(shop.merchant.id),
            user_wire_id(alice.user_id),
            "10.00",
            "SUCCESS",
            "transfer",
        ),
        (seller_wire_id(shop.merchant.id), bob.phone, "5.50", "SUCCESS", "transfer"),
    ]
    tampered = form | {"biz_content": form["biz_content"].replace("10.00", "11.00")}
    assert not verify_notification(tampered, public_pem)
    with platform.db.read() as tx:
        logged = tx.execute(
            text("SELECT attempt_no, outcome FROM notify_attempts ORDER BY id DESC LIMIT 2")
        )
        assert sorted(tuple(row) for row in logged) == [(1, "rejected"), (2, "success")]
    reconcile_clean(platform)


def test_a_part_fails_alone_unbound_or_over_a_cap_a_refund_shrank(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, "13900000211", balance_fen=1_000_00)
    alice = receiver(platform, "13900000212")
    bob = receiver(platform, "13900000213")
    carol = receiver(platform, "13900000214")
    assert call(client, BIND, bind_biz(alice, bob, carol))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")  # cap 30.00
    parts = (part(alice, "20.00"), part(bob, "3.00"), part(carol, "7.00"))
    settle_no = call(client, SETTLE, async_biz("f1", trade_no, *parts))["settle_no"]
    # Before it runs: bob is unbound, and a refund of half shrinks the cap to 15.00.
    assert call(client, UNBIND, bind_biz(bob))["code"] == "10000"
    refund = {"trade_no": trade_no, "refund_amount": "50.00", "out_request_no": "rf1"}
    assert call(client, "alipay.trade.refund", refund)["code"] == "10000"

    platform.jobs.run_due()
    assert states(client, settle_no) == [
        ("20.00", "FAIL", "ALLOC_AMOUNT_VALIDATE_ERROR"),
        ("3.00", "FAIL", "TRADE_SETTLE_ERROR"),
        ("7.00", "SUCCESS", ""),
    ]
    failed = details(client, settle_no)[0]
    assert failed["error_desc"] and failed["execute_dt"]
    assert [wallet_balance(platform, p.user_id) for p in (alice, bob, carol)] == [0, 0, 7_00]
    assert royalty_journal(platform) == [(f"royalty:{settle_no}:3", 7_00)]
    assert call(client, ONSETTLE_QUERY, {"trade_no": trade_no})["unsettled_amount"] == "8.00"
    # A receiver gives back only what moved to it: bob's failed part gave him nothing.
    back = {
        "trade_no": trade_no,
        "refund_amount": "1.00",
        "out_request_no": "rf2",
        "refund_royalty_parameters": [{"trans_out": user_wire_id(bob.user_id), "amount": "1.00"}],
    }
    assert call(client, "alipay.trade.refund", back)["sub_code"] == (
        "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
    )
    reconcile_clean(platform)


def test_accepting_checks_what_it_can_now_and_writes_nothing_when_refused(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, "13900000221", balance_fen=1_000_00)
    alice = receiver(platform, "13900000222")
    stranger = receiver(platform, "13900000223")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")

    def refused(biz: dict[str, Any]) -> str:
        answer = call(client, SETTLE, biz)
        assert answer["code"] != "10000", answer
        return str(answer["sub_code"])

    assert refused(async_biz("r1", trade_no, part(alice, "30.01"))) == (
        "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
    )
    assert refused(async_biz("r2", trade_no, part(stranger, "1.00"))) == "ACQ.TRADE_SETTLE_ERROR"
    assert refused(async_biz("r3", trade_no, *[part(alice, "0.01")] * 51)) == (
        "ACQ.INVALID_PARAMETER"
    )
    assert refused(settle_biz("r4", trade_no) | {"royalty_mode": "later"}) == (
        "ACQ.INVALID_PARAMETER"
    )
    assert count_rows(platform, "royalty_settles") == 0
    with platform.db.read() as tx:
        scheduled = tx.execute(text("SELECT COUNT(*) FROM jobs WHERE kind = :k"), {"k": JOB_SETTLE})
        assert scheduled.scalar_one() == 0


def test_an_async_settle_takes_more_receivers_than_a_sync_one(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, "13900000281", balance_fen=1_000_00)
    people = [receiver(platform, f"139000003{n:02d}") for n in range(21)]
    assert call(client, BIND, bind_biz(*people[:20]))["code"] == "10000"
    assert call(client, BIND, bind_biz(people[20]))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    parts = [part(p, "1.00") for p in people]
    sync = call(client, SETTLE, settle_biz("m1", trade_no, *parts))
    assert sync["sub_code"] == "ACQ.INVALID_PARAMETER"  # a sync settle takes 20
    settle_no = call(client, SETTLE, async_biz("m2", trade_no, *parts))["settle_no"]
    platform.jobs.run_due()
    assert [s[1] for s in states(client, settle_no)] == ["SUCCESS"] * 21
    assert sum(wallet_balance(platform, p.user_id) for p in people) == 21_00
    reconcile_clean(platform)


def test_royalty_finish_applies_after_the_last_part(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, "13900000231", balance_fen=1_000_00)
    alice = receiver(platform, "13900000232")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    biz = async_biz("fin1", trade_no, part(alice, "10.00"), finish=True)
    assert call(client, SETTLE, biz)["code"] == "10000"
    # Not finished until it runs: a sync settle still goes meanwhile.
    assert call(client, SETTLE, settle_biz("s1", trade_no, part(alice, "1.00")))["code"] == (
        "10000"
    )
    platform.jobs.run_due()
    assert wallet_balance(platform, alice.user_id) == 11_00
    assert call(client, ONSETTLE_QUERY, {"trade_no": trade_no})["unsettled_amount"] == "0.00"
    done = call(client, SETTLE, settle_biz("s2", trade_no, part(alice, "1.00")))
    assert done["sub_code"] == "ACQ.TRADE_SETTLE_ERROR"
    later = call(client, SETTLE, async_biz("a2", trade_no, part(alice, "1.00")))
    assert later["sub_code"] == "ACQ.TRADE_SETTLE_ERROR"
    reconcile_clean(platform)


def test_a_worker_killed_between_parts_moves_each_part_exactly_once(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, _, settle_no = _accepted_ten_and_five(platform, client, "1390000024", "k1")
    royalty: RoyaltyService = platform.services["royalty"]
    run_part = royalty._execute_part
    ran: list[int] = []

    def killed_after_the_first(settle: Settle, seq: int) -> PartState:
        if ran:
            raise RuntimeError("worker killed")
        ran.append(seq)
        return run_part(settle, seq)

    monkeypatch.setattr(royalty, "_execute_part", killed_after_the_first)
    platform.jobs.run_due()
    assert states(client, settle_no) == [("10.00", "SUCCESS", ""), ("5.00", "PROCESSING", "")]
    assert (wallet_balance(platform, alice.user_id), wallet_balance(platform, bob.user_id)) == (
        10_00,
        0,
    )
    monkeypatch.setattr(royalty, "_execute_part", run_part)
    platform.sandbox_clock.advance(5)  # the runner's backoff after a failure
    assert states(client, settle_no) == [("10.00", "SUCCESS", ""), ("5.00", "SUCCESS", "")]
    # The job run again, twice more, by hand: nothing moves again.
    job = Job(0, JOB_SETTLE, settle_no, {"settle_no": settle_no}, 0, 0)
    assert royalty.execute(job) is None and royalty.execute(job) is None
    assert (wallet_balance(platform, alice.user_id), wallet_balance(platform, bob.user_id)) == (
        10_00,
        5_00,
    )
    assert [amount for _id, amount in royalty_journal(platform)] == [10_00, 5_00]
    reconcile_clean(platform)


@pytest.mark.skipif(database_kind() != "postgresql", reason="SQLite runs one writer at a time")
def test_a_refund_between_a_parts_read_and_its_locks_shrinks_the_cap_it_sees(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000251", balance_fen=1_000_00)
    alice = receiver(platform, "13900000252")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")  # cap 30.00; after the refund 15.00
    settle_no = call(client, SETTLE, async_biz("p1", trade_no, part(alice, "20.00")))["settle_no"]
    refunded = refund_half_before_the_lock(platform, monkeypatch, shop.app.app_id, trade_no)
    platform.jobs.run_due()
    assert refunded
    assert states(client, settle_no) == [("20.00", "FAIL", "ALLOC_AMOUNT_VALIDATE_ERROR")]
    assert wallet_balance(platform, alice.user_id) == 0
    reconcile_clean(platform)


ROUNDS = 4


def test_a_refund_racing_the_parts_never_lets_them_past_the_cap(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000261", balance_fen=5_000_00)
    people = [receiver(platform, f"1390000026{n}") for n in range(2, 5)]
    assert call(client, BIND, bind_biz(*people))["code"] == "10000"
    royalty: RoyaltyService = platform.services["royalty"]
    refunds: RefundService = platform.services["refunds"]
    for round_no in range(ROUNDS):
        trade_no = paid_trade(platform, client, buyer, "100.00")  # cap 30.00, 15.00 refunded
        parts = [part(p, "10.00") for p in people]
        settle_no = call(client, SETTLE, async_biz(f"race{round_no}", trade_no, *parts))[
            "settle_no"
        ]
        job = Job(0, JOB_SETTLE, settle_no, {"settle_no": settle_no}, 0, 0)
        works: list[Callable[[], object]] = [
            partial(royalty.execute, job),
            partial(refunds.refund, shop.app.app_id, TradeRef(trade_no=trade_no), "half", 50_00),
        ]
        results = at_once(works)
        assert not [r for r in results if isinstance(r, DomainError)], results
        # In the order the ledger wrote them: each part within the cap of its moment.
        query = text(
            "SELECT code, amount_fen FROM ledger_transfers WHERE reference = :t AND code IN "
            "(:royalty, :refund) ORDER BY seq"
        )
        with platform.db.read() as tx:
            rows = list(
                tx.execute(
                    query,
                    {"t": trade_no, "royalty": LEDGER_CODE_ROYALTY, "refund": LEDGER_CODE_REFUND},
                )
            )
        cap_fen, settled_fen = 30_00, 0
        for code, amount_fen in rows:
            if code == LEDGER_CODE_REFUND:
                cap_fen = 15_00
            else:
                settled_fen += int(amount_fen)
                assert settled_fen <= cap_fen, rows
        assert sum(1 for code, _ in rows if code == LEDGER_CODE_REFUND) == 1
        succeeded = [s for s in states(client, settle_no) if s[1] == "SUCCESS"]
        assert len(succeeded) * 10_00 == settled_fen
        assert all(s[1] != "PROCESSING" for s in states(client, settle_no))
    reconcile_clean(platform)


def test_reconcile_tells_a_part_whose_state_and_journal_disagree(
    platform: Platform, client: TestClient
) -> None:
    _, bob, trade_no, settle_no = _accepted_ten_and_five(platform, client, "1390000027", "c1")
    assert call(client, UNBIND, bind_biz(bob))["code"] == "10000"
    platform.jobs.run_due()
    assert [s[1] for s in states(client, settle_no)] == ["SUCCESS", "FAIL"]
    reconcile_clean(platform)

    def flip(seq: int, state: str) -> None:
        statement = text("UPDATE royalty_settle_parts SET state = :state WHERE seq = :seq")
        platform.db.run(lambda tx: tx.execute(statement, {"state": state, "seq": seq}))

    flip(2, "SUCCESS")  # says bob got 5.00; no journal moved it
    found = {(d.kind, d.subject) for d in platform.reconcile.run().differences}
    assert ("royalty_part", f"settle {settle_no} part 2 SUCCESS") in found
    assert ("royalty_settled", f"trade {trade_no}") in found
    flip(2, "FAIL")
    flip(1, "FAIL")  # says alice's part failed; its journal moved 10.00
    found = {(d.kind, d.subject) for d in platform.reconcile.run().differences}
    assert ("royalty_part", f"settle {settle_no} part 1 FAIL") in found
