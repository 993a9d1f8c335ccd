"""Claims of one red packet at the same moment, on SQLite and PostgreSQL: 50 claimants of 10
shares get exactly 10 (the rest `red_packet_empty`), one user claiming twice at once gets one
share, and an expiry sweep racing the last claims gives back exactly what nobody took."""

from __future__ import annotations

from collections import Counter
from typing import Any

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
from tests.support.races import race

from paybao.bootstrap import Platform
from paybao.domain.red_packets import Kind
from paybao.services.red_packets import ClaimResult


def test_fifty_claimants_of_ten_shares_get_exactly_ten(platform: Platform) -> None:
    # More claimants than pooled connections (the sandbox clock reads on its own connection:
    # tests/integration/test_sandbox_clock_offset.py).
    alice = sender(platform)
    packet = send(platform, alice, Kind.LUCKY, 10, total_fen=100_00)
    claimants = [user(platform, i) for i in range(50)]
    service = red_packets(platform)
    results = race(50, lambda i: service.claim(claimants[i], packet.id))
    won = [r for r in results if isinstance(r, ClaimResult)]
    assert len(won) == 10, Counter(r if isinstance(r, str) else "won" for r in results)
    assert [r for r in results if not isinstance(r, ClaimResult)] == ["red_packet_empty"] * 40
    assert sum(r.amount_fen for r in won) == 100_00
    assert sum(wallet_balance(platform, c) for c in claimants) == 100_00
    assert pool_fen(platform) == 0
    view = service.packet(alice, packet.id)
    assert (view.state, view.claimed_count) == ("finished", 10)
    assert_clean(platform)


def test_one_user_claiming_twice_at_once_gets_one_share(platform: Platform) -> None:
    alice = sender(platform)
    packet = send(platform, alice, Kind.EQUAL, 5, share_fen=1_00)
    bob = user(platform, 1)
    results = race(8, lambda _: red_packets(platform).claim(bob, packet.id))
    won = [r for r in results if isinstance(r, ClaimResult)]
    assert len(won) == 1, results
    assert [r for r in results if isinstance(r, str)] == ["red_packet_claimed"] * 7
    assert wallet_balance(platform, bob) == 1_00
    assert_clean(platform)


def test_expiry_racing_claims_returns_only_what_nobody_took(platform: Platform) -> None:
    alice = sender(platform)
    packet = send(platform, alice, Kind.EQUAL, 10, share_fen=1_00)
    claimants = [user(platform, i) for i in range(10)]
    service = red_packets(platform)
    # Due now: the claims still see the packet in time only if they come first.
    expires_at_us = service.packet(alice, packet.id).expires_at_us
    platform.sandbox_clock.sweeps.clear()
    platform.sandbox_clock.advance((expires_at_us - platform.clock.now_us()) // 1_000_000 - 1)

    def attempt(i: int) -> Any:
        if i == 10:
            platform.sandbox_clock.advance(1)
            return service.expire_due()
        return service.claim(claimants[i], packet.id)

    results = race(11, attempt)
    taken_fen = sum(r.amount_fen for r in results[:10] if isinstance(r, ClaimResult))
    assert set(r for r in results[:10] if isinstance(r, str)) <= {"red_packet_expired"}
    service.expire_due()
    view = service.packet(alice, packet.id)
    assert view.claimed_fen == taken_fen
    assert view.returned_fen == (10_00 - taken_fen if view.state == "expired" else 0)
    assert wallet_balance(platform, alice) == START_FEN - taken_fen
    assert pool_fen(platform) == 0
    assert_clean(platform)


def test_a_balance_for_one_packet_sends_one_of_several_at_once(platform: Platform) -> None:
    alice = sender(platform, balance_fen=10_00)
    results = race(6, lambda _: send(platform, alice, Kind.EQUAL, 2, share_fen=5_00))
    sent = [r for r in results if not isinstance(r, str)]
    assert len(sent) == 1, results
    assert sorted(r for r in results if isinstance(r, str)) == ["insufficient_funds"] * 5
    assert wallet_balance(platform, alice) == 0 and pool_fen(platform) == 10_00
    assert len(red_packets(platform).sent(alice).items) == 1
    assert_clean(platform)
