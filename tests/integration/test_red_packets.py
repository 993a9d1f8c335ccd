"""Red packets (红包) at the service layer, on SQLite and PostgreSQL: send, claim, expiry,
the rules of who may claim, limits, statements and reconciliation."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.integration.red_packet_support import (
    START_FEN,
    assert_clean,
    pool_fen,
    red_packets,
    send,
    sender,
    user,
    wallet_balance,
)

from paybao.adapters.db.tables.red_packets import red_packet_shares
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.red_packets import GREETING_DEFAULT, Kind
from paybao.services.red_packets import SendRequest
from paybao.services.wallet_statement import StatementQuery


def codes_of(platform: Platform, user_id: int) -> list[tuple[str, int]]:
    entries = platform.services["wallet"].statement(user_id, StatementQuery(limit=50))
    return [(e.kind, e.amount_fen) for e in entries if e.kind.startswith("red_packet")]


def test_a_lucky_packet_is_split_when_sent_and_claimed_share_by_share(platform: Platform) -> None:
    alice = sender(platform)
    packet = send(platform, alice, Kind.LUCKY, 3, total_fen=10_00)
    assert (packet.kind, packet.total_fen, packet.count, packet.state) == (
        "lucky",
        10_00,
        3,
        "active",
    )
    assert packet.greeting == GREETING_DEFAULT
    assert packet.share_url == f"http://testserver/red-packets/{packet.id}"
    assert wallet_balance(platform, alice) == START_FEN - 10_00
    assert pool_fen(platform) == 10_00
    with platform.engine.connect() as connection:
        shares = (
            connection.execute(
                select(red_packet_shares.c.amount_fen).order_by(red_packet_shares.c.seq)
            )
            .scalars()
            .all()
        )
    assert len(shares) == 3 and sum(shares) == 10_00 and min(shares) >= 1
    service = red_packets(platform)
    claimants = [user(platform, i) for i in range(3)]
    got = [service.claim(c, packet.id).amount_fen for c in claimants]
    assert got == list(shares)  # each claim takes the next share
    for claimant, amount in zip(claimants, got, strict=True):
        assert wallet_balance(platform, claimant) == amount
        assert codes_of(platform, claimant) == [("red_packet_received", amount)]
    assert pool_fen(platform) == 0
    view = service.packet(claimants[0], packet.id)
    assert (view.state, view.claimed_count, view.claimed_fen) == ("finished", 3, 10_00)
    assert [c.amount_fen for c in view.claims] == got
    best = [c.best_luck for c in view.claims]
    assert best.count(True) == 1 and got[best.index(True)] == max(got)
    assert view.my_amount_fen == got[0] and not view.claimable
    with pytest.raises(DomainError) as empty:
        service.claim(user(platform, 9), packet.id)
    assert empty.value.code == "red_packet_empty"
    assert codes_of(platform, alice) == [("red_packet_sent", -10_00)]
    assert_clean(platform)


def test_best_luck_is_marked_only_when_every_share_is_claimed(platform: Platform) -> None:
    alice = sender(platform)
    packet = send(platform, alice, Kind.LUCKY, 2, total_fen=1_00)
    red_packets(platform).claim(user(platform, 1), packet.id)
    view = red_packets(platform).packet(alice, packet.id)
    assert view.mine and [c.best_luck for c in view.claims] == [False]


def test_an_equal_packet_pays_the_same_share_and_a_user_claims_once(platform: Platform) -> None:
    alice = sender(platform)
    packet = send(platform, alice, Kind.EQUAL, 4, share_fen=2_50, greeting="新年快乐")
    assert (packet.total_fen, packet.greeting) == (10_00, "新年快乐")
    service = red_packets(platform)
    bob = user(platform, 1)
    assert service.claim(bob, packet.id).amount_fen == 2_50
    with pytest.raises(DomainError) as twice:
        service.claim(bob, packet.id)
    assert twice.value.code == "red_packet_claimed"
    # The sender may open its own group packet, as in WeChat.
    assert service.claim(alice, packet.id).amount_fen == 2_50
    assert wallet_balance(platform, alice) == START_FEN - 10_00 + 2_50
    view = service.packet(bob, packet.id)
    assert all(not c.best_luck for c in view.claims)  # only lucky packets have a best luck
    assert_clean(platform)


def test_a_single_packet_is_for_its_recipient_only(platform: Platform) -> None:
    alice = sender(platform)
    bob = user(platform, 1)
    carol = user(platform, 2)
    packet = send(platform, alice, Kind.SINGLE, 1, total_fen=66_00, to_phone="13900000001")
    service = red_packets(platform)
    for intruder in (alice, carol):
        with pytest.raises(DomainError) as refused:
            service.claim(intruder, packet.id)
        assert refused.value.code == "red_packet_not_for_you"
    with pytest.raises(DomainError) as hidden:
        service.packet(carol, packet.id)
    assert hidden.value.code == "red_packet_not_found"
    assert service.claim(bob, packet.id).amount_fen == 66_00
    assert wallet_balance(platform, bob) == 66_00
    assert_clean(platform)


def test_expiry_returns_the_unclaimed_rest_once(platform: Platform) -> None:
    alice = sender(platform)
    packet = send(platform, alice, Kind.EQUAL, 3, share_fen=1_00)
    service = red_packets(platform)
    service.claim(user(platform, 1), packet.id)
    assert service.expire_due() == 0  # not due yet
    platform.sandbox_clock.advance(86_400)  # the sweep runs on the way
    assert wallet_balance(platform, alice) == START_FEN - 1_00
    assert pool_fen(platform) == 0
    assert service.expire_due() == 0  # once
    view = service.packet(alice, packet.id)
    assert (view.state, view.returned_fen) == ("expired", 2_00)
    with pytest.raises(DomainError) as late:
        service.claim(user(platform, 2), packet.id)
    assert late.value.code == "red_packet_expired"
    assert codes_of(platform, alice) == [
        ("red_packet_returned", 2_00),
        ("red_packet_sent", -3_00),
    ]
    assert_clean(platform)


def test_a_claim_after_the_time_is_refused_before_the_sweep(platform: Platform) -> None:
    alice = sender(platform)
    packet = send(platform, alice, Kind.EQUAL, 2, share_fen=1_00)
    platform.sandbox_clock.sweeps.clear()  # no sweep on the way: the claim checks the time
    platform.sandbox_clock.advance(86_400)
    with pytest.raises(DomainError) as late:
        red_packets(platform).claim(user(platform, 1), packet.id)
    assert late.value.code == "red_packet_expired"


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (SendRequest(Kind.EQUAL, 2, share_fen=200_01), "red_packet_share_too_large"),
        (SendRequest(Kind.LUCKY, 2, total_fen=400_01), "red_packet_share_too_large"),
        (
            SendRequest(Kind.SINGLE, 1, total_fen=200_01, to_phone="13900000001"),
            "red_packet_share_too_large",
        ),
        (SendRequest(Kind.EQUAL, 0, share_fen=1_00), "red_packet_count_invalid"),
        (SendRequest(Kind.LUCKY, 101, total_fen=200_00), "red_packet_count_invalid"),
        (
            SendRequest(Kind.SINGLE, 2, total_fen=1_00, to_phone="13900000001"),
            "red_packet_count_invalid",
        ),
        (SendRequest(Kind.LUCKY, 3, total_fen=2), "red_packet_total_too_small"),
        (
            SendRequest(Kind.LUCKY, 2, total_fen=1_00, greeting="福" * 25),
            "red_packet_greeting_too_long",
        ),
        (SendRequest(Kind.SINGLE, 1, total_fen=1_00, to_phone="13911112222"), "payee_not_found"),
        (SendRequest(Kind.SINGLE, 1, total_fen=1_00, to_phone="13800138600"), "payee_is_payer"),
        (SendRequest(Kind.EQUAL, 2, share_fen=600_00), "red_packet_share_too_large"),
    ],
)
def test_a_bad_packet_is_refused_and_moves_nothing(
    platform: Platform, request_: SendRequest, code: str
) -> None:
    alice = sender(platform)
    user(platform, 1)
    with pytest.raises(DomainError) as refused:
        red_packets(platform).send(alice, request_, "135790")
    assert refused.value.code == code
    assert wallet_balance(platform, alice) == START_FEN
    assert red_packets(platform).sent(alice).items == []


def test_sending_needs_the_payment_password_and_the_balance(platform: Platform) -> None:
    alice = sender(platform, balance_fen=5_00)
    service = red_packets(platform)
    with pytest.raises(DomainError) as wrong:
        service.send(alice, SendRequest(Kind.EQUAL, 1, share_fen=1_00), "000000")
    assert wrong.value.code == "payment_password_wrong"
    with pytest.raises(DomainError) as poor:
        send(platform, alice, Kind.EQUAL, 2, share_fen=3_00)
    assert poor.value.code == "insufficient_funds"
    assert wallet_balance(platform, alice) == 5_00 and service.sent(alice).items == []
    assert_clean(platform)


def test_a_class_limit_counts_red_packets_like_transfers(platform: Platform) -> None:
    alice = sender(platform, balance_fen=1_500_00)
    users = platform.services["users"]
    platform.db.run(lambda tx: users.store.update(tx, alice, account_class="I"))
    assert platform.settings.class_i_lifetime_fen == 1_000_00
    for _ in range(5):
        send(platform, alice, Kind.EQUAL, 1, share_fen=200_00)
    with pytest.raises(DomainError) as over:
        send(platform, alice, Kind.EQUAL, 1, share_fen=1)
    assert over.value.code == "balance_payment_limit_exceeded"
    assert wallet_balance(platform, alice) == 500_00
    assert len(red_packets(platform).sent(alice, limit=50).items) == 5
    assert_clean(platform)


def test_sent_and_received_lists_page_newest_first(platform: Platform) -> None:
    alice = sender(platform)
    bob = user(platform, 1)
    service = red_packets(platform)
    sent = [send(platform, alice, Kind.EQUAL, 1, share_fen=1_00 + i).id for i in range(5)]
    for packet_no in sent:
        service.claim(bob, packet_no)
    first = service.sent(alice, limit=2)
    assert [p.packet_no for p in first.items] == sent[::-1][:2]
    rest = service.sent(alice, before_id=first.next_before, limit=3)
    assert [p.packet_no for p in rest.items] == sent[::-1][2:]
    assert rest.next_before is None  # a full last page is the last
    received = service.received(bob, limit=3)
    assert [r.packet_id for r in received.items] == sent[::-1][:3]
    assert [r.amount_fen for r in received.items] == [1_04, 1_03, 1_02]
    older = service.received(bob, before_id=received.next_before, limit=50)
    assert [r.packet_id for r in older.items] == sent[::-1][3:] and older.next_before is None
    with pytest.raises(DomainError) as big:
        service.sent(alice, limit=51)
    assert big.value.code == "page_size_invalid"


def test_an_unknown_packet_is_not_found(platform: Platform) -> None:
    bob = user(platform, 1)
    for packet_no in ("nope", "", "x" * 100, "a\x00b"):
        with pytest.raises(DomainError) as missing:
            red_packets(platform).claim(bob, packet_no)
        assert missing.value.code == "red_packet_not_found"
