"""Refunds that take shared money back from receivers (退分账, refund_royalty_parameters)
through the gateway with real signed requests: the parts move from the receivers' wallets to the
merchant's settlement account in the refund's own journal, the statement and
fastpay.refund.query show them, a repeat answers the first refund, and every refusal (more than
was settled, a receiver's balance short, other parts under the same number) writes nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from gateway_support import balance_fen, call, count_rows, make_buyer, make_shop, wallet_balance
from preauth_support import reconcile_clean
from royalty_support import BIND, SETTLE, bind_biz, paid_trade, part, receiver, settle_biz
from score_support import Person
from sqlalchemy import insert, text

from paybao.adapters.alipay.methods import seller_wire_id, user_wire_id
from paybao.adapters.db.tables.royalty import royalty_backs
from paybao.bootstrap import Platform
from paybao.domain.royalty import LEDGER_CODE_ROYALTY_BACK
from paybao.services.trades import TradeRef
from paybao.services.wallet_statement import StatementQuery

REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
TABLES = ("trade_refunds", "royalty_backs", "ledger_transfers")


def rows(platform: Platform) -> list[int]:
    return [count_rows(platform, table) for table in TABLES]


def back(p: Person, amount: str, *, by_phone: bool = False, **extra: Any) -> dict[str, Any]:
    """One refund_royalty_parameters entry: `p` gives `amount` back."""
    if by_phone:
        return {"trans_out_type": "loginName", "trans_out": p.phone, "amount": amount, **extra}
    return {
        "royalty_type": "transfer",
        "trans_out_type": "userId",
        "trans_out": user_wire_id(p.user_id),
        "amount": amount,
        "desc": "退分账",
        **extra,
    }


def refund_biz(trade_no: str, request_no: str, amount: str, *parts: dict[str, Any]) -> Any:
    biz: dict[str, Any] = {
        "trade_no": trade_no,
        "out_request_no": request_no,
        "refund_amount": amount,
    }
    if parts:
        biz["refund_royalty_parameters"] = list(parts)
    return biz


def shared_trade(
    platform: Platform, client: TestClient, phone: str, *shares: tuple[Person, str]
) -> str:
    """A paid trade of 100.00 whose shares were settled to the receivers (bound first)."""
    buyer = make_buyer(platform, phone, balance_fen=1_000_00)
    people = [p for p, _ in shares]
    assert call(client, BIND, bind_biz(*people))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    parts = [part(p, amount) for p, amount in shares]
    settled = call(client, SETTLE, settle_biz(f"s_{trade_no[-8:]}", trade_no, *parts))
    assert settled["code"] == "10000", settled
    return trade_no


def journal(platform: Platform, trade_no: str) -> list[tuple[str, int]]:
    """The trade's give-back transfers: (id, amount), in the ledger's order."""
    query = text(
        "SELECT id, amount_fen FROM ledger_transfers"
        " WHERE reference = :t AND code = :c ORDER BY seq"
    )
    with platform.db.read() as tx:
        found = tx.execute(query, {"t": trade_no, "c": LEDGER_CODE_ROYALTY_BACK})
        return [(str(i), int(a)) for i, a in found]


def test_a_refund_takes_shares_back_then_refunds(platform: Platform, client: TestClient) -> None:
    shop = make_shop(platform)
    alice = receiver(platform, "13900000502", "王小明")
    bob = receiver(platform, "13900000503", "李四")
    trade_no = shared_trade(platform, client, "13900000501", (alice, "20.00"), (bob, "10.00"))
    settlement = shop.merchant.settlement_account_id
    settlement_before = balance_fen(platform, settlement)

    biz = refund_biz(trade_no, "rb1", "50.00", back(alice, "15.00"), back(bob, "5", by_phone=True))
    refunded = call(client, REFUND, biz)
    assert (refunded["code"], refunded["fund_change"], refunded["refund_fee"]) == (
        "10000",
        "Y",
        "50.00",
    )
    assert "refund_royaltys" not in refunded  # Alipay's refund answer has no such field
    assert wallet_balance(platform, alice.user_id) == 5_00
    assert wallet_balance(platform, bob.user_id) == 5_00
    # The merchant paid the refund less what the receivers gave back (and got its fee back).
    fee_back = (
        platform.services["trades"]
        .find(shop.app.app_id, TradeRef(trade_no=trade_no))
        .fee_refunded_fen
    )
    assert balance_fen(platform, settlement) - settlement_before == -50_00 + 20_00 + fee_back
    moved = journal(platform, trade_no)
    assert [amount for _, amount in moved] == [15_00, 5_00]
    assert all(transfer_id.startswith("royalty-back:") for transfer_id, _ in moved)
    entries = platform.services["wallet"].statement(alice.user_id, StatementQuery())
    assert [(e.kind, e.amount_fen, e.reference) for e in entries] == [
        ("profit_share_back", -15_00, trade_no),
        ("profit_share", 20_00, trade_no),
    ]

    found = call(client, REFUND_QUERY, {"trade_no": trade_no, "out_request_no": "rb1"})
    assert found["refund_amount"] == "50.00"
    assert found["refund_royaltys"] == [
        {
            "refund_amount": "15.00",
            "royalty_type": "transfer",
            "result_code": "SUCCESS",
            "trans_out": user_wire_id(alice.user_id),
            "trans_in": seller_wire_id(shop.merchant.id),
            "ori_trans_out": user_wire_id(alice.user_id),
        },
        {
            "refund_amount": "5.00",
            "royalty_type": "transfer",
            "result_code": "SUCCESS",
            "trans_out": user_wire_id(bob.user_id),
            "trans_in": seller_wire_id(shop.merchant.id),
            "ori_trans_out": bob.phone,
        },
    ]

    # The same request again: the first refund, nothing more moves.
    counted = rows(platform)
    again = call(client, REFUND, biz)
    assert (again["code"], again["fund_change"], again["refund_fee"]) == ("10000", "N", "50.00")
    assert rows(platform) == counted and wallet_balance(platform, alice.user_id) == 5_00
    # The same number with other parts, or none, is another request: refused, nothing moves.
    other = refund_biz(
        trade_no, "rb1", "50.00", back(alice, "14.00"), back(bob, "5", by_phone=True)
    )
    without = refund_biz(trade_no, "rb1", "50.00")
    for changed in (other, without):
        assert call(client, REFUND, changed)["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    assert rows(platform) == counted
    # A refund without parts after one with them: from the merchant, receivers keep the rest.
    plain = call(client, REFUND, refund_biz(trade_no, "rb2", "10.00"))
    assert plain["code"] == "10000" and wallet_balance(platform, alice.user_id) == 5_00
    assert "refund_royaltys" not in call(
        client, REFUND_QUERY, {"trade_no": trade_no, "out_request_no": "rb2"}
    )
    reconcile_clean(platform)


def test_more_than_was_settled_is_refused_and_writes_nothing(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    alice = receiver(platform, "13900000512", "王小明")
    stranger = receiver(platform, "13900000513", "赵六")
    trade_no = shared_trade(platform, client, "13900000511", (alice, "20.00"))
    first = call(client, REFUND, refund_biz(trade_no, "m1", "30.00", back(alice, "15.00")))
    assert first["code"] == "10000"
    counted = rows(platform)

    def refused(biz: dict[str, Any]) -> str:
        answer = call(client, REFUND, biz)
        assert answer["code"] != "10000", answer
        return str(answer["sub_code"])

    over = "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
    assert refused(refund_biz(trade_no, "m2", "30.00", back(alice, "5.01"))) == over
    assert refused(refund_biz(trade_no, "m3", "30.00", back(stranger, "0.01"))) == over
    nobody = {"trans_out": "2088999999999999", "amount": "0.01"}
    assert refused(refund_biz(trade_no, "m4", "30.00", nobody)) == over
    assert refused(refund_biz(trade_no, "m5", "1.00", back(alice, "1.01"))) == over
    invalid = "ACQ.INVALID_PARAMETER"
    twice = refund_biz(
        trade_no, "m6", "30.00", back(alice, "1.00"), back(alice, "1", by_phone=True)
    )
    assert refused(twice) == invalid
    elsewhere = back(alice, "1.00", trans_in=user_wire_id(stranger.user_id))
    assert refused(refund_biz(trade_no, "m7", "30.00", elsewhere)) == invalid
    assert refused(refund_biz(trade_no, "m8", "30.00", back(alice, "0"))) == invalid
    assert refused(refund_biz(trade_no, "m9", "30.00", back(alice, "1", amount_percentage=10))) == (
        invalid
    )
    many = [back(receiver(platform, f"139000005{20 + n}"), "0.01") for n in range(21)]
    assert refused(refund_biz(trade_no, "m10", "30.00", *many)) == invalid
    assert rows(platform) == counted and wallet_balance(platform, alice.user_id) == 5_00

    # What is left is given back exactly; to the merchant named as trans_in, too.
    to_merchant = back(
        alice, "5.00", trans_in_type="userId", trans_in=seller_wire_id(shop.merchant.id)
    )
    assert call(client, REFUND, refund_biz(trade_no, "m11", "30.00", to_merchant))["code"] == (
        "10000"
    )
    assert wallet_balance(platform, alice.user_id) == 0
    # A trade nothing was settled on: nothing to give back.
    unshared = paid_trade(platform, client, make_buyer(platform, "13900000550", 100_00), "10.00")
    assert refused(refund_biz(unshared, "u1", "1.00", back(alice, "0.01"))) == over
    reconcile_clean(platform)


def test_a_receiver_short_of_money_refuses_the_whole_refund(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    alice = receiver(platform, "13900000562", "王小明")
    trade_no = shared_trade(platform, client, "13900000561", (alice, "20.00"))
    paid_trade(platform, client, alice.user_id, "15.00")  # she spends most of her share
    trade_before = call(client, "alipay.trade.query", {"trade_no": trade_no})
    counted = rows(platform)
    short = call(client, REFUND, refund_biz(trade_no, "s1", "40.00", back(alice, "10.00")))
    assert (short["code"], short["sub_code"]) == ("40004", "ACQ.TRADE_SETTLE_ERROR")
    assert rows(platform) == counted and wallet_balance(platform, alice.user_id) == 5_00
    assert call(client, "alipay.trade.query", {"trade_no": trade_no}) == trade_before
    assert (
        call(client, REFUND_QUERY, {"trade_no": trade_no, "out_request_no": "s1"}).get(
            "refund_amount"
        )
        is None
    )
    # What she still holds she can give back.
    done = call(client, REFUND, refund_biz(trade_no, "s2", "40.00", back(alice, "5.00")))
    assert done["code"] == "10000" and wallet_balance(platform, alice.user_id) == 0
    reconcile_clean(platform)


def test_reconcile_finds_a_give_back_without_its_money(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    alice = receiver(platform, "13900000572", "王小明")
    trade_no = shared_trade(platform, client, "13900000571", (alice, "10.00"))
    reconcile_clean(platform)
    # A give-back recorded with no journal, and for more than was settled to her.
    row = {
        "refund_id": 999_999,
        "seq": 1,
        "trade_no": trade_no,
        "app_id": shop.app.app_id,
        "user_id": alice.user_id,
        "trans_out_type": "userId",
        "trans_out": user_wire_id(alice.user_id),
        "amount_fen": 10_01,
        "description": "",
        "created_at_us": 0,
    }
    platform.db.run(lambda tx: tx.execute(insert(royalty_backs).values(**row)))
    report = platform.reconcile.run()
    assert sorted(d.line() for d in report.differences) == [
        f"royalty_given_back: trade {trade_no} expected 1001, found journal 0",
        f"royalty_given_back_over: trade {trade_no} receiver {alice.user_id} expected at most"
        " 1000, found 1001",
    ]
