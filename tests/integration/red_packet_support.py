"""Red packet test helpers: senders and claimants with wallets, the service, a clean check."""

from __future__ import annotations

from typing import Any

from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer, wallet_balance

from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.red_packets import Kind
from paybao.services.red_packets import RedPackets, SendRequest, SentPacket

SENDER_PHONE = "13800138600"
START_FEN = 1_000_00


def red_packets(platform: Platform) -> RedPackets:
    service = platform.services["red_packets"]
    assert isinstance(service, RedPackets)
    return service


def user(platform: Platform, n: int, balance_fen: int = 0) -> int:
    """User number `n` (phones 1390000xxxx), with `balance_fen` topped up."""
    return make_buyer(platform, f"1390000{n:04d}", balance_fen=balance_fen)


def sender(platform: Platform, balance_fen: int = START_FEN) -> int:
    return make_buyer(platform, SENDER_PHONE, balance_fen=balance_fen)


def send(platform: Platform, sender_id: int, kind: Kind, count: int, **fields: Any) -> SentPacket:
    request = SendRequest(kind=kind, count=count, **fields)
    return red_packets(platform).send(sender_id, request, PAYMENT_PASSWORD)


def pool_fen(platform: Platform) -> int:
    key = platform_account(Purpose.RED_PACKETS).key
    account_id = platform.ledger.open_accounts([platform_account(Purpose.RED_PACKETS)])[key]
    return platform.ledger.balance(account_id).balance_fen


def assert_clean(platform: Platform) -> Any:
    report = platform.reconcile.run()
    assert report.differences == [], [d.line() for d in report.differences]
    assert "red_packets.account_holds_unclaimed" in report.checks_run
    assert "red_packets.packets_match_rows" in report.checks_run
    return report


__all__ = ["PAYMENT_PASSWORD", "wallet_balance"]
